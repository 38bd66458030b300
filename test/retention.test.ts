import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminToken, removeTestDir, startTestCible, testDataDir } from './helpers.ts';

interface Summary {
  events: number;
  purchases: number;
  revenue: number;
  sessions: number;
  sources: string[];
  channels: { sourceId: string; events: number }[];
}

test('retention deletes raw events past their rule, on demand and on its schedule, and says so', async () => {
  const dir = await testDataDir();
  await writeFile(
    join(dir, 'cible.json'),
    JSON.stringify({
      retention: [
        { days: 30, type: 'page' },
        { days: 365, event: 'Product Viewed', source: 'web' },
      ],
    }),
  );
  const cible = await startTestCible({}, dir);
  try {
    const web = await cible.createSource('web');
    const shop = await cible.createSource('shop');
    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    await cible.sendBatch(web, [
      { type: 'page', userId: 'u-1', name: 'Old home', timestamp: daysAgo(40) },
      { type: 'page', userId: 'u-1', name: 'Recent home', timestamp: daysAgo(10) },
      { type: 'track', userId: 'u-1', event: 'Product Viewed', timestamp: daysAgo(420) },
      {
        type: 'track',
        userId: 'u-1',
        event: 'Order Completed',
        timestamp: daysAgo(400),
        properties: { revenue: 5 },
      },
    ]);
    await cible.sendBatch(shop, [
      { type: 'track', userId: 'u-1', event: 'Product Viewed', timestamp: daysAgo(400) },
    ]);
    const profile = (await cible.admin<{ id: number }>('/api/profiles?identifier=userId:u-1')).id;
    const before = await cible.admin<{ summary: Summary; firstSeen: string }>(`/api/profiles/${profile}`);
    const summaryBefore = before.summary;
    assert.equal(summaryBefore.events, 5);

    const run = await cible.app.inject({
      method: 'POST',
      url: '/api/privacy/retention',
      headers: { authorization: `Bearer ${adminToken}` },
    });
    assert.equal(run.statusCode, 200, run.body);
    assert.deepEqual(run.json<{ deleted: number[] }>().deleted, [1, 1]);

    const events = await cible.admin<{ events: { name?: string; event?: string; sourceId: string }[] }>(
      '/api/events?limit=100',
    );
    assert.deepEqual(events.events.map((event) => event.name ?? event.event).sort(), [
      'Order Completed',
      'Product Viewed',
      'Recent home',
    ]);
    // The summary still counts what went: the deleted events were added up first.
    const after = await cible.admin<{ summary: Summary; firstSeen: string }>(`/api/profiles/${profile}`);
    assert.deepEqual(after.summary, summaryBefore);
    // First seen: the deleted Product Viewed, 420 days ago.
    assert.equal(after.firstSeen, before.firstSeen);
    assert.ok(Math.abs(Date.parse(after.firstSeen) - Date.parse(daysAgo(420))) < 60_000, after.firstSeen);
    const status = await cible.admin<{
      retention: { rules: unknown[]; lastRun: { deleted: number[] } | null; nextRunAt: string | null };
    }>('/api/privacy');
    assert.equal(status.retention.rules.length, 2);
    assert.deepEqual(status.retention.lastRun?.deleted, [1, 1]);
    assert.ok(status.retention.nextRunAt !== null && Date.parse(status.retention.nextRunAt) > Date.now());
  } finally {
    await cible.stop();
    await removeTestDir(dir);
  }
});
