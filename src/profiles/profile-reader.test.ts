import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type { StoredEvent } from '../domain/events.ts';
import { storedEventFixture } from '../domain/events.fixture.ts';
import { defaultIdentifierRules } from '../domain/identifiers.ts';
import { createIdentityGraph } from '../domain/identity-graph.ts';
import {
  createIdentityResolver,
  emptyIdentityChanges,
  type IdentityResolver,
} from '../ingestion/resolve-identity.ts';
import { createDuckdbStore } from '../store/duckdb/duckdb-store.ts';
import { createMemoryProfileDocuments, type ProfileDocuments } from '../store/profile-documents.ts';
import type { ProfileGroups, Store } from '../store/store.ts';
import { createProfileReader, type ProfileReader } from './profile-reader.ts';

const t0 = Date.UTC(2026, 0, 5, 9);

describe('profile reader', () => {
  let storage: Store;
  let documents: ProfileDocuments;
  let identity: IdentityResolver;
  let reader: ProfileReader;
  /** Reads of the store, and a gate a test can hold them at. */
  let storeReads: ProfileGroups[];
  let gate: Promise<void> | undefined;
  let readFinished: (() => void) | undefined;

  beforeEach(async () => {
    const duckdb = await createDuckdbStore({ dataDir: ':memory:', threads: 1 });
    storeReads = [];
    gate = undefined;
    storage = {
      ...duckdb,
      async readProfileFacts(groups, options) {
        storeReads.push(groups);
        const facts = await duckdb.readProfileFacts(groups, options);
        readFinished?.();
        await gate;
        return facts;
      },
    };
    documents = createMemoryProfileDocuments();
    identity = createIdentityResolver({
      graph: createIdentityGraph(),
      lastMergeId: 0,
      activeMerges: new Map(),
      identifierRules: defaultIdentifierRules,
    });
    reader = createProfileReader({ store: storage, documents, graph: () => identity.graph, idleMs: 10 });
  });
  afterEach(async () => {
    await reader.close();
    await storage.close();
  });

  /** Resolves the events as the pipeline does and writes them in one batch through the reader. */
  async function ingest(...events: Partial<StoredEvent>[]): Promise<number[]> {
    const changes = emptyIdentityChanges();
    const stored = events.map((overrides, index) => {
      const event = storedEventFixture({ messageId: `m-${Math.random()}-${index}`, ...overrides });
      return identity.resolve(event, { ...event, type: event.type }, changes)!;
    });
    await reader.store.writeBatch({
      events: stored,
      quarantine: [],
      replayedQuarantineIds: [],
      identity: changes,
    });
    return stored.map((event) => event.profileId!);
  }

  test('a profile is read from the store once, then from its document, until a write changes it', async () => {
    const [jane] = await ingest({ userId: 'jane', timestamp: t0 });
    const first = await reader.facts(jane!);
    assert.equal(first?.facts.summary.events, 1);
    await new Promise((resolve) => setImmediate(resolve));
    assert.ok(documents.has(jane!));

    const again = await reader.facts(jane!);
    assert.equal(again?.facts.summary.events, 1);
    assert.equal(storeReads.length, 1, 'the second read comes from the document');

    await ingest({
      userId: 'jane',
      timestamp: t0 + 60_000,
      event: 'Order Completed',
      properties: JSON.stringify({ revenue: 12 }),
    });
    assert.equal(documents.has(jane!), false, 'the write deleted the document');
    const after = await reader.facts(jane!);
    assert.equal(after?.facts.summary.events, 2);
    assert.equal(after?.facts.summary.revenue, 12);
  });

  test('a read that a write overtakes does not keep what it read', async () => {
    const [jane] = await ingest({ userId: 'jane', timestamp: t0 });
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    const read = new Promise<void>((resolve) => (readFinished = resolve));
    const reading = reader.facts(jane!);
    await read;
    await ingest({ userId: 'jane', timestamp: t0 + 1_000 });
    open();
    assert.equal((await reading)?.facts.summary.events, 1, 'the read answers what it read');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(documents.has(jane!), false, 'but keeps no document of it');
    assert.equal((await reader.facts(jane!))?.facts.summary.events, 2);
  });

  test('merges and unmerges change which documents hold', async () => {
    const [visitor] = await ingest({ userId: null, anonymousId: 'device-1', timestamp: t0 });
    const [jane] = await ingest({ userId: 'jane', timestamp: t0 + 1_000 });
    await reader.facts(visitor!);
    await reader.facts(jane!);
    await new Promise((resolve) => setImmediate(resolve));

    // The visitor signs in: the two profiles become one.
    await ingest({ userId: 'jane', anonymousId: 'device-1', timestamp: t0 + 2_000 });
    const merged = await reader.facts(visitor!);
    assert.equal(merged?.id, identity.graph.canonical(jane!));
    assert.deepEqual(
      merged?.facts.members,
      [visitor, jane].sort((a, b) => a! - b!),
    );
    assert.equal(merged?.facts.summary.events, 3);
    assert.equal(merged?.facts.merges.length, 1);

    const absorbed = merged.facts.merges[0]!.absorbed;
    const changes = emptyIdentityChanges();
    identity.unmerge(absorbed, t0 + 3_000, changes);
    await reader.store.writeBatch({
      events: [],
      quarantine: [],
      replayedQuarantineIds: [],
      identity: changes,
    });
    const restored = await reader.facts(absorbed);
    assert.equal(restored?.id, absorbed);
    assert.deepEqual(restored?.facts.members, [absorbed]);
    assert.equal(restored?.facts.merges[0]?.undoneAt, t0 + 3_000);
  });

  test('in the background, every person gets a document once writes pause', async () => {
    await ingest(
      ...Array.from({ length: 30 }, (_, index) => ({ userId: `person-${index}`, timestamp: t0 + index })),
    );
    reader.start();
    await reader.built();
    assert.equal(documents.count(), 30);
    assert.deepEqual(reader.stats(), { documents: 30, building: false });
    const reads = storeReads.length;
    const someone = identity.graph.profileOf({ type: 'userId', value: 'person-7' })!;
    assert.equal((await reader.facts(someone))?.facts.identities[0]?.value, 'person-7');
    assert.equal(storeReads.length, reads);
  });
});
