import { emptyIdentityChanges } from '../ingestion/resolve-identity.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  defaultConsentRules,
  foldConsent,
  type ConsentObservation,
  type ConsentStatus,
} from '../domain/consent.ts';
import type { StoredEvent } from '../domain/events.ts';
import { createIdentityGraph } from '../domain/identity-graph.ts';
import { defaultTraitRules } from '../domain/traits.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import type { SegmentChange, SegmentRecord, SegmentStore } from '../store/segment-store.ts';
import type { ConsentRow, Store, WriteBatch } from '../store/store.ts';
import type { ViewEvent } from './evaluate-rule.ts';
import type { Needs } from './rule-dependencies.ts';
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
      return new Map(
        [...groups.keys()].map((profile) => [
          profile,
          { events: [order], rollups: [], traits: [], consent: { purposes: {} } },
        ]),
      );
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

test('a consent change re-judges the segments that read its purpose, under the consent rules given', async () => {
  const reads: { profiles: number[]; needs: Needs }[] = [];
  const recorded: SegmentChange[] = [];
  const saved: SegmentRecord[] = [];
  // What the store folds from the changes written so far.
  const history: ConsentObservation[] = [];
  let consent: ConsentStatus = { purposes: {} };
  const store: Partial<SegmentStore> = {
    saveSegment: async (segment) => void saved.push(segment),
    listSegments: async () => saved,
    listComputedTraits: async () => [],
    loadMemberships: async () => new Map(),
    refreshSegment: async () => [],
    readProfileViews: async (groups, needs) => {
      reads.push({ profiles: [...groups.keys()], needs });
      return new Map(
        [...groups.keys()].map((profile) => [profile, { events: [], rollups: [], traits: [], consent }]),
      );
    },
    recordChanges: async (changes, at) => {
      const numbered = changes.map((change, index) => ({ ...change, seq: recorded.length + index + 1, at }));
      recorded.push(...numbered);
      return numbered;
    },
  };
  const graph = createIdentityGraph();
  for (let id = 1; id <= 3; id++) graph.load.profile({ id, createdAt: now });
  const service = createSegmentService({
    store: store as SegmentStore,
    graph: () => graph,
    traitRules: defaultTraitRules,
    sources: { list: () => [] } as unknown as SourceRegistry,
    refreshIntervalMs: 0,
    clock: () => now,
    consentRules: { ...defaultConsentRules, emailDoubleOptIn: true },
  });
  await service.start();
  const emailable = await service.create({ name: 'Emailable', rule: 'consent email' });
  await service.create({ name: 'Buyers', rule: 'count(event "Order Completed") >= 1' });
  const written = service.watch({ writeBatch: async () => undefined } as unknown as Store);

  async function write(
    purpose: string,
    state: 'granted' | 'denied',
    doubleOptIn: 'pending' | 'confirmed' | null,
  ) {
    const row: ConsentRow = {
      profileId: 2,
      purpose,
      state,
      doubleOptIn,
      at: now + history.length,
      sourceId: 'web',
      messageId: `m${history.length}`,
      method: 'api',
      detail: null,
    };
    history.push({
      purpose,
      state,
      ...(doubleOptIn === null ? {} : { doubleOptIn }),
      at: row.at,
      sourceId: row.sourceId,
      messageId: row.messageId,
      method: row.method,
    });
    consent = foldConsent(history);
    const batch: WriteBatch = {
      events: [],
      quarantine: [],
      replayedQuarantineIds: [],
      identity: { ...emptyIdentityChanges(), consent: [row] },
    };
    await written.writeBatch(batch);
    await service.settled();
  }

  // Granted, but the address is not confirmed yet: judged against Emailable alone, still out.
  await write('email', 'granted', 'pending');
  assert.deepEqual(reads, [
    { profiles: [2], needs: { events: [], computedEvents: [], traits: [], consent: ['email'] } },
  ]);
  assert.equal(recorded.length, 0);

  await write('email', 'granted', 'confirmed');
  assert.equal(reads.length, 2);
  assert.deepEqual(
    recorded.map((change) => [change.segmentId, change.profileId, change.change]),
    [[emailable.id, 2, 'entered']],
  );

  // No segment reads sms: nothing is read, nobody judged.
  await write('sms', 'denied', null);
  assert.equal(reads.length, 2);

  // A denial resets the double opt-in: out again.
  await write('email', 'denied', null);
  assert.equal(reads.length, 3);
  assert.deepEqual(recorded.at(-1)?.change, 'exited');
  assert.equal(service.get(emailable.id).size, 0);
  await service.close();
});
