import assert from 'node:assert/strict';
import { before, after, describe, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  consentOf,
  defaultConsentRules,
  foldConsent,
  type ConsentObservation,
  type ConsentRules,
  type ConsentStatus,
} from '../../domain/consent.ts';
import { mergeTraits, type TraitRules, type TraitValue } from '../../domain/traits.ts';
import {
  evaluateExpression,
  evaluateRule,
  type ProfileView,
  type ViewEvent,
} from '../../segments/evaluate-rule.ts';
import { dependenciesOf } from '../../segments/rule-dependencies.ts';
import { consentTests, parseIsoDate, type EventExpression, type Rule } from '../../segments/rule.ts';
import { parseRule } from '../../segments/segment-text.ts';
import { compileExpressionQuery, compileSegmentQuery, isoMs } from './duckdb-segment-sql.ts';
import { createDuckdbSegmentStore } from './duckdb-segments.ts';
import { migrate } from './duckdb-store.ts';
import { insertIntoEventPartitions } from './event-partitions.ts';
import {
  fixturePurposes,
  generatorKinds,
  mulberry32,
  randomExpression,
  randomRule,
  type Random,
} from '../../segments/rule.fixture.ts';

const day = 86_400_000;
const now = Date.UTC(2026, 5, 15, 12);
const traitRules: TraitRules = {
  firstTouch: ['firstSeen'],
  sourcePriority: { plan: ['crm', 'web'] },
};

interface Dataset {
  readonly origins: number;
  /** Origin → the profile it is part of, for merged origins. */
  readonly merged: Map<number, number>;
  readonly traits: (TraitValue & { origin: number })[];
  readonly identities: { origin: number; type: string }[];
  readonly events: (ViewEvent & { origin: number })[];
  /** Consent changes in recording order (seq), of origin profiles. */
  readonly consent: (ConsentObservation & { origin: number; seq: number })[];
}

/** Both settings of the double opt-in: every consent rule is judged under each. */
const consentSettings: readonly ConsentRules[] = [
  { ...defaultConsentRules, emailDoubleOptIn: false },
  { ...defaultConsentRules, emailDoubleOptIn: true },
];

const pick = <T>(random: Random, values: readonly T[]): T => values[Math.floor(random() * values.length)]!;

const traitValues: Record<string, readonly unknown[]> = {
  city: ['Paris', 'Lyon', 'paris', 'Nantes', '', null, 3],
  age: [17, 18, 30, 45.5, '30', null, true],
  tags: [['vip', 'new'], ['new'], [], 'vip-club', ['vip', 3], { vip: true }],
  plan: ['pro', 'team', 'free', false],
  birthday: [
    '1990-04-01',
    '2001-12-31T10:00:00Z',
    '2026-06-01',
    '2026-05-20T08:30:00+02:00',
    'not a date',
    '2026-02-30',
    19900401,
  ],
  vip: [true, false, 'true'],
  firstSeen: ['2025-01-01T00:00:00Z', '2026-03-01T00:00:00Z'],
};

