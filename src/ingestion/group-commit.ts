import type { StoredEvent } from '../domain/events.ts';
import { CibleError } from '../errors.ts';
import type { IngestLog } from '../store/ingest-log.ts';
import type { IdentityChanges, NewQuarantineRecord, Store, WriteBatch } from '../store/store.ts';
import { emptyIdentityChanges, type PendingIdentityChanges } from './resolve-identity.ts';

/**
 * The single writer of the pipeline. Requests add their events to the open micro-batch and wait;
 * the batch is appended to the ingest log and synced, and every request in it is answered only
 * then (group commit). While one batch commits, the next one fills, so commits follow each other
 * as fast as the disk allows and each holds whatever arrived meanwhile.
 *
 * Behind the log, the batches are written to the store in order, several at once when the store
 * falls behind (a DuckDB checkpoint holds writes for about half a second) and, under load, at most
 * every `storeIntervalMs` unless a reader waits for them. A batch the store fails to write is tried
 * again: it is acknowledged and in the log, so it must get there.
 */
export interface GroupCommitWriter {
  /** Adds to the open batch; resolves when that batch is durable, rejects if it failed. */
  enqueue(work: BatchWork): Promise<void>;
  /** Events accepted but not yet in the store. */
  readonly pendingEvents: number;
  readonly stats: WriterStats;
  /**
   * Resolves once the store holds every batch committed before the call, so that a read sees
   * what was acknowledged; rejects after `timeoutMs` if the store is still behind.
   */
  caughtUp(timeoutMs?: number): Promise<void>;
  /** Commits what is open, and waits until the store holds every committed batch. */
  drain(): Promise<void>;
}

export interface BatchWork {
  readonly events?: readonly StoredEvent[];
  readonly quarantine?: readonly NewQuarantineRecord[];
  readonly replayedQuarantineIds?: readonly number[];
  readonly identity?: IdentityChanges;
  /** Called if the batch holding this work fails, before the waiter hears of it. */
  readonly onFailure?: () => void;
}

export interface WriterStats {
  /** Events durable in the log (acknowledged). */
  committedEvents: number;
  committedQuarantine: number;
  commits: number;
  failedCommits: number;
  lastCommitMs: number;
  lastBatchEvents: number;
  /** Events written to the store. */
  storedEvents: number;
  storeWrites: number;
  failedStoreWrites: number;
  lastStoreWriteMs: number;
  lastStoreWriteEvents: number;
}

export interface GroupCommitOptions {
  readonly store: Pick<Store, 'writeBatch'>;
  readonly log: IngestLog;
  readonly maxEvents: number;
  readonly maxDelayMs: number;
  /**
   * Store writes start at most this often unless `maxEvents` are waiting or a reader waits for
   * them (caughtUp, drain): each write costs a fixed part besides its events (DuckDB flushes one
   * appender per event partition on the JavaScript thread), so many small writes cost the requests
   * more than a few larger ones. After a quiet spell the next write starts at once. 0: never wait.
   */
  readonly storeIntervalMs?: number;
  readonly onCommitError?: (error: unknown) => void;
  /** A store write failed; it is tried again after `retryMs`. */
  readonly onStoreError?: (error: unknown, retryMs: number) => void;
}

