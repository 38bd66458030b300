import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  analyticsAllowed,
  changesOf,
  consentObservationsOf,
  consentOf,
  consentRulesFrom,
  consentStatesFrom,
  defaultConsentRules,
  foldConsent,
  mayUse,
  standardPurposes,
  type ConsentObservation,
  type ConsentState,
} from './consent.ts';
import { storedEventFixture } from './events.fixture.ts';

const withPreferences = (preferences: unknown, overrides: Parameters<typeof storedEventFixture>[0] = {}) =>
  storedEventFixture({
    type: 'page',
    event: null,
    context: JSON.stringify({ page: { path: '/' }, consent: { categoryPreferences: preferences } }),
    ...overrides,
  });

const consentUpdated = (properties: unknown, context: unknown = null) =>
  storedEventFixture({
    event: 'Consent Updated',
    messageId: 'm-consent',
    timestamp: 5_000,
    properties: properties === null ? null : JSON.stringify(properties),
    context: context === null ? null : JSON.stringify(context),
  });

const observed = (
  purpose: string,
  state: ConsentState,
  at: number,
  more: Partial<ConsentObservation> = {},
): ConsentObservation => ({
  purpose,
  state,
  at,
  sourceId: 'web',
  messageId: `m-${purpose}-${at}`,
  method: 'sdk',
  ...more,
});

const statesOf = (observations: readonly ConsentObservation[]) =>
  observations.map(({ purpose, state, doubleOptIn }) =>
    doubleOptIn === undefined ? `${purpose}=${state}` : `${purpose}=${state}/${doubleOptIn}`,
  );

describe('consentObservationsOf: SDK consent preferences', () => {
  it('maps categories to purposes, without regard to case', () => {
    const { observations, errors, unknownCategories } = consentObservationsOf(
      withPreferences({ Advertising: true, ANALYTICS: false, Functional: true }),
    );
    assert.deepEqual(observations, [
      {
        purpose: 'advertising',
        state: 'granted',
        at: 1_700_000_000_000,
        sourceId: 'src_test',
        messageId: 'm-1',
        method: 'sdk',
      },
      {
        purpose: 'analytics',
        state: 'denied',
        at: 1_700_000_000_000,
        sourceId: 'src_test',
        messageId: 'm-1',
        method: 'sdk',
      },
      {
        purpose: 'personalization',
        state: 'granted',
        at: 1_700_000_000_000,
        sourceId: 'src_test',
        messageId: 'm-1',
        method: 'sdk',
      },
    ]);
    assert.deepEqual(errors, []);
    assert.deepEqual(unknownCategories, []);
  });

  it('gives a category that stands for several purposes to each of them', () => {
    const { observations } = consentObservationsOf(withPreferences({ marketing: true }));
    assert.deepEqual(statesOf(observations), [
      'email=granted',
      'sms=granted',
      'push=granted',
      'postal=granted',
      'phone=granted',
    ]);
  });

  it('lets the narrowest category speak for a purpose, and a denial win between equals', () => {
    const narrow = consentObservationsOf(withPreferences({ Marketing: false, Email: true }));
    assert.deepEqual(statesOf(narrow.observations), [
      'email=granted',
      'sms=denied',
      'push=denied',
      'postal=denied',
      'phone=denied',
    ]);
    const equals = consentObservationsOf(withPreferences({ Performance: true, Statistics: false }));
    assert.deepEqual(statesOf(equals.observations), ['analytics=denied']);
  });

  it('reports unknown categories and ignores strictly necessary ones', () => {
    const { observations, errors, unknownCategories } = consentObservationsOf(
      withPreferences({ C0001: true, C0004: false, Necessary: true, constructor: true, ads: true }),
    );
    assert.deepEqual(statesOf(observations), ['advertising=granted']);
    assert.deepEqual(unknownCategories, ['C0001', 'C0004', 'constructor']);
    assert.deepEqual(errors, []);
  });

  it('reads categories through the configured map', () => {
    const rules = consentRulesFrom({
      categories: { C0002: 'analytics', C0004: ['advertising', 'personalization'] },
    });
    const { observations, unknownCategories } = consentObservationsOf(
      withPreferences({ c0002: true, C0004: false, C0005: true }),
      rules,
    );
    assert.deepEqual(statesOf(observations), [
      'analytics=granted',
      'advertising=denied',
      'personalization=denied',
    ]);
    assert.deepEqual(unknownCategories, ['C0005']);
  });

  it('reports a value that is not true or false, with its path, and keeps the others', () => {
    const { observations, errors } = consentObservationsOf(
      withPreferences({ Analytics: 'yes', 'Strictly Necessary': 1, email: true }),
    );
    assert.deepEqual(statesOf(observations), ['email=granted']);
    assert.deepEqual(
      errors.map(({ field, kind, value }) => ({ field, kind, value })),
      [
        { field: 'context.consent.categoryPreferences.Analytics', kind: 'invalid-value', value: 'yes' },
        {
          field: 'context.consent.categoryPreferences["Strictly Necessary"]',
          kind: 'invalid-value',
          value: 1,
        },
      ],
    );
    assert.match(errors[0]!.message, /Analytics is "yes": the consent manager must send true or false/);
  });

  it('reports preferences that are not an object', () => {
    const { observations, errors } = consentObservationsOf(withPreferences(['analytics']));
    assert.deepEqual(observations, []);
    assert.equal(errors[0]?.field, 'context.consent.categoryPreferences');
    assert.equal(errors[0]?.kind, 'invalid-shape');
  });
});

