import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredEvent } from '../domain/events.ts';
import { isRejection, type ItemRejection } from './outcomes.ts';
import { correctTimestamp, toStoredEvent, type ReceiveContext } from './to-stored-event.ts';
import type { ValidEvent } from './validate-event.ts';

// 2024-03-07T10:00:00.000Z
const TEN_AM = 1_709_805_600_000;
// The server receives the request at 11:00:05.250Z (the client's clock is an hour behind).
const RECEIVED_AT = TEN_AM + 3_600_000 + 5_250;

const receive: ReceiveContext = {
  sourceId: 'src_1',
  receivedAt: RECEIVED_AT,
  ip: '203.0.113.7',
  maxEventBytes: 32 * 1024,
};

function stored(event: Record<string, unknown>, context: Partial<ReceiveContext> = {}): StoredEvent {
  const outcome = toStoredEvent(event as ValidEvent, { ...receive, ...context });
  assert.ok(!isRejection(outcome), `expected a stored event, got ${JSON.stringify(outcome)}`);
  return outcome;
}

function rejected(event: Record<string, unknown>, context: Partial<ReceiveContext> = {}): ItemRejection {
  const outcome = toStoredEvent(event as ValidEvent, { ...receive, ...context });
  assert.ok(isRejection(outcome), 'expected the event to be rejected');
  return outcome;
}

function parsed(text: string | null): unknown {
  assert.notEqual(text, null);
  return JSON.parse(text!);
}

describe('correctTimestamp', () => {
  it('applies receivedAt − (sentAt − originalTimestamp)', () => {
    // Sent 500 ms after it happened, received at 1000 by the server's clock: it happened at 500.
    assert.equal(correctTimestamp(1000, 900, 400), 500);
    // Client clock 1 h behind: original 10:00:00, sent 10:00:05, received 11:00:05.250 → 11:00:00.250.
    assert.equal(correctTimestamp(RECEIVED_AT, TEN_AM + 5_000, TEN_AM), TEN_AM + 3_600_000 + 250);
    // Client clock ahead: original 12:00:00, sent 12:00:02, received 10:00:03 → 10:00:01.
    assert.equal(
      correctTimestamp(TEN_AM + 3_000, TEN_AM + 2 * 3_600_000 + 2_000, TEN_AM + 2 * 3_600_000),
      TEN_AM + 1_000,
    );
  });

  it('keeps the original timestamp when there is no sentAt', () => {
    assert.equal(correctTimestamp(RECEIVED_AT, null, TEN_AM), TEN_AM);
  });

  it('uses receivedAt when there is no original timestamp', () => {
    assert.equal(correctTimestamp(RECEIVED_AT, null, null), RECEIVED_AT);
    assert.equal(correctTimestamp(RECEIVED_AT, TEN_AM, null), RECEIVED_AT);
  });
});

