import type { ConsentMethod, ConsentState } from '../domain/consent.ts';
import type { EventType, StoredEvent } from '../domain/events.ts';
import type { Identifier, IdentifierRejectionKind } from '../domain/identifiers.ts';
import type { IdentifierPrefix, TraitFilter } from '../domain/profile-search.ts';
import type { TraitValue } from '../domain/traits.ts';
import type { AccessStore } from './access-store.ts';
import type { ErasureStore } from './erasure-store.ts';
import type { AnalysisStore } from './analysis-store.ts';
import type { ImportStore } from './import-store.ts';
import type { RuleContext, SegmentStore } from './segment-store.ts';
import type { Rule } from '../segments/rule.ts';

/**
 * The store port: everything the pipeline, the API and the jobs need from storage.
 * Adapters (DuckDB embedded, PostgreSQL later) implement it; all SQL lives in the adapters, and
 * every adapter passes the suite in `store.contract.ts`.
 */
export interface Store {
  /**
   * Writes one micro-batch atomically: its events, its quarantined records, and the quarantined
   * records it replays. Resolves only once the batch is durable (committed).
   */
  writeBatch(batch: WriteBatch): Promise<void>;
  /** The sequence number of the last ingest-log batch written (`WriteBatch.logSeq`); 0 if none. */
  appliedLogSeq(): Promise<number>;

  createSource(source: Source): Promise<void>;
  /** Changes a source's write key or revokes it. */
  updateSource(source: Source): Promise<void>;
  listSources(): Promise<Source[]>;

  listEvents(query: EventQuery): Promise<EventRow[]>;
  countEvents(): Promise<number>;
  /** What the store holds in memory now, and its limit. */
  memoryUsage(): Promise<StoreMemory>;

  listQuarantine(query: QuarantineQuery): Promise<QuarantineRecord[]>;
  getQuarantine(id: number): Promise<QuarantineRecord | undefined>;
  countQuarantine(): Promise<{ pending: number; replayed: number }>;

  /**
   * Streams the fingerprints of the messageIds received since `sinceMs`, to rebuild the
   * de-duplication set after a restart. A fingerprint is the first 8 bytes of
   * md5(sourceId + "\0" + messageId) read as a little-endian 64-bit integer, split in two halves.
   */
  scanMessageFingerprints(sinceMs: number, onChunk: (chunk: FingerprintChunk) => void): Promise<number>;

  /** Streams the identity graph into the loader; resolves with the highest merge id (0 if none). */
  loadIdentity(loader: IdentityLoader): Promise<{ lastMergeId: number }>;
  /**
   * What each profile is made of (its document), for many profiles at once: `groups` maps each
   * profile to its origin profiles (itself included). `background` reads on a connection of its
   * own, for long reads that should not hold up requests.
   */
  readProfileFacts(
    groups: ProfileGroups,
    options?: { background?: boolean },
  ): Promise<Map<number, ProfileFacts>>;

  /** Each profile's consent changes (those of all its origin profiles), in recording order. */
  readConsentHistory(groups: ProfileGroups): Promise<Map<number, ConsentRow[]>>;
  /**
   * Streams every consent change in recording order, to rebuild the consent ingestion holds in
   * memory; resolves with how many there were.
   */
  loadConsent(onChange: (change: ConsentChangeRow) => void): Promise<number>;

  /** Origin profiles holding an identifier that starts with any of these prefixes, ascending. */
  findProfilesByIdentifierPrefix(prefixes: readonly IdentifierPrefix[]): Promise<number[]>;
  /** Origin profiles whose latest value of the trait matches the filter, ascending. */
  findProfilesByTrait(filter: TraitFilter): Promise<number[]>;
  /**
   * Other profiles suspected to be the same person as the profile made of these origin profiles:
   * same name, birth date and postal code once normalised. Undefined when the profile lacks one of them.
   */
  findSuspectedDuplicates(originProfileIds: readonly number[]): Promise<DuplicateGroup | undefined>;
  /** The data-quality report over every profile (see QualityReport). */
  qualityReport(options: QualityOptions): Promise<QualityReport>;
  /** Events received in a time range, counted per time bucket (see EventCountQuery). */
  countEventsOverTime(query: EventCountQuery): Promise<EventCount[]>;
  /**
   * How many people meet each rule now, in order, with the meaning the segment language gives it
   * (src/segments/rule.ts): `has email`, `consent email`...
   */
  countProfilesMeeting(rules: readonly Rule[], context: RuleContext): Promise<number[]>;

