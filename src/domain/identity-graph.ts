import { identifierKey, type Identifier } from './identifiers.ts';

/**
 * The identity graph: which identifiers belong to one person.
 *
 * Every identifier is attached to the profile it was first seen with: its *origin* profile, which
 * never changes. Profiles merge when an event shows identifiers of two of them together; a merge
 * does not move anything, it records that the absorbed profile now resolves to the survivor. So
 * events keep the origin profile they were stored with, and a merge can be undone exactly: the
 * absorbed profile resolves to itself again, with its identifiers, events and traits.
 *
 * Safeguards against gluing strangers together: a limit per identifier type per profile (one
 * userId, a few e-mail addresses), and identifiers seen with too many people (a shared device, a
 * hard-coded id) stop linking anyone. Two profiles that would break a limit are not merged: a
 * conflict is recorded instead, for a person to look at.
 *
 * Pure: no I/O, no clock; the caller persists what `resolve` reports.
 */
export interface IdentityRules {
  /** Most identifiers of a type one profile may hold; types not named are unlimited. */
  readonly maxPerProfile: Readonly<Record<string, number>>;
  /** Types in the order they decide which profile an event belongs to (first wins). */
  readonly priority: readonly string[];
  /** An identifier seen with more than this many profiles is shared (a kiosk, a family tablet): it links no more. */
  readonly maxProfilesPerIdentifier: number;
}

export const defaultIdentityRules: IdentityRules = {
  maxPerProfile: { userId: 1, email: 5, phone: 5, advertisingId: 10, deviceId: 20 },
  priority: [
    'userId',
    'email',
    'phone',
    'crmId',
    'loyaltyId',
    'facebookId',
    'instagramId',
    'twitterId',
    'linkedinId',
    'advertisingId',
    'deviceId',
    'anonymousId',
  ],
  maxProfilesPerIdentifier: 3,
};

export interface ProfileNode {
  readonly id: number;
  /** When the profile was created (ms). */
  readonly createdAt: number;
}

/** Why an event did something to the graph: kept with merges and conflicts. */
export interface Evidence {
  readonly sourceId: string;
  readonly messageId: string;
  readonly at: number;
}

export interface MergeRecord {
  readonly survivor: number;
  readonly absorbed: number;
  /** The identifier the event shared between the two profiles. */
  readonly identifier: Identifier;
  readonly evidence: Evidence;
}

export type ConflictReason = 'limit' | 'shared' | 'split';

export interface ConflictRecord {
  readonly identifier: Identifier;
  /** The profile the event was resolved to, and the one the identifier pointed elsewhere. */
  readonly profiles: readonly number[];
  readonly reason: ConflictReason;
  readonly evidence: Evidence;
}

export interface Resolution {
  /** The origin profile the event is stored with (that of its highest-priority identifier). */
  readonly originProfileId: number;
  /** The profile it resolves to now. */
  readonly profileId: number;
  readonly createdProfiles: readonly ProfileNode[];
  /** Identifiers attached by this event, with the origin profile they now belong to. */
  readonly attached: readonly { identifier: Identifier; originProfileId: number }[];
  readonly merges: readonly MergeRecord[];
  readonly conflicts: readonly ConflictRecord[];
  /** Identifiers this event made shared (blocked from linking). */
  readonly newlyShared: readonly Identifier[];
}

export interface IdentityGraph {
  /** Resolves an event's identifiers to a profile, creating, attaching and merging as the rules allow. */
  resolve(identifiers: readonly Identifier[], evidence: Evidence): Resolution | undefined;
  /** The current profile of an origin profile id (follows merges). */
  canonical(profileId: number): number;
  /** The profile an identifier belongs to now, if any. */
  profileOf(identifier: Identifier): number | undefined;
  /** The origin profile an identifier was first attached to, if any. */
  originOf(identifier: Identifier): number | undefined;
  /** The profile and each one it was merged into, up to its current profile (the last one). */
  lineage(profileId: number): number[];
  /** Every profile that stands for a person now, in no particular order. */
  people(): IterableIterator<number>;
  /** Every origin profile merged into another, with the profile it is part of now. */
  mergedOrigins(): IterableIterator<[origin: number, profile: number]>;
  /** Origin profiles that resolve to this profile (itself included). */
  members(profileId: number): number[];
  /** Identifiers of a profile, with the origin profile of each. */
  identifiersOf(profileId: number): { identifier: Identifier; originProfileId: number }[];
  /** Undoes a merge: the absorbed profile (and what was merged into it before) resolves to itself again. */
  unmerge(absorbed: number): { survivor: number; restored: number[] } | undefined;
  /** Merges two profiles on a person's word, within the rules. */
  merge(survivor: number, absorbed: number, evidence: Evidence): MergeRecord | ConflictRecord;
  /**
   * Forgets a person: the origin profiles of the profile and every identifier they hold, as if
   * they had never been seen. Returns what was removed; undefined for an unknown profile.
   */
  erase(profileId: number): { members: number[]; identifiers: Identifier[] } | undefined;
  /** Loads persisted state: call for every profile, identifier, merge, split and shared identifier. */
  load: GraphLoader;
  /** Origin profiles, merged or not. */
  readonly profileCount: number;
  /** Profiles that stand for a person now (origin profiles not merged into another). */
  readonly personCount: number;
  readonly identifierCount: number;
  readonly nextProfileId: number;
}

