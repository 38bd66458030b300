import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { EventOutput } from '../src/domain/events.ts';
import { adminToken, basic, startTestCible, type TestCible } from './helpers.ts';

interface Quarantined {
  id: number;
  code: string;
  reason: string;
  field: string | null;
  payload: string;
  batchIndex: number | null;
  status: string;
}

let cible: TestCible;
let writeKey: string;

before(async () => {
  cible = await startTestCible();
  writeKey = await cible.createSource('web');
});
after(() => cible.close());

function post(path: string, payload: string | Buffer, headers: Record<string, string> = {}) {
  return cible.app.inject({
    method: 'POST',
    url: path,
    headers: { authorization: basic(writeKey), 'content-type': 'application/json', ...headers },
    payload,
  });
}

async function latestQuarantine(): Promise<Quarantined> {
  const { records } = await cible.admin<{ records: Quarantined[] }>('/api/quarantine?limit=1');
  assert.ok(records[0], 'a quarantined record');
  return records[0];
}

describe('Segment wire compatibility', () => {
  test('every call answers on its path and its short path', async () => {
    const calls = {
      identify: { userId: 'u1', traits: { plan: 'pro' } },
      track: { userId: 'u1', event: 'Clicked' },
      page: { anonymousId: 'a1', name: 'Home' },
      screen: { anonymousId: 'a1', name: 'Settings' },
      group: { userId: 'u1', groupId: 'g1' },
      alias: { userId: 'u1', previousId: 'a1' },
    };
    for (const [call, body] of Object.entries(calls)) {
      for (const path of [call, call[0]!]) {
        const response = await post(`/v1/${path}`, JSON.stringify({ ...body, messageId: `${path}-${call}` }));
        assert.equal(response.statusCode, 200, `${path}: ${response.body}`);
        assert.equal(response.json().accepted, 1);
      }
    }
    const { events } = await cible.admin<{ events: EventOutput[] }>('/api/events?type=screen');
    assert.equal(events.length, 2);
    assert.equal(events[0]!.name, 'Settings');
  });

  test('write key in the body, text/plain and gzip, as the browser and mobile SDKs send', async () => {
    const body = JSON.stringify({ writeKey, userId: 'u2', event: 'Browser Event', messageId: 'browser-1' });
    const plain = await cible.app.inject({
      method: 'POST',
      url: '/v1/t',
      headers: { 'content-type': 'text/plain' },
      payload: body,
    });
    assert.equal(plain.statusCode, 200, plain.body);
    const gzipped = await cible.app.inject({
      method: 'POST',
      url: '/v1/b',
      headers: { authorization: basic(writeKey), 'content-type': 'text/plain', 'content-encoding': 'gzip' },
      payload: gzipSync(
        JSON.stringify({ batch: [{ type: 'track', userId: 'u2', event: 'Mobile', messageId: 'gz-1' }] }),
      ),
    });
    assert.equal(gzipped.statusCode, 200, gzipped.body);
    assert.equal(gzipped.json().accepted, 1);
    const { events } = await cible.admin<{ events: EventOutput[] }>('/api/events?userId=u2');
    assert.deepEqual(events.map((event) => event.event).sort(), ['Browser Event', 'Mobile']);
  });

  test('CORS preflight and settings for the browser SDK', async () => {
    const preflight = await cible.app.inject({
      method: 'OPTIONS',
      url: '/v1/t',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], 'https://shop.example');
    assert.match(String(preflight.headers['access-control-allow-methods']), /POST/);

    const settings = await cible.app.inject({
      method: 'GET',
      url: `/v1/projects/${writeKey}/settings`,
      headers: { host: 'cible.example:8080', origin: 'https://shop.example' },
    });
    assert.equal(settings.statusCode, 200);
    assert.equal(settings.headers['access-control-allow-origin'], 'https://shop.example');
    const segment = settings.json().integrations['Segment.io'];
    assert.equal(segment.apiKey, writeKey);
    assert.equal(segment.apiHost, 'cible.example:8080/v1');

    const unknown = await cible.app.inject({ method: 'GET', url: '/v1/projects/nope/settings' });
    assert.equal(unknown.statusCode, 401);
  });

  test('the server sets receivedAt, corrects the timestamp for clock skew and fills context.ip', async () => {
    // The client's clock is 1 hour ahead: it stamped the event 2 s before sending it.
    const response = await post(
      '/v1/track',
      JSON.stringify({
        userId: 'skew',
        event: 'Skewed',
        messageId: 'skew-1',
        timestamp: '2030-01-01T10:00:00.000Z',
        sentAt: '2030-01-01T10:00:02.000Z',
      }),
      { 'x-forwarded-for': '203.0.113.9' },
    );
    assert.equal(response.statusCode, 200);
    const [event] = (await cible.admin<{ events: EventOutput[] }>('/api/events?userId=skew')).events;
    assert.ok(event);
    assert.equal(Date.parse(event.receivedAt) - Date.parse(event.timestamp), 2000);
    assert.equal(event.originalTimestamp, '2030-01-01T10:00:00.000Z');
    assert.equal(event.context?.ip, '127.0.0.1');
  });
});

