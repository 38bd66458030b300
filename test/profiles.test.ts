import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EventOutput } from '../src/domain/events.ts';
import { basic, startTestCible, type TestCible } from './helpers.ts';

let cible: TestCible;
let web: string;
let shop: string;
let crm: string;

before(async () => {
  cible = await startTestCible();
  web = await cible.createSource('web');
  shop = await cible.createSource('shop');
  crm = await cible.createSource('crm');
});
after(() => cible.close());

async function send(writeKey: string, batch: Record<string, unknown>[]): Promise<void> {
  const response = await cible.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
    payload: JSON.stringify({ batch }),
  });
  assert.equal(response.statusCode, 200, response.body);
  assert.deepEqual(response.json().rejected, []);
}

interface Profile {
  id: number;
  members: number[];
  identifiers: { type: string; value: string }[];
  traits: Record<string, { value: unknown; sourceId: string }>;
  summary: { events: number; purchases: number; revenue: number; sources: string[] };
  merges: {
    absorbed: number;
    survivor: number;
    identifier: { type: string; value: string };
    messageId: string;
  }[];
}

test('phone, laptop, sign-up, shop and CRM become one profile, with its history', async () => {
  const t = (minute: number) => new Date(Date.UTC(2026, 10, 1, 9, minute)).toISOString();
  await send(web, [
    {
      type: 'page',
      anonymousId: 'phone-cookie',
      name: 'Home',
      timestamp: t(0),
      messageId: 'p1',
      context: { campaign: { name: 'autumn' } },
    },
  ]);
  await send(web, [
    { type: 'page', anonymousId: 'laptop-cookie', name: 'Shoes', timestamp: t(5), messageId: 'l1' },
  ]);
  await send(web, [
    {
      type: 'identify',
      anonymousId: 'laptop-cookie',
      userId: 'jane-42',
      timestamp: t(6),
      messageId: 'l2',
      traits: { email: 'Jane.Doe@Gmail.com', firstName: 'Jane' },
    },
  ]);
  await send(web, [
    {
      type: 'track',
      anonymousId: 'phone-cookie',
      userId: 'jane-42',
      event: 'Signed In',
      timestamp: t(9),
      messageId: 'p2',
    },
  ]);
  await send(
    shop,
    [
      {
        type: 'track',
        userId: 'till-7',
        event: 'Order Completed',
        timestamp: t(30),
        messageId: 's1',
        properties: { revenue: 59.9 },
        context: { externalIds: [{ id: 'LC-991', type: 'loyaltyId' }], traits: { phone: '06 12 34 56 78' } },
      },
    ].map((event) => ({ ...event, userId: undefined, anonymousId: 'till-session-1' })),
  );
  await send(crm, [
    {
      type: 'identify',
      userId: 'jane-42',
      timestamp: t(40),
      messageId: 'c1',
      traits: { email: 'janedoe+news@gmail.com', phone: '+33612345678', city: 'Lyon' },
      context: { externalIds: [{ id: 'LC-991', type: 'loyaltyId' }] },
    },
  ]);

  const found = await cible.admin<Profile>('/api/profiles?identifier=email:JANE.DOE@gmail.com');
  assert.deepEqual(found.identifiers.map((identifier) => `${identifier.type}:${identifier.value}`).sort(), [
    'anonymousId:laptop-cookie',
    'anonymousId:phone-cookie',
    'anonymousId:till-session-1',
    'email:janedoe@gmail.com',
    'loyaltyId:LC-991',
    'phone:+33612345678',
    'userId:jane-42',
  ]);
  assert.equal(found.summary.events, 6);
  assert.equal(found.summary.purchases, 1);
  assert.equal(found.summary.revenue, 59.9);
  assert.equal(found.traits.firstName?.value, 'Jane');
  assert.equal(found.traits.city?.value, 'Lyon');
  assert.equal(found.traits.firstCampaign?.value, 'autumn');
  assert.ok(found.merges.length >= 2, 'the merges that made one person are listed');
  assert.ok(found.merges.every((merge) => typeof merge.messageId === 'string'));

  // The same profile by any of its identifiers, and by any of its member ids.
  for (const key of ['userId:jane-42', 'anonymousId:phone-cookie', 'loyaltyId:LC-991', 'phone:0612345678']) {
    assert.equal(
      (await cible.admin<Profile>(`/api/profiles?identifier=${encodeURIComponent(key)}`)).id,
      found.id,
      key,
    );
  }
  for (const member of found.members) {
    assert.equal((await cible.admin<Profile>(`/api/profiles/${member}`)).id, found.id);
  }

  const { events } = await cible.admin<{ events: EventOutput[] }>(`/api/profiles/${found.id}/events`);
  assert.deepEqual(
    events.map((event) => event.messageId),
    ['c1', 's1', 'p2', 'l2', 'l1', 'p1'],
  );
});

test('a shared tablet does not glue two people together', async () => {
  await send(web, [
    {
      type: 'identify',
      userId: 'alice',
      anonymousId: 'family-tablet',
      messageId: 'fa1',
      traits: { email: 'alice@example.com' },
    },
    {
      type: 'identify',
      userId: 'bob',
      anonymousId: 'family-tablet',
      messageId: 'fb1',
      traits: { email: 'bob@example.com' },
    },
  ]);
  const alice = await cible.admin<Profile>('/api/profiles?identifier=userId:alice');
  const bob = await cible.admin<Profile>('/api/profiles?identifier=userId:bob');
  assert.notEqual(alice.id, bob.id);
  assert.ok(alice.identifiers.some((identifier) => identifier.value === 'alice@example.com'));
  assert.ok(!alice.identifiers.some((identifier) => identifier.value === 'bob@example.com'));
  assert.ok(bob.identifiers.some((identifier) => identifier.value === 'bob@example.com'));
});

test('unknown identifiers and profiles answer 404; malformed ones 400', async () => {
  const missing = await cible.app.inject({
    method: 'GET',
    url: '/api/profiles?identifier=email:nobody@example.com',
    headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' },
  });
  assert.equal(missing.statusCode, 404);
  const malformed = await cible.app.inject({
    method: 'GET',
    url: '/api/profiles?identifier=email:not-an-email',
    headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' },
  });
  assert.equal(malformed.statusCode, 400);
  assert.match(malformed.json().error.message, /not an e-mail address/);
  const unauthenticated = await cible.app.inject({ method: 'GET', url: '/api/profiles/1' });
  assert.equal(unauthenticated.statusCode, 401);
});
