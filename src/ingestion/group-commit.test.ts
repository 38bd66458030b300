import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StoredEvent } from '../domain/events.ts';
import { storedEventFixture } from '../domain/events.fixture.ts';
import type { NewQuarantineRecord, WriteBatch } from '../store/store.ts';
import { createMemoryLog, type IngestLog } from '../store/ingest-log.ts';
import { createGroupCommitWriter } from './group-commit.ts';

function storedEvent(messageId: string): StoredEvent {
  return storedEventFixture({ messageId });
}

function quarantineRecord(reason: string): NewQuarantineRecord {
  return {
    sourceId: 'src_test',
    receivedAt: 1_700_000_000_000,
    code: 'CIBLE_ERR_TRACKING_MISSING_FIELD',
    reason,
    field: 'event',
    payload: '{}',
    kind: 'track',
    batchIndex: null,
    messageId: null,
    ip: null,
  };
}

interface PendingCall {
  readonly batch: WriteBatch;
  resolve(): void;
  reject(error: unknown): void;
}

/** An ingest log whose appends stay open until the test settles them; the store writes at once. */
function controlledLog() {
  const calls: PendingCall[] = [];
  const stored: WriteBatch[] = [];
  let seq = 0;
  const log: IngestLog = {
    ...createMemoryLog(),
    append(batch) {
      return new Promise<number>((resolve, reject) => {
        calls.push({ batch, resolve: () => resolve(++seq), reject });
      });
    },
  };
  return {
    calls,
    stored,
    log,
    store: {
      async writeBatch(batch: WriteBatch): Promise<void> {
        stored.push(batch);
      },
    },
  };
}

/** A store whose writeBatch calls stay open until the test settles them. */
function controlledStore() {
  const calls: PendingCall[] = [];
  return {
    calls,
    store: {
      writeBatch(batch: WriteBatch): Promise<void> {
        return new Promise<void>((resolve, reject) => {
          calls.push({ batch, resolve, reject });
        });
      },
    },
  };
}

/** A store that commits at once and records what it was given. */
function recordingStore() {
  const batches: WriteBatch[] = [];
  return {
    batches,
    store: {
      async writeBatch(batch: WriteBatch): Promise<void> {
        batches.push(batch);
      },
    },
  };
}

function ids(batch: WriteBatch | undefined): string[] {
  assert.ok(batch !== undefined, 'expected a writeBatch call');
  return batch.events.map((event) => event.messageId);
}

/** Tracks whether a promise has settled yet. */
function watch(promise: Promise<void>): { settled: boolean; error: unknown; done: Promise<void> } {
  const state: { settled: boolean; error: unknown; done: Promise<void> } = {
    settled: false,
    error: undefined,
    done: Promise.resolve(),
  };
  state.done = promise.then(
    () => {
      state.settled = true;
    },
    (error: unknown) => {
      state.settled = true;
      state.error = error;
    },
  );
  return state;
}

async function until(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not reached in time');
    await sleep(1);
  }
}

