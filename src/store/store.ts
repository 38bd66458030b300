import type { EventType, StoredEvent } from '../domain/events.ts';

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
