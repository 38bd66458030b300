import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { storedEventFixture } from '../domain/events.fixture.ts';
import { compactDatabaseFile } from './duckdb/compact-database.ts';
import { createDuckdbStore, databaseFileName } from './duckdb/duckdb-store.ts';
import { createSwappable, createSwappableStore } from './swappable-store.ts';

/** What the fake inner objects did, in order. */
type Log = string[];

interface Inner {
  read(value: string): Promise<string>;
  /** Resolves when the test says so, to hold a call under way. */
  slow(): Promise<string>;
  fail(): Promise<never>;
  sync(value: number): number;
  readonly nested: { deeper: { read(): Promise<string> } };
  readonly generation: number;
  readonly counter: { value: number };
  close(): Promise<void>;
}

function opener(log: Log) {
  let generation = 0;
  const held: (() => void)[] = [];
  const open = (): Promise<Inner> => {
    const mine = ++generation;
    let closed = false;
    const check = (what: string): void => {
      if (closed) throw new Error(`${what} on closed generation ${mine}`);
    };
    return Promise.resolve({
      async read(value) {
        check('read');
        return `${value}@${mine}`;
      },
      slow() {
        check('slow');
        return new Promise<string>((resolve) =>
          held.push(() => {
            log.push(`slow ended on ${mine}`);
            resolve(`slow@${mine}`);
          }),
        );
      },
      fail() {
        return Promise.reject(new Error(`failed on ${mine}`));
      },
      sync(value) {
        check('sync');
        return value * mine;
      },
      nested: {
        deeper: {
          async read() {
            check('nested read');
            return `deep@${mine}`;
          },
        },
      },
      generation: mine,
      counter: { value: mine * 10 },
      async close() {
        log.push(`closed ${mine}`);
        closed = true;
      },
    });
  };
  return { open, release: () => held.shift()?.() };
}