describe('consentObservationsOf: events without consent', () => {
  it('does not parse a context that does not mention consent, nor the properties of other events', () => {
    // Neither text is JSON: an error would show that it was parsed.
    const event = storedEventFixture({
      event: 'Order Completed',
      context: '{"page": not json',
      properties: '{"purposes": not json',
    });
    assert.deepEqual(consentObservationsOf(event), { observations: [], errors: [], unknownCategories: [] });
    const untouched = storedEventFixture({ context: null, properties: null });
    assert.deepEqual(consentObservationsOf(untouched), {
      observations: [],
      errors: [],
      unknownCategories: [],
    });
  });

  it('ignores a context where consent holds no category preferences', () => {
    const event = storedEventFixture({ context: JSON.stringify({ consent: { version: 2 } }) });
    assert.deepEqual(consentObservationsOf(event), { observations: [], errors: [], unknownCategories: [] });
  });
});

describe('consentObservationsOf: Consent Updated', () => {
  it('reads the purposes object, with states as words or booleans, and the method', () => {
    const { observations, errors } = consentObservationsOf(
      consentUpdated({
        purposes: { email: 'granted', sms: 'denied', Push: true, postal: false },
        method: 'form',
      }),
    );
    assert.deepEqual(errors, []);
    assert.deepEqual(statesOf(observations), [
      'email=granted',
      'sms=denied',
      'push=granted',
      'postal=denied',
    ]);
    assert.deepEqual(observations[0], {
      purpose: 'email',
      state: 'granted',
      at: 5_000,
      sourceId: 'src_test',
      messageId: 'm-consent',
      method: 'event',
      detail: 'form',
    });
  });

  it('reads one purpose and its state, with a double opt-in', () => {
    const { observations, errors } = consentObservationsOf(
      consentUpdated({ purpose: 'email', state: 'granted', doubleOptIn: 'confirmed', method: 'call centre' }),
    );
    assert.deepEqual(errors, []);
    assert.deepEqual(observations, [
      {
        purpose: 'email',
        state: 'granted',
        doubleOptIn: 'confirmed',
        at: 5_000,
        sourceId: 'src_test',
        messageId: 'm-consent',
        method: 'event',
        detail: 'call centre',
      },
    ]);
  });

  it('gives the double opt-in of a purposes object to email only', () => {
    const { observations } = consentObservationsOf(
      consentUpdated({ purposes: { sms: true, email: true }, doubleOptIn: 'pending' }),
    );
    assert.deepEqual(statesOf(observations), ['sms=granted', 'email=granted/pending']);
  });

  it('names the field of an unknown purpose and says how to add one', () => {
    const { observations, errors } = consentObservationsOf(
      consentUpdated({ purposes: { email: 'granted', foo: 'granted', sms: 'maybe' } }),
    );
    assert.deepEqual(statesOf(observations), ['email=granted']);
    assert.deepEqual(
      errors.map(({ field, kind }) => ({ field, kind })),
      [
        { field: 'properties.purposes.foo', kind: 'unknown-purpose' },
        { field: 'properties.purposes.sms', kind: 'invalid-value' },
      ],
    );
    assert.equal(
      errors[0]!.message,
      'properties.purposes.foo: "foo" is not a consent purpose. Known purposes: analytics, personalization, ' +
        'email, sms, push, postal, phone, advertising. To record consent for another purpose, add it to the ' +
        'rules file under consent.purposes.',
    );
    assert.equal(
      errors[1]!.message,
      'properties.purposes.sms is "maybe": write "granted", "denied", true or false.',
    );

    const single = consentObservationsOf(consentUpdated({ purpose: 'loyalty', state: 'granted' }));
    assert.deepEqual(single.observations, []);
    assert.equal(single.errors[0]?.field, 'properties.purpose');
    const custom = consentObservationsOf(
      consentUpdated({ purpose: 'loyalty', state: 'granted' }),
      consentRulesFrom({ purposes: ['loyalty'] }),
    );
    assert.deepEqual(statesOf(custom.observations), ['loyalty=granted']);
  });

  it('reports a double opt-in that does not apply', () => {
    const cases: [unknown, RegExp][] = [
      [{ purpose: 'email', state: 'granted', doubleOptIn: 'yes' }, /is "yes": write "pending"/],
      [{ purpose: 'sms', state: 'granted', doubleOptIn: 'confirmed' }, /set properties\.purpose to "email"/],
      [
        { purposes: { sms: true }, doubleOptIn: 'confirmed' },
        /add "email": "granted" to properties\.purposes/,
      ],
      [{ purpose: 'email', state: 'denied', doubleOptIn: 'confirmed' }, /email consent is denied/],
    ];
    for (const [properties, message] of cases) {
      const { observations, errors } = consentObservationsOf(consentUpdated(properties));
      assert.equal(errors.length, 1, JSON.stringify(properties));
      assert.equal(errors[0]!.field, 'properties.doubleOptIn');
      assert.match(errors[0]!.message, message);
      assert.ok(
        observations.every((observation) => observation.doubleOptIn === undefined),
        'the consent itself is still recorded, without the double opt-in',
      );
      assert.equal(observations.length, 1);
    }
  });

  it('reports properties that name no purpose, or both shapes, or are missing', () => {
    for (const properties of [
      { state: 'granted' },
      { purposes: { email: true }, purpose: 'sms', state: true },
      null,
    ]) {
      const { observations, errors } = consentObservationsOf(consentUpdated(properties));
      assert.deepEqual(observations, []);
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.field, 'properties');
      assert.match(errors[0]!.message, /send \{"purposes": \{"email": "granted"\}\} or \{"purpose": "email"/);
    }
  });

  it('puts the event after the SDK preferences it carries, so the event wins', () => {
    const { observations } = consentObservationsOf(
      consentUpdated(
        { purpose: 'email', state: 'denied' },
        { consent: { categoryPreferences: { email: true } } },
      ),
    );
    assert.deepEqual(
      observations.map(({ purpose, state, method }) => `${purpose}=${state} by ${method}`),
      ['email=granted by sdk', 'email=denied by event'],
    );
    assert.equal(consentOf(foldConsent(observations), 'email'), 'denied');
  });
});