/** The origin profiles merged into another, and that profile, as two lists (the store's queries take them so). */
export function mergedPairs(graph: IdentityGraph): { origins: number[]; profiles: number[] } {
  const origins: number[] = [];
  const profiles: number[] = [];
  for (const [origin, profile] of graph.mergedOrigins()) {
    origins.push(origin);
    profiles.push(profile);
  }
  return { origins, profiles };
}

export interface GraphLoader {
  profile(node: ProfileNode): void;
  identifier(identifier: Identifier, originProfileId: number): void;
  merge(survivor: number, absorbed: number): void;
  /** A pair of profiles a person split apart: never merged again automatically. */
  split(a: number, b: number): void;
  shared(identifier: Identifier): void;
}

interface Node {
  readonly id: number;
  readonly createdAt: number;
  /** The profile this one was merged into, if any. */
  parent: number | undefined;
  /** Profiles merged into this one, directly (most profiles have none: created on the first). */
  children: number[] | undefined;
  /** Identifier keys whose origin is this profile. */
  readonly own: string[];
  /**
   * How many of `own` are of each limited type (the per-type limits read this on every attach and
   * merge); created on the first. A graph of a million profiles holds several million of these
   * nodes and keys: every field counts.
   */
  counts: Record<string, number> | undefined;
}

