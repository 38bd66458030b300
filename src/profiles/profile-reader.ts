import type { IdentityGraph } from '../domain/identity-graph.ts';
import type { ProfileDocuments } from '../store/profile-documents.ts';
import { typesSeenInEvents, type IdentityChanges, type ProfileFacts, type Store } from '../store/store.ts';

export interface ProfileReaderOptions {
  readonly store: Store;
  readonly documents: ProfileDocuments;
  /** The identity graph as it is now (the resolver may swap it). */
  readonly graph: () => IdentityGraph;
  /** Quiet time after the last write before documents are built in the background, ms. */
  readonly idleMs?: number;
  /** Profiles read from the store at a time in the background. */
  readonly batchProfiles?: number;
  readonly onError?: (error: unknown) => void;
}

export interface ProfileReader {
  /**
   * The facts of the profile this id belongs to now, with that profile's id: its document when
   * it holds, else read from the store (and kept). Undefined for an unknown id.
   */
  facts(profileId: number): Promise<{ readonly id: number; readonly facts: ProfileFacts } | undefined>;
  /** The facts of several profiles (current profile ids), documents first, the rest in one read. */
  factsOfMany(profileIds: readonly number[]): Promise<Map<number, ProfileFacts>>;
  /** The store, each of whose writes deletes the documents it changes before it commits. */
  readonly store: Store;
  /** Builds, whenever writes pause, the documents of people who have none. */
  start(): void;
  /** Resolves once every person has a document (or the reader is closed). */
  built(): Promise<void>;
  stats(): ProfileDocumentStats;
  close(): Promise<void>;
}

export interface ProfileDocumentStats {
  /** Documents stored. */
  readonly documents: number;
  /** Whether some people may lack one (the background builder has work). */
  readonly building: boolean;
}

/** Profiles changed since their documents were deleted, remembered to rebuild those first. */
const maxRemembered = 100_000;

/**
 * Reads profiles through their documents (src/store/profile-documents.ts), and keeps the documents
 * true to the store:
 *
 * - a write deletes the documents of every profile it touches, and of each profile those were
 *   merged into (`lineage`), durably, before it commits; while it is under way, those documents
 *   are not read;
 * - a document read from the store is kept only if no write touching its profile ended or was
 *   under way since the read began;
 * - a document is used only while its members are the profile's members in the identity graph,
 *   which covers merges and unmerges not yet reflected by a deletion.
 */
