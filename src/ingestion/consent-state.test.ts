import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changesOf, foldConsent, type ConsentObservation, type ConsentState } from '../domain/consent.ts';
import { createConsentState, loadConsentState } from './consent-state.ts';

const t0 = Date.UTC(2026, 2, 1, 9);
const minute = 60_000;

function seen(
  purpose: string,
  state: ConsentState,
  at: number,
  more: Partial<ConsentObservation> = {},
): ConsentObservation {
  return { purpose, state, at, sourceId: 'web', messageId: `m-${purpose}-${at}`, method: 'sdk', ...more };
}

const brief = (observations: readonly ConsentObservation[]) =>
  observations.map((o) => `${o.purpose}:${o.state}${o.doubleOptIn === undefined ? '' : `:${o.doubleOptIn}`}`);

describe('the consent state', () => {
  it('keeps changes, not the preferences repeated on every event', () => {
    const state = createConsentState();
    const preferences = (at: number, email: ConsentState) => [
      seen('analytics', 'granted', at),
      seen('email', email, at),
    ];
    assert.deepEqual(brief(state.record(1, [1], preferences(t0, 'granted'))), [
      'analytics:granted',
      'email:granted',
    ]);
    for (let i = 1; i <= 5; i++)
      assert.deepEqual(state.record(1, [1], preferences(t0 + i * minute, 'granted')), []);
    assert.deepEqual(brief(state.record(1, [1], preferences(t0 + 6 * minute, 'denied'))), ['email:denied']);
    assert.deepEqual(state.record(1, [1], preferences(t0 + 7 * minute, 'denied')), []);
    assert.equal(state.changes, 3);
    assert.equal(state.profiles, 1);
  });

  it('judges a merged person against the histories of all its origin profiles', () => {
    const state = createConsentState();
    state.record(1, [1], [seen('email', 'granted', t0)]);
    state.record(2, [2], [seen('email', 'denied', t0 + minute)]);
    // Profile 2 denied last: the person's email consent is denied, whichever origin hears it again.
    assert.deepEqual(state.record(1, [1, 2], [seen('email', 'denied', t0 + 2 * minute)]), []);
    assert.deepEqual(brief(state.record(1, [1, 2], [seen('email', 'granted', t0 + 3 * minute)])), [
      'email:granted',
    ]);
    // Alone again (unmerged), profile 2's own history still says denied.
    assert.deepEqual(state.record(2, [2], [seen('email', 'denied', t0 + 4 * minute)]), []);
  });

  it('places a late observation in the history at its own time', () => {
    const state = createConsentState();
    state.record(1, [1], [seen('sms', 'granted', t0 + 10 * minute)]);
    state.record(1, [1], [seen('sms', 'denied', t0 + 20 * minute)]);
    assert.deepEqual(state.record(1, [1], [seen('sms', 'granted', t0 + 15 * minute)]), [], 'granted then');
    assert.deepEqual(brief(state.record(1, [1], [seen('sms', 'denied', t0 + 15 * minute)])), ['sms:denied']);
    assert.deepEqual(
      brief(state.record(1, [1], [seen('sms', 'granted', t0)])),
      ['sms:granted'],
      'nothing known before',
    );
  });

  it('tells double opt-in steps apart, and a denial resets them', () => {
    const state = createConsentState();
    const email = (at: number, value: ConsentState, doubleOptIn?: 'pending' | 'confirmed') =>
      seen('email', value, at, { method: 'event', ...(doubleOptIn === undefined ? {} : { doubleOptIn }) });
    assert.equal(state.record(1, [1], [email(t0, 'granted')]).length, 1);
    assert.equal(state.record(1, [1], [email(t0 + 1, 'granted', 'pending')]).length, 1);
    assert.equal(state.record(1, [1], [email(t0 + 2, 'granted', 'pending')]).length, 0);
    assert.equal(
      state.record(1, [1], [email(t0 + 3, 'granted')]).length,
      0,
      'a bare grant leaves it pending',
    );
    assert.equal(state.record(1, [1], [email(t0 + 4, 'granted', 'confirmed')]).length, 1);
    assert.equal(state.record(1, [1], [email(t0 + 5, 'denied')]).length, 1);
    assert.equal(state.record(1, [1], [email(t0 + 6, 'granted')]).length, 1);
    assert.equal(state.record(1, [1], [email(t0 + 7, 'granted', 'confirmed')]).length, 1, 'confirmed again');
  });

  it('loads what the store holds, and forgets it all on clear', async () => {
    const state = createConsentState();
    state.record(9, [9], [seen('push', 'granted', t0)]);
    const rows = [
      {
        profileId: 1,
        purpose: 'email',
        state: 'granted' as const,
        doubleOptIn: 'confirmed' as const,
        at: t0,
      },
      { profileId: 1, purpose: 'loyalty', state: 'denied' as const, doubleOptIn: null, at: t0 + 1 },
    ];
    const count = await loadConsentState(state, {
      loadConsent: async (onChange) => {
        rows.forEach(onChange);
        return rows.length;
      },
    });
    assert.equal(count, 2);
    assert.equal(state.changes, 2);
    assert.equal(state.profiles, 1, 'what was held before the load is gone');
    assert.deepEqual(state.record(1, [1], [seen('loyalty', 'denied', t0 + 2)]), []);
    assert.deepEqual(
      state.record(1, [1], [seen('email', 'granted', t0 + 2, { doubleOptIn: 'confirmed' })]),
      [],
    );
    assert.equal(state.record(9, [9], [seen('push', 'granted', t0 + 2)]).length, 1);

    state.forget([1, 5]);
    assert.equal(state.changes, 1);
    assert.equal(state.profiles, 1);
    assert.equal(state.record(1, [1], [seen('loyalty', 'denied', t0 + 3)]).length, 1, 'nothing known');
  });

  it('keeps exactly what changesOf keeps against the whole history, in any order', () => {
    // A seeded walk of observations across three origin profiles, sometimes merged, sometimes late.
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return Math.floor((seed / 2 ** 31) * n);
    };
    const purposes = ['email', 'sms', 'analytics'];
    const state = createConsentState();
    const kept = new Map<number, ConsentObservation[]>();
    const order = new Map<ConsentObservation, number>();
    for (let step = 0; step < 3000; step++) {
      const origin = 1 + random(3);
      const members = random(4) === 0 ? [1, 2, 3] : [origin];
      const observations: ConsentObservation[] = [];
      for (const purpose of purposes) {
        if (random(2) === 0) continue;
        const doubleOptIn = purpose === 'email' ? [undefined, 'pending', 'confirmed'][random(3)] : undefined;
        const value: ConsentState = random(3) === 0 ? 'denied' : 'granted';
        observations.push(
          seen(purpose, value, t0 + random(400) * minute, {
            ...(doubleOptIn === undefined || value === 'denied'
              ? {}
              : { doubleOptIn: doubleOptIn as 'pending' }),
          }),
        );
      }
      const history = members
        .flatMap((member) => kept.get(member) ?? [])
        .sort((a, b) => order.get(a)! - order.get(b)!);
      const expected = changesOf(foldConsent(history), observations, history);
      const actual = state.record(origin, members, observations);
      assert.deepEqual(actual, expected, `step ${step}`);
      for (const change of actual) {
        order.set(change, order.size);
        kept.set(origin, [...(kept.get(origin) ?? []), change]);
      }
    }
    assert.ok(state.changes > 1000, `${state.changes} changes recorded`);
  });
});