describe('consentStatesFrom', () => {
  it('reads the admin API and import shape with the same messages', () => {
    const { states, errors } = consentStatesFrom(
      { email: 'Granted', sms: false, fax: true },
      defaultConsentRules,
    );
    assert.deepEqual(states, [
      { purpose: 'email', state: 'granted' },
      { purpose: 'sms', state: 'denied' },
    ]);
    assert.equal(errors[0]?.field, 'purposes.fax');
    assert.match(
      errors[0].message,
      /^purposes\.fax: "fax" is not a consent purpose\. Known purposes: analytics/,
    );
    const notObject = consentStatesFrom('email', defaultConsentRules, 'body.consent');
    assert.deepEqual(notObject.states, []);
    assert.equal(notObject.errors[0]?.field, 'body.consent');
    assert.match(notObject.errors[0].message, /must be an object of purposes/);
  });
});

describe('changesOf', () => {
  const preferences = (at: number, analytics: boolean, email: boolean) =>
    consentObservationsOf(withPreferences({ analytics, email }, { timestamp: at, messageId: `m-${at}` }))
      .observations;

  it('records nothing when the SDK repeats the same preferences', () => {
    const first = changesOf(undefined, preferences(100, true, false));
    assert.deepEqual(statesOf(first), ['analytics=granted', 'email=denied']);
    let status = foldConsent(first);
    for (const at of [200, 300, 400]) {
      const changes = changesOf(status, preferences(at, true, false));
      assert.deepEqual(changes, []);
      status = foldConsent(changes, status);
    }
    assert.equal(status.purposes.analytics?.at, 100, 'the state keeps the time of the change');
    assert.deepEqual(
      changesOf(undefined, [...preferences(100, true, false), ...preferences(200, true, false)]).length,
      2,
    );
  });

  it('records one entry when one purpose changes', () => {
    const status = foldConsent(preferences(100, true, false));
    const changes = changesOf(status, preferences(200, true, true));
    assert.deepEqual(changes, [
      {
        purpose: 'email',
        state: 'granted',
        at: 200,
        sourceId: 'src_test',
        messageId: 'm-200',
        method: 'sdk',
      },
    ]);
    const after = foldConsent(changes, status);
    assert.equal(consentOf(after, 'email'), 'granted');
    assert.equal(after.purposes.email?.messageId, 'm-200');
    assert.equal(after.purposes.analytics?.messageId, 'm-100');
  });

  it('keeps a late observation as history without letting it override the newer state', () => {
    const history = [observed('email', 'granted', 100), observed('email', 'denied', 300)];
    const status = foldConsent(history);
    // Denied at 200 arrives last: it changed what was in force at 200 (granted since 100).
    const late = observed('email', 'denied', 200);
    assert.deepEqual(changesOf(status, [late], history), [late]);
    assert.equal(foldConsent([late], status).purposes.email?.at, 300);
    // Granted at 200 changed nothing at its time, and does not override the denial at 300.
    const repeat = observed('email', 'granted', 200);
    assert.deepEqual(changesOf(status, [repeat], history), []);
    // Without the history, what was in force at 200 is unknown: kept rather than risk losing a change.
    assert.deepEqual(changesOf(status, [repeat]), [repeat]);
    assert.equal(consentOf(foldConsent([repeat], status), 'email'), 'denied');
  });

  it('keeps a burst of late repetitions to one entry', () => {
    const status = foldConsent([observed('analytics', 'denied', 1_000)]);
    const queued = [100, 200, 300].map((at) => observed('analytics', 'granted', at));
    assert.deepEqual(changesOf(status, queued), [queued[0]]);
  });

  it('records double opt-in changes, and not a bare grant that repeats', () => {
    const asked = observed('email', 'granted', 100, { doubleOptIn: 'pending', method: 'event' });
    const confirmed = observed('email', 'granted', 200, { doubleOptIn: 'confirmed', method: 'event' });
    const sdk = observed('email', 'granted', 300);
    let status = foldConsent(changesOf(undefined, [asked]));
    assert.deepEqual(changesOf(status, [sdk]), []);
    assert.deepEqual(changesOf(status, [confirmed]), [confirmed]);
    status = foldConsent([confirmed], status);
    assert.deepEqual(status.doubleOptIn, { state: 'confirmed', at: 200 });
    assert.deepEqual(changesOf(status, [confirmed, sdk]), []);
  });

  it('never changes the outcome: folding the changes equals folding every observation', () => {
    // A fixed pseudo-random stream: choices that change now and then, repeated on every event, events
    // out of order (some by a little, some by a lot), double opt-ins asked and confirmed.
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 48_271) % 2_147_483_647;
      return seed % n;
    };
    const purposes = ['email', 'sms', 'analytics'];
    const choice = new Map<string, ConsentState>();
    const all: ConsentObservation[] = [];
    for (let index = 0; index < 400; index += 1) {
      const purpose = purposes[next(3)]!;
      if (!choice.has(purpose) || next(8) === 0) choice.set(purpose, next(2) === 0 ? 'denied' : 'granted');
      const state = choice.get(purpose)!;
      const at = next(20) === 0 ? next(index + 1) * 10 : index * 10 - next(8) * 10;
      const optIn = purpose === 'email' && state === 'granted' ? next(10) : 0;
      all.push(
        observed(purpose, state, at, {
          messageId: `m${index}`,
          ...(optIn === 1 ? { doubleOptIn: 'pending' as const } : {}),
          ...(optIn === 2 ? { doubleOptIn: 'confirmed' as const } : {}),
        }),
      );
    }
    let status = foldConsent([]);
    const history: ConsentObservation[] = [];
    for (let start = 0; start < all.length; start += 25) {
      const changes = changesOf(status, all.slice(start, start + 25), history);
      history.push(...changes);
      status = foldConsent(changes, status);
    }
    assert.ok(history.length < all.length / 2, `history keeps changes only (${history.length})`);
    assert.deepEqual(foldConsent(history), status, 'fold equals incremental application');
    const everything = foldConsent(all);
    for (const purpose of purposes) assert.equal(consentOf(status, purpose), consentOf(everything, purpose));
    assert.equal(status.doubleOptIn?.state, everything.doubleOptIn?.state);

    // The same without the stored history: more entries may be kept, the outcome is the same.
    let blind = foldConsent([]);
    const blindHistory: ConsentObservation[] = [];
    for (let start = 0; start < all.length; start += 25) {
      const changes = changesOf(blind, all.slice(start, start + 25));
      blindHistory.push(...changes);
      blind = foldConsent(changes, blind);
    }
    assert.ok(blindHistory.length >= history.length);
    assert.deepEqual(foldConsent(blindHistory), blind);
    for (const purpose of purposes) assert.equal(consentOf(blind, purpose), consentOf(everything, purpose));
    assert.equal(blind.doubleOptIn?.state, everything.doubleOptIn?.state);
  });
});

