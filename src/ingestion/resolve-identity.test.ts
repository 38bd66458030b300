import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { consentRulesFrom } from '../domain/consent.ts';
import { storedEventFixture } from '../domain/events.fixture.ts';
import type { StoredEvent } from '../domain/events.ts';
import { defaultIdentifierRules } from '../domain/identifiers.ts';
import { createIdentityGraph } from '../domain/identity-graph.ts';
import { createConsentState } from './consent-state.ts';
import { createIdentityResolver, emptyIdentityChanges } from './resolve-identity.ts';
import type { ValidEvent } from './validate-event.ts';

const t0 = Date.UTC(2026, 2, 1, 9);

function resolver() {
  return createIdentityResolver({
    graph: createIdentityGraph(),
    identifierRules: defaultIdentifierRules,
    lastMergeId: 0,
    activeMerges: new Map(),
    consent: createConsentState(),
    consentRules: consentRulesFrom({ purposes: ['loyalty'] }),
  });
}

/** A stored event and what validation handed over, from the parts a test names. */
function event(parts: {
  messageId: string;
  at: number;
  type?: 'track' | 'identify' | 'page';
  event?: string;
  userId?: string;
  context?: Record<string, unknown>;
  properties?: Record<string, unknown>;
}): [StoredEvent, ValidEvent] {
  const type = parts.type ?? 'page';
  const stored = storedEventFixture({
    type,
    event: parts.event ?? null,
    messageId: parts.messageId,
    userId: parts.userId ?? 'ana',
    timestamp: parts.at,
    context: parts.context === undefined ? null : JSON.stringify(parts.context),
    properties: parts.properties === undefined ? null : JSON.stringify(parts.properties),
  });
  const valid: ValidEvent = { type, ...(parts.context === undefined ? {} : { context: parts.context }) };
  return [stored, valid];
}

describe('consent as events resolve', () => {
  it("records the SDK's preferences once per change, as rows of the event's origin profile", () => {
    const identity = resolver();
    const changes = emptyIdentityChanges();
    const preferences = (marketing: boolean) => ({
      consent: { categoryPreferences: { Analytics: true, marketing, necessary: true } },
    });
    for (let i = 0; i < 4; i++) {
      identity.resolve(...event({ messageId: `p${i}`, at: t0 + i, context: preferences(true) }), changes);
    }
    identity.resolve(...event({ messageId: 'p4', at: t0 + 4, context: preferences(false) }), changes);
    identity.resolve(...event({ messageId: 'p5', at: t0 + 5 }), changes);
    const profileId = identity.graph.profileOf({ type: 'userId', value: 'ana' });
    assert.deepEqual(
      changes.consent.map((row) => [row.profileId, row.purpose, row.state, row.messageId, row.method]),
      [
        [profileId, 'analytics', 'granted', 'p0', 'sdk'],
        ...['email', 'sms', 'push', 'postal', 'phone'].map((p) => [profileId, p, 'granted', 'p0', 'sdk']),
        ...['email', 'sms', 'push', 'postal', 'phone'].map((p) => [profileId, p, 'denied', 'p4', 'sdk']),
      ],
    );
    assert.equal(changes.consent[0]?.sourceId, 'src_test');
    assert.equal(changes.consent[0]?.at, t0);
  });

  it('records a Consent Updated event with its double opt-in and how it was given', () => {
    const identity = resolver();
    const changes = emptyIdentityChanges();
    const [stored, valid] = event({
      messageId: 'cu-1',
      at: t0,
      type: 'track',
      event: 'Consent Updated',
      properties: { purposes: { email: 'granted', loyalty: true }, doubleOptIn: 'pending', method: 'form' },
    });
    identity.resolve(stored, valid, changes);
    assert.deepEqual(
      changes.consent.map((row) => [row.purpose, row.state, row.doubleOptIn, row.method, row.detail]),
      [
        ['email', 'granted', 'pending', 'event', 'form'],
        ['loyalty', 'granted', null, 'event', 'form'],
      ],
    );
  });

  it("reads an import row's consent from imports only", () => {
    const identity = resolver();
    const context = { import: { id: 'imp_1', line: 7, consent: { email: 'denied', loyalty: 'granted' } } };
    const live = emptyIdentityChanges();
    identity.resolve(...event({ messageId: 'l1', at: t0, type: 'identify', context }), live);
    assert.deepEqual(live.consent, [], 'a live event cannot pass for an import');

    const imported = emptyIdentityChanges();
    identity.resolve(...event({ messageId: 'i1', at: t0, type: 'identify', context }), imported, {
      imported: true,
    });
    assert.deepEqual(
      imported.consent.map((row) => [row.purpose, row.state, row.method, row.detail, row.messageId]),
      [
        ['email', 'denied', 'import', 'imp_1, line 7', 'i1'],
        ['loyalty', 'granted', 'import', 'imp_1, line 7', 'i1'],
      ],
    );
  });

  it("records consent given through the API for the person's profile, and nothing for an unknown one", () => {
    const identity = resolver();
    const changes = emptyIdentityChanges();
    identity.resolve(...event({ messageId: 'e1', at: t0 }), changes);
    const profileId = identity.graph.profileOf({ type: 'userId', value: 'ana' })!;
    const observation = {
      purpose: 'sms',
      state: 'granted' as const,
      at: t0 + 1,
      sourceId: 'api',
      messageId: 'api-1',
      method: 'api' as const,
      detail: 'call centre',
    };
    const first = identity.recordConsent(profileId, [observation], changes);
    assert.deepEqual(first, { profileId, recorded: [observation] });
    const again = identity.recordConsent(profileId, [{ ...observation, at: t0 + 2 }], changes);
    assert.deepEqual(again?.recorded, [], 'a repetition records nothing');
    assert.equal(identity.recordConsent(999, [observation], changes), undefined);
    assert.deepEqual(
      changes.consent.map((row) => [row.profileId, row.purpose, row.detail]),
      [[profileId, 'sms', 'call centre']],
    );
  });
});
