import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { adminToken, removeTestDir, startTestCible, testDataDir, type TestCible } from './helpers.ts';

const day = 86_400_000;
let cible: TestCible;

interface Customer {
  readonly userId: string;
  /** Days since the latest order. */
  readonly recency: number;
  /** Orders. */
  readonly frequency: number;
  /** Sum of the numeric revenues. */
  readonly monetary: number;
  readonly city: 'Paris' | 'Lyon';
  /** Revenues of the orders before the latest one (10 each unless given). */
  readonly earlier?: unknown[];
}

/**
 * Fifteen customers: three per recency score and per monetary score (with 15 customers, ranks
 * 1-3 score 1, 4-6 score 2...), frequencies with ties (four customers with one order all score 1).
 * The group each lands in is in the comment.
 */
const customers: Customer[] = [
  // R5 F5 M5 Champions; a string revenue counts as an order but not as money.
  {
    userId: 'a',
    recency: 1,
    frequency: 7,
    monetary: 1000,
    city: 'Paris',
    earlier: [10, 10, '999', 10, 10, 10],
  },
  // R5 F5 M5 Champions; an order without revenue.
  { userId: 'b', recency: 2, frequency: 5, monetary: 800, city: 'Paris', earlier: [10, undefined, 10, 10] },
  { userId: 'c', recency: 3, frequency: 1, monetary: 40, city: 'Lyon' }, // R5 F1 M1 New Customers
  { userId: 'd', recency: 5, frequency: 6, monetary: 700, city: 'Paris' }, // R4 F5 M5 Champions
  // R4 F4 M4 Loyal Customers; one of the four orders is sent by another origin profile, merged later.
  { userId: 'e', recency: 8, frequency: 4, monetary: 300, city: 'Paris' },
  { userId: 'f', recency: 10, frequency: 1, monetary: 20, city: 'Lyon' }, // R4 F1 M1 Promising
  { userId: 'g', recency: 20, frequency: 4, monetary: 250, city: 'Paris' }, // R3 F4 M4 Loyal Customers
  { userId: 'h', recency: 30, frequency: 3, monetary: 150, city: 'Lyon' }, // R3 F3 M3 Need Attention
  { userId: 'i', recency: 40, frequency: 2, monetary: 60, city: 'Lyon' }, // R3 F2 M2 About to Sleep
  { userId: 'j', recency: 60, frequency: 3, monetary: 400, city: 'Lyon' }, // R2 F3 M4 At Risk
  { userId: 'k', recency: 100, frequency: 1, monetary: 30, city: 'Lyon' }, // R2 F1 M1 Hibernating
  { userId: 'l', recency: 120, frequency: 4, monetary: 200, city: 'Lyon' }, // R2 F4 M3 At Risk
  { userId: 'm', recency: 200, frequency: 3, monetary: 120, city: 'Lyon' }, // R1 F3 M3 At Risk
  { userId: 'n', recency: 300, frequency: 2, monetary: 80, city: 'Lyon' }, // R1 F2 M2 Lost
  { userId: 'o', recency: 400, frequency: 1, monetary: 50, city: 'Lyon' }, // R1 F1 M2 Lost
];
/** People without orders: in the base, not customers. */
const others = ['p', 'q', 'r'];
const everyone = [...customers.map((customer) => customer.userId), ...others];

let sequence = 0;
const ago = (days: number) => new Date(Date.now() - days * day).toISOString();
const messageId = () => `m${++sequence}`;
const track = (
  who: { userId?: string; anonymousId?: string },
  event: string,
  days: number,
  properties = {},
) => ({
  type: 'track',
  event,
  ...who,
  messageId: messageId(),
  timestamp: ago(days),
  properties,
});
const identify = (userId: string, days: number, traits: Record<string, unknown>) => ({
  type: 'identify',
  userId,
  messageId: messageId(),
  timestamp: ago(days),
  traits,
});