describe('createGroupCommitWriter', () => {
  it('commits requests enqueued close together in one writeBatch and answers them only after it resolves', async () => {
    const { calls, store, log } = controlledLog();
    const writer = createGroupCommitWriter({ store, log, maxEvents: 100, maxDelayMs: 5 });

    const first = watch(writer.enqueue({ events: [storedEvent('a1'), storedEvent('a2')] }));
    const second = watch(
      writer.enqueue({ events: [storedEvent('b1')], quarantine: [quarantineRecord('bad b2')] }),
    );
    assert.equal(calls.length, 0, 'the batch waits for maxDelayMs before committing');

    await until(() => calls.length > 0);
    await sleep(20);
    assert.equal(calls.length, 1, 'both requests go into a single commit');
    assert.deepEqual(ids(calls[0]?.batch), ['a1', 'a2', 'b1']);
    assert.deepEqual(
      calls[0]?.batch.quarantine.map((record) => record.reason),
      ['bad b2'],
    );
    assert.equal(first.settled, false, 'not answered before the commit resolves');
    assert.equal(second.settled, false, 'not answered before the commit resolves');

    calls[0]?.resolve();
    await Promise.all([first.done, second.done]);
    assert.equal(first.settled, true);
    assert.equal(first.error, undefined);
    assert.equal(second.settled, true);
    assert.equal(second.error, undefined);
    assert.equal(writer.stats.commits, 1);
    assert.equal(writer.stats.committedEvents, 3);
    assert.equal(writer.stats.committedQuarantine, 1);
    assert.equal(writer.stats.lastBatchEvents, 3);
    assert.equal(writer.stats.failedCommits, 0);
  });

  it('commits a batch that reaches maxEvents without waiting for the delay', async () => {
    const { calls, store, log } = controlledLog();
    const writer = createGroupCommitWriter({ store, log, maxEvents: 3, maxDelayMs: 60_000 });

    const first = writer.enqueue({ events: [storedEvent('e1'), storedEvent('e2')] });
    assert.equal(calls.length, 0);
    const second = writer.enqueue({ events: [storedEvent('e3')] });
    assert.equal(calls.length, 1, 'the full batch is committed at once');
    assert.deepEqual(ids(calls[0]?.batch), ['e1', 'e2', 'e3']);

    calls[0]?.resolve();
    await Promise.all([first, second]);
    assert.equal(writer.stats.commits, 1);
    assert.equal(writer.stats.committedEvents, 3);
    assert.equal(writer.pendingEvents, 0);
  });

  it('fills the next batch while a commit is in flight and commits it right after', async () => {
    const { calls, store, log } = controlledLog();
    const writer = createGroupCommitWriter({ store, log, maxEvents: 2, maxDelayMs: 60_000 });

    const first = watch(writer.enqueue({ events: [storedEvent('a1'), storedEvent('a2')] }));
    assert.equal(calls.length, 1, 'first batch in flight');

    const second = watch(writer.enqueue({ events: [storedEvent('b1')] }));
    const third = watch(writer.enqueue({ events: [storedEvent('c1'), storedEvent('c2')] }));
    assert.equal(calls.length, 1, 'no second commit while one is in flight');
    assert.equal(writer.pendingEvents, 5, 'two in flight + three open');

    calls[0]?.resolve();
    await first.done;
    // The open batch is not full-and-waiting for 60 s: it is committed as soon as the first one is done.
    await until(() => calls.length === 2, 1000);
    assert.deepEqual(ids(calls[1]?.batch), ['b1', 'c1', 'c2']);
    assert.equal(second.settled, false);
    assert.equal(third.settled, false);
    assert.equal(writer.pendingEvents, 3, 'the second batch is now in flight');

    calls[1]?.resolve();
    await Promise.all([second.done, third.done]);
    assert.equal(second.error, undefined);
    assert.equal(third.error, undefined);
    assert.equal(writer.stats.commits, 2);
    assert.equal(writer.stats.committedEvents, 5);
    assert.equal(writer.stats.lastBatchEvents, 3);
    assert.equal(writer.pendingEvents, 0);
  });

  it('counts open and in-flight events in pendingEvents', async () => {
    const { calls, store, log } = controlledLog();
    const writer = createGroupCommitWriter({ store, log, maxEvents: 1000, maxDelayMs: 5 });
    assert.equal(writer.pendingEvents, 0);

    const first = writer.enqueue({ events: [storedEvent('a1'), storedEvent('a2'), storedEvent('a3')] });
    assert.equal(writer.pendingEvents, 3, 'open events');
    await until(() => calls.length === 1);
    assert.equal(writer.pendingEvents, 3, 'in-flight events');

    const second = writer.enqueue({ events: [storedEvent('b1')], quarantine: [quarantineRecord('q')] });
    assert.equal(writer.pendingEvents, 4, 'in flight + open (quarantine records are not events)');

    calls[0]?.resolve();
    await first;
    await until(() => calls.length === 2);
    assert.equal(writer.pendingEvents, 1);
    calls[1]?.resolve();
    await second;
    await sleep(0);
    assert.equal(writer.pendingEvents, 0);
  });

  it('rejects the waiters, runs the onFailure handlers and fails the batch that filled meanwhile when writeBatch rejects', async () => {
    const { calls, store, log } = controlledLog();
    const commitErrors: unknown[] = [];
    const writer = createGroupCommitWriter({
      store,
      log,
      maxEvents: 1000,
      maxDelayMs: 5,
      onCommitError: (error) => commitErrors.push(error),
    });
    const handled: string[] = [];

    const inFlight = writer.enqueue({
      events: [storedEvent('a1')],
      onFailure: () => handled.push('failure a'),
    });
    const inFlightToo = writer.enqueue({
      events: [storedEvent('a2')],
      onFailure: () => handled.push('failure a2'),
    });
    await until(() => calls.length === 1);
    const meanwhile = writer.enqueue({
      events: [storedEvent('b1')],
      onFailure: () => handled.push('failure b'),
    });
    assert.equal(writer.pendingEvents, 3);

    const boom = new Error('disk full');
    calls[0]?.reject(boom);

    const handlersRunBeforeWaiter = async (promise: Promise<void>, name: string): Promise<void> => {
      await assert.rejects(promise, (error: unknown) => {
        assert.equal(error, boom, `${name} rejects with the store's error`);
        assert.deepEqual(
          [...handled].sort(),
          ['failure a', 'failure a2', 'failure b'],
          `every onFailure handler ran before ${name} heard of the failure`,
        );
        return true;
      });
    };
    await handlersRunBeforeWaiter(inFlight, 'the in-flight waiter');
    await handlersRunBeforeWaiter(inFlightToo, 'the second in-flight waiter');
    await handlersRunBeforeWaiter(meanwhile, 'the waiter of the batch that filled meanwhile');

    assert.equal(handled.length, 3, 'each handler runs once');
    assert.deepEqual(commitErrors, [boom]);
    assert.equal(writer.stats.failedCommits, 1);
    assert.equal(writer.stats.commits, 0);
    assert.equal(writer.stats.committedEvents, 0);
    assert.equal(writer.pendingEvents, 0, 'failed events are no longer pending');

    // The batch that filled meanwhile was failed, not written.
    await sleep(20);
    assert.equal(calls.length, 1);

    // The writer keeps working after a failure.
    const later = writer.enqueue({ events: [storedEvent('c1')] });
    await until(() => calls.length === 2);
    assert.deepEqual(ids(calls[1]?.batch), ['c1']);
    calls[1]?.resolve();
    await later;
    assert.equal(writer.stats.commits, 1);
    assert.equal(writer.stats.committedEvents, 1);
    assert.equal(writer.stats.failedCommits, 1);
  });

  it('drain() commits what is open and waits for it', async () => {
    const { batches, store } = recordingStore();
    const writer = createGroupCommitWriter({
      store,
      log: createMemoryLog(),
      maxEvents: 1000,
      maxDelayMs: 60_000,
    });

    const waiter = watch(
      writer.enqueue({ events: [storedEvent('d1'), storedEvent('d2')], replayedQuarantineIds: [7] }),
    );
    assert.equal(batches.length, 0);
    await writer.drain();
    assert.equal(batches.length, 1);
    assert.deepEqual(ids(batches[0]), ['d1', 'd2']);
    assert.deepEqual(batches[0]?.replayedQuarantineIds, [7]);
    await waiter.done;
    assert.equal(waiter.error, undefined);
    assert.equal(writer.pendingEvents, 0);
    assert.equal(writer.stats.commits, 1);
    assert.equal(writer.stats.committedEvents, 2);

    // Nothing open: drain returns without committing.
    await writer.drain();
    assert.equal(batches.length, 1);
  });

  it('drain() waits for the commit in flight and then commits the batch that filled meanwhile', async () => {
    const { calls, store, log } = controlledLog();
    const writer = createGroupCommitWriter({ store, log, maxEvents: 1, maxDelayMs: 60_000 });

    const first = watch(writer.enqueue({ events: [storedEvent('x1')] }));
    assert.equal(calls.length, 1);
    const second = watch(writer.enqueue({ events: [storedEvent('x2')] }));

    const drained = watch(writer.drain());
    await sleep(5);
    assert.equal(drained.settled, false, 'drain waits for the commit in flight');

    calls[0]?.resolve();
    await until(() => calls.length === 2);
    assert.deepEqual(ids(calls[1]?.batch), ['x2']);
    await sleep(5);
    assert.equal(drained.settled, false, 'drain waits for the second commit too');
    calls[1]?.resolve();
    await drained.done;
    await Promise.all([first.done, second.done]);
    assert.equal(drained.error, undefined);
    assert.equal(first.error, undefined);
    assert.equal(second.error, undefined);
    assert.equal(writer.stats.commits, 2);
    assert.equal(writer.stats.committedEvents, 2);
    assert.equal(writer.pendingEvents, 0);
  });

  it('keeps stats across successful and failed commits', async () => {
    let fail = false;
    const { batches, store } = recordingStore();
    const memory = createMemoryLog();
    const writer = createGroupCommitWriter({
      store,
      log: {
        ...memory,
        async append(batch) {
          if (fail) throw new Error('disk full');
          return memory.append(batch);
        },
      },
      maxEvents: 1000,
      maxDelayMs: 1,
    });

    await writer.enqueue({ events: [storedEvent('s1'), storedEvent('s2')] });
    await writer.enqueue({
      events: [storedEvent('s3')],
      quarantine: [quarantineRecord('q1'), quarantineRecord('q2')],
    });
    fail = true;
    await assert.rejects(writer.enqueue({ events: [storedEvent('s4'), storedEvent('s5')] }), /disk full/);
    fail = false;
    await writer.enqueue({ events: [storedEvent('s6')] });
    await writer.caughtUp();

    assert.deepEqual(
      batches.flatMap(ids),
      ['s1', 's2', 's3', 's6'],
      'the failed batch never reaches the store',
    );
    assert.equal(writer.stats.commits, 3);
    assert.equal(writer.stats.committedEvents, 4);
    assert.equal(writer.stats.committedQuarantine, 2);
    assert.equal(writer.stats.failedCommits, 1);
    assert.equal(writer.stats.lastBatchEvents, 1);
    assert.equal(writer.stats.storedEvents, 4);
    assert.ok(writer.stats.lastCommitMs >= 0);
  });

  it('acknowledges once the log holds a batch, without waiting for the store', async () => {
    const { calls, store } = controlledStore();
    const writer = createGroupCommitWriter({ store, log: createMemoryLog(), maxEvents: 1000, maxDelayMs: 1 });

    await writer.enqueue({ events: [storedEvent('a1'), storedEvent('a2')] });
    assert.equal(calls.length, 1, 'the store is being written');
    assert.equal(writer.pendingEvents, 2, 'events are pending until the store holds them');
    assert.equal(calls[0]?.batch.logSeq, 1, 'the store records the log position');

    const caughtUp = watch(writer.caughtUp());
    await sleep(5);
    assert.equal(caughtUp.settled, false, 'a read waits until the store holds what was acknowledged');
    calls[0]?.resolve();
    await caughtUp.done;
    assert.equal(caughtUp.error, undefined);
    assert.equal(writer.pendingEvents, 0);
    assert.equal(writer.stats.storedEvents, 2);
  });

  it('writes the batches committed while the store was busy in one store write, in order', async () => {
    const { calls, store } = controlledStore();
    const writer = createGroupCommitWriter({ store, log: createMemoryLog(), maxEvents: 3, maxDelayMs: 1 });

    await writer.enqueue({ events: [storedEvent('a1')] });
    assert.equal(calls.length, 1);
    await writer.enqueue({ events: [storedEvent('b1')], replayedQuarantineIds: [4] });
    await writer.enqueue({ events: [storedEvent('c1'), storedEvent('c2')] });
    await writer.enqueue({ events: [storedEvent('d1')] });
    assert.equal(writer.pendingEvents, 5);

    calls[0]?.resolve();
    await until(() => calls.length === 2);
    assert.deepEqual(ids(calls[1]?.batch), ['b1', 'c1', 'c2'], 'as many as maxEvents allows');
    assert.deepEqual(calls[1]?.batch.replayedQuarantineIds, [4]);
    assert.equal(calls[1]?.batch.logSeq, 3, 'recorded at the last batch it holds');
    calls[1]?.resolve();
    await until(() => calls.length === 3);
    assert.deepEqual(ids(calls[2]?.batch), ['d1']);
    assert.equal(calls[2]?.batch.logSeq, 4);
    calls[2]?.resolve();
    await writer.drain();
    assert.equal(writer.pendingEvents, 0);
  });

  it('under load, starts store writes at most every storeIntervalMs, unless a reader waits or maxEvents are queued', async () => {
    const { calls, store } = controlledStore();
    const writer = createGroupCommitWriter({
      store,
      log: createMemoryLog(),
      maxEvents: 4,
      maxDelayMs: 1,
      storeIntervalMs: 10_000,
    });

    // After a quiet spell, the first write starts at once.
    await writer.enqueue({ events: [storedEvent('a1')] });
    assert.equal(calls.length, 1);
    calls[0]?.resolve();
    await until(() => writer.pendingEvents === 0);

    // Then the next batches wait for each other...
    await writer.enqueue({ events: [storedEvent('b1')] });
    await writer.enqueue({ events: [storedEvent('c1')] });
    await sleep(20);
    assert.equal(calls.length, 1, 'no write before the interval');
    assert.equal(writer.pendingEvents, 2);
    // ... until a read needs them: they go in one write now.
    const caughtUp = watch(writer.caughtUp());
    await until(() => calls.length === 2);
    assert.deepEqual(ids(calls[1]?.batch), ['b1', 'c1']);
    calls[1]?.resolve();
    await caughtUp.done;
    assert.equal(caughtUp.error, undefined);

    // maxEvents queued do not wait either.
    await writer.enqueue({ events: [storedEvent('d1'), storedEvent('d2')] });
    await sleep(20);
    assert.equal(calls.length, 2);
    await writer.enqueue({ events: [storedEvent('e1'), storedEvent('e2')] });
    await until(() => calls.length === 3);
    assert.deepEqual(ids(calls[2]?.batch), ['d1', 'd2', 'e1', 'e2']);
    calls[2]?.resolve();
    await writer.drain();
    assert.equal(writer.pendingEvents, 0);
  });

  it('tries a failed store write again until it succeeds, and tells why', async () => {
    const { calls, store } = controlledStore();
    const storeErrors: unknown[] = [];
    const writer = createGroupCommitWriter({
      store,
      log: createMemoryLog(),
      maxEvents: 1000,
      maxDelayMs: 1,
      onStoreError: (error) => storeErrors.push(error),
    });

    await writer.enqueue({ events: [storedEvent('r1')] });
    calls[0]?.reject(new Error('store busy'));
    await until(() => calls.length === 2, 3000);
    assert.deepEqual(ids(calls[1]?.batch), ['r1'], 'the same batch again');
    assert.equal(storeErrors.length, 1);
    assert.equal(writer.stats.failedStoreWrites, 1);
    calls[1]?.resolve();
    await writer.caughtUp();
    assert.equal(writer.stats.storedEvents, 1);
  });

  it('caughtUp() gives up with CIBLE_ERR_STORE_BEHIND while the store stays behind', async () => {
    const { calls, store } = controlledStore();
    const writer = createGroupCommitWriter({ store, log: createMemoryLog(), maxEvents: 1000, maxDelayMs: 1 });
    await writer.enqueue({ events: [storedEvent('z1')] });
    await assert.rejects(writer.caughtUp(20), { code: 'CIBLE_ERR_STORE_BEHIND' });
    calls[0]?.resolve();
    await writer.caughtUp(1000);
  });
});