function generate(random: Random): Dataset {
  const origins = 80;
  const merged = new Map<number, number>();
  for (let origin = 2; origin <= origins; origin++) {
    if (random() < 0.2) merged.set(origin, 1 + Math.floor(random() * (origin - 1)));
  }
  // A merged origin's profile is itself unmerged: follow the chain.
  for (const [origin, profile] of merged) {
    let root = profile;
    while (merged.has(root)) root = merged.get(root)!;
    merged.set(origin, root);
  }
  const traits: Dataset['traits'] = [];
  let at = now - 400 * day;
  for (let origin = 1; origin <= origins; origin++) {
    for (const [name, values] of Object.entries(traitValues)) {
      const observations = Math.floor(random() * 3);
      for (let i = 0; i < observations; i++) {
        at += Math.floor(random() * 3) * 60_000; // some observations share a time
        traits.push({
          origin,
          name,
          value: pick(random, values),
          sourceId: pick(random, ['crm', 'web', 'app']),
          at,
          messageId: `m${traits.length}`,
        });
      }
    }
  }
  const identities: Dataset['identities'] = [];
  for (let origin = 1; origin <= origins; origin++) {
    for (const type of ['email', 'phone', 'userId']) if (random() < 0.4) identities.push({ origin, type });
  }
  const events: Dataset['events'] = [];
  for (let origin = 1; origin <= origins; origin++) {
    const count = Math.floor(random() * 8);
    for (let i = 0; i < count; i++) {
      const properties: Record<string, unknown> = {};
      if (random() < 0.8) properties.revenue = pick(random, [10, 25, 99.5, 250, 0, -5, '40']);
      if (random() < 0.7) properties.category = pick(random, ['shoes', 'hats', 'Shoes']);
      if (random() < 0.5) properties.product = { price: pick(random, [5, 50, 500]), tags: ['sale'] };
      events.push({
        seq: events.length,
        origin,
        type: pick(random, ['track', 'track', 'track', 'page']),
        event: pick(random, ['Order Completed', 'Order Completed', 'Product Viewed', 'Signed Up']),
        // Whole minutes, some on the day boundaries windows use.
        timestamp: now - Math.floor(random() * 200) * day - pick(random, [0, 0, 60_000, 3_600_000]),
        properties,
      });
    }
  }
  // Consent changes of random origins, so that a merged profile's origins interleave in recording
  // order; times from a few days apart, so that many tie and many arrive out of order.
  const consent: Dataset['consent'] = [];
  const days = [0, 0, 1, 2, 3, 5, 8, 13];
  for (let seq = 1; seq <= 320; seq++) {
    const purpose = pick(random, [...fixturePurposes, 'email', 'email']);
    const state = random() < 0.6 ? 'granted' : 'denied';
    // A denial resets the double opt-in whatever it says: some say one anyway.
    const doubleOptIn =
      purpose === 'email' && random() < (state === 'granted' ? 0.6 : 0.15)
        ? pick(random, ['pending', 'confirmed'] as const)
        : undefined;
    consent.push({
      seq,
      origin: 1 + Math.floor(random() * origins),
      purpose,
      state,
      ...(doubleOptIn === undefined ? {} : { doubleOptIn }),
      at: now - 30 * day + pick(random, days) * day,
      sourceId: pick(random, ['web', 'crm']),
      messageId: `c${seq}`,
      method: pick(random, ['sdk', 'event', 'api', 'import'] as const),
      ...(random() < 0.3 ? { detail: 'form' } : {}),
    });
  }
  return { origins, merged, traits, identities, events, consent };
}

const profileOf = (data: Dataset, origin: number): number => data.merged.get(origin) ?? origin;

function views(data: Dataset): Map<number, ProfileView> {
  const result = new Map<
    number,
    {
      traits: TraitValue[];
      identifierTypes: Set<string>;
      events: ViewEvent[];
      consent: ConsentObservation[];
    }
  >();
  const of = (origin: number) => {
    const profile = profileOf(data, origin);
    let view = result.get(profile);
    if (view === undefined) {
      view = { traits: [], identifierTypes: new Set(), events: [], consent: [] };
      result.set(profile, view);
    }
    return view;
  };
  for (let origin = 1; origin <= data.origins; origin++) of(origin);
  for (const trait of data.traits) of(trait.origin).traits.push(trait);
  for (const identity of data.identities) of(identity.origin).identifierTypes.add(identity.type);
  for (const event of data.events) of(event.origin).events.push(event);
  for (const change of data.consent) of(change.origin).consent.push(change);
  return new Map(
    [...result].map(([profile, view]) => [
      profile,
      {
        traits: new Map(
          [...mergeTraits(view.traits, traitRules)].map(([name, trait]) => [name, trait.value]),
        ),
        identifierTypes: view.identifierTypes,
        events: view.events,
        consent: foldConsent(view.consent),
      },
    ]),
  );
}

const sql = (value: string | null | undefined): string =>
  value === null || value === undefined ? 'NULL' : `'${value.replaceAll("'", "''")}'`;

