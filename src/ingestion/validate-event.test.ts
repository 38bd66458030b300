import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ErrorCode } from '../errors.ts';
import { isRejection, type ItemRejection } from './outcomes.ts';
import { validateEvent } from './validate-event.ts';

function rejection(item: unknown): ItemRejection {
  const outcome = validateEvent(item);
  assert.ok(isRejection(outcome), `expected ${JSON.stringify(item)} to be rejected`);
  return outcome;
}

function assertRejected(
  item: unknown,
  code: ErrorCode,
  field: string | null,
  messagePart?: string,
): ItemRejection {
  const outcome = rejection(item);
  assert.equal(outcome.code, code, `code of ${JSON.stringify(item)}`);
  assert.equal(outcome.field, field, `field of ${JSON.stringify(item)}`);
  assert.equal(typeof outcome.message, 'string');
  if (field !== null) {
    assert.ok(
      outcome.message.includes(messagePart ?? `"${field}"`),
      `message ${JSON.stringify(outcome.message)} names ${messagePart ?? field}`,
    );
  }
  return outcome;
}

const validEvents = {
  identify: { type: 'identify', userId: 'u1', traits: { email: 'a@example.com' } },
  track: {
    type: 'track',
    event: 'Order Completed',
    anonymousId: 'anon-1',
    properties: { revenue: 12.5 },
    timestamp: '2024-03-07T10:00:00.000Z',
    messageId: 'msg-1',
  },
  page: { type: 'page', userId: 'u1', name: 'Home', category: null, properties: { path: '/' } },
  screen: { type: 'screen', anonymousId: 'anon-1', name: 'Settings' },
  group: { type: 'group', userId: 'u1', groupId: 'g1', traits: { plan: 'pro' } },
  alias: { type: 'alias', userId: 'u2', previousId: 'u1' },
} as const;