/** A promise the test settles. */
function gate() {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

const settled = async <T>(promise: Promise<T>): Promise<boolean> => {
  let done = false;
  promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('createSwappable', () => {
  it('passes calls, nested ones too, and values through to the inner object', async () => {
    const log: Log = [];
    const { delegate } = await createSwappable(opener(log).open);
    assert.equal(await delegate.read('a'), 'a@1');
    assert.equal(await delegate.nested.deeper.read(), 'deep@1');
    assert.equal(delegate.sync(3), 3, 'a synchronous method stays synchronous');
    assert.equal(delegate.generation, 1);
    await assert.rejects(delegate.fail(), /failed on 1/);
    assert.deepEqual(Object.keys({ ...delegate }).sort(), [
      'close',
      'counter',
      'fail',
      'generation',
      'nested',
      'read',
      'slow',
      'sync',
    ]);
  });

  it('holds calls made during a swap, then runs them against the new inner object', async () => {
    const log: Log = [];
    const swappable = await createSwappable(opener(log).open);
    const work = gate();
    const swapped = swappable.swap(async () => {
      log.push('work');
      await work.promise;
    });
    const read = swappable.delegate.read('b');
    const deep = swappable.delegate.nested.deeper.read();
    assert.equal(await settled(read), false, 'the call waits for the swap');
    work.open();
    await swapped;
    assert.equal(await read, 'b@2');
    assert.equal(await deep, 'deep@2');
    assert.equal(swappable.delegate.generation, 2);
    assert.equal(swappable.delegate.counter.value, 20, 'objects that are not plain are read through');
    assert.deepEqual(log, ['closed 1', 'work']);
  });

  it('waits for the calls under way before closing the inner object', async () => {
    const log: Log = [];
    const inner = opener(log);
    const swappable = await createSwappable(inner.open);
    const slow = swappable.delegate.slow();
    const swapped = swappable.swap(async () => {
      log.push('work');
    });
    assert.equal(await settled(swapped), false, 'the swap waits for the call');
    assert.deepEqual(log, []);
    inner.release();
    assert.equal(await slow, 'slow@1');
    await swapped;
    assert.deepEqual(log, ['slow ended on 1', 'closed 1', 'work']);
  });

  it('opens the inner object again when the work fails, and rejects the swap', async () => {
    const log: Log = [];
    const swappable = await createSwappable(opener(log).open);
    await assert.rejects(
      swappable.swap(() => Promise.reject(new Error('disk full'))),
      /disk full/,
    );
    assert.equal(await swappable.delegate.read('c'), 'c@2');
    assert.deepEqual(log, ['closed 1']);
  });

  it('fails calls while the inner object cannot be opened again, until a swap succeeds', async () => {
    const log: Log = [];
    const inner = opener(log);
    let refuse = false;
    const swappable = await createSwappable(() =>
      refuse ? Promise.reject(new Error('file locked')) : inner.open(),
    );
    refuse = true;
    await assert.rejects(
      swappable.swap(() => Promise.resolve()),
      /file locked/,
    );
    await assert.rejects(swappable.delegate.read('d'), (error: Error) => {
      assert.match(error.message, /could not be opened again/);
      assert.match(String((error.cause as Error).message), /file locked/);
      return true;
    });
    refuse = false;
    await swappable.swap(() => Promise.resolve());
    assert.equal(await swappable.delegate.read('d'), 'd@2');
    assert.deepEqual(log, ['closed 1'], 'the closed object is not closed twice');
  });

  it('runs swaps one after the other', async () => {
    const log: Log = [];
    const swappable = await createSwappable(opener(log).open);
    const first = gate();
    const one = swappable.swap(async () => {
      log.push('work 1');
      await first.promise;
    });
    const two = swappable.swap(async () => {
      log.push('work 2');
    });
    const read = swappable.delegate.read('e');
    first.open();
    await Promise.all([one, two]);
    assert.deepEqual(log, ['closed 1', 'work 1', 'closed 2', 'work 2']);
    assert.equal(await read, 'e@3', 'the call waits for both swaps');
    assert.equal(await swappable.delegate.read('f'), 'f@3');
  });

  it('answers synchronous methods with their stand-ins during a swap', async () => {
    const log: Log = [];
    const swappable = await createSwappable(opener(log).open, { duringSwap: { sync: () => -1 } });
    const work = gate();
    const swapped = swappable.swap(() => work.promise);
    assert.equal(swappable.delegate.sync(5), -1);
    work.open();
    await swapped;
    assert.equal(swappable.delegate.sync(5), 10);
  });

  it('closes the inner object, after a swap under way, and refuses to swap once closed', async () => {
    const log: Log = [];
    const swappable = await createSwappable(opener(log).open);
    const swapped = swappable.swap(() => Promise.resolve());
    await swappable.delegate.close();
    await swapped;
    assert.deepEqual(log, ['closed 1', 'closed 2']);
    await assert.rejects(
      swappable.swap(() => Promise.resolve()),
      /Cannot swap a closed store/,
    );
    await assert.rejects(swappable.delegate.read('g'), /closed generation 2/);
  });
});

describe('createSwappableStore', () => {
  it('compacts the DuckDB file under the feet of its users', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'cible-test-swap-'));
    try {
      const { store, swap } = await createSwappableStore(() =>
        createDuckdbStore({ dataDir, memoryLimit: '256MB', threads: 1 }),
      );
      const events = Array.from({ length: 100 }, (_, i) =>
        storedEventFixture({ messageId: `m-${i}`, userId: `u-${i % 10}` }),
      );
      await store.writeBatch({ events, quarantine: [], replayedQuarantineIds: [] });
      const compacted = gate();
      const swapped = swap(async () => {
        await compactDatabaseFile(join(dataDir, databaseFileName), { threads: 1 });
        compacted.open();
      });
      const during = Promise.all([store.countEvents(), store.imports.listImports({ limit: 5 })]);
      await compacted.promise;
      await swapped;
      assert.deepEqual(await during, [100, []]);
      await store.writeBatch({
        events: [storedEventFixture({ messageId: 'm-after' })],
        quarantine: [],
        replayedQuarantineIds: [],
      });
      assert.equal(await store.countEvents(), 101);
      await store.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