describe('toStoredEvent', () => {
  it('corrects the clock skew from originalTimestamp and sentAt', () => {
    const event = stored({
      type: 'track',
      event: 'Clicked',
      userId: 'u1',
      originalTimestamp: '2024-03-07T10:00:00.000Z',
      sentAt: '2024-03-07T10:00:05.000Z',
    });
    assert.equal(event.originalTimestamp, TEN_AM);
    assert.equal(event.sentAt, TEN_AM + 5_000);
    assert.equal(event.receivedAt, RECEIVED_AT);
    // 11:00:05.250 − 5 s = 11:00:00.250
    assert.equal(event.timestamp, 1_709_809_200_250);
    assert.equal(new Date(event.timestamp).toISOString(), '2024-03-07T11:00:00.250Z');
  });

  it('treats timestamp as the original timestamp when originalTimestamp is absent', () => {
    const event = stored({
      type: 'track',
      event: 'Clicked',
      userId: 'u1',
      timestamp: '2024-03-07T12:00:00+02:00', // 10:00:00Z
      sentAt: '2024-03-07T10:00:02Z',
    });
    assert.equal(event.originalTimestamp, TEN_AM);
    assert.equal(event.timestamp, RECEIVED_AT - 2_000);
  });

  it('keeps a timestamp without sentAt as it is', () => {
    const event = stored({ type: 'identify', userId: 'u1', timestamp: '2020-01-02T03:04:05.678Z' });
    assert.equal(event.timestamp, Date.UTC(2020, 0, 2, 3, 4, 5, 678));
    assert.equal(event.originalTimestamp, Date.UTC(2020, 0, 2, 3, 4, 5, 678));
    assert.equal(event.sentAt, null);
  });

  it('uses receivedAt when there is no timestamp', () => {
    const event = stored({ type: 'identify', userId: 'u1', sentAt: '2024-03-07T10:00:05Z' });
    assert.equal(event.timestamp, RECEIVED_AT);
    assert.equal(event.originalTimestamp, null);
    assert.equal(event.sentAt, TEN_AM + 5_000);
    assert.equal(event.receivedAt, RECEIVED_AT);
  });

  it('fills context.ip from the request when the client did not set it', () => {
    const withoutContext = stored({ type: 'track', event: 'E', userId: 'u1' });
    assert.deepEqual(parsed(withoutContext.context), { ip: '203.0.113.7' });

    const withContext = stored({ type: 'track', event: 'E', userId: 'u1', context: { locale: 'fr-FR' } });
    assert.deepEqual(parsed(withContext.context), { locale: 'fr-FR', ip: '203.0.113.7' });
  });

  it('keeps the ip the client set', () => {
    const event = stored({ type: 'track', event: 'E', userId: 'u1', context: { ip: '198.51.100.1' } });
    assert.deepEqual(parsed(event.context), { ip: '198.51.100.1' });
  });

  it('leaves context alone when the request has no ip', () => {
    assert.equal(stored({ type: 'track', event: 'E', userId: 'u1' }, { ip: null }).context, null);
    const event = stored({ type: 'track', event: 'E', userId: 'u1', context: { a: 1 } }, { ip: null });
    assert.deepEqual(parsed(event.context), { a: 1 });
  });

  it('does not modify the event it is given', () => {
    const context = { locale: 'fr-FR' };
    const input = { type: 'track', event: 'E', userId: 'u1', context };
    stored(input);
    assert.deepEqual(context, { locale: 'fr-FR' });
  });

  it('keeps the messageId the client sent and assigns one when absent', () => {
    assert.equal(stored({ type: 'identify', userId: 'u1', messageId: 'ajs-123' }).messageId, 'ajs-123');
    const first = stored({ type: 'identify', userId: 'u1' }).messageId;
    const second = stored({ type: 'identify', userId: 'u1' }).messageId;
    assert.equal(typeof first, 'string');
    assert.ok(first.length > 0);
    assert.match(first, /^cible-[0-9a-f-]{36}$/);
    assert.notEqual(first, second);
  });

  it('stores numeric ids as strings', () => {
    const track = stored({ type: 'track', event: 'E', userId: 42, anonymousId: 7 });
    assert.equal(track.userId, '42');
    assert.equal(track.anonymousId, '7');
    const group = stored({ type: 'group', userId: 'u1', groupId: 1001 });
    assert.equal(group.groupId, '1001');
    const alias = stored({ type: 'alias', userId: 2, previousId: 0 });
    assert.equal(alias.userId, '2');
    assert.equal(alias.previousId, '0');
  });

  it('stores absent or empty ids as null', () => {
    const event = stored({ type: 'track', event: 'E', userId: 'u1', anonymousId: null });
    assert.equal(event.anonymousId, null);
    assert.equal(event.groupId, null);
    assert.equal(event.previousId, null);
  });

  it('copies the typed fields', () => {
    const track = stored({ type: 'track', event: 'Order Completed', userId: 'u1' });
    assert.equal(track.sourceId, 'src_1');
    assert.equal(track.type, 'track');
    assert.equal(track.event, 'Order Completed');
    assert.equal(track.name, null);
    const page = stored({ type: 'page', name: 'Pricing', anonymousId: 'a1' });
    assert.equal(page.type, 'page');
    assert.equal(page.name, 'Pricing');
    assert.equal(page.event, null);
  });

  it('puts unknown top-level fields in extra as JSON', () => {
    const event = stored({
      type: 'page',
      name: 'Docs',
      anonymousId: 'a1',
      category: 'Help',
      channel: 'browser',
      _metadata: { bundled: ['Segment.io'] },
      writeKey: 'wk_secret',
      properties: { path: '/docs' },
    });
    assert.deepEqual(parsed(event.extra), {
      category: 'Help',
      channel: 'browser',
      _metadata: { bundled: ['Segment.io'] },
    });
    assert.equal(stored({ type: 'identify', userId: 'u1' }).extra, null, 'no unknown field, no extra');
  });

  it('keeps an unknown top-level field named "__proto__" in extra, like any other', () => {
    const event = stored(
      JSON.parse('{"type":"track","event":"E","userId":"u1","__proto__":{"x":1},"channel":"web"}'),
    );
    assert.deepEqual(JSON.parse(event.extra!), JSON.parse('{"__proto__":{"x":1},"channel":"web"}'));
    assert.ok(event.extra!.includes('"__proto__":{"x":1}'), `extra is ${event.extra}`);
  });

  it('stores properties, traits, context and integrations as JSON text', () => {
    const track = stored({
      type: 'track',
      event: 'E',
      userId: 'u1',
      properties: { revenue: 12.5, items: [{ sku: 'A' }], note: 'café ✓' },
      integrations: { All: false, Mixpanel: true },
      context: { ip: '1.1.1.1', library: { name: 'analytics.js' } },
    });
    assert.equal(typeof track.properties, 'string');
    assert.deepEqual(parsed(track.properties), { revenue: 12.5, items: [{ sku: 'A' }], note: 'café ✓' });
    assert.deepEqual(parsed(track.integrations), { All: false, Mixpanel: true });
    assert.deepEqual(parsed(track.context), { ip: '1.1.1.1', library: { name: 'analytics.js' } });
    assert.equal(track.traits, null);

    const identify = stored(
      { type: 'identify', userId: 'u1', traits: { email: 'a@example.com' } },
      { ip: null },
    );
    assert.equal(identify.traits, '{"email":"a@example.com"}');
    assert.equal(identify.properties, null);
    assert.equal(identify.integrations, null);
    assert.equal(identify.context, null);
  });

  it('accepts an event under maxEventBytes', () => {
    const event = stored(
      { type: 'track', event: 'E', userId: 'u1', properties: { blob: 'x'.repeat(1_000) } },
      { maxEventBytes: 4_096 },
    );
    assert.equal(event.event, 'E');
  });

  it('rejects an event over maxEventBytes with CIBLE_ERR_TRACKING_EVENT_TOO_LARGE', () => {
    const outcome = rejected(
      { type: 'track', event: 'E', userId: 'u1', properties: { blob: 'x'.repeat(5_000) } },
      { maxEventBytes: 4_096 },
    );
    assert.equal(outcome.rejected, true);
    assert.equal(outcome.code, 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE');
    assert.equal(outcome.field, null);
    assert.match(outcome.message, /4096/);
  });

  it('counts the bytes of multi-byte characters, not UTF-16 units', () => {
    const limit = 32 * 1024;
    // '€' is one UTF-16 unit but three bytes of UTF-8: 12,000 of them are ~12 K units but ~36 KB.
    const euros = '€'.repeat(12_000);
    assert.ok(euros.length < limit);
    assert.ok(Buffer.byteLength(euros) > limit);
    const outcome = rejected(
      { type: 'track', event: 'E', userId: 'u1', properties: { text: euros } },
      { maxEventBytes: limit },
    );
    assert.equal(outcome.code, 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE');

    // Emoji: two UTF-16 units, four bytes each. 9,000 of them are 18 K units but 36 KB.
    const emoji = '🎉'.repeat(9_000);
    assert.ok(emoji.length < limit);
    const emojiOutcome = rejected(
      { type: 'track', event: 'E', userId: 'u1', properties: { text: emoji } },
      { maxEventBytes: limit },
    );
    assert.equal(emojiOutcome.code, 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE');

    // 10,000 euros are ~30 KB: under the limit.
    const under = stored(
      { type: 'track', event: 'E', userId: 'u1', properties: { text: '€'.repeat(10_000) } },
      { maxEventBytes: limit },
    );
    assert.equal(under.event, 'E');
  });

  it('counts multi-byte characters in the scalar fields too', () => {
    const limit = 1_000;
    // 300 units of '€' in the event name: 300 × 3 = 900 bytes plus the rest is over 1,000 bytes.
    const outcome = rejected(
      { type: 'track', event: '€'.repeat(300), userId: '€'.repeat(100) },
      { maxEventBytes: limit },
    );
    assert.equal(outcome.code, 'CIBLE_ERR_TRACKING_EVENT_TOO_LARGE');
  });
});