  /** Gives events stored without a profile their origin profile, with the identity changes that made it, atomically. */
  assignEventProfiles(
    assignments: readonly { readonly seq: number; readonly profileId: number }[],
    identity: IdentityChanges,
  ): Promise<void>;
  /** Import jobs and the rows they rejected. */
  readonly imports: ImportStore;
  /** Segments and who was in them when. */
  readonly segments: SegmentStore;
  /** RFM scores and what sets a segment apart, over the whole base. */
  readonly analysis: AnalysisStore;
  /** Console users, API tokens, sessions and the audit log. */
  readonly access: AccessStore;
  /** Erasing people, and the suppression list of their identifiers. */
  readonly erasure: ErasureStore;

  close(): Promise<void>;
}

export interface StoreMemory {
  /** Bytes the store's buffer manager holds now. */
  readonly usedBytes: number;
  /** The most it may hold (`CIBLE_DUCKDB_MEMORY_LIMIT`), in bytes. */
  readonly limitBytes: number;
  /** The largest uses, by the store's own tags (e.g. DuckDB's `BASE_TABLE`, `METADATA`), in bytes. */
  readonly byTag: Readonly<Record<string, number>>;
}

export interface Source {
  readonly id: string;
  readonly name: string;
  readonly writeKey: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  /** When the write key was revoked (events are refused from then on); null while it works. */
  readonly revokedAt: number | null;
}

export interface WriteBatch {
  readonly events: readonly StoredEvent[];
  readonly quarantine: readonly NewQuarantineRecord[];
  /** Quarantined records whose event is in this batch after a replay. */
  readonly replayedQuarantineIds: readonly number[];
  /** What resolving the batch's events did to the identity graph, committed with them. */
  readonly identity?: IdentityChanges;
  /** The batch's position in the ingest log (src/store/ingest-log.ts), recorded with it. */
  readonly logSeq?: number;
}

/** Changes to the identity graph (src/domain/identity-graph.ts), as rows. */
export interface IdentityChanges {
  readonly profiles: readonly { readonly id: number; readonly createdAt: number }[];
  readonly identifiers: readonly IdentityRow[];
  readonly merges: readonly MergeRow[];
  /** Merges undone: the pair is split from then on. */
  readonly undoneMerges: readonly UndoneMerge[];
  readonly conflicts: readonly ConflictRow[];
  readonly shared: readonly { readonly type: string; readonly value: string; readonly at: number }[];
  /** Trait values observed, appended (profiles merge them when read). */
  readonly traits: readonly TraitRow[];
  /** The identifiers each event carried, with its event time: when each identifier was last seen. */
  readonly sightings?: readonly IdentifierSighting[];
  /** Identifier values the events carried that were refused (invalid, placeholders...). */
  readonly rejectedIdentifiers?: readonly RejectedIdentifier[];
  /** Changes of consent (repetitions of the consent in force are not recorded). */
  readonly consent?: readonly ConsentRow[];
}

/** One change of a person's consent for one purpose, as stored (see src/domain/consent.ts). */
export interface ConsentRow {
  /** The origin profile of the event (or request, or import row) that expressed it. */
  readonly profileId: number;
  readonly purpose: string;
  readonly state: ConsentState;
  readonly doubleOptIn: 'pending' | 'confirmed' | null;
  /** When the person expressed it, ms. */
  readonly at: number;
  readonly sourceId: string;
  readonly messageId: string;
  readonly method: ConsentMethod;
  readonly detail: string | null;
}

/** What loading a consent change gives: enough to tell the next change from a repetition. */
export type ConsentChangeRow = Pick<ConsentRow, 'profileId' | 'purpose' | 'state' | 'doubleOptIn' | 'at'>;

export interface UndoneMerge {
  readonly id: number;
  readonly at: number;
  /** The pair split apart (absent from batches logged before they were recorded). */
  readonly survivor?: number;
  readonly absorbed?: number;
}

/**
 * Identifier types whose last sighting is read from the events themselves (their userId and
 * anonymousId), so that events carrying only these, most of them, need no sighting of their own.
 */
export const typesSeenInEvents: ReadonlySet<string> = new Set(['userId', 'anonymousId']);

export interface IdentifierSighting {
  readonly identifiers: readonly Identifier[];
  /** Event time, ms. */
  readonly at: number;
}

export interface RejectedIdentifier {
  readonly type: string;
  readonly kind: IdentifierRejectionKind;
  /** The value as the event carried it, as text (cut to 200 characters); null when not text. */
  readonly value: string | null;
  readonly reason: string;
  readonly sourceId: string;
  readonly messageId: string;
  readonly at: number;
}

/** A stored trait observation with its value parsed from JSON text. */
export function parsedTrait(trait: TraitRow): TraitValue {
  return { ...trait, value: JSON.parse(trait.value) as unknown };
}

