import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import type { EventOutput } from '../src/domain/events.ts';
import {
  adminGet,
  createSourceOver,
  removeTestDir,
  spawnCible,
  testDataDir,
  type CibleProcess,
} from './helpers.ts';

// The official Segment Node SDK, unchanged, pointed at a real Cible server process.
let cible: CibleProcess;
let dataDir: string;

before(async () => {
  dataDir = await testDataDir();
  cible = await spawnCible(dataDir);
});

after(async () => {
  await cible.stop();
  await removeTestDir(dataDir);
});

test('identify, track, page, group and alias from @segment/analytics-node arrive with their fields intact', async () => {
  const writeKey = await createSourceOver(cible.url, 'node-sdk');
  const analytics = new Analytics({
    writeKey,
    host: cible.url,
    flushAt: 3,
    flushInterval: 50,
    maxRetries: 2,
  });
  const failures: unknown[] = [];
  analytics.on('error', (error) => failures.push(error));

  analytics.identify({
    userId: 'user-42',
    anonymousId: 'anon-7',
    traits: { email: 'jane@example.com', name: 'Jane Doe', plan: 'pro' },
  });
  analytics.track({
    userId: 'user-42',
    event: 'Order Completed',
    properties: { orderId: 'o-1', revenue: 42.5, currency: 'EUR', products: [{ sku: 'A1', quantity: 2 }] },
    context: { campaign: { name: 'winter', source: 'newsletter', medium: 'email' } },
  });
  analytics.page({
    anonymousId: 'anon-7',
    name: 'Pricing',
    properties: { url: 'https://shop.example/pricing' },
  });
  analytics.group({ userId: 'user-42', groupId: 'acme', traits: { industry: 'retail' } });
  analytics.alias({ userId: 'user-42', previousId: 'anon-7' });
  await analytics.closeAndFlush();
  assert.deepEqual(failures, []);

  const { events } = await adminGet<{ events: EventOutput[] }>(cible.url, '/api/events?limit=10');
  assert.equal(events.length, 5);
  const byType = new Map(events.map((event) => [event.type, event]));

  const identify = byType.get('identify')!;
  assert.equal(identify.userId, 'user-42');
  assert.equal(identify.anonymousId, 'anon-7');
  assert.deepEqual(identify.traits, { email: 'jane@example.com', name: 'Jane Doe', plan: 'pro' });
  assert.equal((identify.context?.library as { name: string }).name, '@segment/analytics-node');
  assert.equal(identify.context?.ip, '127.0.0.1');

  const track = byType.get('track')!;
  assert.equal(track.event, 'Order Completed');
  assert.deepEqual(track.properties, {
    orderId: 'o-1',
    revenue: 42.5,
    currency: 'EUR',
    products: [{ sku: 'A1', quantity: 2 }],
  });
  assert.deepEqual(track.context?.campaign, { name: 'winter', source: 'newsletter', medium: 'email' });
  assert.match(track.messageId, /.+/);
  // The SDK stamps each event and the batch; the server corrects for skew, so the event time
  // stays within the time the test ran.
  const eventTime = Date.parse(track.timestamp);
  assert.ok(Math.abs(eventTime - Date.parse(track.receivedAt)) < 10_000);

  const page = byType.get('page')!;
  assert.equal(page.name, 'Pricing');
  assert.equal(page.properties?.url, 'https://shop.example/pricing');

  const group = byType.get('group')!;
  assert.equal(group.groupId, 'acme');
  assert.deepEqual(group.traits, { industry: 'retail' });

  const alias = byType.get('alias')!;
  assert.equal(alias.previousId, 'anon-7');
  assert.equal(alias.userId, 'user-42');

  const stats = await adminGet<{ events: number }>(cible.url, '/api/stats');
  assert.equal(stats.events, 5);
});
