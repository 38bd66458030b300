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

test('computed traits keep what retention deletes: on the profile, in their values and in segments', async () => {
  const dir = await testDataDir();
  await writeFile(
    join(dir, 'cible.json'),
    JSON.stringify({ retention: [{ days: 30, event: 'Order Completed' }] }),
  );
  const cible = await startTestCible({}, dir);
  const call = async <T>(method: 'POST' | 'PUT', url: string, payload?: Record<string, unknown>) => {
    const response = await cible.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${adminToken}` },
      ...(payload === undefined ? {} : { payload }),
    });
    assert.ok(response.statusCode < 300, response.body);
    return response.json<T>();
  };
  try {
    const shop = await cible.createSource('shop');
    const daysAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString();
    const order = (user: string, days: number, revenue: unknown, category: string) => ({
      type: 'track',
      userId: user,
      event: 'Order Completed',
      timestamp: daysAgo(days),
      properties: { revenue, category },
    });
    await cible.sendBatch(shop, [
      order('u-1', 400, 120, 'shoes'),
      order('u-1', 100, 30, 'bags'),
      order('u-1', 60, 'n/a', 'shoes'),
      order('u-1', 40, 45.5, 'hats'),
      order('u-1', 10, 20, 'bags'),
      order('u-2', 50, 10, 'hats'),
    ]);
    const expressions = {
      revenue: 'sum(event "Order Completed".revenue)',
      orders: 'count(event "Order Completed")',
      recentOrders: 'count(event "Order Completed" in last 90 days)',
      averageOrder: 'avg(event "Order Completed".revenue)',
      smallest: 'min(event "Order Completed".revenue)',
      biggest: 'max(event "Order Completed".revenue)',
      firstOrder: 'first(event "Order Completed")',
      firstCategory: 'first(event "Order Completed".category)',
      lastCategory: 'last(event "Order Completed".category)',
      favourite: 'mode(event "Order Completed".category)',
      categories: 'distinct(event "Order Completed".category)',
      shoeOrders: 'count(event "Order Completed" where category = "shoes")',
    };
    const ids: Record<string, string> = {};
    for (const [name, expression] of Object.entries(expressions)) {
      ids[name] = (await call<{ id: string }>('POST', '/api/computed-traits', { name, expression })).id;
    }
    const segment = await call<{ id: string }>('POST', '/api/segments', {
      name: 'Loyal',
      rule: 'trait orders >= 5 and trait shoeOrders >= 2',
    });
    const u1 = (await cible.admin<{ id: number }>('/api/profiles?identifier=userId:u-1')).id;
    const u2 = (await cible.admin<{ id: number }>('/api/profiles?identifier=userId:u-2')).id;
    const state = async () => ({
      profile: (await cible.admin<{ computedTraits: Record<string, unknown> }>(`/api/profiles/${u1}`))
        .computedTraits,
      other: (await cible.admin<{ computedTraits: Record<string, unknown> }>(`/api/profiles/${u2}`))
        .computedTraits,
      values: Object.fromEntries(
        await Promise.all(
          Object.entries(ids).map(async ([name, id]) => [
            name,
            (
              await cible.admin<{ values: { profileId: number; value: unknown }[] }>(
                `/api/computed-traits/${id}/values`,
              )
            ).values,
          ]),
        ),
      ),
      members: (
        await cible.admin<{ profiles: { id: number }[] }>(`/api/segments/${segment.id}/members`)
      ).profiles.map((member) => member.id),
      preview: (
        await call<{ size: number }>('POST', '/api/segments/preview', { rule: 'trait smallest < 25' })
      ).size,
    });
    const before = await state();
    assert.deepEqual(before.profile, {
      revenue: 215.5,
      orders: 5,
      recentOrders: 3,
      averageOrder: 53.875,
      smallest: 20,
      biggest: 120,
      firstOrder: before.profile.firstOrder,
      firstCategory: 'shoes',
      lastCategory: 'bags',
      favourite: 'bags',
      categories: ['bags', 'hats', 'shoes'],
      shoeOrders: 2,
    });
    assert.ok(Math.abs(Date.parse(String(before.profile.firstOrder)) - Date.parse(daysAgo(400))) < 60_000);
    assert.deepEqual(before.members, [u1]);
    assert.equal(before.preview, 2);

    const run = await call<{ deleted: number[] }>('POST', '/api/privacy/retention');
    assert.deepEqual(run.deleted, [5], 'the orders older than 30 days are gone');
    const events = await cible.admin<{ events: unknown[] }>('/api/events?limit=100');
    assert.equal(events.events.length, 1);
    // The raw events are gone; what the computed traits read of them is not, on every read path.
    assert.deepEqual(await state(), before);

    // A changed definition does not read what was kept for the old one.
    await call('PUT', `/api/computed-traits/${ids.orders}`, {
      expression: 'count(event "Order Completed" in last 1000 days)',
    });
    const changed = await cible.admin<{ computedTraits: Record<string, unknown> }>(`/api/profiles/${u1}`);
    assert.equal(changed.computedTraits.orders, 1);
  } finally {
    await cible.stop();
    await removeTestDir(dir);
  }
});