describe('validateEvent', () => {
  describe('accepts a valid event of each type', () => {
    for (const [type, event] of Object.entries(validEvents)) {
      it(type, () => {
        const outcome = validateEvent(event);
        assert.equal(isRejection(outcome), false, JSON.stringify(outcome));
        assert.deepEqual(outcome, event);
        assert.equal((outcome as { type: string }).type, type);
      });
    }
  });

  it('accepts numeric ids, null ids next to a present one, and context/integrations objects', () => {
    for (const event of [
      { type: 'identify', userId: 42 },
      { type: 'track', event: 'E', userId: null, anonymousId: 'a' },
      { type: 'group', anonymousId: 'a', groupId: 7 },
      { type: 'alias', userId: 1, previousId: 0 },
      {
        type: 'track',
        event: 'E',
        userId: 'u',
        context: { ip: '1.2.3.4' },
        integrations: { All: true },
        sentAt: '2024-03-07T10:00:01Z',
        originalTimestamp: '2024-03-07T10:00:00+01:00',
      },
    ]) {
      const outcome = validateEvent(event);
      assert.equal(isRejection(outcome), false, `${JSON.stringify(event)}: ${JSON.stringify(outcome)}`);
    }
  });

  it('lets alias through with a userId and previousId, whatever anonymousId is', () => {
    assert.equal(isRejection(validateEvent({ type: 'alias', userId: 'new', previousId: 'old' })), false);
  });

  it('rejects a value that is not an object', () => {
    for (const item of [null, 'track', 42, true, [], [{ type: 'track' }], undefined]) {
      const outcome = assertRejected(item, 'CIBLE_ERR_TRACKING_NOT_AN_OBJECT', null);
      assert.match(outcome.message, /not a JSON object/);
    }
    assert.match(rejection([]).message, /array/);
    assert.match(rejection(null).message, /null/);
    assert.match(rejection('x').message, /string/);
  });

  it('rejects an event without a type', () => {
    assertRejected({ userId: 'u1', event: 'E' }, 'CIBLE_ERR_TRACKING_UNKNOWN_TYPE', 'type');
  });

  it('rejects an unknown type, naming it', () => {
    const outcome = assertRejected(
      { type: 'purchase', userId: 'u1' },
      'CIBLE_ERR_TRACKING_UNKNOWN_TYPE',
      'type',
      'type',
    );
    assert.match(outcome.message, /"purchase"/);
    assert.match(outcome.message, /identify, track, page, screen, group, alias/);
    assertRejected({ type: 7, userId: 'u1' }, 'CIBLE_ERR_TRACKING_UNKNOWN_TYPE', 'type', 'type');
    assertRejected(
      { type: 'Track', event: 'E', userId: 'u1' },
      'CIBLE_ERR_TRACKING_UNKNOWN_TYPE',
      'type',
      'type',
    );
  });

  it('rejects a track without "event"', () => {
    const outcome = assertRejected(
      { type: 'track', userId: 'u1' },
      'CIBLE_ERR_TRACKING_MISSING_FIELD',
      'event',
    );
    assert.match(outcome.message, /track/);
  });

  it('rejects a track with an empty or non-string "event"', () => {
    assertRejected({ type: 'track', event: '', userId: 'u1' }, 'CIBLE_ERR_TRACKING_INVALID_FIELD', 'event');
    assertRejected({ type: 'track', event: 3, userId: 'u1' }, 'CIBLE_ERR_TRACKING_INVALID_FIELD', 'event');
  });

  it('rejects a group without "groupId"', () => {
    assertRejected({ type: 'group', userId: 'u1' }, 'CIBLE_ERR_TRACKING_MISSING_FIELD', 'groupId');
  });

  it('rejects an alias without "previousId"', () => {
    assertRejected({ type: 'alias', userId: 'u1' }, 'CIBLE_ERR_TRACKING_MISSING_FIELD', 'previousId');
  });

  it('rejects an alias without "userId"', () => {
    assertRejected({ type: 'alias', previousId: 'u0' }, 'CIBLE_ERR_TRACKING_MISSING_FIELD', 'userId');
  });

  it('rejects an event with neither userId nor anonymousId', () => {
    for (const item of [
      { type: 'track', event: 'E' },
      { type: 'identify', userId: null, anonymousId: null },
      { type: 'page', name: 'Home', traits: {} },
      { type: 'screen' },
      { type: 'group', groupId: 'g1' },
    ]) {
      const outcome = assertRejected(item, 'CIBLE_ERR_TRACKING_MISSING_IDENTITY', 'userId');
      assert.match(outcome.message, /"anonymousId"/);
    }
  });

  it('rejects a userId of the wrong type', () => {
    assertRejected({ type: 'track', event: 'E', userId: true }, 'CIBLE_ERR_TRACKING_INVALID_FIELD', 'userId');
    assertRejected({ type: 'track', event: 'E', userId: '' }, 'CIBLE_ERR_TRACKING_INVALID_FIELD', 'userId');
    assertRejected(
      { type: 'identify', userId: { id: 1 }, anonymousId: 'a' },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'userId',
    );
    assertRejected(
      { type: 'identify', anonymousId: false },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'anonymousId',
    );
  });

  it('says what type a wrong id must have', () => {
    const outcome = rejection({ type: 'track', event: 'E', userId: true });
    assert.match(outcome.message, /non-empty string or a number/);
  });

  it('rejects properties that are an array or a string', () => {
    assertRejected(
      { type: 'track', event: 'E', userId: 'u1', properties: [1, 2] },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'properties',
    );
    assertRejected(
      { type: 'track', event: 'E', userId: 'u1', properties: 'revenue=3' },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'properties',
    );
    assertRejected(
      { type: 'identify', userId: 'u1', traits: ['a'] },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'traits',
    );
    assertRejected(
      { type: 'track', event: 'E', userId: 'u1', context: 'web' },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'context',
    );
    const outcome = rejection({ type: 'track', event: 'E', userId: 'u1', properties: [] });
    assert.match(outcome.message, /object/);
  });

  it('rejects a timestamp that is not a date', () => {
    for (const field of ['timestamp', 'sentAt', 'originalTimestamp']) {
      const outcome = assertRejected(
        { type: 'track', event: 'E', userId: 'u1', [field]: 'yesterday at noon' },
        'CIBLE_ERR_TRACKING_INVALID_FIELD',
        field,
      );
      assert.match(outcome.message, /ISO-8601/);
    }
    assertRejected(
      { type: 'track', event: 'E', userId: 'u1', timestamp: '2024-13-45T99:00:00Z' },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'timestamp',
    );
    assertRejected(
      { type: 'track', event: 'E', userId: 'u1', timestamp: 1_709_805_600_000 },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'timestamp',
    );
  });

  it('rejects a timestamp that is a bare number in a string (not ISO-8601, though Date.parse reads "1" as 2001)', () => {
    assertRejected(
      { type: 'track', event: 'E', userId: 'u1', timestamp: '1' },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'timestamp',
    );
  });

  it('rejects a messageId over 100 characters and accepts one of exactly 100', () => {
    const outcome = assertRejected(
      { type: 'track', event: 'E', userId: 'u1', messageId: 'm'.repeat(101) },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'messageId',
    );
    assert.match(outcome.message, /100/);
    assert.equal(
      isRejection(validateEvent({ type: 'track', event: 'E', userId: 'u1', messageId: 'm'.repeat(100) })),
      false,
    );
  });

  it('rejects an empty or non-string messageId', () => {
    assertRejected(
      { type: 'track', event: 'E', userId: 'u1', messageId: '' },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'messageId',
    );
    assertRejected(
      { type: 'track', event: 'E', userId: 'u1', messageId: 5 },
      'CIBLE_ERR_TRACKING_INVALID_FIELD',
      'messageId',
    );
  });

  it('returns a rejection value with rejected: true rather than throwing', () => {
    const outcome = validateEvent({ type: 'track' });
    assert.equal((outcome as ItemRejection).rejected, true);
  });
});