describe('foldConsent', () => {
  it('takes the latest by time, the later in input order on a tie', () => {
    const status = foldConsent([
      observed('sms', 'granted', 300, { messageId: 'a' }),
      observed('sms', 'denied', 100),
      observed('push', 'denied', 50, { messageId: 'b' }),
      observed('push', 'granted', 50, { messageId: 'c', method: 'api', detail: 'support ticket' }),
    ]);
    assert.deepEqual(status, {
      purposes: {
        sms: { state: 'granted', at: 300, sourceId: 'web', messageId: 'a', method: 'sdk' },
        push: {
          state: 'granted',
          at: 50,
          sourceId: 'web',
          messageId: 'c',
          method: 'api',
          detail: 'support ticket',
        },
      },
    });
    assert.equal(consentOf(status, 'email'), 'unknown');
    assert.equal(consentOf(status, 'constructor'), 'unknown');
  });

  it('resets the double opt-in on a denial, and keeps it on a bare grant', () => {
    const confirmed = observed('email', 'granted', 100, { doubleOptIn: 'confirmed' });
    assert.deepEqual(foldConsent([confirmed, observed('email', 'granted', 200)]).doubleOptIn, {
      state: 'confirmed',
      at: 100,
    });
    const regranted = foldConsent([
      confirmed,
      observed('email', 'denied', 200),
      observed('email', 'granted', 300),
    ]);
    assert.deepEqual(regranted.doubleOptIn, { state: 'none', at: 200 });
    assert.equal(consentOf(regranted, 'email'), 'granted');
  });

  it('merges two profiles by folding the union of their histories', () => {
    const web = [
      observed('email', 'granted', 100),
      observed('analytics', 'granted', 100),
      observed('email', 'denied', 400),
    ];
    const shop = [
      observed('email', 'granted', 200, { sourceId: 'shop', method: 'import' }),
      observed('postal', 'granted', 250, { sourceId: 'shop', method: 'import' }),
      observed('analytics', 'denied', 300, { sourceId: 'shop', method: 'import' }),
    ];
    const merged = foldConsent([...web, ...shop]);
    assert.equal(consentOf(merged, 'email'), 'denied', 'the web denial at 400 is the latest');
    assert.equal(consentOf(merged, 'postal'), 'granted');
    assert.equal(consentOf(merged, 'analytics'), 'denied');
    assert.equal(merged.purposes.analytics?.sourceId, 'shop');
    assert.deepEqual(
      foldConsent([...shop, ...web]),
      merged,
      'the order of the two histories does not matter',
    );
  });
});

