import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EventOutput } from '../src/domain/events.ts';
import { basic, removeTestDir, startTestCible, testDataDir, type TestCible } from './helpers.ts';

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
  assert.deepEqual((await cible.sendBatch(writeKey, batch)).rejected, []);
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
  // Six events from four origin profiles (phone, laptop, till, CRM): one person.
  assert.equal((await cible.admin<{ profiles: number }>('/api/stats')).profiles, 1);
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

test('unmerge restores both profiles exactly, and a manual merge joins them again', async () => {
  const headers = { authorization: 'Bearer test-admin-token-0123456789abcdef' };
  await send(web, [
    {
      type: 'identify',
      anonymousId: 'u-a',
      messageId: 'um1',
      traits: { email: 'shared-inbox@example.com', plan: 'gold' },
    },
    { type: 'track', anonymousId: 'u-a', event: 'Viewed', messageId: 'um2' },
    {
      type: 'identify',
      anonymousId: 'u-b',
      messageId: 'um3',
      traits: { phone: '+33699999999', city: 'Nantes' },
    },
    { type: 'track', anonymousId: 'u-b', event: 'Clicked', messageId: 'um4' },
  ]);
  const a = await cible.admin<Profile>('/api/profiles?identifier=anonymousId:u-a');
  const b = await cible.admin<Profile>('/api/profiles?identifier=anonymousId:u-b');
  assert.notEqual(a.id, b.id);

  // A wrong link: b's device reports a's e-mail.
  await send(web, [
    { type: 'identify', anonymousId: 'u-b', messageId: 'um5', traits: { email: 'shared-inbox@example.com' } },
  ]);
  const merged = await cible.admin<Profile>(`/api/profiles/${b.id}`);
  assert.equal(merged.id, a.id);
  assert.deepEqual(merged.members.sort(), [a.id, b.id].sort());
  assert.equal(merged.merges.at(-1)?.messageId, 'um5');

  const undo = await cible.app.inject({ method: 'POST', url: `/api/profiles/${b.id}/unmerge`, headers });
  assert.equal(undo.statusCode, 200, undo.body);
  const { survivor, restored } = undo.json<{ survivor: Profile; restored: Profile }>();
  assert.equal(survivor.id, a.id);
  assert.equal(restored.id, b.id);
  assert.deepEqual(survivor.identifiers.map((i) => i.value).sort(), ['shared-inbox@example.com', 'u-a']);
  assert.deepEqual(restored.identifiers.map((i) => i.value).sort(), ['+33699999999', 'u-b']);
  assert.equal(survivor.traits.plan?.value, 'gold');
  assert.equal(survivor.traits.city, undefined);
  assert.equal(restored.traits.city?.value, 'Nantes');
  const timeline = async (id: number) =>
    (await cible.admin<{ events: EventOutput[] }>(`/api/profiles/${id}/events`)).events.map(
      (event) => event.messageId,
    );
  // Each event stays with the origin of its highest-priority identifier: the linking event carried
  // a's e-mail, so it is a's.
  assert.deepEqual(await timeline(a.id), ['um5', 'um2', 'um1']);
  assert.deepEqual(await timeline(b.id), ['um4', 'um3']);

  // The split pair is not glued again by the next event that links them...
  await send(web, [
    { type: 'identify', anonymousId: 'u-b', messageId: 'um6', traits: { email: 'shared-inbox@example.com' } },
  ]);
  assert.equal((await cible.admin<Profile>(`/api/profiles/${b.id}`)).id, b.id);
  // ...but a person may join them on purpose.
  const manual = await cible.app.inject({
    method: 'POST',
    url: '/api/profiles/merge',
    headers,
    payload: { survivor: a.id, absorbed: b.id },
  });
  assert.equal(manual.statusCode, 200, manual.body);
  assert.equal((await cible.admin<Profile>(`/api/profiles/${b.id}`)).id, a.id);
  const notMerged = await cible.app.inject({ method: 'POST', url: `/api/profiles/${a.id}/unmerge`, headers });
  assert.equal(notMerged.statusCode, 400);
});

