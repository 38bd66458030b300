import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { adminToken, startTestCible, type TestCible } from './helpers.ts';

let cible: TestCible;
let analystToken: string;

const call = async (url: string, token = adminToken) =>
  cible.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

before(async () => {
  cible = await startTestCible();
  const web = await cible.createSource('web');
  const consent = (userId: string, purposes: Record<string, string>) => ({
    type: 'track',
    userId,
    event: 'Consent Updated',
    properties: { purposes },
  });
  await cible.sendBatch(web, [
    { type: 'identify', userId: 'ana-1', traits: { email: 'ana@example.com', city: 'Lyon' } },
    consent('ana-1', { analytics: 'denied', email: 'granted' }),
    { type: 'track', userId: 'ana-1', event: 'Order Completed', properties: { revenue: 30 } },
    { type: 'identify', userId: 'bob-2', traits: { email: 'bob@example.com' } },
    consent('bob-2', { analytics: 'granted', email: 'denied' }),
    {
      type: 'track',
      userId: 'bob-2',
      event: 'Order Completed',
      properties: { revenue: 20, email: 'bob@example.com' },
      context: { ip: '203.0.113.77' },
    },
    { type: 'identify', userId: 'cy-3', traits: { email: 'cy@example.com' } },
  ]);
  const created = await cible.app.inject({
    method: 'POST',
    url: '/api/tokens',
    headers: { authorization: `Bearer ${adminToken}` },
    payload: { name: 'bi', role: 'analyst' },
  });
  analystToken = created.json<{ token: string }>().token;
  const segment = await cible.app.inject({
    method: 'POST',
    url: '/api/segments',
    headers: { authorization: `Bearer ${adminToken}` },
    payload: { name: 'Everyone', rule: 'has userId' },
  });
  assert.equal(segment.statusCode, 201, segment.body);
});
after(() => cible.close());

test('the analytics export leaves out people who denied analytics, and carries pseudonyms', async () => {
  const answer = await call('/api/exports/events?limit=100', analystToken);
  assert.equal(answer.statusCode, 200, answer.body);
  const { events, excluded } = answer.json<{ events: Record<string, unknown>[]; excluded: number }>();
  assert.equal(excluded, 3, "ana's identify, consent and order");
  assert.equal(events.length, 4);
  for (const secret of ['ana-1', 'bob-2', 'cy-3', 'bob@example.com', 'cy@example.com', '203.0.113.77']) {
    assert.ok(!answer.body.includes(secret), `${secret} is not exported`);
  }
  assert.ok(events.every((event) => typeof event.userId === 'string' && event.userId.startsWith('ps_')));
  const order = events.find((event) => event.event === 'Order Completed')!;
  assert.equal((order.properties as { revenue: number }).revenue, 20);
  assert.match(String((order.properties as { email: string }).email), /^ps_/);
  // The same person has the same pseudonym in the profile an analyst reads.
  const bob = (await call('/api/profiles?identifier=userId:bob-2')).json<{ id: number }>();
  const profile = (await call(`/api/profiles/${bob.id}`, analystToken)).json<{
    identifiers: { type: string; value: string }[];
  }>();
  assert.equal(profile.identifiers.find((entry) => entry.type === 'userId')?.value, order.userId);
});

test('an audience export keeps only the people who may be reached for the purpose', async () => {
  const segments = (await call('/api/segments')).json<{ segments: { id: string; name: string }[] }>()
    .segments;
  const id = segments.find((segment) => segment.name === 'Everyone')!.id;
  const answer = await call(`/api/segments/${id}/audience?purpose=email&identifiers=email`);
  assert.equal(answer.statusCode, 200, answer.body);
  const audience = answer.json<{ people: { identifiers: { email?: string[] } }[]; excluded: number }>();
  assert.deepEqual(
    audience.people.map((person) => person.identifiers.email),
    [['ana@example.com']],
  );
  assert.equal(audience.excluded, 2, 'bob denied email, cy never said');
  const csv = await call(`/api/segments/${id}/audience?purpose=email&identifiers=email,userId&format=csv`);
  assert.match(csv.body, /^profileId,email,userId\n\d+,ana@example.com,ana-1\n$/);
  assert.equal((await call(`/api/segments/${id}/audience?purpose=email`, analystToken)).statusCode, 403);
  const unknown = await call(`/api/segments/${id}/audience?purpose=carrier-pigeon`);
  assert.equal(unknown.statusCode, 400);
});