/** The orders of a customer: the latest `recency` days ago, the earlier ones a day apart before it. */
function orders(customer: Customer) {
  const earlier = customer.earlier ?? Array.from({ length: customer.frequency - 1 }, () => 10);
  const earlierSum = earlier.reduce<number>((sum, value) => sum + (typeof value === 'number' ? value : 0), 0);
  const revenues = [customer.monetary - earlierSum, ...earlier];
  return revenues.map((revenue, index) =>
    track(
      { userId: customer.userId },
      'Order Completed',
      customer.recency + index,
      revenue === undefined ? { currency: 'EUR' } : { revenue, currency: 'EUR' },
    ),
  );
}

async function call<T>(url: string): Promise<{ status: number; body: T }> {
  const response = await cible.app.inject({
    method: 'GET',
    url,
    headers: { authorization: `Bearer ${adminToken}` },
  });
  return { status: response.statusCode, body: response.json<T>() };
}

const profileIds = new Map<string, number>();
const idOf = (userId: string): number => profileIds.get(userId)!;
const round = (value: number) => Math.round(value * 1e9) / 1e9;

before(async () => {
  // The CRM's plan beats the web's (a trait with a source order).
  const dataDir = await testDataDir();
  await writeFile(
    join(dataDir, 'cible.json'),
    JSON.stringify({ traits: { sourcePriority: { plan: ['crm', 'web'] } } }),
  );
  cible = await startTestCible({ CIBLE_SEGMENT_REFRESH_SECONDS: '0' }, dataDir);
  const web = await cible.createSource('web');
  const crm = await cible.createSource('crm');
  const plans: Record<string, string> = { a: 'gold', b: 'gold', d: 'gold', e: 'gold', k: 'gold' };
  await cible.sendBatch(web, [
    ...everyone.map((userId) => {
      const customer = customers.find((candidate) => candidate.userId === userId);
      return identify(userId, 90, {
        city: customer?.city ?? 'Lyon',
        ...(plans[userId] === undefined ? {} : { plan: plans[userId] }),
        // Held by two members only: too few to be given.
        ...(userId === 'a' || userId === 'b' ? { newsletter: true } : {}),
      });
    }),
    // The latest value is the one a person shows: g moved to Paris, h left it.
    identify('g', 95, { city: 'Lyon' }),
    identify('h', 95, { city: 'Paris' }),
    identify('h', 50, { city: 'Lyon' }),
    // firstCampaign keeps its first value (a first-touch trait).
    ...['a', 'b', 'd', 'g', 'c'].map((userId) => identify(userId, 80, { firstCampaign: 'spring' })),
    ...['a', 'b', 'd', 'g', 'c'].map((userId) => identify(userId, 10, { firstCampaign: 'summer' })),
    ...customers.flatMap((customer) =>
      customer.userId === 'e' ? orders(customer).slice(0, 3) : orders(customer),
    ),
    track({ userId: 'c' }, 'Order Refunded', 2),
    ...['a', 'a', 'b', 'd', 'j'].map((userId) => track({ userId }, 'Wishlist Added', 4)),
    track({ userId: 'k' }, 'Wishlist Added', 95),
    ...['a', 'b'].map((userId) => track({ userId }, 'Gift Card Bought', 6)),
    ...everyone.map((userId) => ({
      type: 'page',
      userId,
      name: 'Home',
      messageId: messageId(),
      timestamp: ago(7),
    })),
  ]);
  await cible.sendBatch(crm, [identify('j', 90, { plan: 'gold' })]);
  await cible.sendBatch(web, [identify('j', 5, { plan: 'silver' })]);
  // e's fourth order and a wishlist from a device not known to be e's yet, then the two are linked.
  await cible.sendBatch(web, [
    track({ anonymousId: 'e-phone' }, 'Order Completed', 11, { revenue: 10 }),
    track({ anonymousId: 'e-phone' }, 'Wishlist Added', 3),
  ]);
  await cible.sendBatch(web, [
    {
      type: 'identify',
      userId: 'e',
      anonymousId: 'e-phone',
      messageId: messageId(),
      timestamp: ago(1),
      traits: {},
    },
  ]);
  for (const userId of everyone) {
    profileIds.set(
      userId,
      (await cible.admin<{ id: number }>(`/api/profiles?identifier=userId:${userId}`)).id,
    );
  }
  const phone = await cible.admin<{ id: number }>('/api/profiles?identifier=anonymousId:e-phone');
  assert.equal(phone.id, idOf('e'), 'the two profiles of e are merged');
});
after(async () => {
  await cible.close();
  await removeTestDir(cible.dataDir);
});

