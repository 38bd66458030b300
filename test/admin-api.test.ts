import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EventOutput } from '../src/domain/events.ts';
import { adminToken, basic, startTestCible, type TestCible } from './helpers.ts';

let cible: TestCible;
let writeKey: string;

before(async () => {
  cible = await startTestCible();
  writeKey = await cible.createSource('admin-tests');
  const batch = Array.from({ length: 25 }, (_, i) => ({
    type: i % 5 === 0 ? 'identify' : 'track',
    ...(i % 5 === 0 ? { traits: { n: i } } : { event: i % 2 === 0 ? 'Even' : 'Odd', properties: { n: i } }),
    userId: `user-${i % 3}`,
    anonymousId: `anon-${i % 4}`,
    messageId: `admin-${i}`,
    timestamp: new Date(Date.UTC(2026, 0, 1 + i)).toISOString(),
  }));
  const response = await cible.app.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
    payload: JSON.stringify({ batch }),
  });
  assert.equal(response.json().accepted, 25);
});
after(() => cible.close());

type Page = { events: EventOutput[]; nextCursor: number | null };

test('events filter by type, event name, userId, anonymousId and time range', async () => {
  assert.equal((await cible.admin<Page>('/api/events?type=identify')).events.length, 5);
  assert.equal((await cible.admin<Page>('/api/events?event=Odd')).events.length, 10);
  const user = await cible.admin<Page>('/api/events?userId=user-1');
  assert.ok(user.events.every((event) => event.userId === 'user-1'));
  assert.equal(user.events.length, 8);
  assert.equal((await cible.admin<Page>('/api/events?anonymousId=anon-0&type=track')).events.length, 5);
  const january = await cible.admin<Page>('/api/events?from=2026-01-05T00:00:00Z&to=2026-01-10T00:00:00Z');
  assert.deepEqual(
    january.events.map((event) => event.messageId),
    ['admin-8', 'admin-7', 'admin-6', 'admin-5', 'admin-4'],
  );
});

test('events page newest first with a cursor, without gaps or repeats', async () => {
  const seen: string[] = [];
  let cursor: number | null = null;
  let pages = 0;
  do {
    const page: Page = await cible.admin<Page>(
      `/api/events?limit=10${cursor === null ? '' : `&cursor=${cursor}`}`,
    );
    seen.push(...page.events.map((event) => event.messageId));
    cursor = page.nextCursor;
    pages++;
  } while (cursor !== null);
  assert.equal(pages, 3);
  assert.deepEqual(
    seen,
    Array.from({ length: 25 }, (_, i) => `admin-${24 - i}`),
  );
});

test('bad query parameters get a 400 naming the parameter', async () => {
  const response = await cible.app.inject({
    method: 'GET',
    url: '/api/events?limit=5000',
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal(response.statusCode, 400);
  assert.equal(response.json().error.code, 'CIBLE_ERR_API_INVALID_REQUEST');
  assert.equal(response.json().error.field, 'querystring.limit');
  const badType = await cible.app.inject({
    method: 'GET',
    url: '/api/events?type=teleport',
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal(badType.statusCode, 400);
});

test('stats count committed events and sources', async () => {
  const stats = await cible.admin<{ events: number; sources: number; ingest: { accepted: number } }>(
    '/api/stats',
  );
  assert.equal(stats.events, 25);
  assert.equal(stats.sources, 1);
  assert.equal(stats.ingest.accepted, 25);
});

test('sources are created with a write key and listed', async () => {
  const created = await cible.app.inject({
    method: 'POST',
    url: '/api/sources',
    headers: { authorization: `Bearer ${adminToken}` },
    payload: { name: 'ios app' },
  });
  assert.equal(created.statusCode, 201);
  const source = created.json();
  assert.equal(source.name, 'ios app');
  assert.match(source.id, /^src_/);
  assert.ok(source.writeKey.length >= 24);
  const { sources } = await cible.admin<{ sources: { name: string }[] }>('/api/sources');
  assert.deepEqual(sources.map((s) => s.name).sort(), ['admin-tests', 'ios app']);
  const invalid = await cible.app.inject({
    method: 'POST',
    url: '/api/sources',
    headers: { authorization: `Bearer ${adminToken}` },
    payload: {},
  });
  assert.equal(invalid.statusCode, 400);
  assert.equal(invalid.json().error.field, 'body.name');
});

test('the admin API needs the bearer token', async () => {
  const none = await cible.app.inject({ method: 'GET', url: '/api/events' });
  assert.equal(none.statusCode, 401);
  assert.equal(none.json().error.code, 'CIBLE_ERR_AUTH_MISSING_TOKEN');
  const wrong = await cible.app.inject({
    method: 'GET',
    url: '/api/stats',
    headers: { authorization: 'Bearer nope' },
  });
  assert.equal(wrong.statusCode, 401);
  assert.equal(wrong.json().error.code, 'CIBLE_ERR_AUTH_INVALID_TOKEN');
  const writeKeyAsToken = await cible.app.inject({
    method: 'GET',
    url: '/api/stats',
    headers: { authorization: basic(writeKey) },
  });
  assert.equal(writeKeyAsToken.statusCode, 401);
});

test('health and the OpenAPI document, generated from the validating schemas', async () => {
  assert.equal((await cible.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  const response = await cible.app.inject({ method: 'GET', url: '/api/openapi.json' });
  assert.equal(response.statusCode, 200);
  const doc = response.json();
  assert.equal(doc.openapi, '3.1.0');
  for (const path of [
    '/v1/track',
    '/v1/batch',
    '/api/sources',
    '/api/events',
    '/api/stats',
    '/api/quarantine',
  ]) {
    assert.ok(doc.paths[path], `${path} documented`);
  }
  const trackBody = doc.paths['/v1/track'].post.requestBody.content['application/json'].schema;
  assert.deepEqual(trackBody.required, ['event']);
  const limit = doc.paths['/api/events'].get.parameters.find((p: { name: string }) => p.name === 'limit');
  assert.equal(limit.schema.maximum, 1000);
  const search = (doc.paths['/api/profiles'].get.parameters as { name: string }[]).map((p) => p.name);
  assert.deepEqual(search, ['identifier', 'q', 'limit', 'cursor', 'staleDays', 'trait.{name}']);
  const unknown = await cible.app.inject({
    method: 'GET',
    url: '/api/nothing-here',
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json().error.code, 'CIBLE_ERR_API_NOT_FOUND');
});