/** A profile (see IdentityGraph.members) and the origin profiles it is made of. */
export type ProfileGroups = ReadonlyMap<number, readonly number[]>;

/** What a profile is made of, as stored: everything its page shows. */
export interface ProfileFacts {
  /** Its origin profiles, ascending. */
  readonly members: readonly number[];
  /** Its identifiers, oldest first. */
  readonly identities: readonly IdentityView[];
  /** Per trait and source, the earliest and the latest observation, oldest first (see mergeTraits). */
  readonly traits: readonly TraitRow[];
  readonly summary: ProfileSummary;
  /** Merges in which any member took part, oldest first. */
  readonly merges: readonly MergeRow[];
  /** Whether its latest traits give a whole duplicate key (findSuspectedDuplicates then looks). */
  readonly hasDuplicateKey: boolean;
}

export interface ProfileSummary {
  readonly events: number;
  /** Event time of the first and last events, ms; null without events. */
  readonly firstSeen: number | null;
  readonly lastSeen: number | null;
  /** Sources the events came from. */
  readonly sources: readonly string[];
  /**
   * Visits: runs of events with no gap of more than 30 minutes between two of them, across every
   * source and device of the profile.
   */
  readonly sessions: number;
  /** Events per source, channel (`channel` or `context.channel`) and library (`context.library.name`). */
  readonly channels: readonly ChannelSummary[];
  /** `Order Completed` events, and the sum of their `revenue` (or `total`) property. */
  readonly purchases: number;
  readonly revenue: number;
}

export interface ChannelSummary {
  readonly sourceId: string;
  readonly channel: string | null;
  readonly library: string | null;
  readonly events: number;
  /** Event time of the latest event, ms. */
  readonly lastSeen: number;
}

export interface IdentityView extends IdentityRow {
  /** Event time of the latest event that carried it, ms (at least firstSeen). */
  readonly lastSeen: number;
}

/** Profiles that look like one person: same normalised name, birth date and postal code. */
export interface DuplicateGroup {
  /** Lower-case, without accents or punctuation, single spaces. */
  readonly name: string;
  /** YYYY-MM-DD. */
  readonly birthDate: string;
  /** Upper-case letters and digits. */
  readonly postalCode: string;
  /** Profiles (as they stand now, after merges), ascending. */
  readonly profiles: readonly number[];
}

export interface QualityOptions {
  /** Profiles whose latest event is older than this (ms) are stale. */
  readonly staleBefore: number;
  /** How many duplicate groups to give as a sample. */
  readonly sample: number;
}

/** Data quality over every profile; "profiles" are people as they stand now, after merges. */
export interface QualityReport {
  readonly profiles: number;
  readonly originProfiles: number;
  readonly identifiers: number;
  readonly events: number;
  /** Profiles with at least one valid (normalised, not a placeholder) e-mail address identifier. */
  readonly withValidEmail: number;
  /** Profiles whose `email` trait is set but who have no valid e-mail address. */
  readonly withInvalidEmailOnly: number;
  readonly withValidPhone: number;
  readonly withInvalidPhoneOnly: number;
  /** Profiles whose latest event is older than `staleBefore`. */
  readonly stale: number;
  readonly duplicateGroups: number;
  /** Profiles that are in a duplicate group. */
  readonly duplicateProfiles: number;
  /** The largest groups first. */
  readonly duplicateSample: readonly DuplicateGroup[];
  /** Quarantined records by error code and field. */
  readonly quarantine: readonly {
    readonly code: string;
    readonly field: string | null;
    readonly pending: number;
    readonly replayed: number;
  }[];
  /** Identifier values refused at ingestion, by type and reason, with the latest example. */
  readonly rejectedIdentifiers: readonly {
    readonly type: string;
    readonly kind: string;
    readonly count: number;
    readonly lastSeen: number;
    readonly example: {
      readonly value: string | null;
      readonly reason: string;
      readonly sourceId: string;
      readonly messageId: string;
    };
  }[];
}

export interface EventCountQuery {
  /**
   * Which time counts: `received` (when Cible received the event: what arrives now) or `event` (the
   * corrected `timestamp`: when it happened, so an imported history falls on its own days).
   */
  readonly time: 'received' | 'event';
  /** At or after, ms. */
  readonly from: number;
  /** Before, ms. */
  readonly to: number;
  /** The length of a bucket, ms: a minute, an hour, a day. */
  readonly bucketMs: number;
  /**
   * Local time: the offset from UTC in force from each `from` on (ascending; the first one also
   * before it), added to the time of reception before it is cut into buckets, so that days begin at
   * midnight where the reader is. None: UTC.
   */
  readonly offsets?: readonly UtcOffset[];
  /** Counts per source and event type in each bucket; otherwise one count per bucket. */
  readonly bySourceAndType: boolean;
}

