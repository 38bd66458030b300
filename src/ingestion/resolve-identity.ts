import {
  consentObservationsOf,
  consentStatesFrom,
  consentUpdatedEvent,
  defaultConsentRules,
  type ConsentObservation,
  type ConsentRules,
  type ConsentStateEntry,
  type ConsentStatus,
} from '../domain/consent.ts';
import type { StoredEvent } from '../domain/events.ts';
import {
  identifiersOf,
  type Identifier,
  type IdentifierRejection,
  type IdentifierRules,
} from '../domain/identifiers.ts';
import type { Evidence, IdentityGraph, Resolution } from '../domain/identity-graph.ts';
import { firstTouchObservations, traitObservations, type TraitValue } from '../domain/traits.ts';
import type { IdentityChanges } from '../store/store.ts';
import { createConsentState, type ConsentStateIndex } from './consent-state.ts';
import type { ValidEvent } from './validate-event.ts';

/** The identity changes of one request, filled as its events resolve. */
export type PendingIdentityChanges = {
  -readonly [K in keyof IdentityChanges]-?: NonNullable<IdentityChanges[K]>[number][];
};

export function emptyIdentityChanges(): PendingIdentityChanges {
  return {
    profiles: [],
    identifiers: [],
    merges: [],
    undoneMerges: [],
    conflicts: [],
    shared: [],
    traits: [],
    sightings: [],
    rejectedIdentifiers: [],
    consent: [],
  };
}

export function hasIdentityChanges(changes: PendingIdentityChanges): boolean {
  return Object.values(changes).some((rows: unknown[]) => rows.length > 0);
}

/** Distinct sets of consent preferences remembered at once; a deployment has a few dozen. */
const maxPreferenceSets = 1000;

export interface ResolveOptions {
  /**
   * The event comes from an import (`ingestImported`): the consent its row gave, in
   * `context.import.consent`, is recorded with the method `import`. Never read from live events.
   */
  readonly imported?: boolean;
}

export interface IdentityResolver {
  /**
   * Resolves the event's identifiers to a profile; returns the event stamped with its origin
   * profile. Traits it sets and changes of consent it carries become rows of `changes`. Returns
   * undefined, changing nothing, when the event carries an identifier of an erased person: it is
   * dropped, so that no event rebuilds them.
   */
  resolve(
    event: StoredEvent,
    valid: ValidEvent,
    changes: PendingIdentityChanges,
    options?: ResolveOptions,
  ): StoredEvent | undefined;
  readonly graph: IdentityGraph;
  readonly consentRules: ConsentRules;
  /** Whether the person made of these origin profiles has any consent recorded (without asking the store). */
  hasConsent(members: readonly number[]): boolean;
  /** The consent in force of the person made of these origin profiles, from memory. */
  consentOf(members: readonly number[]): ConsentStatus;
  /**
   * Records consent expressed outside events (the admin API) for the person this profile belongs
   * to now: the observations that change it become rows of `changes`, as changes of that person's
   * profile. Undefined for an unknown profile.
   */
  recordConsent(
    profileId: number,
    observations: readonly ConsentObservation[],
    changes: PendingIdentityChanges,
  ): { readonly profileId: number; readonly recorded: readonly ConsentObservation[] } | undefined;
  /**
   * Consent-manager categories the SDK sent that stand for no purpose (add them to
   * `consent.categories` in the rules file), with the number of events that carried each, since start.
   */
  unknownConsentCategories(): Readonly<Record<string, number>>;
  /** Swaps in a graph rebuilt from the store (after a failed commit left this one ahead of it). */
  replace(graph: IdentityGraph, lastMergeId: number, activeMerges: Map<number, number>): void;
  /** Undoes the merge that absorbed this profile; undefined when it was never absorbed. */
  unmerge(
    absorbed: number,
    at: number,
    changes: PendingIdentityChanges,
  ): { survivor: number; restored: number[] } | undefined;
  /** Merges two profiles on a person's word; a conflict when the rules forbid it. */
  merge(
    survivor: number,
    absorbed: number,
    at: number,
    changes: PendingIdentityChanges,
  ): { merged: true; survivor: number; absorbed: number } | { merged: false; reason: string };
}