async function load(connection: DuckDBConnection, data: Dataset): Promise<void> {
  await migrate(connection);
  const ids = Array.from({ length: data.origins }, (_, index) => index + 1);
  await connection.run(`INSERT INTO profiles SELECT unnest(${sql(`[${ids.join(',')}]`)}::BIGINT[]), now()`);
  // One row at a time, in order: ties between traits go to the one recorded last.
  const traitRows = data.traits.map(
    (trait) =>
      `(${trait.origin}, ${sql(trait.name)}, ${sql(JSON.stringify(trait.value))}, ${sql(trait.sourceId)}, ` +
      `${sql(new Date(trait.at).toISOString())}, ${sql(trait.messageId)})`,
  );
  await connection.run(`INSERT INTO trait_observations VALUES ${traitRows.join(',')}`);
  const identityRows = data.identities.map(
    (identity, index) =>
      `(${sql(identity.type)}, 'v${index}', ${identity.origin}, '2026-01-01T00:00:00Z', 'crm', 'i${index}')`,
  );
  await connection.run(`INSERT INTO identities VALUES ${identityRows.join(',')}`);
  const eventRows = data.events.map(
    (event, index) =>
      `(${event.seq}, 'web', 'e${index}', ${sql(event.type)}, ${sql(event.event)}, ${sql(new Date(event.timestamp).toISOString())}, ` +
      `${sql(new Date(event.timestamp).toISOString())}, ${sql(JSON.stringify(event.properties))}, ${event.origin})`,
  );
  const eventColumns =
    'seq, source_id, message_id, type, event, timestamp, received_at, properties, profile_id';
  const values = `(SELECT * FROM (VALUES ${eventRows.join(',')}) AS v(${eventColumns}))`;
  for (const statement of insertIntoEventPartitions(eventColumns, values)) await connection.run(statement);
  const consentRows = data.consent.map(
    (change) =>
      `(${change.seq}, ${change.origin}, ${sql(change.purpose)}, ${sql(change.state)}, ${sql(change.doubleOptIn)}, ` +
      `${sql(new Date(change.at).toISOString())}, ${sql(change.sourceId)}, ${sql(change.messageId)}, ` +
      `${sql(change.method)}, ${sql(change.detail)})`,
  );
  await connection.run(
    `INSERT INTO consent_changes
       (seq, profile_id, purpose, state, double_opt_in, expressed_at, source_id, message_id, method, detail)
     VALUES ${consentRows.join(',')}`,
  );
}

/** A rule and every rule inside it. */
function subtrees(rule: Rule): Rule[] {
  if (rule.kind === 'and' || rule.kind === 'or') return [rule, ...rule.rules.flatMap(subtrees)];
  if (rule.kind === 'not') return [rule, ...subtrees(rule.rule)];
  return [rule];
}