interface Rfm {
  asOf: string;
  customers: number;
  groups: {
    name: string;
    description: string;
    customers: number;
    share: number;
    recencyDays: number | null;
    frequency: number | null;
    monetary: number | null;
  }[];
  grid: number[][];
  scores: Record<
    'recency' | 'frequency' | 'monetary',
    { score: number; customers: number; min: number | null; max: number | null }[]
  >;
}

interface Card {
  id: number;
  identifiers: { type: string; value: string }[];
  traits: Record<string, unknown>;
  r: number;
  f: number;
  m: number;
  recencyDays: number;
  frequency: number;
  monetary: number;
}

interface Members {
  group: string;
  profiles: Card[];
  nextCursor: number | null;
}

describe('RFM', () => {
  test('scores every customer and counts the grid and the groups', async () => {
    const { status, body } = await call<Rfm>('/api/analysis/rfm');
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(Math.abs(Date.parse(body.asOf) - Date.now()) < 60_000);
    assert.equal(body.customers, 15);
    assert.deepEqual(body.grid, [
      [1, 1, 1, 0, 0], // R1: o, n, m
      [1, 0, 1, 1, 0], // R2: k, j, l
      [0, 1, 1, 1, 0], // R3: i, h, g
      [1, 0, 0, 1, 1], // R4: f, e, d
      [1, 0, 0, 0, 2], // R5: c, a and b
    ]);
    assert.equal(
      body.grid.flat().reduce((sum, count) => sum + count, 0),
      body.customers,
    );

    const groups = Object.fromEntries(body.groups.map((group) => [group.name, group]));
    assert.deepEqual(
      body.groups.map((group) => [group.name, group.customers]),
      [
        ['Champions', 3],
        ['Loyal Customers', 2],
        ['Potential Loyalists', 0],
        ['New Customers', 1],
        ['Promising', 1],
        ['Need Attention', 1],
        ['About to Sleep', 1],
        ['At Risk', 3],
        ["Can't Lose Them", 0],
        ['Hibernating', 1],
        ['Lost', 2],
      ],
    );
    assert.deepEqual(
      { ...groups.Champions, description: undefined, monetary: round(groups.Champions!.monetary!) },
      {
        name: 'Champions',
        description: undefined,
        customers: 3,
        share: 0.2,
        recencyDays: (1 + 2 + 5) / 3,
        frequency: (7 + 5 + 6) / 3,
        monetary: round((1000 + 800 + 700) / 3),
      },
    );
    assert.deepEqual(
      [groups.Lost!.recencyDays, groups.Lost!.frequency, groups.Lost!.monetary],
      [(300 + 400) / 2, (2 + 1) / 2, (80 + 50) / 2],
    );
    assert.deepEqual(
      [groups['Potential Loyalists']!.share, groups['Potential Loyalists']!.recencyDays],
      [0, null],
    );
    assert.match(groups['At Risk']!.description, /win them back/);

    const range = (values: [number, number, number][]) =>
      values.map(([customersWithScore, min, max], index) => ({
        score: index + 1,
        customers: customersWithScore,
        min,
        max,
      }));
    assert.deepEqual(body.scores, {
      recency: range([
        [3, 200, 400],
        [3, 60, 120],
        [3, 20, 40],
        [3, 5, 10],
        [3, 1, 3],
      ]),
      // Ties share a score: the four single orders all score 1, and frequency 2 starts at rank 5.
      frequency: range([
        [4, 1, 1],
        [2, 2, 2],
        [3, 3, 3],
        [3, 4, 4],
        [3, 5, 7],
      ]),
      monetary: range([
        [3, 20, 40],
        [3, 50, 80],
        [3, 120, 200],
        [3, 250, 400],
        [3, 700, 1000],
      ]),
    });
  });

  test('the members of a group, as cards with their scores, page by page', async () => {
    const first = await call<Members>('/api/analysis/rfm/members?group=Champions&limit=2');
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const champions = ['a', 'b', 'd'].map(idOf).sort((x, y) => x - y);
    assert.deepEqual(
      first.body.profiles.map((card) => card.id),
      champions.slice(0, 2),
    );
    assert.equal(first.body.nextCursor, champions[1]);
    const rest = await call<Members>(
      `/api/analysis/rfm/members?group=Champions&limit=2&cursor=${first.body.nextCursor}`,
    );
    assert.deepEqual(
      rest.body.profiles.map((card) => card.id),
      champions.slice(2),
    );
    assert.equal(rest.body.nextCursor, null);

    const a = [...first.body.profiles, ...rest.body.profiles].find((card) => card.id === idOf('a'))!;
    assert.deepEqual(
      { r: a.r, f: a.f, m: a.m, recencyDays: a.recencyDays, frequency: a.frequency, monetary: a.monetary },
      { r: 5, f: 5, m: 5, recencyDays: 1, frequency: 7, monetary: 1000 },
    );
    assert.deepEqual(a.identifiers, [{ type: 'userId', value: 'a' }]);
    assert.equal(a.traits.city, 'Paris');

    // e's orders from both of its origin profiles count together.
    const loyal = await call<Members>(
      `/api/analysis/rfm/members?group=${encodeURIComponent('Loyal Customers')}`,
    );
    const e = loyal.body.profiles.find((card) => card.id === idOf('e'))!;
    assert.deepEqual(
      loyal.body.profiles.map((card) => card.id).sort((x, y) => x - y),
      [idOf('e'), idOf('g')].sort((x, y) => x - y),
    );
    assert.deepEqual([e.r, e.f, e.m, e.frequency, e.monetary], [4, 4, 4, 4, 300]);

    const atRisk = await call<Members>(`/api/analysis/rfm/members?group=At%20Risk`);
    assert.deepEqual(
      atRisk.body.profiles.map((card) => [card.id, card.r, card.f, card.m]),
      [
        [idOf('j'), 2, 3, 4],
        [idOf('l'), 2, 4, 3],
        [idOf('m'), 1, 3, 3],
      ].sort((x, y) => x[0]! - y[0]!),
    );
    const hibernating = await call<Members>('/api/analysis/rfm/members?group=Hibernating');
    assert.deepEqual(
      hibernating.body.profiles.map((card) => [card.id, card.recencyDays, card.r, card.f, card.m]),
      [[idOf('k'), 100, 2, 1, 1]],
    );
  });

  test('another amount property, and an event nobody sent', async () => {
    // No order has a `total`: every customer has 0, and the tie gives everyone M1.
    const total = await call<Rfm>('/api/analysis/rfm?property=total');
    assert.equal(total.body.customers, 15);
    assert.deepEqual(total.body.scores.monetary[0], { score: 1, customers: 15, min: 0, max: 0 });
    assert.deepEqual(total.body.scores.monetary[4], { score: 5, customers: 0, min: null, max: null });

    const none = await call<Rfm>(`/api/analysis/rfm?event=${encodeURIComponent('Subscription Started')}`);
    assert.equal(none.body.customers, 0);
    assert.equal(none.body.groups.length, 11);
    assert.ok(none.body.groups.every((group) => group.customers === 0 && group.monetary === null));
    assert.deepEqual(
      none.body.grid.flat(),
      Array.from({ length: 25 }, () => 0),
    );

    // A customer alone ranks first and last at once: percent_rank is 0, so R1 F1, Lost.
    const refunded = await call<Members>('/api/analysis/rfm/members?group=Lost&event=Order%20Refunded');
    assert.deepEqual(
      refunded.body.profiles.map((card) => [
        card.id,
        card.r,
        card.f,
        card.m,
        card.recencyDays,
        card.monetary,
      ]),
      [[idOf('c'), 1, 1, 1, 2, 0]],
    );
  });

  test('an unknown group is refused with the names to use', async () => {
    const { status, body } = await call<{ error: { code: string; message: string; field: string } }>(
      '/api/analysis/rfm/members?group=Champs',
    );
    assert.equal(status, 400);
    assert.equal(body.error.code, 'CIBLE_ERR_API_INVALID_REQUEST');
    assert.equal(body.error.field, 'querystring.group');
    assert.match(body.error.message, /"Champs"/);
    assert.match(body.error.message, /Champions, Loyal Customers, .*Can't Lose Them, Hibernating, Lost/);
  });
});

interface Report {
  segment: { id: string; name: string };
  members: number;
  base: number;
  since: string;
  traits: {
    name: string;
    value: unknown;
    members: number;
    memberShare: number;
    baseShare: number;
    lift: number;
  }[];
  events: {
    type: string;
    event: string;
    members: number;
    memberShare: number;
    baseShare: number;
    lift: number;
    perMember: number;
    perPerson: number;
  }[];
}

describe('what distinguishes a segment', () => {
  test('trait values and events members have more than the base, highest lift first', async () => {
    const created = await cible.app.inject({
      method: 'POST',
      url: '/api/segments',
      headers: { authorization: `Bearer ${adminToken}` },
      payload: { name: 'Parisians', rule: 'trait city = "Paris"' },
    });
    assert.equal(created.statusCode, 201, created.body);
    const segment = created.json<{ id: string; size: number }>();
    assert.equal(segment.size, 5); // a, b, d, e, g

    const { status, body } = await call<Report>(`/api/analysis/segments/${segment.id}/distinguishing`);
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.segment, { id: segment.id, name: 'Parisians' });
    // 18 people: 15 customers and 3 others; e's two origin profiles are one person.
    assert.deepEqual([body.members, body.base], [5, 18]);
    assert.ok(Math.abs(Date.parse(body.since) - (Date.now() - 90 * day)) < 60_000);

    const rounded = <T extends { memberShare: number; baseShare: number; lift: number }>(rows: T[]) =>
      rows.map((row) => ({
        ...row,
        memberShare: round(row.memberShare),
        baseShare: round(row.baseShare),
        lift: round(row.lift),
      }));
    // newsletter (two members only) and city Lyon (no member) are left out.
    assert.deepEqual(rounded(body.traits), [
      { name: 'city', value: 'Paris', members: 5, memberShare: 1, baseShare: round(5 / 18), lift: 3.6 },
      // The first value (spring), not the latest (summer): c holds it too.
      {
        name: 'firstCampaign',
        value: 'spring',
        members: 4,
        memberShare: 0.8,
        baseShare: round(5 / 18),
        lift: 2.88,
      },
      // j's plan is gold from the CRM, though the web said silver since.
      { name: 'plan', value: 'gold', members: 4, memberShare: 0.8, baseShare: round(6 / 18), lift: 2.4 },
    ]);

    // Gift Card Bought (two members) and Order Refunded (none) are left out; k's wishlist is too old.
    assert.deepEqual(rounded(body.events), [
      {
        type: 'track',
        event: 'Wishlist Added',
        // a (twice), b, d, and e from the phone merged into it; j outside.
        members: 4,
        memberShare: 0.8,
        baseShare: round(5 / 18),
        lift: 2.88,
        perMember: 5 / 5,
        perPerson: 6 / 18,
      },
      {
        type: 'track',
        event: 'Order Completed',
        // Customers a to j ordered in the last 90 days: 7 + 5 + 6 + 4 + 4 by members, 36 in all.
        members: 5,
        memberShare: 1,
        baseShare: round(10 / 18),
        lift: 1.8,
        perMember: 26 / 5,
        perPerson: 36 / 18,
      },
      {
        type: 'page',
        event: 'page',
        members: 5,
        memberShare: 1,
        baseShare: 1,
        lift: 1,
        perMember: 1,
        perPerson: 1,
      },
    ]);
  });

  test('an unknown segment is not found', async () => {
    const { status, body } = await call<{ error: { code: string } }>(
      '/api/analysis/segments/seg_nope/distinguishing',
    );
    assert.equal(status, 404);
    assert.equal(body.error.code, 'CIBLE_ERR_SEGMENT_NOT_FOUND');
  });

  test('the routes are in the OpenAPI document', async () => {
    const doc = await call<{ paths: Record<string, { get?: { summary?: string; description?: string } }> }>(
      '/api/openapi.json',
    );
    for (const path of [
      '/api/analysis/rfm',
      '/api/analysis/rfm/members',
      '/api/analysis/segments/{id}/distinguishing',
    ]) {
      assert.ok(doc.body.paths[path]?.get?.summary, path);
      assert.ok(doc.body.paths[path]?.get?.description, path);
    }
  });
});
