import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { adminToken, removeTestDir, startTestCible, type TestCible } from './helpers.ts';

const day = 86_400_000;
let cible: TestCible;
let web: string;
/** The time segments are judged at: real time, moved forward by tests. */
let shift = 0;

interface Segment {
  id: string;
  name: string;
  text: string;
  rule: unknown;
  size: number;
}

interface ChangeEvent {
  seq: number;
  event: 'Segment Entered' | 'Segment Exited';
  profileId: number;
  properties: { segmentId: string };
}

async function call<T = unknown>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) {
  const response = await cible.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${adminToken}` },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
  return { status: response.statusCode, body: (response.body === '' ? undefined : response.json()) as T };
}

async function profileOf(userId: string): Promise<number> {
  return (await cible.admin<{ id: number }>(`/api/profiles?identifier=userId:${userId}`)).id;
}

const ago = (days: number, plusMs = 0) => new Date(Date.now() - days * day + plusMs).toISOString();

function order(userId: string, messageId: string, timestamp: string, revenue: number, category = 'shoes') {
  return {
    type: 'track',
    event: 'Order Completed',
    userId,
    messageId,
    timestamp,
    properties: { revenue, category },
  };
}

const anaLastOrder = ago(2);

before(async () => {
  cible = await startTestCible({ CIBLE_SEGMENT_REFRESH_SECONDS: '0' }, undefined, {
    segmentClock: () => Date.now() + shift,
  });
  web = await cible.createSource('web');
  await cible.sendBatch(web, [
    { type: 'identify', userId: 'ana', messageId: 'i1', traits: { city: 'Paris', email: 'ana@example.com' } },
    { type: 'identify', userId: 'bob', messageId: 'i2', traits: { city: 'Paris' } },
    { type: 'identify', userId: 'cyd', messageId: 'i3', traits: { city: 'Lyon' } },
    { type: 'identify', userId: 'dan', messageId: 'i4', traits: { city: 'Paris', vip: true } },
    order('ana', 'o1', anaLastOrder, 120),
    order('ana', 'o2', ago(5), 90),
    order('ana', 'o3', ago(12), 40, 'hats'),
    order('bob', 'o4', ago(3), 300),
    order('cyd', 'o5', ago(1), 500),
    order('cyd', 'o6', ago(2), 20),
    order('cyd', 'o7', ago(3), 20),
    order('dan', 'o8', ago(1), 400),
    order('dan', 'o9', ago(2), 400),
    // Out of the 30-day window ten seconds after the start of the test.
    order('dan', 'o10', ago(30, 10_000), 400),
  ]);
});
after(async () => {
  await cible.close();
  await removeTestDir(cible.dataDir);
});

describe('segments through the API', () => {
  const ids: Record<string, string> = {};

  test('the sentences of the documentation select who they say', async () => {
    const vip = await call<Segment>('POST', '/api/segments', { name: 'VIP', rule: 'trait vip = true' });
    assert.equal(vip.status, 201, JSON.stringify(vip.body));
    ids.VIP = vip.body.id;
    assert.equal(vip.body.size, 1);

    const parisBuyers = await call<Segment>('POST', '/api/segments', {
      name: 'Paris buyers',
      description: 'Three orders in a month, in Paris',
      rule: 'trait city = "Paris" and count(event "Order Completed" in last 30 days) >= 3',
    });
    assert.equal(parisBuyers.status, 201, JSON.stringify(parisBuyers.body));
    ids.parisBuyers = parisBuyers.body.id;
    assert.equal(
      parisBuyers.body.text,
      'trait city = "Paris" and count(event "Order Completed" in last 30 days) >= 3',
    );
    // ana: 3 orders in Paris; dan: 3 orders in Paris (one 30 days less 10 s ago); bob: one; cyd: Lyon.
    const members = await cible.admin<{ profiles: { id: number }[] }>(
      `/api/segments/${ids.parisBuyers}/members`,
    );
    assert.deepEqual(
      members.profiles.map((profile) => profile.id).sort(),
      [await profileOf('ana'), await profileOf('dan')].sort(),
    );

    const bigSpenders = await call<Segment>('POST', '/api/segments', {
      name: 'Big spenders',
      rule: 'sum(event "Order Completed".revenue in last 90 days) > 200 and not in segment "VIP"',
    });
    assert.equal(bigSpenders.status, 201, JSON.stringify(bigSpenders.body));
    ids.bigSpenders = bigSpenders.body.id;
    // ana 250, bob 300, cyd 540; dan spent 1,200 but is a VIP.
    const spenders = await cible.admin<{ profiles: { id: number; identifiers: { value: string }[] }[] }>(
      `/api/segments/${ids.bigSpenders}/members`,
    );
    assert.deepEqual(
      spenders.profiles.map((profile) => profile.id).sort(),
      [await profileOf('ana'), await profileOf('bob'), await profileOf('cyd')].sort(),
    );
  });

  test('a preview gives the size and a sample of profile cards without saving', async () => {
    const preview = await call<{ size: number; sample: { id: number; traits: Record<string, unknown> }[] }>(
      'POST',
      '/api/segments/preview',
      { rule: 'count(event "Order Completed" where category = "hats") >= 1 or trait city = "Lyon"' },
    );
    assert.equal(preview.status, 200);
    assert.equal(preview.body.size, 2);
    assert.deepEqual(preview.body.sample.map((card) => card.traits.city).sort(), ['Lyon', 'Paris']);
    const list = await cible.admin<{ segments: Segment[] }>('/api/segments');
    assert.equal(list.segments.length, 3);
  });

  test('a profile shows the segments it is in', async () => {
    const ana = await cible.admin<{ segments: { id: string; name: string }[] }>(
      `/api/profiles/${await profileOf('ana')}`,
    );
    assert.deepEqual(ana.segments.map((segment) => segment.name).sort(), ['Big spenders', 'Paris buyers']);
  });

  test('entering and exiting are recorded once per change; time-based exits come with the schedule', async () => {
    const dan = await profileOf('dan');
    const eventsOf = async () =>
      (await cible.admin<{ events: ChangeEvent[] }>(`/api/segments/${ids.parisBuyers}/changes`)).events;
    assert.deepEqual(
      (await eventsOf()).filter((event) => event.profileId === dan).map((event) => event.event),
      ['Segment Entered'],
    );
    // Evaluating again without any change records nothing.
    assert.deepEqual((await call('POST', '/api/segments/refresh')).body, { entered: 0, exited: 0 });

    // A minute later, dan's oldest order is out of the window: he exits without any event.
    shift = 60_000;
    assert.deepEqual((await call('POST', '/api/segments/refresh')).body, { entered: 0, exited: 1 });
    const events = await eventsOf();
    assert.deepEqual(
      events.filter((event) => event.profileId === dan).map((event) => event.event),
      ['Segment Entered', 'Segment Exited'],
    );
    assert.equal(events.at(-1)?.properties.segmentId, ids.parisBuyers);

    // An order brings him back in at once, without waiting for the schedule, and once.
    await cible.sendBatch(web, [order('dan', 'o11', new Date().toISOString(), 10)]);
    assert.deepEqual((await call('POST', '/api/segments/refresh')).body, { entered: 0, exited: 0 });
    assert.deepEqual(
      (await eventsOf()).filter((event) => event.profileId === dan).map((event) => event.event),
      ['Segment Entered', 'Segment Exited', 'Segment Entered'],
    );
    shift = 0;
  });

  test('events move people in and out of segments as they arrive', async () => {
    await cible.sendBatch(web, [
      { type: 'identify', userId: 'eve', messageId: 'e1', traits: { city: 'Paris' } },
      order('eve', 'e2', ago(1), 10),
      order('eve', 'e3', ago(2), 10),
    ]);
    const eve = await profileOf('eve');
    const members = async () =>
      (
        await cible.admin<{ profiles: { id: number }[] }>(`/api/segments/${ids.parisBuyers}/members`)
      ).profiles.map((profile) => profile.id);
    assert.equal((await members()).includes(eve), false);
    await cible.sendBatch(web, [order('eve', 'e4', ago(0), 10)]);
    assert.equal((await members()).includes(eve), true);
    const profile = await cible.admin<{ segments: { name: string }[] }>(`/api/profiles/${eve}`);
    assert.deepEqual(
      profile.segments.map((segment) => segment.name),
      ['Paris buyers'],
    );
    // She moves to Lyon: she leaves.
    await cible.sendBatch(web, [
      { type: 'identify', userId: 'eve', messageId: 'e5', traits: { city: 'Lyon' } },
    ]);
    assert.equal((await members()).includes(eve), false);
    const changes = (await cible.admin<{ events: ChangeEvent[] }>(`/api/segments/${ids.parisBuyers}/changes`))
      .events;
    assert.deepEqual(
      changes.filter((event) => event.profileId === eve).map((event) => event.event),
      ['Segment Entered', 'Segment Exited'],
    );
    assert.deepEqual((await call('POST', '/api/segments/refresh')).body, { entered: 0, exited: 0 });
  });

  test('a new person is judged against every segment, even one that needs nothing of the event', async () => {
    const noEmail = await call<Segment>('POST', '/api/segments', {
      name: 'Not VIP',
      rule: 'not trait vip = true',
    });
    assert.equal(noEmail.status, 201);
    await cible.sendBatch(web, [
      { type: 'track', event: 'Product Viewed', anonymousId: 'newcomer', messageId: 'n1', properties: {} },
    ]);
    const newcomer = (await cible.admin<{ id: number }>('/api/profiles?identifier=anonymousId:newcomer')).id;
    const members = await cible.admin<{ profiles: { id: number }[] }>(
      `/api/segments/${noEmail.body.id}/members`,
    );
    assert.ok(members.profiles.some((profile) => profile.id === newcomer));
    // Ana is in already: a product view of hers moves nothing.
    const before = (await cible.admin<{ events: ChangeEvent[] }>(`/api/segments/${noEmail.body.id}/changes`))
      .events;
    await cible.sendBatch(web, [{ type: 'track', event: 'Product Viewed', userId: 'ana', messageId: 'n2' }]);
    const after = (await cible.admin<{ events: ChangeEvent[] }>(`/api/segments/${noEmail.body.id}/changes`))
      .events;
    assert.equal(after.length, before.length);
    assert.equal((await call('DELETE', `/api/segments/${noEmail.body.id}`)).status, 204);
  });

  test('sizes over time and overlaps', async () => {
    const today = new Date().toISOString().slice(0, 10);
    const sizes = await cible.admin<{ sizes: { day: string; size: number }[] }>(
      `/api/segments/${ids.parisBuyers}/sizes?from=${today}&to=${today}`,
    );
    assert.deepEqual(sizes.sizes, [{ day: today, size: 2 }]);
    const overlap = await cible.admin<{ both: number; onlyFirst: number; onlySecond: number }>(
      `/api/segments/${ids.parisBuyers}/overlap/${ids.bigSpenders}`,
    );
    // Paris buyers: ana, dan. Big spenders: ana, bob, cyd.
    assert.deepEqual([overlap.both, overlap.onlyFirst, overlap.onlySecond], [1, 1, 2]);
  });

  test('bad rules get errors that say where and what to do', async () => {
    const syntax = await call<{ error: { code: string; message: string; field: string } }>(
      'POST',
      '/api/segments',
      {
        name: 'Broken',
        rule: 'trait city = "Paris" and\n  count(event "Order Completed" in last 30 dayz) >= 3',
      },
    );
    assert.equal(syntax.status, 400);
    assert.equal(syntax.body.error.code, 'CIBLE_ERR_SEGMENT_SYNTAX');
    assert.match(syntax.body.error.field, /line 2, column \d+/);

    const unknown = await call<{ error: { code: string; message: string } }>('POST', '/api/segments', {
      name: 'Orphan',
      rule: 'in segment "Nobody"',
    });
    assert.equal(unknown.body.error.code, 'CIBLE_ERR_SEGMENT_UNKNOWN_REFERENCE');
    assert.match(unknown.body.error.message, /"Nobody"/);

    const cycle = await call<{ error: { code: string; message: string } }>(
      'PUT',
      `/api/segments/${ids.VIP}`,
      {
        rule: 'in segment "Big spenders"',
      },
    );
    assert.equal(cycle.status, 400);
    assert.equal(cycle.body.error.code, 'CIBLE_ERR_SEGMENT_CYCLE');
    assert.match(cycle.body.error.message, /"VIP" → "Big spenders" → "VIP"/);

    const taken = await call<{ error: { code: string } }>('POST', '/api/segments', {
      name: 'VIP',
      rule: 'has email',
    });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.error.code, 'CIBLE_ERR_SEGMENT_NAME_TAKEN');

    const tree = await call<{ error: { code: string; field: string } }>('POST', '/api/segments/preview', {
      rule: { kind: 'trait', name: 'city', test: { op: 'like', value: 'Paris' } },
    });
    assert.equal(tree.status, 400);
    assert.equal(tree.body.error.code, 'CIBLE_ERR_SEGMENT_INVALID_RULE');

    const inUse = await call<{ error: { code: string } }>('DELETE', `/api/segments/${ids.VIP}`);
    assert.equal(inUse.status, 409);
    assert.equal(inUse.body.error.code, 'CIBLE_ERR_SEGMENT_IN_USE');
  });

  test('renaming a segment renames it where other rules name it; deleting empties it', async () => {
    const renamed = await call<Segment>('PUT', `/api/segments/${ids.VIP}`, { name: 'Very important' });
    assert.equal(renamed.status, 200);
    const spenders = await cible.admin<Segment>(`/api/segments/${ids.bigSpenders}`);
    assert.equal(
      spenders.text,
      'sum(event "Order Completed".revenue in last 90 days) > 200 and not in segment "Very important"',
    );
    assert.equal((await call('DELETE', `/api/segments/${ids.bigSpenders}`)).status, 204);
    assert.equal((await call('GET', `/api/segments/${ids.bigSpenders}`)).status, 404);
    assert.equal((await call('DELETE', `/api/segments/${ids.VIP}`)).status, 204);
  });

  test('computed traits: on the profile, in segments, in real time', async () => {
    const define = async (name: string, expression: string) => {
      const response = await call<{ id: string; expression: string }>('POST', '/api/computed-traits', {
        name,
        expression,
      });
      assert.equal(response.status, 201, JSON.stringify(response.body));
      assert.equal(response.body.expression, expression);
      return response.body.id;
    };
    const total = await define('totalRevenue', 'sum(event "Order Completed".revenue in last 90 days)');
    await define('favouriteCategory', 'mode(event "Order Completed".category)');
    await define('categories', 'distinct(event "Order Completed".category)');
    await define('lastPurchase', 'last(event "Order Completed")');
    await define('orders', 'count(event "Order Completed" where revenue >= 50)');

    const ana = await profileOf('ana');
    const profile = await cible.admin<{ computedTraits: Record<string, unknown> }>(`/api/profiles/${ana}`);
    assert.deepEqual(profile.computedTraits, {
      totalRevenue: 250,
      favouriteCategory: 'shoes',
      categories: ['hats', 'shoes'],
      lastPurchase: anaLastOrder,
      orders: 2,
    });

    const rich = await call<Segment>('POST', '/api/segments', {
      name: 'Rich',
      rule: 'trait totalRevenue > 260 and trait categories contains "shoes"',
    });
    assert.equal(rich.status, 201, JSON.stringify(rich.body));
    const members = async () =>
      (await cible.admin<{ profiles: { id: number }[] }>(`/api/segments/${rich.body.id}/members`)).profiles
        .map((card) => card.id)
        .sort();
    // bob 300, cyd 540, dan 1,210 in 90 days; ana 250.
    const others = [await profileOf('bob'), await profileOf('cyd'), await profileOf('dan')];
    assert.deepEqual(await members(), [...others].sort());
    await cible.sendBatch(web, [order('ana', 'o12', ago(0), 20)]);
    assert.deepEqual(await members(), [...others, ana].sort());

    const values = await cible.admin<{ values: { profileId: number; value: unknown }[] }>(
      `/api/computed-traits/${total}/values`,
    );
    assert.equal(values.values.find((entry) => entry.profileId === ana)?.value, 270);

    const bad = await call<{ error: { code: string; field: string } }>('POST', '/api/computed-traits', {
      name: 'broken',
      expression: 'sum(event "Order Completed")',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'CIBLE_ERR_SEGMENT_SYNTAX');
    assert.match(bad.body.error.field, /line 1, column 28/);

    const inUse = await call<{ error: { code: string } }>('DELETE', `/api/computed-traits/${total}`);
    assert.equal(inUse.body.error.code, 'CIBLE_ERR_COMPUTED_TRAIT_IN_USE');
    await call('PUT', `/api/computed-traits/${total}`, { name: 'revenue90' });
    assert.equal(
      (await cible.admin<Segment>(`/api/segments/${rich.body.id}`)).text,
      'trait revenue90 > 260 and trait categories contains "shoes"',
    );
    assert.equal((await call('DELETE', `/api/segments/${rich.body.id}`)).status, 204);
    assert.equal((await call('DELETE', `/api/computed-traits/${total}`)).status, 204);
  });

  test('segments and their members survive a restart', async () => {
    const before = await cible.admin<{ segments: Segment[] }>('/api/segments');
    const dataDir = cible.dataDir;
    await cible.stop();
    cible = await startTestCible({ CIBLE_SEGMENT_REFRESH_SECONDS: '0' }, dataDir);
    const afterRestart = await cible.admin<{ segments: Segment[] }>('/api/segments');
    assert.deepEqual(
      afterRestart.segments.map((segment) => [segment.name, segment.size]),
      before.segments.map((segment) => [segment.name, segment.size]),
    );
    assert.deepEqual(
      afterRestart.segments.map((segment) => segment.name),
      ['Paris buyers'],
    );
  });
});

describe('the schedule', () => {
  test('moves people out of time-based segments without any event', async () => {
    let later = 0;
    const scheduled = await startTestCible({ CIBLE_SEGMENT_REFRESH_SECONDS: '1' }, undefined, {
      segmentClock: () => Date.now() + later,
    });
    try {
      const key = await scheduled.createSource('web');
      await scheduled.sendBatch(key, [order('zoe', 'z1', ago(30, 60_000), 10)]);
      const created = await scheduled.app.inject({
        method: 'POST',
        url: '/api/segments',
        headers: { authorization: `Bearer ${adminToken}` },
        payload: { name: 'Recent buyers', rule: 'count(event "Order Completed" in last 30 days) >= 1' },
      });
      const segment = created.json<Segment>();
      assert.equal(segment.size, 1);
      // Two minutes on, the order is out of the window: the next scheduled run moves her out.
      later = 120_000;
      const deadline = Date.now() + 5000;
      let events: ChangeEvent[] = [];
      while (Date.now() < deadline) {
        events = (await scheduled.admin<{ events: ChangeEvent[] }>(`/api/segments/${segment.id}/changes`))
          .events;
        if (events.length === 2) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.deepEqual(
        events.map((event) => event.event),
        ['Segment Entered', 'Segment Exited'],
      );
      assert.equal((await scheduled.admin<Segment>(`/api/segments/${segment.id}`)).size, 0);
    } finally {
      await scheduled.close();
    }
  });
});