describe('mayUse and analyticsAllowed', () => {
  const granted = foldConsent([observed('email', 'granted', 100), observed('sms', 'denied', 100)]);
  const confirmed = foldConsent([observed('email', 'granted', 100, { doubleOptIn: 'confirmed' })]);
  const pending = foldConsent([observed('email', 'granted', 100, { doubleOptIn: 'pending' })]);
  const doubleOptIn = { ...defaultConsentRules, emailDoubleOptIn: true };

  it('allows a purpose only when granted', () => {
    assert.equal(mayUse(granted, 'email'), true);
    assert.equal(mayUse(granted, 'sms'), false);
    assert.equal(mayUse(granted, 'push'), false, 'unknown is not consent');
    assert.equal(mayUse(undefined, 'email'), false);
  });

  it('asks for a confirmed address when the rules require double opt-in', () => {
    assert.equal(mayUse(granted, 'email', doubleOptIn), false);
    assert.equal(mayUse(pending, 'email', doubleOptIn), false);
    assert.equal(mayUse(confirmed, 'email', doubleOptIn), true);
    assert.equal(mayUse(pending, 'email'), true, 'without the rule, a grant is enough');
    const withdrawn = foldConsent([observed('email', 'denied', 200)], confirmed);
    assert.equal(mayUse(withdrawn, 'email', doubleOptIn), false);
  });

  it('counts people who never answered for analytics unless the rules exclude them', () => {
    const unanswered = foldConsent([]);
    const denied = foldConsent([observed('analytics', 'denied', 1)]);
    const yes = foldConsent([observed('analytics', 'granted', 1)]);
    const exclude = { ...defaultConsentRules, analyticsDefault: 'exclude' as const };
    assert.deepEqual(
      [unanswered, denied, yes].map((status) => analyticsAllowed(status)),
      [true, false, true],
    );
    assert.deepEqual(
      [unanswered, denied, yes].map((status) => analyticsAllowed(status, exclude)),
      [false, false, true],
    );
  });
});

