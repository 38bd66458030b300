import type { EventExpression } from '../segments/rule.ts';

/** What erasing people needs from the store: removing every row about them, and the suppression list. */
export interface ErasureStore {
  /**
   * Removes, in one transaction, every row about the people (their origin profiles): events,
   * identifiers, traits, merges, conflicts, sightings, consent, segment changes, quarantined records
   * and rejected import rows that contain one of their values; records the erasure and the keyed
   * hashes of their identifiers on the suppression list.
   */
  erase(request: ErasureRequest): Promise<ErasureRecord>;
  listErasures(limit: number): Promise<ErasureRecord[]>;
  /** Erasures whose bytes may still sit in free blocks of the files: physical purge pending. */
  pendingPurges(): Promise<ErasureRecord[]>;
  markPurged(ids: readonly string[], at: number): Promise<void>;
  /**
   * What the physical purge of these erasures must write again: the parts of the store (tables,
   * for DuckDB) they deleted rows from, in the adapter's own names, for its purge.
   */
  purgePlan(ids: readonly string[]): Promise<PurgePlan>;
  /** Every keyed hash on the suppression list. */
  suppressedHashes(): Promise<string[]>;
  /** Events dropped because they carried a suppressed identifier, since the first erasure. */
  droppedEvents(): Promise<number>;
  addDroppedEvents(count: number): Promise<void>;
  /**
   * Deletes raw events past their retention, each rule's in turn, in one transaction, and records
   * the run. Answers the events deleted per rule and the origin profiles they belonged to.
   */
  applyRetention(
    rules: readonly ExpiryRule[],
    at: number,
    /** The computed traits' expressions: what they read of the events deleted is kept (ExpressionRollup). */
    expressions: readonly EventExpression[],
  ): Promise<RetentionRun & { profiles: number[] }>;
  lastRetentionRun(): Promise<RetentionRun | undefined>;
}

export interface PurgePlan {
  readonly rewrite: readonly string[];
}

/** Raw events older than `before` (event time, ms) that match every field given. */
export interface ExpiryRule {
  readonly before: number;
  readonly type?: string;
  readonly sourceIds?: readonly string[];
  readonly event?: string;
}

export interface RetentionRun {
  readonly at: number;
  /** Events deleted by each rule, in the order of the rules. */
  readonly deleted: readonly number[];
}

export interface ErasureRequest {
  readonly id: string;
  readonly at: number;
  /** Who asked: a user id, a token id or "bootstrap". */
  readonly requestedBy: string;
  /** The profile as asked for, and the origin profiles it is made of. */
  readonly profileId: number;
  readonly members: readonly number[];
  /** The person's identifiers (normalised), to find rows that hold them without a profile id. */
  readonly identifiers: readonly { readonly type: string; readonly value: string }[];
  /** Keyed hashes of the identifiers, for the suppression list. */
  readonly suppressed: readonly { readonly hash: string; readonly type: string }[];
}

export interface ErasureRecord {
  readonly id: string;
  readonly profileId: number;
  readonly requestedBy: string;
  readonly erasedAt: number;
  /** Rows removed, per table. */
  readonly removed: Readonly<Record<string, number>>;
  /** When the files were rewritten without the freed bytes; null while pending. */
  readonly purgedAt: number | null;
}