export interface UtcOffset {
  /** From this instant on, ms. */
  readonly from: number;
  /** Local time minus UTC, ms. */
  readonly offsetMs: number;
}

/** Buckets without events have no row. */
export interface EventCount {
  /** floor((time of reception + offset) / bucketMs): the bucket's local start is bucket × bucketMs. */
  readonly bucket: number;
  /** Null unless counted by source and type. */
  readonly sourceId: string | null;
  readonly type: string | null;
  readonly count: number;
}

export interface IdentityRow {
  readonly type: string;
  readonly value: string;
  readonly originProfileId: number;
  readonly firstSeen: number;
  readonly sourceId: string;
  readonly messageId: string;
}

export interface MergeRow {
  readonly id: number;
  readonly at: number;
  readonly survivor: number;
  readonly absorbed: number;
  readonly kind: 'auto' | 'manual';
  readonly identifierType: string | null;
  readonly identifierValue: string | null;
  readonly sourceId: string | null;
  readonly messageId: string | null;
  readonly undoneAt: number | null;
}

export interface ConflictRow {
  readonly at: number;
  readonly reason: string;
  readonly identifierType: string;
  readonly identifierValue: string;
  readonly profiles: readonly number[];
  readonly sourceId: string;
  readonly messageId: string;
}

export interface TraitRow {
  readonly originProfileId: number;
  readonly name: string;
  /** JSON text. */
  readonly value: string;
  readonly sourceId: string;
  readonly at: number;
  readonly messageId: string;
}

/** Receives the persisted identity graph, in an order that rebuilds it: profiles, identifiers, merges. */
export interface IdentityLoader {
  profile(id: number, createdAt: number): void;
  identifier(type: string, value: string, originProfileId: number): void;
  merge(survivor: number, absorbed: number, mergeId: number): void;
  split(a: number, b: number): void;
  shared(type: string, value: string): void;
}

export interface EventRow extends StoredEvent {
  /** Position in the store, increasing with every commit: the cursor for paging. */
  readonly seq: number;
}

export interface EventQuery {
  readonly type?: EventType;
  readonly event?: string;
  readonly userId?: string;
  readonly anonymousId?: string;
  readonly sourceId?: string;
  /** Events stored with any of these origin profiles (a profile's members). */
  readonly profileIds?: readonly number[];
  /** Event time (corrected `timestamp`), inclusive, in ms. */
  readonly from?: number;
  /** Event time, exclusive, in ms. */
  readonly to?: number;
  /** Only rows with a seq below this one (newest first paging). */
  readonly beforeSeq?: number;
  /** Only rows with a seq above this one (oldest first paging). */
  readonly afterSeq?: number;
  /** Only events stored without a profile (before profiles existed, or without any identifier). */
  readonly withoutProfile?: boolean;
  /** Oldest first (by seq); newest first otherwise. */
  readonly oldestFirst?: boolean;
  /** Newest first by event time (then seq) instead of by seq: a person's timeline. */
  readonly byEventTime?: boolean;
  /** With `byEventTime`: only rows after this one in that order (the last row of the page before). */
  readonly beforeEvent?: { readonly timestamp: number; readonly seq: number };
  readonly limit: number;
}

export type QuarantineStatus = 'pending' | 'replayed';

export interface NewQuarantineRecord {
  readonly sourceId: string;
  readonly receivedAt: number;
  /** The error code (`CIBLE_ERR_TRACKING_...`). */
  readonly code: string;
  readonly reason: string;
  readonly field: string | null;
  /** The rejected payload, as received: one event's JSON, or a whole request body. */
  readonly payload: string;
  /** The event type the payload was sent as (the endpoint or the item's own type). */
  readonly kind: string;
  /** Index in the batch, when the record is one item of a batch request. */
  readonly batchIndex: number | null;
  readonly messageId: string | null;
  /** The address the request came from, to fill `context.ip` on replay. */
  readonly ip: string | null;
}

export interface QuarantineRecord extends NewQuarantineRecord {
  readonly id: number;
  readonly status: QuarantineStatus;
  readonly replayedAt: number | null;
}

export interface QuarantineQuery {
  readonly status?: QuarantineStatus;
  readonly sourceId?: string;
  readonly code?: string;
  readonly beforeId?: number;
  readonly limit: number;
}

export interface FingerprintChunk {
  readonly hi: ArrayLike<number>;
  readonly lo: ArrayLike<number>;
  /** Hour (ms / 3,600,000, floored) the message was received in. */
  readonly hour: ArrayLike<number>;
  readonly length: number;
}