export function createIdentityGraph(
  rules: IdentityRules = defaultIdentityRules,
  firstProfileId = 1,
): IdentityGraph {
  const nodes = new Map<number, Node>();
  const origin = new Map<string, number>(); // identifier key → origin profile
  const seenWith = new Map<string, Set<number>>(); // identifier key → profiles it conflicted between
  const shared = new Set<string>();
  const splits = new Set<string>();
  let nextId = firstProfileId;
  const rank = new Map(rules.priority.map((type, index) => [type, index]));

  const node = (id: number): Node => {
    const found = nodes.get(id);
    if (found === undefined) throw new Error(`profile ${id} is not in the identity graph`);
    return found;
  };
  const canonical = (id: number): number => {
    let current = node(id);
    while (current.parent !== undefined) current = node(current.parent);
    return current.id;
  };
  const members = (id: number): number[] => {
    const out: number[] = [];
    const stack = [id];
    while (stack.length > 0) {
      const next = node(stack.pop()!);
      out.push(next.id);
      if (next.children !== undefined) stack.push(...next.children);
    }
    return out;
  };
  const keysOf = (id: number): string[] => members(id).flatMap((member) => node(member).own);
  const countOf = (id: number, type: string): number =>
    members(id).reduce((sum, member) => sum + (node(member).counts?.[type] ?? 0), 0);
  const splitKey = (a: number, b: number): string => (a < b ? `${a}-${b}` : `${b}-${a}`);
  const isSplit = (a: number, b: number): boolean => {
    if (splits.size === 0) return false;
    const left = members(a);
    const right = members(b);
    return left.some((x) => right.some((y) => splits.has(splitKey(x, y))));
  };
  /** Would the two profiles together break a per-type limit? */
  const fitsTogether = (a: number, b: number): boolean => {
    for (const [type, max] of Object.entries(rules.maxPerProfile)) {
      if (countOf(a, type) + countOf(b, type) > max) return false;
    }
    return true;
  };
  const create = (createdAt: number): Node => {
    const created = newNode(nextId++, createdAt);
    nodes.set(created.id, created);
    return created;
  };
  const attach = (identifier: Identifier, profile: number): void => {
    const key = identifierKey(identifier);
    origin.set(key, profile);
    const owner = node(profile);
    owner.own.push(key);
    if (rules.maxPerProfile[identifier.type] !== undefined) {
      owner.counts ??= {};
      owner.counts[identifier.type] = (owner.counts[identifier.type] ?? 0) + 1;
    }
  };
  /** Joins two profiles: the older one survives. */
  const join = (a: number, b: number): { survivor: number; absorbed: number } => {
    const left = node(a);
    const right = node(b);
    const [survivor, absorbed] =
      left.createdAt < right.createdAt || (left.createdAt === right.createdAt && left.id < right.id)
        ? [left, right]
        : [right, left];
    absorbed.parent = survivor.id;
    (survivor.children ??= []).push(absorbed.id);
    return { survivor: survivor.id, absorbed: absorbed.id };
  };
  const noteConflict = (key: string, profiles: readonly number[], newlyShared: Identifier[]): void => {
    let set = seenWith.get(key);
    if (set === undefined) seenWith.set(key, (set = new Set()));
    for (const profile of profiles) set.add(profile);
    if (set.size > rules.maxProfilesPerIdentifier && !shared.has(key)) {
      shared.add(key);
      newlyShared.push(parseKey(key));
    }
  };

  const rankOf = (identifier: Identifier): number => rank.get(identifier.type) ?? rules.priority.length;
  const fitsOne = (profile: number, type: string): boolean => {
    const max = rules.maxPerProfile[type];
    return max === undefined || countOf(profile, type) < max;
  };

  /**
   * The profile an event joins: that of its highest-priority known identifier, or a new one when
   * that identifier is shared and unknown ones stand before it, or when an unknown identifier that
   * ranks above it cannot join that profile (a second userId on a family tablet: someone else).
   */
  function chooseProfile(
    ordered: readonly { identifier: Identifier; key: string; shared: boolean; rank: number }[],
    ownerOf: (key: string) => number | undefined,
  ): number | undefined {
    const index = ordered.findIndex(({ key }) => ownerOf(key) !== undefined);
    const decider = ordered[index];
    if (decider === undefined) return undefined;
    const owner = ownerOf(decider.key)!;
    if (decider.shared) return index === 0 ? owner : undefined;
    const stranger = ordered
      .slice(0, index)
      .some(({ identifier, rank }) => rank < decider.rank && !fitsOne(owner, identifier.type));
    return stranger ? undefined : owner;
  }

  function resolve(input: readonly Identifier[], evidence: Evidence): Resolution | undefined {
    if (input.length === 0) return undefined;
    // Each key once; shared identifiers last: they link no one, so they must not decide the profile either.
    const ordered = input
      .map((identifier) => {
        const key = identifierKey(identifier);
        return { identifier, key, shared: shared.has(key), rank: rankOf(identifier) };
      })
      .sort((a, b) => Number(a.shared) - Number(b.shared) || a.rank - b.rank);
    const createdProfiles: ProfileNode[] = [];
    const attached: { identifier: Identifier; originProfileId: number }[] = [];
    const merges: MergeRecord[] = [];
    const conflicts: ConflictRecord[] = [];
    const newlyShared: Identifier[] = [];
    const ownerOf = (key: string): number | undefined => {
      const found = origin.get(key);
      return found === undefined ? undefined : canonical(found);
    };

    let current = chooseProfile(ordered, ownerOf);
    if (current === undefined) {
      const created = create(evidence.at);
      createdProfiles.push({ id: created.id, createdAt: created.createdAt });
      current = created.id;
    }

    for (const { identifier, key } of ordered) {
      const owner = ownerOf(key);
      if (owner === current) continue;
      if (owner === undefined) {
        if (!fitsOne(current, identifier.type)) {
          conflicts.push({ identifier, profiles: [current], reason: 'limit', evidence });
          continue;
        }
        attach(identifier, current);
        attached.push({ identifier, originProfileId: current });
        continue;
      }
      // The identifier belongs to another profile: merge them, unless a rule forbids it.
      if (shared.has(key)) {
        conflicts.push({ identifier, profiles: [current, owner], reason: 'shared', evidence });
        continue;
      }
      if (isSplit(current, owner)) {
        conflicts.push({ identifier, profiles: [current, owner], reason: 'split', evidence });
        continue;
      }
      if (!fitsTogether(current, owner)) {
        conflicts.push({ identifier, profiles: [current, owner], reason: 'limit', evidence });
        noteConflict(key, [current, owner], newlyShared);
        continue;
      }
      const joined = join(current, owner);
      merges.push({ ...joined, identifier, evidence });
      current = joined.survivor;
    }

    // Stored with the origin profile of its highest-priority identifier that ended in this profile.
    const profileId = current;
    const decisive = ordered.find(({ key }) => ownerOf(key) === profileId);
    return {
      originProfileId: decisive === undefined ? profileId : origin.get(decisive.key)!,
      profileId,
      createdProfiles,
      attached,
      merges,
      conflicts,
      newlyShared,
    };
  }

  return {
    resolve,
    canonical: (id) => (nodes.has(id) ? canonical(id) : id),
    profileOf(identifier) {
      const found = origin.get(identifierKey(identifier));
      return found === undefined ? undefined : canonical(found);
    },
    originOf: (identifier) => origin.get(identifierKey(identifier)),
    lineage(id) {
      const out: number[] = [];
      let current = nodes.get(id);
      while (current !== undefined) {
        out.push(current.id);
        current = current.parent === undefined ? undefined : node(current.parent);
      }
      return out;
    },
    *people() {
      for (const node of nodes.values()) if (node.parent === undefined) yield node.id;
    },
    *mergedOrigins() {
      for (const node of nodes.values()) if (node.parent !== undefined) yield [node.id, canonical(node.id)];
    },
    members: (id) => (nodes.has(id) ? members(id) : []),
    identifiersOf: (id) =>
      nodes.has(id)
        ? keysOf(canonical(id)).map((key) => ({
            identifier: parseKey(key),
            originProfileId: origin.get(key)!,
          }))
        : [],
    unmerge(absorbed) {
      const child = nodes.get(absorbed);
      if (child?.parent === undefined) return undefined;
      const parent = node(child.parent);
      parent.children?.splice(parent.children.indexOf(child.id), 1);
      child.parent = undefined;
      splits.add(splitKey(parent.id, child.id));
      return { survivor: canonical(parent.id), restored: members(child.id) };
    },
    merge(survivor, absorbed, evidence) {
      const a = canonical(survivor);
      const b = canonical(absorbed);
      const first = keysOf(b)[0];
      const identifier = first === undefined ? { type: 'profile', value: String(b) } : parseKey(first);
      if (a === b || !fitsTogether(a, b)) {
        return { identifier, profiles: [a, b], reason: 'limit', evidence };
      }
      // A person's explicit word lifts an earlier split between these two.
      for (const x of members(a)) for (const y of members(b)) splits.delete(splitKey(x, y));
      node(b).parent = a;
      (node(a).children ??= []).push(b);
      return { survivor: a, absorbed: b, identifier, evidence };
    },
    erase(id) {
      if (!nodes.has(id)) return undefined;
      const erased = members(canonical(id));
      const keys = erased.flatMap((member) => node(member).own);
      for (const key of keys) {
        origin.delete(key);
        seenWith.delete(key);
        shared.delete(key);
      }
      const gone = new Set(erased);
      for (const member of erased) nodes.delete(member);
      for (const set of seenWith.values()) for (const member of erased) set.delete(member);
      for (const split of [...splits]) {
        const [a, b] = split.split('-').map(Number);
        if (gone.has(a!) || gone.has(b!)) splits.delete(split);
      }
      return { members: erased.sort((a, b) => a - b), identifiers: keys.map(parseKey) };
    },
    load: {
      profile(loaded) {
        nodes.set(loaded.id, newNode(loaded.id, loaded.createdAt));
        nextId = Math.max(nextId, loaded.id + 1);
      },
      identifier(identifier, originProfileId) {
        attach(identifier, originProfileId);
      },
      merge(survivor, absorbed) {
        node(absorbed).parent = survivor;
        (node(survivor).children ??= []).push(absorbed);
      },
      split(a, b) {
        splits.add(splitKey(a, b));
      },
      shared(identifier) {
        shared.add(identifierKey(identifier));
      },
    },
    get profileCount() {
      return nodes.size;
    },
    get personCount() {
      let count = 0;
      for (const each of nodes.values()) if (each.parent === undefined) count++;
      return count;
    },
    get identifierCount() {
      return origin.size;
    },
    get nextProfileId() {
      return nextId;
    },
  };
}

function newNode(id: number, createdAt: number): Node {
  return { id, createdAt, parent: undefined, children: undefined, own: [], counts: undefined };
}

function parseKey(key: string): Identifier {
  const colon = key.indexOf(':');
  return { type: key.slice(0, colon), value: key.slice(colon + 1) };
}