describe('bad input: a clear error, and nothing lost', () => {
  test('invalid JSON → 400 naming the problem, body kept in quarantine', async () => {
    const response = await post('/v1/track', '{"userId": "u1", "event": ');
    assert.equal(response.statusCode, 400);
    const { error } = response.json();
    assert.equal(error.code, 'CIBLE_ERR_TRACKING_INVALID_JSON');
    assert.match(error.message, /not valid JSON/);
    assert.match(error.hint, /JSON object/);
    const kept = await latestQuarantine();
    assert.equal(kept.code, 'CIBLE_ERR_TRACKING_INVALID_JSON');
    assert.equal(kept.payload, '{"userId": "u1", "event": ');
  });

  test('a batch over 500 KB → 400 naming the limit, kept', async () => {
    const events = Array.from({ length: 600 }, (_, i) => ({
      type: 'track',
      userId: 'big',
      event: 'Big',
      messageId: `big-${i}`,
      properties: { padding: 'x'.repeat(1000) },
    }));
    const response = await post('/v1/batch', JSON.stringify({ batch: events }));
    assert.equal(response.statusCode, 400);
    const { error } = response.json();
    assert.equal(error.code, 'CIBLE_ERR_TRACKING_BODY_TOO_LARGE');
    assert.match(error.message, /limit for batch is 512000 bytes/);
    assert.equal((await latestQuarantine()).code, 'CIBLE_ERR_TRACKING_BODY_TOO_LARGE');
    assert.equal((await cible.admin<{ events: unknown[] }>('/api/events?userId=big')).events.length, 0);
  });

  test('a single call over 32 KB → 400, kept', async () => {
    const response = await post(
      '/v1/track',
      JSON.stringify({ userId: 'u1', event: 'Huge', properties: { blob: 'y'.repeat(40_000) } }),
    );
    assert.equal(response.statusCode, 400);
    assert.equal(response.json().error.code, 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE');
    assert.match(response.json().error.message, /32768 bytes/);
    assert.equal((await latestQuarantine()).code, 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE');
  });

  test('invalid events in a batch do not sink the valid ones; each is listed and quarantined', async () => {
    const response = await post(
      '/v1/batch',
      JSON.stringify({
        batch: [
          { type: 'track', userId: 'mixed', event: 'Good', messageId: 'mixed-ok-1' },
          { type: 'track', event: 'No identity', messageId: 'mixed-bad-1' },
          { type: 'track', userId: 'mixed', messageId: 'mixed-bad-2' },
          { type: 'identify', userId: 'mixed', traits: 'not an object', messageId: 'mixed-bad-3' },
          { type: 'teleport', userId: 'mixed', messageId: 'mixed-bad-4' },
          { type: 'identify', userId: 'mixed', messageId: 'mixed-ok-2', traits: { big: 'z'.repeat(40_000) } },
          { type: 'page', userId: 'mixed', messageId: 'mixed-ok-3' },
        ],
      }),
    );
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body.accepted, 2);
    assert.deepEqual(
      body.rejected.map((item: { index: number; messageId: string; code: string; field: string | null }) => [
        item.index,
        item.messageId,
        item.code,
        item.field,
      ]),
      [
        [1, 'mixed-bad-1', 'CIBLE_ERR_TRACKING_MISSING_IDENTITY', 'userId'],
        [2, 'mixed-bad-2', 'CIBLE_ERR_TRACKING_MISSING_FIELD', 'event'],
        [3, 'mixed-bad-3', 'CIBLE_ERR_TRACKING_INVALID_FIELD', 'traits'],
        [4, 'mixed-bad-4', 'CIBLE_ERR_TRACKING_UNKNOWN_TYPE', 'type'],
        [5, 'mixed-ok-2', 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE', null],
      ],
    );
    const { events } = await cible.admin<{ events: EventOutput[] }>('/api/events?userId=mixed');
    assert.deepEqual(events.map((event) => event.messageId).sort(), ['mixed-ok-1', 'mixed-ok-3']);
    const { records } = await cible.admin<{ records: Quarantined[] }>('/api/quarantine?limit=5');
    assert.deepEqual(
      records.map((record) => record.batchIndex),
      [5, 4, 3, 2, 1],
    );
    const missingEvent = records.find((record) => record.batchIndex === 2)!;
    assert.equal(missingEvent.reason, 'The track event needs "event".');
    assert.equal(JSON.parse(missingEvent.payload).messageId, 'mixed-bad-2');
  });

  test('more than 2,500 events: the first 2,500 stored, the rest rejected and kept', async () => {
    const batch = Array.from({ length: 2503 }, (_, i) => ({
      type: 'track',
      userId: 'many',
      event: 'Many',
      messageId: `many-${i}`,
    }));
    const response = await post('/v1/batch', JSON.stringify({ batch }));
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.equal(body.accepted, 2500);
    assert.deepEqual(
      body.rejected.map((item: { index: number }) => item.index),
      [2500, 2501, 2502],
    );
    assert.equal(body.rejected[0].code, 'CIBLE_ERR_TRACKING_TOO_MANY_EVENTS');
  });

  test('a quarantined event can be replayed after a fix', async () => {
    await post(
      '/v1/batch',
      JSON.stringify({ batch: [{ type: 'track', userId: 'fixme', messageId: 'fix-1' }] }),
    );
    const record = await latestQuarantine();
    assert.equal(record.code, 'CIBLE_ERR_TRACKING_MISSING_FIELD');
    const replay = (payload?: Record<string, unknown>) =>
      cible.app.inject({
        method: 'POST',
        url: `/api/quarantine/${record.id}/replay`,
        headers: { authorization: `Bearer ${adminToken}` },
        ...(payload === undefined ? {} : { payload }),
      });

    const stillBad = await replay();
    assert.equal(stillBad.statusCode, 422, stillBad.body);
    assert.equal(stillBad.json().error.code, 'CIBLE_ERR_QUARANTINE_STILL_INVALID');

    const fixed = await replay({ event: { ...JSON.parse(record.payload), event: 'Fixed' } });
    assert.equal(fixed.statusCode, 200, fixed.body);
    assert.deepEqual(fixed.json(), { status: 'replayed', accepted: 1, duplicates: 0 });
    const { events } = await cible.admin<{ events: EventOutput[] }>('/api/events?userId=fixme');
    assert.equal(events[0]?.event, 'Fixed');
    assert.equal(events[0]?.messageId, 'fix-1');
    const after = await cible.admin<Quarantined>(`/api/quarantine/${record.id}`);
    assert.equal(after.status, 'replayed');
    assert.equal((await replay()).statusCode, 409);
  });

  test('pending records can be replayed in bulk once the server accepts them', async () => {
    // A server-side fix, seen from outside: events rejected under a small limit pass a larger one.
    const strict = await startTestCible();
    try {
      const key = await strict.createSource();
      const batch = [
        { type: 'track', userId: 'bulk', event: 'Ok', messageId: 'bulk-ok' },
        { type: 'track', userId: 'bulk', messageId: 'bulk-bad' },
        {
          type: 'track',
          userId: 'bulk',
          event: 'Oversize',
          messageId: 'bulk-big',
          properties: { s: 'x'.repeat(33_000) },
        },
      ];
      await strict.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basic(key), 'content-type': 'application/json' },
        payload: JSON.stringify({ batch }),
      });
      const replay = await strict.app.inject({
        method: 'POST',
        url: '/api/quarantine/replay',
        headers: { authorization: `Bearer ${adminToken}` },
        payload: {},
      });
      assert.equal(replay.statusCode, 200, replay.body);
      const body = replay.json();
      assert.equal(body.replayed, 0);
      assert.deepEqual(body.stillInvalid.map((item: { code: string }) => item.code).sort(), [
        'CIBLE_ERR_QUARANTINE_STILL_INVALID',
        'CIBLE_ERR_QUARANTINE_STILL_INVALID',
      ]);
      assert.match(body.stillInvalid[0].reason, /needs "event"|bytes of JSON/);

      // Events refused only for arriving past the 2,500th of their batch pass when replayed alone.
      const many = Array.from({ length: 2502 }, (_, i) => ({
        type: 'track',
        userId: 'bulk',
        event: 'Many',
        messageId: `bulk-many-${i}`,
      }));
      await strict.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basic(key), 'content-type': 'application/json' },
        payload: JSON.stringify({ batch: many }),
      });
      const tooMany = await strict.app.inject({
        method: 'POST',
        url: '/api/quarantine/replay',
        headers: { authorization: `Bearer ${adminToken}` },
        payload: { code: 'CIBLE_ERR_TRACKING_TOO_MANY_EVENTS' },
      });
      assert.deepEqual(tooMany.json(), { replayed: 2, accepted: 2, duplicates: 0, stillInvalid: [] });
      const stored = await strict.admin<{ events: EventOutput[] }>('/api/events?event=Many&limit=2');
      assert.deepEqual(stored.events.map((event) => event.messageId).sort(), [
        'bulk-many-2500',
        'bulk-many-2501',
      ]);
      assert.deepEqual((await strict.admin<{ quarantine: unknown }>('/api/stats')).quarantine, {
        pending: 2,
        replayed: 2,
      });
    } finally {
      await strict.close();
    }
  });

  test('unknown or missing write key → 401; nothing stored', async () => {
    const unknown = await post('/v1/track', JSON.stringify({ userId: 'x', event: 'E' }), {
      authorization: basic('nope'),
    });
    assert.equal(unknown.statusCode, 401);
    assert.equal(unknown.json().error.code, 'CIBLE_ERR_TRACKING_UNKNOWN_WRITE_KEY');
    const missing = await cible.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ userId: 'x', event: 'E' }),
    });
    assert.equal(missing.statusCode, 401);
    assert.equal(missing.json().error.code, 'CIBLE_ERR_TRACKING_MISSING_WRITE_KEY');
  });

  test('corrupt gzip → 400 with a clear code', async () => {
    const response = await post('/v1/batch', Buffer.from('definitely not gzip'), {
      'content-encoding': 'gzip',
    });
    assert.equal(response.statusCode, 400);
    assert.equal(response.json().error.code, 'CIBLE_ERR_TRACKING_INVALID_ENCODING');
  });
});

describe('back-pressure', () => {
  test('over capacity → 429 with Retry-After, not a collapse', async () => {
    const small = await startTestCible({ CIBLE_MAX_PENDING_EVENTS: '1', CIBLE_COMMIT_MAX_DELAY_MS: '200' });
    try {
      const key = await small.createSource();
      const send = (i: number) =>
        small.app.inject({
          method: 'POST',
          url: '/v1/batch',
          headers: { authorization: basic(key), 'content-type': 'application/json' },
          payload: JSON.stringify({
            batch: [{ type: 'track', userId: 'bp', event: 'E', messageId: `bp-${i}` }],
          }),
        });
      const responses = await Promise.all([send(1), send(2), send(3)]);
      const statuses = responses.map((response) => response.statusCode).sort();
      assert.deepEqual(statuses, [200, 429, 429]);
      const refused = responses.find((response) => response.statusCode === 429)!;
      assert.equal(refused.headers['retry-after'], '1');
      assert.equal(refused.json().error.code, 'CIBLE_ERR_INGEST_OVERLOADED');
    } finally {
      await small.close();
    }
  });
});