describe('segment rules in DuckDB and in memory', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  const random = mulberry32(20261203);
  const data = generate(random);
  const profileViews = views(data);
  const segments = new Map<string, Rule>();
  const segmentRule = (name: string) => segments.get(name);
  const computed = new Map<string, EventExpression>();
  const computedTrait = (name: string) => computed.get(name);
  const merged = {
    origins: [...data.merged.keys()],
    profiles: [...data.merged.values()],
  };

  before(async () => {
    for (let i = 0; i < 6; i++) computed.set(`c${i}`, randomExpression(random));
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
    await load(connection, data);
    segments.set('VIP', { kind: 'trait', name: 'vip', test: { op: '=', value: true } });
    segments.set('Reachable', parseRule('consent email or consent sms is granted'));
    segments.set('Buyers', {
      kind: 'event',
      aggregate: 'count',
      event: 'Order Completed',
      where: [],
      window: { kind: 'last', duration: { amount: 90, unit: 'days' } },
      op: '>=',
      value: 2,
    });
  });

  after(() => {
    connection.closeSync();
    instance.closeSync();
  });

  async function inSql(rule: Rule, consentRules = consentSettings[0]): Promise<number[]> {
    const query = compileSegmentQuery(rule, {
      now,
      traitRules,
      segmentRule,
      merged,
      computedTrait,
      consentRules,
    });
    const rows = (await connection.runAndReadAll(query.sql, query.params)).getRowObjects();
    return rows.map((row) => Number(row.profile)).sort((a, b) => a - b);
  }

  function inMemory(rule: Rule, consentRules = consentSettings[0]): number[] {
    return [...profileViews]
      .filter(([, view]) => evaluateRule(rule, view, { now, segmentRule, computedTrait, consentRules }))
      .map(([profile]) => profile)
      .sort((a, b) => a - b);
  }

  /** The settings a rule is judged under: both double opt-in settings when it reads consent. */
  function settingsFor(rule: Rule): readonly ConsentRules[] {
    const reads = dependenciesOf(rule, { segmentRule, computedTrait }).consent.size > 0;
    return reads ? consentSettings : consentSettings.slice(0, 1);
  }

  test('the sentences of the documentation select the same profiles', async () => {
    const rules = [
      'trait city = "Paris" and count(event "Order Completed" in last 30 days) >= 1',
      'sum(event "Order Completed".revenue in last 90 days) > 200 and not in segment "VIP"',
    ].map((text) => parseRule(text));
    for (const rule of rules) {
      const members = inMemory(rule);
      assert.ok(members.length > 0, `${JSON.stringify(rule)} selects someone`);
      assert.deepEqual(await inSql(rule), members, JSON.stringify(rule));
    }
  });

  test('every node of the language: both evaluators select the same profiles on generated rules', async () => {
    const covered = new Set<string>();
    let nonTrivial = 0;
    const rules = 200;
    const checked = new Set<string>();
    for (let i = 0; i < rules; i++) {
      // Every subtree on its own too: a wrong condition would often be hidden inside and/or/not.
      for (const rule of subtrees(
        randomRule(random, {
          segments: [...segments.keys()],
          covered,
          depth: 2,
          computedTraits: [...computed.keys()],
        }),
      )) {
        const key = JSON.stringify(rule);
        if (checked.has(key)) continue;
        checked.add(key);
        for (const consentRules of settingsFor(rule)) {
          const expected = inMemory(rule, consentRules);
          assert.deepEqual(
            await inSql(rule, consentRules),
            expected,
            `rule ${i} (emailDoubleOptIn ${consentRules.emailDoubleOptIn}): ${key}`,
          );
          if (
            consentRules === consentSettings[0] &&
            expected.length > 0 &&
            expected.length < profileViews.size
          )
            nonTrivial += 1;
        }
      }
    }
    assert.deepEqual(
      generatorKinds.filter((kind) => !covered.has(kind)),
      [],
      'the generated rules cover every node, operator, window and date form',
    );
    assert.ok(nonTrivial > checked.size / 4, `${nonTrivial} of ${checked.size} rules split the profiles`);
  });

  test('the consent data holds ties, late arrivals, merged origins that disagree, every double opt-in', () => {
    const byProfile = new Map<number, Dataset['consent']>();
    for (const change of data.consent) {
      const profile = profileOf(data, change.origin);
      byProfile.set(profile, [...(byProfile.get(profile) ?? []), change]);
    }
    let ties = 0;
    let late = 0;
    let disagreeing = 0;
    for (const changes of byProfile.values()) {
      for (const [index, change] of changes.entries()) {
        const earlier = changes.slice(0, index).filter((other) => other.purpose === change.purpose);
        if (earlier.some((other) => other.at === change.at && other.state !== change.state)) ties += 1;
        if (earlier.some((other) => other.at > change.at)) late += 1;
      }
      const origins = [...new Set(changes.map((change) => change.origin))];
      const alone = origins.map((origin) =>
        foldConsent(changes.filter((change) => change.origin === origin)),
      );
      const disagree = (purpose: string) =>
        new Set(alone.map((status) => consentOf(status, purpose)).filter((state) => state !== 'unknown'))
          .size > 1;
      if (origins.length > 1 && fixturePurposes.some(disagree)) disagreeing += 1;
    }
    const emailGranted = [...profileViews.values()]
      .map((view) => view.consent)
      .filter((status) => consentOf(status, 'email') === 'granted');
    const doubleOptIn = (state: string | undefined) =>
      emailGranted.filter((status: ConsentStatus) => status.doubleOptIn?.state === state).length;
    const counts = {
      ties,
      late,
      disagreeing,
      pending: doubleOptIn('pending'),
      confirmed: doubleOptIn('confirmed'),
      resetByDenial: doubleOptIn('none'),
      neverAsked: doubleOptIn(undefined),
    };
    for (const [what, count] of Object.entries(counts))
      assert.ok(count > 0, `${what}: ${JSON.stringify(counts)}`);
  });

  test('consent: every purpose and test selects the same profiles, with and without double opt-in', async () => {
    const selected = new Map<string, number[]>();
    for (const purpose of [...fixturePurposes, 'push']) {
      for (const test of consentTests) {
        for (const consentRules of consentSettings) {
          const rule: Rule = { kind: 'consent', purpose, test };
          const expected = inMemory(rule, consentRules);
          const key = `${purpose} ${test} ${consentRules.emailDoubleOptIn}`;
          assert.deepEqual(await inSql(rule, consentRules), expected, key);
          selected.set(key, expected);
        }
      }
    }
    const size = (key: string) => selected.get(key)?.length ?? 0;
    // Double opt-in narrows email only, and only `consent email`.
    assert.ok(size('email may-use true') > 0);
    assert.ok(size('email may-use true') < size('email may-use false'));
    assert.equal(size('email may-use false'), size('email granted false'));
    assert.equal(size('email granted true'), size('email granted false'));
    assert.equal(size('sms may-use true'), size('sms may-use false'));
    for (const purpose of fixturePurposes) {
      const split = ['granted', 'denied', 'unknown'].map((test) => size(`${purpose} ${test} false`));
      assert.ok(
        split.every((count) => count > 0),
        `${purpose}: ${split.join(', ')}`,
      );
      assert.equal(
        split.reduce((a, b) => a + b),
        profileViews.size,
      );
    }
    assert.equal(size('push unknown false'), profileViews.size);
  });

  test('real time reads the same consent: readProfileViews folds what the SQL folds', async () => {
    const store = await createDuckdbSegmentStore(connection, connection);
    const groups = new Map<number, number[]>();
    for (let origin = 1; origin <= data.origins; origin++) {
      const profile = profileOf(data, origin);
      groups.set(profile, [...(groups.get(profile) ?? []), origin]);
    }
    const purposes = ['email', 'sms', 'analytics'];
    const read = await store.readProfileViews(groups, { events: [], traits: [], consent: purposes });
    assert.equal(read.size, profileViews.size);
    for (const [profile, view] of profileViews) {
      const expected = Object.fromEntries(
        Object.entries(view.consent.purposes).filter(([purpose]) => purposes.includes(purpose)),
      );
      const consent = read.get(profile)?.consent;
      assert.deepEqual(consent?.purposes, expected, `profile ${profile}`);
      assert.deepEqual(consent?.doubleOptIn, view.consent.doubleOptIn, `profile ${profile}`);
    }
    const none = await store.readProfileViews(groups, { events: [], traits: [], consent: [] });
    assert.deepEqual(none.get(1)?.consent, { purposes: {} });
  });

  test('computed traits: both evaluators give every profile the same value', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 120; i++) {
      const expression = randomExpression(random);
      seen.add(`${expression.aggregate}:${expression.property === undefined ? 'time' : 'property'}`);
      const query = compileExpressionQuery(expression, { now, traitRules, segmentRule, merged });
      const rows = (await connection.runAndReadAll(query.sql, query.params)).getRowObjects();
      const inSqlValues = new Map(
        rows.map((row) => [
          Number(row.profile),
          row.v === null ? null : (JSON.parse(String(row.v)) as unknown),
        ]),
      );
      for (const [profile, view] of profileViews) {
        assert.deepEqual(
          inSqlValues.get(profile),
          evaluateExpression(expression, view.events, now),
          `profile ${profile}, ${JSON.stringify(expression)}`,
        );
      }
    }
    assert.ok(seen.size >= 10, [...seen].join(', '));
  });

  test('dates: DuckDB reads exactly the ISO 8601 texts parseIsoDate reads, to the same millisecond', async () => {
    const texts = [
      '2026-03-01',
      '2026-03-01T10:00',
      '2026-03-01 10:00:30',
      '2026-03-01T10:00:30.5',
      '2026-03-01T10:00:30.123456Z',
      '2026-03-01T10:00:30+02:00',
      '2026-03-01T10:00:30-0530',
      '2026-02-29',
      '2024-02-29',
      '2026-13-01',
      '2026-03-01T24:00:00',
      '2026-03-01T10:60',
      '03/01/2026',
      '2026-3-1',
      '',
    ];
    const rows = (
      await connection.runAndReadAll(
        `SELECT t, ${isoMs('t')} AS ms
         FROM unnest(${sql(JSON.stringify(texts))}::JSON::VARCHAR[]) AS texts(t)`,
      )
    ).getRowObjects();
    for (const row of rows) {
      const text = String(row.t);
      assert.equal(row.ms === null ? undefined : Number(row.ms), parseIsoDate(text), text);
    }
  });
});