export function createProfileReader(options: ProfileReaderOptions): ProfileReader {
  const { documents, graph } = options;
  const idleMs = options.idleMs ?? 1000;
  const batchProfiles = options.batchProfiles ?? 20_000;
  const onError = options.onError ?? (() => undefined);

  let clock = 0;
  /** Profiles whose writes are under way. */
  const writing = new Counts();
  /** When writes touching each profile last ended, while some read that began before may still end. */
  const endedAt = new Map<number, number>();
  let readsUnderWay = 0;
  /** Profiles whose documents are being stored. */
  const putting = new Counts();
  /** Store writes under way, and when the last one ended: the builder waits for a quiet spell. */
  let writesUnderWay = 0;
  let lastWriteAt = 0;

  /** People to give a document: those changed since, then a pass over every person. */
  const changed = new Set<number>();
  let pass: { graph: IdentityGraph; people: Iterator<number> } | undefined;
  let passDone = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let started = false;
  let closed = false;
  const waiting: (() => void)[] = [];

  const usable = (id: number, since: number): boolean => !writing.has(id) && (endedAt.get(id) ?? -1) <= since;

  async function readAndKeep(
    groups: Map<number, number[]>,
    background: boolean,
  ): Promise<Map<number, ProfileFacts>> {
    const since = clock;
    readsUnderWay++;
    try {
      const facts = await options.store.readProfileFacts(groups, { background });
      const kept = new Map<number, ProfileFacts>();
      for (const [id, profileFacts] of facts) if (usable(id, since)) kept.set(id, profileFacts);
      if (kept.size > 0) {
        putting.add(kept.keys());
        const put = documents.put(kept).finally(() => putting.remove(kept.keys()));
        if (background) await put;
        else put.catch(onError);
      }
      return facts;
    } finally {
      if (--readsUnderWay === 0) endedAt.clear();
    }
  }

  function membersOf(id: number): number[] {
    return graph()
      .members(id)
      .sort((a, b) => a - b);
  }

  function documentOf(id: number, members: readonly number[]): ProfileFacts | undefined {
    if (writing.has(id)) return undefined;
    const document = documents.get(id);
    if (document === undefined || !sameMembers(document.members, members)) return undefined;
    return document;
  }

  async function factsOfMany(profileIds: readonly number[]): Promise<Map<number, ProfileFacts>> {
    const found = new Map<number, ProfileFacts>();
    const missing = new Map<number, number[]>();
    for (const id of profileIds) {
      const members = membersOf(id);
      if (members.length === 0) continue;
      const document = documentOf(id, members);
      if (document === undefined) missing.set(id, members);
      else found.set(id, document);
    }
    if (missing.size > 0) {
      for (const [id, facts] of await readAndKeep(missing, false)) found.set(id, facts);
    }
    return found;
  }

  /** Origin profiles a batch changes the documents of. */
  function touchedBy(events: readonly { profileId: number | null }[], identity: IdentityChanges | undefined) {
    const current = graph();
    const origins = new Set<number>();
    for (const event of events) if (event.profileId !== null) origins.add(event.profileId);
    if (identity !== undefined) {
      for (const row of identity.identifiers) origins.add(row.originProfileId);
      for (const row of identity.traits) origins.add(row.originProfileId);
      for (const merge of identity.merges) origins.add(merge.survivor).add(merge.absorbed);
      for (const undone of identity.undoneMerges) {
        if (undone.survivor !== undefined) origins.add(undone.survivor);
        if (undone.absorbed !== undefined) origins.add(undone.absorbed);
      }
      // Sightings of the types seen in events are covered by the events' profiles above.
      for (const sighting of identity.sightings ?? []) {
        for (const identifier of sighting.identifiers) {
          if (typesSeenInEvents.has(identifier.type)) continue;
          const origin = current.originOf(identifier);
          if (origin !== undefined) origins.add(origin);
        }
      }
    }
    const ids = new Set<number>();
    for (const origin of origins) for (const id of current.lineage(origin)) ids.add(id);
    return ids;
  }

  /** Runs a store write with the documents it touches deleted first and not read meanwhile. */
  async function whileWriting(ids: Set<number>, write: () => Promise<void>): Promise<void> {
    writesUnderWay++;
    writing.add(ids);
    try {
      // Documents stored or on their way (a put not yet committed is not seen by `has`).
      const stored = [...ids].filter((id) => putting.has(id) || documents.has(id));
      if (stored.length > 0) await documents.remove(stored);
      await write();
    } finally {
      writesUnderWay--;
      lastWriteAt = Date.now();
      const stamp = ++clock;
      writing.remove(ids);
      for (const id of ids) {
        if (readsUnderWay > 0) endedAt.set(id, stamp);
        if (changed.size < maxRemembered) changed.add(id);
        else passDone = false;
      }
      schedule();
    }
  }

  const store: Store = {
    ...options.store,
    writeBatch: (batch) =>
      whileWriting(touchedBy(batch.events, batch.identity), () => options.store.writeBatch(batch)),
    assignEventProfiles: (assignments, identity) =>
      whileWriting(touchedBy(assignments, identity), () =>
        options.store.assignEventProfiles(assignments, identity),
      ),
  };

  /** The next people to build documents for: changed ones first, then the pass over everyone. */
  function nextGroups(): Map<number, number[]> {
    const groups = new Map<number, number[]>();
    const current = graph();
    for (const id of changed) {
      if (groups.size >= batchProfiles) break;
      changed.delete(id);
      if (current.members(id).length === 0) continue;
      const person = current.canonical(id);
      const members = membersOf(person);
      if (!groups.has(person) && documentOf(person, members) === undefined) groups.set(person, members);
    }
    if (passDone) return groups;
    if (pass?.graph !== current) pass = { graph: current, people: current.people() };
    while (groups.size < batchProfiles) {
      const next = pass.people.next();
      if (next.done === true) {
        passDone = true;
        pass = undefined;
        break;
      }
      // A look-up of the key only: a document whose members changed since is rebuilt when read.
      if (!groups.has(next.value) && !documents.has(next.value))
        groups.set(next.value, membersOf(next.value));
    }
    return groups;
  }

  function schedule(delay = idleMs): void {
    if (!started || closed || timer !== undefined) return;
    timer = setTimeout(() => {
      timer = undefined;
      if (running !== undefined) return; // it schedules the next round when it ends
      const quiet = writesUnderWay > 0 ? 0 : Date.now() - lastWriteAt;
      if (quiet < idleMs) return schedule(idleMs - quiet);
      running = build().then(() => {
        running = undefined;
        if (isBuilding()) schedule(0);
        else for (const resolve of waiting.splice(0)) resolve();
      });
    }, delay);
  }

  async function build(): Promise<void> {
    try {
      const groups = nextGroups();
      if (groups.size > 0) await readAndKeep(groups, true);
    } catch (error) {
      onError(error);
    }
  }

  const isBuilding = () => !closed && (changed.size > 0 || !passDone);

  return {
    store,
    async facts(profileId) {
      const current = graph();
      if (current.members(profileId).length === 0) return undefined;
      const id = current.canonical(profileId);
      const facts = (await factsOfMany([id])).get(id);
      return facts === undefined ? undefined : { id, facts };
    },
    factsOfMany,
    start() {
      started = true;
      schedule(0);
    },
    built() {
      if (!isBuilding()) return Promise.resolve();
      return new Promise((resolve) => waiting.push(resolve));
    },
    stats: () => ({ documents: documents.count(), building: isBuilding() }),
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

/** How many operations are under way, per profile. */
class Counts {
  private readonly counts = new Map<number, number>();

  add(ids: Iterable<number>): void {
    for (const id of ids) this.counts.set(id, (this.counts.get(id) ?? 0) + 1);
  }

  remove(ids: Iterable<number>): void {
    for (const id of ids) {
      const left = (this.counts.get(id) ?? 1) - 1;
      if (left === 0) this.counts.delete(id);
      else this.counts.set(id, left);
    }
  }

  has(id: number): boolean {
    return this.counts.has(id);
  }
}

function sameMembers(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((id, index) => id === b[index]);
}
