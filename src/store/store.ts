import type { EventType, StoredEvent } from '../domain/events.ts';
import type { ImportStore } from './import-store.ts';

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

  createSource(source: Source): Promise<void>;
  listSources(): Promise<Source[]>;

  listEvents(query: EventQuery): Promise<EventRow[]>;
  countEvents(): Promise<number>;

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
  listIdentities(originProfileIds: readonly number[]): Promise<IdentityRow[]>;
  /** Every trait observation of these origin profiles, oldest first. */
  listProfileTraits(originProfileIds: readonly number[]): Promise<TraitRow[]>;
  /** What the events of these origin profiles add up to. */
  summarizeProfile(originProfileIds: readonly number[]): Promise<ProfileSummary>;
  /** Merges in which any of these profiles took part, oldest first. */
  listMerges(profileIds: readonly number[]): Promise<MergeRow[]>;

  /** Import jobs and the rows they rejected. */
  readonly imports: ImportStore;

  close(): Promise<void>;
}

export interface Source {
  readonly id: string;
  readonly name: string;
  readonly writeKey: string;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
}

export interface WriteBatch {
  readonly events: readonly StoredEvent[];
  readonly quarantine: readonly NewQuarantineRecord[];
  /** Quarantined records whose event is in this batch after a replay. */
  readonly replayedQuarantineIds: readonly number[];
  /** What resolving the batch's events did to the identity graph, committed with them. */
  readonly identity?: IdentityChanges;
}

/** Changes to the identity graph (src/domain/identity-graph.ts), as rows. */
export interface IdentityChanges {
  readonly profiles: readonly { readonly id: number; readonly createdAt: number }[];
  readonly identifiers: readonly IdentityRow[];
  readonly merges: readonly MergeRow[];
  /** Merges undone: the pair is split from then on. */
  readonly undoneMerges: readonly { readonly id: number; readonly at: number }[];
  readonly conflicts: readonly ConflictRow[];
  readonly shared: readonly { readonly type: string; readonly value: string; readonly at: number }[];
  /** Trait values observed, appended (profiles merge them when read). */
  readonly traits: readonly TraitRow[];
}

export interface ProfileSummary {
  readonly events: number;
  /** Event time of the first and last events, ms; null without events. */
  readonly firstSeen: number | null;
  readonly lastSeen: number | null;
  /** Sources the events came from. */
  readonly sources: readonly string[];
  /** `Order Completed` events, and the sum of their `revenue` (or `total`) property. */
  readonly purchases: number;
  readonly revenue: number;
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