interface OpenBatch {
  events: StoredEvent[];
  quarantine: NewQuarantineRecord[];
  replayedQuarantineIds: number[];
  identity: PendingIdentityChanges | undefined;
  failureHandlers: (() => void)[];
  settled: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A committed batch on its way to the store. */
interface LoggedBatch {
  readonly seq: number;
  readonly batch: WriteBatch;
}

interface CatchUpWaiter {
  readonly seq: number;
  readonly resolve: () => void;
}

const defaultCatchUpTimeoutMs = 10_000;
const maxRetryMs = 30_000;

export function createGroupCommitWriter(options: GroupCommitOptions): GroupCommitWriter {
  const stats: WriterStats = {
    committedEvents: 0,
    committedQuarantine: 0,
    commits: 0,
    failedCommits: 0,
    lastCommitMs: 0,
    lastBatchEvents: 0,
    storedEvents: 0,
    storeWrites: 0,
    failedStoreWrites: 0,
    lastStoreWriteMs: 0,
    lastStoreWriteEvents: 0,
  };
  let open = newBatch();
  let inFlight: OpenBatch | undefined;
  let inFlightEvents = 0;
  let timer: NodeJS.Timeout | undefined;

  const toStore: LoggedBatch[] = [];
  let toStoreEvents = 0;
  let storing = false;
  let committedSeq = 0;
  let storedSeq = 0;
  let catchUpWaiters: CatchUpWaiter[] = [];
  const storeIntervalMs = options.storeIntervalMs ?? 0;
  let lastStoreWriteAt = -Infinity;
  /** Ends the wait between store writes early (see storeIntervalMs). */
  let wakeStore: (() => void) | undefined;

  function wake(): void {
    wakeStore?.();
  }

  /** Waits until the next store write may start: see storeIntervalMs. */
  async function paceStoreWrites(): Promise<void> {
    const due = lastStoreWriteAt + storeIntervalMs;
    const remaining = due - performance.now();
    if (remaining <= 0 || toStoreEvents >= options.maxEvents || catchUpWaiters.length > 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, remaining);
      function done(): void {
        clearTimeout(timer);
        wakeStore = undefined;
        resolve();
      }
      wakeStore = done;
    });
  }

  function newBatch(): OpenBatch {
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const settled = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // A batch nobody waits on (all its requests gone) must not crash the process when it fails.
    settled.catch(() => undefined);
    return {
      events: [],
      quarantine: [],
      replayedQuarantineIds: [],
      identity: undefined,
      failureHandlers: [],
      settled,
      resolve,
      reject,
    };
  }

  function isEmpty(batch: OpenBatch): boolean {
    return batch.events.length === 0 && batch.quarantine.length === 0 && batch.failureHandlers.length === 0;
  }

  function schedule(): void {
    if (inFlight !== undefined || timer !== undefined || isEmpty(open)) return;
    const delay = open.events.length >= options.maxEvents ? 0 : options.maxDelayMs;
    timer = setTimeout(() => {
      timer = undefined;
      commitOpen();
    }, delay);
  }

  function commitOpen(): void {
    if (inFlight !== undefined || isEmpty(open)) return;
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
    const batch = open;
    open = newBatch();
    inFlight = batch;
    inFlightEvents = batch.events.length;
    const started = performance.now();
    const write: WriteBatch = {
      events: batch.events,
      quarantine: batch.quarantine,
      replayedQuarantineIds: batch.replayedQuarantineIds,
      ...(batch.identity === undefined ? {} : { identity: batch.identity }),
    };
    options.log
      .append(write)
      .then(
        (seq) => {
          stats.commits++;
          stats.committedEvents += batch.events.length;
          stats.committedQuarantine += batch.quarantine.length;
          stats.lastCommitMs = performance.now() - started;
          stats.lastBatchEvents = batch.events.length;
          committedSeq = seq;
          inFlightEvents = 0;
          toStore.push({ seq, batch: write });
          toStoreEvents += batch.events.length;
          if (toStoreEvents >= options.maxEvents) wake();
          void storeNext();
          batch.resolve();
        },
        (error: unknown) => {
          stats.failedCommits++;
          options.onCommitError?.(error);
          // Work that waited on this batch may depend on it (a retry deduplicated against one of its
          // events): fail the batch that filled meanwhile too, so nothing is acknowledged on a gap.
          const dependent = open;
          open = newBatch();
          for (const failed of [batch, dependent]) {
            for (const handler of failed.failureHandlers) handler();
            failed.reject(error);
          }
        },
      )
      .finally(() => {
        inFlight = undefined;
        inFlightEvents = 0;
        // What arrived during that commit has waited long enough: commit it now.
        commitOpen();
      });
  }

  /** Writes the committed batches to the store, in order, as many at once as `maxEvents` allows. */
  async function storeNext(): Promise<void> {
    if (storing) return;
    storing = true;
    let retryMs = 100;
    try {
      while (toStore.length > 0) {
        await paceStoreWrites();
        const taken = takeForStore();
        const combined = combine(taken);
        const started = performance.now();
        lastStoreWriteAt = started;
        try {
          await options.store.writeBatch(combined);
        } catch (error) {
          stats.failedStoreWrites++;
          options.onStoreError?.(error, retryMs);
          await new Promise((resolve) => setTimeout(resolve, retryMs));
          retryMs = Math.min(retryMs * 2, maxRetryMs);
          continue;
        }
        retryMs = 100;
        toStore.splice(0, taken.length);
        toStoreEvents -= combined.events.length;
        stats.storeWrites++;
        stats.storedEvents += combined.events.length;
        stats.lastStoreWriteMs = performance.now() - started;
        stats.lastStoreWriteEvents = combined.events.length;
        storedSeq = combined.logSeq ?? storedSeq;
        const waiting = catchUpWaiters;
        catchUpWaiters = [];
        for (const waiter of waiting) {
          if (waiter.seq <= storedSeq) waiter.resolve();
          else catchUpWaiters.push(waiter);
        }
        options.log.release(storedSeq).catch((error: unknown) => options.onStoreError?.(error, 0));
      }
    } finally {
      storing = false;
    }
  }

  function takeForStore(): LoggedBatch[] {
    const taken: LoggedBatch[] = [];
    let events = 0;
    for (const logged of toStore) {
      if (taken.length > 0 && events + logged.batch.events.length > options.maxEvents) break;
      taken.push(logged);
      events += logged.batch.events.length;
    }
    return taken;
  }

  return {
    enqueue(work) {
      const batch = open;
      if (work.events !== undefined) for (const event of work.events) batch.events.push(event);
      if (work.quarantine !== undefined) for (const record of work.quarantine) batch.quarantine.push(record);
      if (work.replayedQuarantineIds !== undefined)
        batch.replayedQuarantineIds.push(...work.replayedQuarantineIds);
      if (work.identity !== undefined) batch.identity = addIdentity(batch.identity, work.identity);
      batch.failureHandlers.push(work.onFailure ?? noop);
      if (batch.events.length >= options.maxEvents) commitOpen();
      else schedule();
      return batch.settled;
    },
    get pendingEvents() {
      return open.events.length + inFlightEvents + toStoreEvents;
    },
    stats,
    caughtUp(timeoutMs = defaultCatchUpTimeoutMs) {
      const seq = committedSeq;
      if (storedSeq >= seq) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timeout = setTimeout(() => {
          catchUpWaiters = catchUpWaiters.filter((waiter) => waiter !== entry);
          reject(
            new CibleError(
              'CIBLE_ERR_STORE_BEHIND',
              `The store still lacks ${toStoreEvents} acknowledged events after ${timeoutMs} ms.`,
            ),
          );
        }, timeoutMs);
        const entry: CatchUpWaiter = {
          seq,
          resolve: () => {
            clearTimeout(timeout);
            resolve();
          },
        };
        catchUpWaiters.push(entry);
        wake();
      });
    },
    async drain() {
      while (inFlight !== undefined || !isEmpty(open)) {
        const waitFor = inFlight ?? open;
        commitOpen();
        await waitFor.settled.catch(() => undefined);
      }
      while (storedSeq < committedSeq) {
        await new Promise<void>((resolve) => {
          catchUpWaiters.push({ seq: committedSeq, resolve });
          wake();
        });
      }
    },
  };
}

