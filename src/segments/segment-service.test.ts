import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StoredEvent } from '../domain/events.ts';
import { createIdentityGraph } from '../domain/identity-graph.ts';
import { defaultTraitRules } from '../domain/traits.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import type { SegmentChange, SegmentRecord, SegmentStore } from '../store/segment-store.ts';
import type { Store } from '../store/store.ts';
import type { ViewEvent } from './evaluate-rule.ts';
import { createSegmentService } from './segment-service.ts';

const people = 5000;
const now = Date.UTC(2026, 11, 1);

/** A segment store in memory that reads one order for every profile, and can fail its first reads. */
function fakeStore(failures: number) {
  const reads: number[] = [];
  const recorded: SegmentChange[] = [];
  let failuresLeft = failures;
  const segments: SegmentRecord[] = [];
  const store: Partial<SegmentStore> = {
    saveSegment: async (segment) => void segments.push(segment),
    listSegments: async () => segments,
    listComputedTraits: async () => [],
    loadMemberships: async () => new Map(),
    refreshSegment: async () => [],
    readProfileViews: async (groups) => {
      reads.push(groups.size);
      if (failuresLeft > 0) {
        failuresLeft -= 1;
        throw new Error('DuckDB is out of memory');
      }
      const order: ViewEvent = {
        seq: 1,
        type: 'track',
        event: 'Order Completed',
        timestamp: now,
        properties: {},
      };
      return new Map([...groups.keys()].map((profile) => [profile, { events: [order], traits: [] }]));
    },
    recordChanges: async (changes, at) => {
      const numbered = changes.map((change, index) => ({ ...change, seq: recorded.length + index + 1, at }));
      recorded.push(...numbered);
      return numbered;
    },
  };
  return { store: store as SegmentStore, reads, recorded };
}

async function serviceOver(failures: number) {
  const fake = fakeStore(failures);
  const graph = createIdentityGraph();
  for (let id = 1; id <= people; id++) graph.load.profile({ id, createdAt: now });
  const errors: unknown[] = [];
  const service = createSegmentService({
    store: fake.store,
    graph: () => graph,
    traitRules: defaultTraitRules,
    sources: { list: () => [] } as unknown as SourceRegistry,
    refreshIntervalMs: 0,
    clock: () => now,
    onError: (error) => errors.push(error),
  });
  await service.start();
  await service.create({ name: 'Buyers', rule: 'count(event "Order Completed") >= 1' });
  const written = service.watch({ writeBatch: async () => undefined } as unknown as Store);
  const events = Array.from(
    { length: people },
    (_, index) =>
      ({ profileId: index + 1, type: 'track', event: 'Order Completed' }) as unknown as StoredEvent,
  );
  await written.writeBatch({ events, quarantine: [], replayedQuarantineIds: [] });
  await service.settled();
  return { ...fake, service, errors };
}

test('real-time rounds take at most 2,000 people each; every change is recorded once', async () => {
  const { reads, recorded, service } = await serviceOver(0);
  assert.deepEqual(reads, [2000, 2000, 1000]);
  assert.equal(recorded.length, people);
  assert.equal(new Set(recorded.map((change) => change.profileId)).size, people);
  assert.equal(service.list()[0]?.size, people);
  await service.close();
});

test('a round that fails puts its people back: they are judged by a later round', async () => {
  const { reads, recorded, errors, service } = await serviceOver(1);
  assert.equal(errors.length, 1);
  // The first 2,000 fail, go to the back of the queue, and are read again with the last 1,000.
  assert.deepEqual(reads, [2000, 2000, 2000, 1000]);
  assert.equal(recorded.length, people);
  assert.equal(service.list()[0]?.size, people);
  await service.close();
});
