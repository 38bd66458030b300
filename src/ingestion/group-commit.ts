import type { StoredEvent } from '../domain/events.ts';
import type { IdentityChanges, NewQuarantineRecord, Store } from '../store/store.ts';
import { emptyIdentityChanges, type PendingIdentityChanges } from './resolve-identity.ts';

/**
 * The single writer of the pipeline. Requests add their events to the open micro-batch and wait;
 * the batch is committed in one transaction and every request in it is answered only then
 * (group commit). While one batch commits, the next one fills, so commits follow each other as
 * fast as the store allows and each holds whatever arrived meanwhile.
 */
export interface GroupCommitWriter {
  /** Adds to the open batch; resolves when that batch is committed, rejects if it failed. */
  enqueue(work: BatchWork): Promise<void>;
  /** Events accepted but not yet committed. */
  readonly pendingEvents: number;
  readonly stats: WriterStats;
  /** Commits what is open and waits for every commit in flight. */
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
  committedEvents: number;
  committedQuarantine: number;
  commits: number;
  failedCommits: number;
  lastCommitMs: number;
  lastBatchEvents: number;
}

export interface GroupCommitOptions {
  readonly store: Pick<Store, 'writeBatch'>;
  readonly maxEvents: number;
  readonly maxDelayMs: number;
  readonly onCommitError?: (error: unknown) => void;
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

export function createGroupCommitWriter(options: GroupCommitOptions): GroupCommitWriter {
  const stats: WriterStats = {
    committedEvents: 0,
    committedQuarantine: 0,
    commits: 0,
    failedCommits: 0,
    lastCommitMs: 0,
    lastBatchEvents: 0,
  };
  let open = newBatch();
  let inFlight: OpenBatch | undefined;
  let inFlightEvents = 0;
  let timer: NodeJS.Timeout | undefined;

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
    options.store
      .writeBatch({
        events: batch.events,
        quarantine: batch.quarantine,
        replayedQuarantineIds: batch.replayedQuarantineIds,
        ...(batch.identity === undefined ? {} : { identity: batch.identity }),
      })
      .then(
        () => {
          stats.commits++;
          stats.committedEvents += batch.events.length;
          stats.committedQuarantine += batch.quarantine.length;
          stats.lastCommitMs = performance.now() - started;
          stats.lastBatchEvents = batch.events.length;
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
      return open.events.length + inFlightEvents;
    },
    stats,
    async drain() {
      while (inFlight !== undefined || !isEmpty(open)) {
        const waitFor = inFlight ?? open;
        commitOpen();
        await waitFor.settled.catch(() => undefined);
      }
    },
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
  return into;
}