describe('consentRulesFrom', () => {
  it('keeps the defaults for whatever the section does not name', () => {
    assert.equal(consentRulesFrom(undefined), defaultConsentRules);
    assert.deepEqual(consentRulesFrom({}), defaultConsentRules);
    assert.deepEqual(defaultConsentRules.purposes, standardPurposes);
  });

  it('adds custom purposes, each its own category, and categories to the defaults', () => {
    const rules = consentRulesFrom({
      purposes: ['loyalty', 'email'],
      categories: { C0004: ['advertising', 'loyalty'], Marketing: 'email' },
      emailDoubleOptIn: true,
      analyticsDefault: 'exclude',
    });
    assert.deepEqual(rules.purposes, [...standardPurposes, 'loyalty']);
    assert.deepEqual(rules.categories.loyalty, ['loyalty']);
    assert.deepEqual(rules.categories.c0004, ['advertising', 'loyalty']);
    assert.deepEqual(rules.categories.marketing, ['email'], 'a named category replaces the default mapping');
    assert.deepEqual(rules.categories.targeting, ['advertising']);
    assert.equal(rules.emailDoubleOptIn, true);
    assert.equal(rules.analyticsDefault, 'exclude');
  });

  it('says which setting is wrong and why', () => {
    const cases: [unknown, string, RegExp][] = [
      ['yes', 'consent', /consent must be an object such as/],
      [{ purpose: ['loyalty'] }, 'consent', /consent has an unknown setting "purpose"/],
      [{ purposes: 'loyalty' }, 'consent.purposes', /must be a list of purpose names/],
      [
        { purposes: ['loyalty', 'Loyalty Club'] },
        'consent.purposes.1',
        /"Loyalty Club" is not a valid purpose name: use lower-case/,
      ],
      [{ categories: ['email'] }, 'consent.categories', /must be an object of category names to purposes/],
      [
        { categories: { C0004: 'ads' } },
        'consent.categories.C0004',
        /"ads" is not a purpose; the purposes are analytics, /,
      ],
      [
        { categories: { C0004: ['advertising', 'loyalty'] } },
        'consent.categories.C0004.1',
        /"loyalty" is not a purpose/,
      ],
      [
        { categories: { C0004: true } },
        'consent.categories.C0004',
        /must be a purpose name or a list of purpose names, not true/,
      ],
      [
        { categories: { Ads: 'advertising', ads: 'advertising' } },
        'consent.categories.ads',
        /same category as "Ads"/,
      ],
      [{ emailDoubleOptIn: 'yes' }, 'consent.emailDoubleOptIn', /must be true or false, not "yes"/],
      [
        { analyticsDefault: 'opt-in' },
        'consent.analyticsDefault',
        /must be "include" or "exclude", not "opt-in"/,
      ],
    ];
    for (const [config, field, message] of cases) {
      assert.throws(
        () => consentRulesFrom(config, 'cible.json'),
        (error: { code: string; field: string; message: string }) => {
          assert.equal(error.code, 'CIBLE_ERR_CONFIG_INVALID');
          assert.equal(error.field, field);
          assert.match(error.message, /^The rules file cible\.json: /);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });
});