/** The suppression list of erased people's identifiers, as the resolver sees it. */
export interface Suppression {
  /** Whether the list holds anything. */
  active(): boolean;
  /** Whether these identifiers (unknown to the graph) include an erased person's; such events are counted. */
  suppresses(identifiers: readonly Identifier[]): boolean;
}

export interface IdentityResolverOptions {
  readonly graph: IdentityGraph;
  readonly identifierRules: IdentifierRules;
  /** Id of the last merge recorded; new merges count on from it. */
  readonly lastMergeId: number;
  /** For each absorbed profile, the id of the merge that absorbed it. */
  readonly activeMerges: Map<number, number>;
  /** Each origin profile's consent, loaded from the store (empty by default). */
  readonly consent?: ConsentStateIndex;
  readonly consentRules?: ConsentRules;
  /**
   * Whether identifiers the graph does not know belong to an erased person (the suppression list;
   * see src/privacy/erasure-service.ts). Identifiers the graph knows are never suppressed.
   */
  readonly suppression?: Suppression;
}

/**
 * The "resolve identity" step of ingestion: the event's identifiers (from the standard places of
 * the Segment spec) go through the identity graph, in the same micro-batch and commit as the event;
 * what the graph did (profiles created, identifiers attached, merges, conflicts) and the traits the
 * event sets become rows of the batch.
 */