test('the identity graph, its merges and splits survive a restart', async () => {
  const dataDir = await testDataDir();
  try {
    const first = await startTestCible({}, dataDir);
    const key = await first.createSource('web');
    const post = (target: TestCible, batch: Record<string, unknown>[]) =>
      target.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basic(key), 'content-type': 'application/json' },
        payload: JSON.stringify({ batch }),
      });
    await post(first, [
      {
        type: 'identify',
        anonymousId: 'r-a',
        userId: 'r-user',
        messageId: 'r1',
        traits: { email: 'r@example.com' },
      },
      { type: 'identify', anonymousId: 'r-b', messageId: 'r2', traits: { email: 'r@example.com' } },
      { type: 'identify', anonymousId: 'r-c', messageId: 'r3', traits: { phone: '+33688888888' } },
      { type: 'identify', anonymousId: 'r-c', messageId: 'r4', traits: { email: 'r@example.com' } },
    ]);
    const c = await first.admin<Profile>('/api/profiles?identifier=anonymousId:r-c');
    const cOrigin = c.members.find(
      (member) => member !== c.id && c.identifiers.some((i) => i.value === 'r-c'),
    )!;
    const undo = await first.app.inject({
      method: 'POST',
      url: `/api/profiles/${cOrigin}/unmerge`,
      headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' },
    });
    assert.equal(undo.statusCode, 200, undo.body);
    const before = await first.admin<Profile>('/api/profiles?identifier=userId:r-user');
    await first.close();

    const second = await startTestCible({}, dataDir);
    const after = await second.admin<Profile>('/api/profiles?identifier=userId:r-user');
    assert.deepEqual(after, before);
    assert.equal((await second.admin<Profile>('/api/profiles?identifier=anonymousId:r-c')).id, cOrigin);
    // The split holds after the restart too.
    await post(second, [
      { type: 'identify', anonymousId: 'r-c', messageId: 'r5', traits: { email: 'r@example.com' } },
    ]);
    assert.equal((await second.admin<Profile>('/api/profiles?identifier=anonymousId:r-c')).id, cOrigin);
    await second.close();
  } finally {
    await removeTestDir(dataDir);
  }
});

test('the timeline is in event time, whatever the arrival order, and pages by its cursor', async () => {
  const t = (day: number) => new Date(Date.UTC(2026, 8, day, 12)).toISOString();
  // The CRM's history arrives after the web's recent events.
  await send(web, [
    { type: 'track', userId: 'timeline-1', event: 'Viewed', timestamp: t(20), messageId: 'tl-web-20' },
    { type: 'track', userId: 'timeline-1', event: 'Viewed', timestamp: t(10), messageId: 'tl-web-10' },
  ]);
  await send(crm, [
    { type: 'track', userId: 'timeline-1', event: 'Bought', timestamp: t(15), messageId: 'tl-crm-15' },
    { type: 'track', userId: 'timeline-1', event: 'Bought', timestamp: t(1), messageId: 'tl-crm-1' },
  ]);
  const { id } = await cible.admin<Profile>('/api/profiles?identifier=userId:timeline-1');
  const first = await cible.admin<{ events: EventOutput[]; nextCursor: string | null }>(
    `/api/profiles/${id}/events?limit=3`,
  );
  assert.deepEqual(
    first.events.map((event) => event.messageId),
    ['tl-web-20', 'tl-crm-15', 'tl-web-10'],
  );
  assert.ok(first.nextCursor !== null);
  const second = await cible.admin<{ events: EventOutput[]; nextCursor: string | null }>(
    `/api/profiles/${id}/events?limit=3&cursor=${first.nextCursor}`,
  );
  assert.deepEqual(
    second.events.map((event) => event.messageId),
    ['tl-crm-1'],
  );
  assert.equal(second.nextCursor, null);
});