/** Several committed batches as one store write, recorded at the last one's position. */
function combine(taken: readonly LoggedBatch[]): WriteBatch {
  if (taken.length === 1) return { ...taken[0]!.batch, logSeq: taken[0]!.seq };
  const events: StoredEvent[] = [];
  const quarantine: NewQuarantineRecord[] = [];
  const replayedQuarantineIds: number[] = [];
  let identity: PendingIdentityChanges | undefined;
  for (const { batch } of taken) {
    for (const event of batch.events) events.push(event);
    for (const record of batch.quarantine) quarantine.push(record);
    for (const id of batch.replayedQuarantineIds) replayedQuarantineIds.push(id);
    if (batch.identity !== undefined) identity = addIdentity(identity, batch.identity);
  }
  return {
    events,
    quarantine,
    replayedQuarantineIds,
    ...(identity === undefined ? {} : { identity }),
    logSeq: taken[taken.length - 1]!.seq,
  };
}

function noop(): void {}

/** Adds a piece of work's identity changes to the batch's, in order, without copying what is there. */
function addIdentity(
  target: PendingIdentityChanges | undefined,
  more: IdentityChanges,
): PendingIdentityChanges {
  const into = target ?? emptyIdentityChanges();
  for (const row of more.profiles) into.profiles.push(row);
  for (const row of more.identifiers) into.identifiers.push(row);
  for (const row of more.merges) into.merges.push(row);
  for (const row of more.undoneMerges) into.undoneMerges.push(row);
  for (const row of more.conflicts) into.conflicts.push(row);
  for (const row of more.shared) into.shared.push(row);
  for (const row of more.traits) into.traits.push(row);
  for (const row of more.sightings ?? []) into.sightings.push(row);
  for (const row of more.rejectedIdentifiers ?? []) into.rejectedIdentifiers.push(row);
  for (const row of more.consent ?? []) into.consent.push(row);
  return into;
}