export function createIdentityResolver(options: IdentityResolverOptions): IdentityResolver {
  let graph = options.graph;
  let lastMergeId = options.lastMergeId;
  let activeMerges = options.activeMerges;
  const consent = options.consent ?? createConsentState();
  const consentRules = options.consentRules ?? defaultConsentRules;

  /**
   * The SDK sends the same few sets of preferences with every event: each set is read once (by
   * `consentObservationsOf`) and remembered as the purposes and states it stands for.
   */
  const preferenceSets = new Map<string, readonly ConsentStateEntry[]>();
  const unknownCategoriesOf = new Map<string, readonly string[]>();
  const unknownCategories = new Map<string, number>();
  const preferences = (consentValue: unknown, event: StoredEvent): ConsentObservation[] => {
    const text = JSON.stringify(consentValue);
    let entries = preferenceSets.get(text);
    if (entries === undefined) {
      const alone = {
        ...event,
        type: 'page' as const,
        event: null,
        properties: null,
        context: `{"consent":${text}}`,
      };
      const extraction = consentObservationsOf(alone, consentRules);
      entries = extraction.observations.map(({ purpose, state }) => ({ purpose, state }));
      if (preferenceSets.size >= maxPreferenceSets) {
        preferenceSets.clear();
        unknownCategoriesOf.clear();
      }
      preferenceSets.set(text, entries);
      if (extraction.unknownCategories.length > 0)
        unknownCategoriesOf.set(text, extraction.unknownCategories);
    }
    for (const category of unknownCategoriesOf.get(text) ?? []) {
      if (unknownCategories.has(category) || unknownCategories.size < maxPreferenceSets) {
        unknownCategories.set(category, (unknownCategories.get(category) ?? 0) + 1);
      }
    }
    return entries.map(({ purpose, state }) => ({
      purpose,
      state,
      at: event.timestamp,
      sourceId: event.sourceId,
      messageId: event.messageId,
      method: 'sdk',
    }));
  };

  /** Keeps the observations that change the person's consent, as rows of the origin profile. */
  const recordChanges = (
    origin: number,
    observations: readonly ConsentObservation[],
    changes: PendingIdentityChanges,
  ): ConsentObservation[] => {
    const recorded = consent.record(origin, graph.members(graph.canonical(origin)), observations);
    for (const observation of recorded) {
      changes.consent.push({
        profileId: origin,
        purpose: observation.purpose,
        state: observation.state,
        doubleOptIn: observation.doubleOptIn ?? null,
        at: observation.at,
        sourceId: observation.sourceId,
        messageId: observation.messageId,
        method: observation.method,
        detail: observation.detail ?? null,
      });
    }
    return recorded;
  };

  return {
    get graph() {
      return graph;
    },
    consentRules,
    hasConsent: (members) => consent.has(members),
    unknownConsentCategories: () => Object.fromEntries(unknownCategories),
    consentOf: (members) => consent.statusOf(members),
    recordConsent(profileId, observations, changes) {
      const person = graph.canonical(profileId);
      if (graph.members(person).length === 0) return undefined;
      return { profileId: person, recorded: recordChanges(person, observations, changes) };
    },
    replace(next, nextLastMergeId, nextActiveMerges) {
      graph = next;
      lastMergeId = nextLastMergeId;
      activeMerges = nextActiveMerges;
    },
    unmerge(absorbed, at, changes) {
      const mergeId = activeMerges.get(absorbed);
      const survivor = graph.lineage(absorbed)[1];
      const result = graph.unmerge(absorbed);
      if (result === undefined) return undefined;
      activeMerges.delete(absorbed);
      if (mergeId !== undefined) changes.undoneMerges.push({ id: mergeId, at, survivor, absorbed });
      return result;
    },
    merge(survivor, absorbed, at, changes) {
      const outcome = graph.merge(survivor, absorbed, { sourceId: 'manual', messageId: 'manual', at });
      if (!('survivor' in outcome)) {
        return {
          merged: false,
          reason: `profiles ${outcome.profiles.join(' and ')} cannot be one person: ${outcome.reason}`,
        };
      }
      const id = ++lastMergeId;
      activeMerges.set(outcome.absorbed, id);
      changes.merges.push({
        id,
        at,
        survivor: outcome.survivor,
        absorbed: outcome.absorbed,
        kind: 'manual',
        identifierType: null,
        identifierValue: null,
        sourceId: null,
        messageId: null,
        undoneAt: null,
      });
      return { merged: true, survivor: outcome.survivor, absorbed: outcome.absorbed };
    },
    resolve(event, valid, changes, resolveOptions) {
      const { identifiers, rejected } = eventIdentifiers(event, valid, options.identifierRules, graph);
      // Nothing to look at until someone is erased: the usual case costs one call.
      if (options.suppression?.active() === true) {
        const unknown = identifiers.filter((identifier) => graph.originOf(identifier) === undefined);
        if (unknown.length > 0 && options.suppression.suppresses(unknown)) return undefined;
      }
      for (const rejection of rejected) changes.rejectedIdentifiers.push(rejectedRow(rejection, event));
      const evidence = { sourceId: event.sourceId, messageId: event.messageId, at: event.timestamp };
      const resolution = graph.resolve(identifiers, evidence);
      if (resolution === undefined) return event;
      record(resolution, changes, evidence);
      changes.sightings.push({ identifiers, at: event.timestamp });
      const origin = { sourceId: event.sourceId, at: event.timestamp, messageId: event.messageId };
      const observations: TraitValue[] = [];
      if (resolution.createdProfiles.some((profile) => profile.id === resolution.originProfileId)) {
        observations.push(...firstTouchObservations(valid as { context?: Record<string, unknown> }, origin));
      }
      if (event.type === 'identify' && isObject(valid.traits)) {
        observations.push(...traitObservations(valid.traits, origin));
      }
      for (const observation of observations) {
        changes.traits.push({
          originProfileId: resolution.originProfileId,
          name: observation.name,
          value: JSON.stringify(observation.value ?? null),
          sourceId: observation.sourceId,
          at: observation.at,
          messageId: observation.messageId,
        });
      }
      // Most events carry no consent: a look at what validation already parsed tells, with nothing to parse.
      const context = isObject(valid.context) ? valid.context : undefined;
      const isConsentUpdated = event.type === 'track' && event.event === consentUpdatedEvent;
      if (context?.consent !== undefined || isConsentUpdated || resolveOptions?.imported === true) {
        const found: ConsentObservation[] = [];
        if (context?.consent !== undefined) found.push(...preferences(context.consent, event));
        if (isConsentUpdated) {
          found.push(...consentObservationsOf({ ...event, context: null }, consentRules).observations);
        }
        if (resolveOptions?.imported === true) found.push(...importedConsent(event, context, consentRules));
        if (found.length > 0) recordChanges(resolution.originProfileId, found, changes);
      }
      return { ...event, profileId: resolution.originProfileId };
    },
  };

  function record(resolution: Resolution, changes: PendingIdentityChanges, evidence: Evidence): void {
    for (const profile of resolution.createdProfiles)
      changes.profiles.push({ id: profile.id, createdAt: profile.createdAt });
    for (const merge of resolution.merges) {
      activeMerges.set(merge.absorbed, lastMergeId + 1);
      changes.merges.push({
        id: ++lastMergeId,
        at: merge.evidence.at,
        survivor: merge.survivor,
        absorbed: merge.absorbed,
        kind: 'auto',
        identifierType: merge.identifier.type,
        identifierValue: merge.identifier.value,
        sourceId: merge.evidence.sourceId,
        messageId: merge.evidence.messageId,
        undoneAt: null,
      });
    }
    for (const conflict of resolution.conflicts) {
      changes.conflicts.push({
        at: conflict.evidence.at,
        reason: conflict.reason,
        identifierType: conflict.identifier.type,
        identifierValue: conflict.identifier.value,
        profiles: conflict.profiles,
        sourceId: conflict.evidence.sourceId,
        messageId: conflict.evidence.messageId,
      });
    }
    for (const identifier of resolution.newlyShared) {
      changes.shared.push({ type: identifier.type, value: identifier.value, at: evidence.at });
    }
    for (const { identifier, originProfileId } of resolution.attached) {
      changes.identifiers.push({
        type: identifier.type,
        value: identifier.value,
        originProfileId,
        firstSeen: evidence.at,
        sourceId: evidence.sourceId,
        messageId: evidence.messageId,
      });
    }
  }
}

