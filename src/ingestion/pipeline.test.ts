import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig, type IngestConfig } from '../config/config.ts';
import type { StoredEvent } from '../domain/events.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import type { NewQuarantineRecord, QuarantineRecord, Source, WriteBatch } from '../store/store.ts';
import { createMemoryLog } from '../store/ingest-log.ts';
import { createGroupCommitWriter } from './group-commit.ts';
import { createMessageDedupe } from './message-dedupe.ts';
import { createIngestPipeline, type TrackingOutcome, type TrackingRequest } from './pipeline.ts';

const NOW = Date.UTC(2024, 2, 7, 11, 0, 0); // 2024-03-07T11:00:00Z
const IP = '203.0.113.9';

const sourceA: Source = {
  id: 'src_a',
  name: 'Web',
  writeKey: 'wk_a_0123456789',
  createdAt: NOW - 86_400_000,
  revokedAt: null,
};
const sourceB: Source = {
  id: 'src_b',
  name: 'Server',
  writeKey: 'wk_b_0123456789',
  createdAt: NOW - 86_400_000,
  revokedAt: null,
};

const defaultLimits: IngestConfig = loadConfig({ argv: [], env: {} }).ingest;

function fakeSources(initial: readonly Source[]): SourceRegistry {
  const list = [...initial];
  return {
    byWriteKey: (writeKey) => list.find((source) => source.writeKey === writeKey),
    byId: (id) => list.find((source) => source.id === id),
    list: () => [...list],
    async create(name) {
      const source: Source = {
        id: `src_${list.length}`,
        name,
        writeKey: `wk_${list.length}_xxxxxxxx`,
        createdAt: NOW,
        revokedAt: null,
      };
      list.push(source);
      return source;
    },
    rotateWriteKey: () => Promise.resolve(undefined),
    revokeWriteKey: () => Promise.resolve(undefined),
  };
}

interface Harness {
  readonly pipeline: ReturnType<typeof createIngestPipeline>;
  readonly writer: ReturnType<typeof createGroupCommitWriter>;
  /** Batches committed (durable in the ingest log). */
  readonly batches: WriteBatch[];
  /** Every commit attempt, committed or not. */
  readonly attempts: WriteBatch[];
  readonly store: {
    fail: boolean;
    /** While set, commits wait for it. */
    hold: Promise<void> | undefined;
  };
  events(): StoredEvent[];
  quarantine(): NewQuarantineRecord[];
}

function setup(limits: Partial<IngestConfig> = {}): Harness {
  const batches: WriteBatch[] = [];
  const attempts: WriteBatch[] = [];
  const control: Harness['store'] = { fail: false, hold: undefined };
  const ingest: IngestConfig = { ...defaultLimits, ...limits };
  const memory = createMemoryLog();
  const writer = createGroupCommitWriter({
    log: {
      ...memory,
      async append(batch) {
        attempts.push(batch);
        if (control.hold !== undefined) await control.hold;
        if (control.fail) throw new Error('EIO: i/o error, write');
        batches.push(batch);
        return memory.append(batch);
      },
    },
    store: { writeBatch: async () => undefined },
    maxEvents: ingest.commitMaxEvents,
    maxDelayMs: ingest.commitMaxDelayMs,
  });
  const pipeline = createIngestPipeline({
    sources: fakeSources([sourceA, sourceB]),
    writer,
    dedupe: createMessageDedupe(24),
    limits: ingest,
    now: () => NOW,
  });
  return {
    pipeline,
    writer,
    batches,
    attempts,
    store: control,
    events: () => batches.flatMap((batch) => batch.events),
    quarantine: () => batches.flatMap((batch) => batch.quarantine),
  };
}

function request(
  kind: TrackingRequest['kind'],
  body: unknown,
  /** The HTTP Basic write key; `null` for a request without one. */
  basicWriteKey: string | null = sourceA.writeKey,
): TrackingRequest {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return { kind, body: Buffer.from(text, 'utf8'), basicWriteKey: basicWriteKey ?? undefined, ip: IP };
}

function assertOk(outcome: TrackingOutcome): Extract<TrackingOutcome, { ok: true }> {
  assert.ok(
    outcome.ok,
    `expected ok, got ${outcome.ok ? '' : `${outcome.error.code}: ${outcome.error.message}`}`,
  );
  return outcome;
}

function assertFailed(outcome: { ok: boolean; error?: unknown }, code: string): void {
  assert.equal(outcome.ok, false, 'expected the request to fail');
  const error = (outcome as { error: { code: string } }).error;
  assert.equal(error.code, code);
}

function track(messageId: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'track', event: 'Clicked', userId: 'u1', messageId, ...extra };
}

describe('createIngestPipeline', () => {
  it('stores the valid items of a batch and quarantines the invalid ones with their reason, payload and index', async () => {
    const h = setup();
    const bad1 = { type: 'track', userId: 'u1', messageId: 'bad-1' };
    const bad3 = 'oops';
    const bad4 = { type: 'group', userId: 'u1' };
    const outcome = assertOk(
      await h.pipeline.track(
        request('batch', {
          batch: [track('ok-1'), bad1, { type: 'identify', userId: 'u2', messageId: 'ok-2' }, bad3, bad4],
        }),
      ),
    );

    assert.equal(outcome.accepted, 2);
    assert.equal(outcome.duplicates, 0);
    assert.deepEqual(
      outcome.rejected.map(({ index, messageId, code, field }) => ({ index, messageId, code, field })),
      [
        { index: 1, messageId: 'bad-1', code: 'CIBLE_ERR_TRACKING_MISSING_FIELD', field: 'event' },
        { index: 3, messageId: null, code: 'CIBLE_ERR_TRACKING_NOT_AN_OBJECT', field: null },
        { index: 4, messageId: null, code: 'CIBLE_ERR_TRACKING_MISSING_FIELD', field: 'groupId' },
      ],
    );
    for (const item of outcome.rejected) assert.ok(item.reason.length > 0);

    assert.deepEqual(
      h.events().map((event) => [event.sourceId, event.messageId, event.type]),
      [
        ['src_a', 'ok-1', 'track'],
        ['src_a', 'ok-2', 'identify'],
      ],
    );
    const quarantine = h.quarantine();
    assert.equal(quarantine.length, 3);
    assert.deepEqual(quarantine[0], {
      sourceId: 'src_a',
      receivedAt: NOW,
      code: 'CIBLE_ERR_TRACKING_MISSING_FIELD',
      reason: outcome.rejected[0]!.reason,
      field: 'event',
      payload: JSON.stringify(bad1),
      kind: 'track',
      batchIndex: 1,
      messageId: 'bad-1',
      ip: IP,
    });
    assert.match(quarantine[0].reason, /"event"/);
    assert.equal(quarantine[1]!.payload, JSON.stringify(bad3));
    assert.equal(quarantine[1]!.batchIndex, 3);
    assert.equal(quarantine[1]!.kind, 'unknown');
    assert.equal(quarantine[1]!.code, 'CIBLE_ERR_TRACKING_NOT_AN_OBJECT');
    assert.deepEqual(JSON.parse(quarantine[2]!.payload), bad4);
    assert.equal(quarantine[2]!.batchIndex, 4);
    assert.equal(quarantine[2]!.kind, 'group');
    assert.equal(quarantine[2]!.reason, outcome.rejected[2]!.reason);

    assert.deepEqual(h.pipeline.counters, {
      requests: 1,
      accepted: 2,
      duplicates: 0,
      rejected: 3,
      overloaded: 0,
    });
  });

  it('commits events and quarantine of one request in the same batch, and answers after the commit', async () => {
    const h = setup();
    assertOk(
      await h.pipeline.track(request('batch', { batch: [track('m1'), { type: 'track', userId: 'u1' }] })),
    );
    assert.equal(h.batches.length, 1);
    assert.equal(h.batches[0]!.events.length, 1);
    assert.equal(h.batches[0]!.quarantine.length, 1);
  });

  it('merges the batch-level context, integrations and sentAt into each item, item keys winning', async () => {
    const h = setup();
    assertOk(
      await h.pipeline.track(
        request('batch', {
          context: { library: { name: 'analytics-node' }, locale: 'en-US' },
          integrations: { All: true, Mixpanel: false },
          sentAt: '2024-03-07T10:00:10.000Z',
          batch: [
            track('c1', {
              context: { locale: 'fr-FR', ip: '198.51.100.1' },
              integrations: { Mixpanel: true },
              timestamp: '2024-03-07T10:00:00.000Z',
            }),
            track('c2', { sentAt: '2024-03-07T10:00:01.000Z', timestamp: '2024-03-07T10:00:00.000Z' }),
          ],
        }),
      ),
    );
    const [first, second] = h.events();
    assert.ok(first !== undefined && second !== undefined);
    assert.deepEqual(JSON.parse(first.context!), {
      library: { name: 'analytics-node' },
      locale: 'fr-FR',
      ip: '198.51.100.1',
    });
    assert.deepEqual(JSON.parse(first.integrations!), { All: true, Mixpanel: true });
    // sentAt from the batch: received at 11:00:00, sent 10 s after it happened → 10:59:50.
    assert.equal(first.sentAt, Date.UTC(2024, 2, 7, 10, 0, 10));
    assert.equal(first.timestamp, NOW - 10_000);

    assert.deepEqual(JSON.parse(second.context!), {
      library: { name: 'analytics-node' },
      locale: 'en-US',
      ip: IP,
    });
    assert.deepEqual(JSON.parse(second.integrations!), { All: true, Mixpanel: false });
    // The item's own sentAt wins: sent 1 s after it happened → 10:59:59.
    assert.equal(second.sentAt, Date.UTC(2024, 2, 7, 10, 0, 1));
    assert.equal(second.timestamp, NOW - 1_000);
  });

  it('answers a single invalid call with its error and keeps it in quarantine', async () => {
    const h = setup();
    const body = { userId: 'u1', messageId: 'single-1', properties: { a: 1 } };
    const outcome = await h.pipeline.track(request('track', body));
    assert.equal(outcome.ok, false);
    assert.ok(!outcome.ok);
    assert.equal(outcome.error.code, 'CIBLE_ERR_TRACKING_MISSING_FIELD');
    assert.equal(outcome.error.field, 'event');
    assert.match(outcome.error.message, /"event"/);

    assert.equal(h.events().length, 0);
    const [record, ...others] = h.quarantine();
    assert.equal(others.length, 0);
    assert.ok(record !== undefined);
    assert.equal(record.code, 'CIBLE_ERR_TRACKING_MISSING_FIELD');
    assert.equal(record.field, 'event');
    assert.equal(record.kind, 'track');
    assert.equal(record.batchIndex, null);
    assert.equal(record.messageId, 'single-1');
    assert.equal(record.sourceId, 'src_a');
    assert.equal(record.ip, IP);
    assert.deepEqual(JSON.parse(record.payload), { ...body, type: 'track' });
    assert.equal(h.pipeline.counters.rejected, 1);
  });

  it('takes the type of a single call from the path', async () => {
    const h = setup();
    const outcome = await h.pipeline.track(
      request('identify', { type: 'track', userId: 'u1', messageId: 'p1' }),
    );
    assertOk(outcome);
    assert.equal(h.events()[0]?.type, 'identify');
  });

  it('answers invalid JSON with a write key with CIBLE_ERR_TRACKING_INVALID_JSON and keeps the raw body', async () => {
    const h = setup();
    const raw = '{"batch": [{"type": "track", "event": "E"';
    const outcome = await h.pipeline.track(request('batch', raw));
    assertFailed(outcome, 'CIBLE_ERR_TRACKING_INVALID_JSON');
    const [record, ...others] = h.quarantine();
    assert.equal(others.length, 0);
    assert.ok(record !== undefined);
    assert.equal(record.payload, raw);
    assert.equal(record.code, 'CIBLE_ERR_TRACKING_INVALID_JSON');
    assert.equal(record.kind, 'batch');
    assert.equal(record.batchIndex, null);
    assert.equal(record.sourceId, 'src_a');
    assert.equal(h.events().length, 0);
  });

  it('answers invalid JSON without any write key with CIBLE_ERR_TRACKING_INVALID_JSON and keeps nothing', async () => {
    const h = setup();
    const outcome = await h.pipeline.track(request('batch', 'not json at all', null));
    assertFailed(outcome, 'CIBLE_ERR_TRACKING_INVALID_JSON');
    await h.writer.drain();
    await sleep(defaultLimits.commitMaxDelayMs + 10);
    assert.equal(h.attempts.length, 0);
  });

  it('answers a valid body without a write key with CIBLE_ERR_TRACKING_MISSING_WRITE_KEY', async () => {
    const h = setup();
    const outcome = await h.pipeline.track(request('batch', { batch: [track('m1')] }, null));
    assertFailed(outcome, 'CIBLE_ERR_TRACKING_MISSING_WRITE_KEY');
    await sleep(defaultLimits.commitMaxDelayMs + 10);
    assert.equal(h.attempts.length, 0);
  });

  it('answers an unknown write key with CIBLE_ERR_TRACKING_UNKNOWN_WRITE_KEY and stores nothing', async () => {
    const h = setup();
    const outcome = await h.pipeline.track(request('batch', { batch: [track('m1')] }, 'wk_nobody'));
    assertFailed(outcome, 'CIBLE_ERR_TRACKING_UNKNOWN_WRITE_KEY');
    const fromBody = await h.pipeline.track(request('track', track('m2', { writeKey: 'wk_nobody' }), null));
    assertFailed(fromBody, 'CIBLE_ERR_TRACKING_UNKNOWN_WRITE_KEY');
    await sleep(defaultLimits.commitMaxDelayMs + 10);
    assert.equal(h.attempts.length, 0);
  });

  it('takes the write key from the body when there is no Basic key', async () => {
    const h = setup();
    assertOk(
      await h.pipeline.track(request('batch', { writeKey: sourceB.writeKey, batch: [track('b1')] }, null)),
    );
    assertOk(
      await h.pipeline.track(
        request('track', { writeKey: sourceB.writeKey, event: 'E', userId: 'u1', messageId: 'b2' }, null),
      ),
    );
    assertOk(
      await h.pipeline.track(
        request('batch', { batch: [track('b3', { writeKey: sourceB.writeKey }), track('b4')] }, null),
      ),
    );
    const events = h.events();
    assert.deepEqual(
      events.map((event) => [event.sourceId, event.messageId]),
      [
        ['src_b', 'b1'],
        ['src_b', 'b2'],
        ['src_b', 'b3'],
        ['src_b', 'b4'],
      ],
    );
    for (const event of events) {
      assert.ok(!(event.extra ?? '').includes('wk_b'), 'the write key is not stored with the event');
    }
  });

  it('prefers the Basic write key to the one in the body', async () => {
    const h = setup();
    assertOk(
      await h.pipeline.track(
        request('batch', { writeKey: sourceB.writeKey, batch: [track('x1')] }, sourceA.writeKey),
      ),
    );
    assert.equal(h.events()[0]?.sourceId, 'src_a');
  });

  it('answers a batch body over 500 KB with CIBLE_ERR_TRACKING_BODY_TOO_LARGE and keeps it', async () => {
    const h = setup();
    const big = { batch: [track('big-1', { properties: { blob: 'x'.repeat(510 * 1024) } })] };
    const req = request('batch', big);
    assert.ok(req.body.length > 500 * 1024);
    const outcome = await h.pipeline.track(req);
    assertFailed(outcome, 'CIBLE_ERR_TRACKING_BODY_TOO_LARGE');
    assert.equal(h.events().length, 0);
    const [record, ...others] = h.quarantine();
    assert.equal(others.length, 0);
    assert.ok(record !== undefined);
    assert.equal(record.code, 'CIBLE_ERR_TRACKING_BODY_TOO_LARGE');
    assert.equal(record.payload, req.body.toString('utf8'));
    assert.equal(record.kind, 'batch');
  });

  it('answers a single call over 32 KB with CIBLE_ERR_TRACKING_EVENT_TOO_LARGE and keeps it', async () => {
    const h = setup();
    const outcome = await h.pipeline.track(
      request('track', track('big-2', { properties: { blob: 'x'.repeat(40_000) } })),
    );
    assertFailed(outcome, 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE');
    assert.equal(h.quarantine()[0]?.code, 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE');
    assert.equal(h.events().length, 0);
  });

  it('answers a batch body that is not an object with a batch array with CIBLE_ERR_TRACKING_NOT_AN_OBJECT and keeps it', async () => {
    const h = setup();
    assertFailed(
      await h.pipeline.track(request('batch', { events: [] })),
      'CIBLE_ERR_TRACKING_NOT_AN_OBJECT',
    );
    assert.equal(h.quarantine()[0]?.code, 'CIBLE_ERR_TRACKING_NOT_AN_OBJECT');
    assert.equal(h.quarantine()[0]?.payload, '{"events":[]}');
  });

  it('takes the first 2,500 events of a batch and rejects the rest with CIBLE_ERR_TRACKING_TOO_MANY_EVENTS', async () => {
    const h = setup();
    const batch = Array.from({ length: 2_503 }, (_, i) => ({
      type: 'track',
      event: 'E',
      userId: 'u',
      messageId: `m${i}`,
    }));
    const outcome = assertOk(await h.pipeline.track(request('batch', { batch })));
    assert.equal(outcome.accepted, 2_500);
    assert.deepEqual(
      outcome.rejected.map(({ index, messageId, code, field }) => ({ index, messageId, code, field })),
      [2_500, 2_501, 2_502].map((index) => ({
        index,
        messageId: `m${index}`,
        code: 'CIBLE_ERR_TRACKING_TOO_MANY_EVENTS',
        field: 'batch',
      })),
    );
    const events = h.events();
    assert.equal(events.length, 2_500);
    assert.equal(events[0]?.messageId, 'm0');
    assert.equal(events[2_499]?.messageId, 'm2499');
    const quarantine = h.quarantine();
    assert.deepEqual(
      quarantine.map((record) => [record.batchIndex, record.code, record.messageId]),
      [
        [2_500, 'CIBLE_ERR_TRACKING_TOO_MANY_EVENTS', 'm2500'],
        [2_501, 'CIBLE_ERR_TRACKING_TOO_MANY_EVENTS', 'm2501'],
        [2_502, 'CIBLE_ERR_TRACKING_TOO_MANY_EVENTS', 'm2502'],
      ],
    );
    assert.deepEqual(JSON.parse(quarantine[0]!.payload), batch[2_500]);
  });

  it('stores a messageId sent twice in one request once and counts a duplicate', async () => {
    const h = setup();
    const outcome = assertOk(
      await h.pipeline.track(request('batch', { batch: [track('dup'), track('dup'), track('other')] })),
    );
    assert.equal(outcome.accepted, 2);
    assert.equal(outcome.duplicates, 1);
    assert.deepEqual(outcome.rejected, []);
    assert.deepEqual(
      h.events().map((event) => event.messageId),
      ['dup', 'other'],
    );
    assert.equal(h.pipeline.counters.duplicates, 1);
  });

  it('stores a messageId sent in two requests once and counts a duplicate', async () => {
    const h = setup();
    assertOk(await h.pipeline.track(request('track', track('again'))));
    const second = assertOk(await h.pipeline.track(request('track', track('again'))));
    assert.equal(second.accepted, 0);
    assert.equal(second.duplicates, 1);
    assert.equal(h.events().length, 1);
    assert.deepEqual(h.pipeline.counters, {
      requests: 2,
      accepted: 1,
      duplicates: 1,
      rejected: 0,
      overloaded: 0,
    });
  });

  it('treats the same messageId from two sources as two events', async () => {
    const h = setup();
    assertOk(await h.pipeline.track(request('track', track('shared'), sourceA.writeKey)));
    const other = assertOk(await h.pipeline.track(request('track', track('shared'), sourceB.writeKey)));
    assert.equal(other.accepted, 1);
    assert.equal(other.duplicates, 0);
    assert.deepEqual(
      h.events().map((event) => event.sourceId),
      ['src_a', 'src_b'],
    );
  });

  it('answers CIBLE_ERR_STORE_UNAVAILABLE when the store fails, and accepts a retry of the same events', async () => {
    const h = setup();
    const body = { batch: [track('r1'), track('r2')] };
    h.store.fail = true;
    const failed = await h.pipeline.track(request('batch', body));
    assertFailed(failed, 'CIBLE_ERR_STORE_UNAVAILABLE');
    assert.equal(h.events().length, 0);
    assert.equal(h.pipeline.counters.accepted, 0);

    h.store.fail = false;
    const retry = assertOk(await h.pipeline.track(request('batch', body)));
    assert.equal(retry.accepted, 2);
    assert.equal(retry.duplicates, 0);
    assert.deepEqual(
      h.events().map((event) => event.messageId),
      ['r1', 'r2'],
    );
  });

  it('fails a duplicate that waited on a batch that failed, so that nothing is acknowledged on a gap', async () => {
    const h = setup();
    let release!: () => void;
    h.store.hold = new Promise<void>((resolve) => (release = resolve));
    h.store.fail = true;
    const first = h.pipeline.track(request('track', track('gap')));
    while (h.attempts.length === 0) await sleep(1);
    // The first commit is in flight; the retry deduplicates against it and waits in the next batch.
    const retry = h.pipeline.track(request('track', track('gap')));
    release();
    assertFailed(await first, 'CIBLE_ERR_STORE_UNAVAILABLE');
    assertFailed(await retry, 'CIBLE_ERR_STORE_UNAVAILABLE');

    h.store.hold = undefined;
    h.store.fail = false;
    const later = assertOk(await h.pipeline.track(request('track', track('gap'))));
    assert.equal(later.accepted, 1);
    assert.equal(h.events().length, 1);
  });

  it('answers CIBLE_ERR_INGEST_OVERLOADED when too many events wait to be written', async () => {
    const h = setup({ maxPendingEvents: 3 });
    let release!: () => void;
    h.store.hold = new Promise<void>((resolve) => (release = resolve));

    const first = h.pipeline.track(request('batch', { batch: [track('o1'), track('o2'), track('o3')] }));
    assert.equal(h.writer.pendingEvents, 3);
    while (h.attempts.length === 0) await sleep(1);

    const refused = await h.pipeline.track(request('track', track('o4')));
    assertFailed(refused, 'CIBLE_ERR_INGEST_OVERLOADED');
    assert.equal(h.pipeline.counters.overloaded, 1);

    release();
    assert.equal(assertOk(await first).accepted, 3);
    h.store.hold = undefined;
    const afterwards = assertOk(await h.pipeline.track(request('track', track('o4'))));
    assert.equal(afterwards.accepted, 1);
    assert.deepEqual(
      h.events().map((event) => event.messageId),
      ['o1', 'o2', 'o3', 'o4'],
    );
  });

  describe('replay', () => {
    async function quarantined(
      h: Harness,
      body: unknown,
      kind: TrackingRequest['kind'] = 'batch',
    ): Promise<QuarantineRecord> {
      await h.pipeline.track(request(kind, body));
      const record = h.quarantine().at(-1);
      assert.ok(record !== undefined, 'expected a quarantine record');
      return { ...record, id: 17, status: 'pending', replayedAt: null };
    }

    it('stores a corrected event and passes the record id in replayedQuarantineIds', async () => {
      const h = setup();
      const record = await quarantined(h, { batch: [{ type: 'track', userId: 'u1', messageId: 'fix-me' }] });
      assert.equal(record.batchIndex, 0);
      const before = h.batches.length;

      const outcome = await h.pipeline.replay(record, {
        type: 'track',
        event: 'Fixed',
        userId: 'u1',
        messageId: 'fix-me',
      });
      assert.deepEqual(outcome, { ok: true, accepted: 1, duplicates: 0 });
      const replayBatch = h.batches[before];
      assert.ok(replayBatch !== undefined);
      assert.deepEqual(replayBatch.replayedQuarantineIds, [17]);
      const [event] = replayBatch.events;
      assert.ok(event !== undefined);
      assert.equal(event.messageId, 'fix-me');
      assert.equal(event.event, 'Fixed');
      assert.equal(event.sourceId, 'src_a');
      assert.equal(event.receivedAt, record.receivedAt);
      assert.deepEqual(JSON.parse(event.context!), { ip: IP });
    });

    it('gives a corrected batch item the type it was sent with when the correction has none', async () => {
      const h = setup();
      const record = await quarantined(h, { batch: [{ type: 'group', userId: 'u1', messageId: 'g-1' }] });
      const outcome = await h.pipeline.replay(record, { userId: 'u1', groupId: 'acme', messageId: 'g-1' });
      assert.deepEqual(outcome, { ok: true, accepted: 1, duplicates: 0 });
      assert.equal(h.events()[0]?.type, 'group');
      assert.equal(h.events()[0]?.groupId, 'acme');
    });

    it('replays a quarantined single call with a correction', async () => {
      const h = setup();
      const record = await quarantined(h, { userId: 'u1', messageId: 's-1' }, 'track');
      assert.equal(record.batchIndex, null);
      const outcome = await h.pipeline.replay(record, { event: 'Now Valid', userId: 'u1', messageId: 's-1' });
      assert.deepEqual(outcome, { ok: true, accepted: 1, duplicates: 0 });
      assert.equal(h.events()[0]?.event, 'Now Valid');
      assert.deepEqual(h.batches.at(-1)?.replayedQuarantineIds, [17]);
    });

    it('answers CIBLE_ERR_QUARANTINE_STILL_INVALID when the payload is still invalid, and stores nothing', async () => {
      const h = setup();
      const record = await quarantined(h, {
        batch: [{ type: 'track', userId: 'u1', messageId: 'still-bad' }],
      });
      const before = h.attempts.length;
      const outcome = await h.pipeline.replay(record, undefined);
      assertFailed(outcome, 'CIBLE_ERR_QUARANTINE_STILL_INVALID');
      assert.ok(!outcome.ok);
      assert.equal(outcome.error.field, 'event');
      const corrected = await h.pipeline.replay(record, { type: 'track', userId: 'u1', event: '' });
      assertFailed(corrected, 'CIBLE_ERR_QUARANTINE_STILL_INVALID');
      await sleep(defaultLimits.commitMaxDelayMs + 10);
      assert.equal(h.attempts.length, before);
      assert.equal(h.events().length, 0);
    });

    it('answers CIBLE_ERR_QUARANTINE_STILL_INVALID for a kept body that is not JSON', async () => {
      const h = setup();
      const record = await quarantined(h, '{"batch": [');
      assert.equal(record.code, 'CIBLE_ERR_TRACKING_INVALID_JSON');
      assertFailed(await h.pipeline.replay(record, undefined), 'CIBLE_ERR_QUARANTINE_STILL_INVALID');
      const fixed = await h.pipeline.replay(record, { batch: [track('j1'), track('j2')] });
      assert.deepEqual(fixed, { ok: true, accepted: 2, duplicates: 0 });
    });

    it('does not report a replay as done while dropping the events past the 2,500th', async () => {
      const h = setup();
      const record = await quarantined(h, '{"batch": [ truncated');
      const batch = Array.from({ length: 2_503 }, (_, i) => track(`many-${i}`));
      const outcome = await h.pipeline.replay(record, { batch });
      await h.writer.drain();
      const stored = h.events().length;
      // Either every event of the corrected body is stored, or the replay is refused and nothing is.
      if (outcome.ok) {
        assert.equal(
          outcome.accepted + outcome.duplicates,
          2_503,
          'every event of the replayed body is accounted for',
        );
        assert.equal(stored, 2_503);
      } else {
        assert.equal(stored, 0);
        assert.deepEqual(
          h.batches.flatMap((b) => b.replayedQuarantineIds),
          [],
        );
      }
    });

    it('counts an already stored event as a duplicate', async () => {
      const h = setup();
      assertOk(await h.pipeline.track(request('track', track('seen'))));
      const record = await quarantined(h, { batch: [{ type: 'track', userId: 'u1', messageId: 'seen' }] });
      const outcome = await h.pipeline.replay(record, track('seen'));
      assert.deepEqual(outcome, { ok: true, accepted: 0, duplicates: 1 });
      assert.deepEqual(h.batches.at(-1)?.replayedQuarantineIds, [17]);
      assert.equal(h.events().length, 1);
    });
  });
});