/** The identifiers of an event; an alias call's `previousId` is the old id it names. */
function eventIdentifiers(
  event: StoredEvent,
  valid: ValidEvent,
  rules: IdentifierRules,
  graph: IdentityGraph,
): { identifiers: Identifier[]; rejected: IdentifierRejection[] } {
  const { identifiers, rejected } = identifiersOf(
    {
      userId: event.userId,
      anonymousId: event.anonymousId,
      traits: event.type === 'identify' && isObject(valid.traits) ? valid.traits : null,
      context: isObject(valid.context) ? valid.context : null,
    },
    rules,
  );
  if (event.type === 'alias' && event.previousId !== null) {
    const asUser = { type: 'userId', value: event.previousId };
    identifiers.push(
      graph.profileOf(asUser) !== undefined ? asUser : { type: 'anonymousId', value: event.previousId },
    );
  }
  return { identifiers, rejected };
}

/**
 * The consent an import row gave (`context.import.consent`, as `consentStatesFrom` reads it), as
 * observations of the import. A purpose the rules no longer know is left out.
 */
function importedConsent(
  event: StoredEvent,
  context: Record<string, unknown> | undefined,
  rules: ConsentRules,
): ConsentObservation[] {
  const imported = context?.import;
  if (!isObject(imported) || imported.consent === undefined) return [];
  const { states } = consentStatesFrom(imported.consent, rules, 'context.import.consent');
  const line = typeof imported.line === 'number' ? `, line ${imported.line}` : '';
  const detail = typeof imported.id === 'string' ? `${imported.id}${line}` : undefined;
  return states.map(({ purpose, state }) => ({
    purpose,
    state,
    at: event.timestamp,
    sourceId: event.sourceId,
    messageId: event.messageId,
    method: 'import',
    ...(detail === undefined ? {} : { detail }),
  }));
}

function rejectedRow(
  rejection: IdentifierRejection,
  event: StoredEvent,
): PendingIdentityChanges['rejectedIdentifiers'][number] {
  const raw = rejection.raw;
  return {
    type: rejection.type,
    kind: rejection.kind,
    value: typeof raw === 'string' || typeof raw === 'number' ? String(raw).slice(0, 200) : null,
    reason: rejection.reason.slice(0, 500),
    sourceId: event.sourceId,
    messageId: event.messageId,
    at: event.timestamp,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
