import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bucketRange, keptFresh, utcOffsets } from '../src/api/overview.ts';
import { roles } from '../src/access/access-policy.ts';
import { adminToken, startTestCible, type TestCible } from './helpers.ts';

const hour = 3_600_000;

describe('overview buckets in local time', () => {
  test('a time zone with daylight saving time changes offset once, to the millisecond', () => {
    // Paris goes from UTC+1 to UTC+2 at 01:00 UTC on 29 March 2026.
    const offsets = utcOffsets('Europe/Paris', Date.UTC(2026, 2, 25), Date.UTC(2026, 3, 2));
    assert.deepEqual(offsets, [
      { from: Date.UTC(2026, 2, 25), offsetMs: hour },
      { from: Date.UTC(2026, 2, 29, 1), offsetMs: 2 * hour },
    ]);
    assert.deepEqual(utcOffsets('UTC', 0, 10 * 86_400_000), [{ from: 0, offsetMs: 0 }]);
  });

  test('days begin at local midnight on both sides of the change, the current day last', () => {
    const range = bucketRange(Date.UTC(2026, 2, 30, 10), 3, 'Europe/Paris');
    assert.equal(range.bucketMs, 86_400_000);
    assert.deepEqual(
      range.starts.map((start) => new Date(start).toISOString()),
      ['2026-03-27T23:00:00.000Z', '2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
    );
    assert.equal(range.from, range.starts[0]);
    assert.equal(new Date(range.to).toISOString(), '2026-03-30T22:00:00.000Z');
  });

  test('up to two days are cut into hours; a zone 5 h 45 ahead starts them at quarter past', () => {
    const at = Date.UTC(2026, 5, 1, 10, 20);
    const range = bucketRange(at, 1, 'Asia/Kathmandu');
    assert.equal(range.bucketMs, hour);
    assert.equal(range.buckets.length, 24);
    assert.equal(new Date(range.starts.at(-1)!).toISOString(), '2026-06-01T10:15:00.000Z');
    assert.equal(new Date(range.to).toISOString(), '2026-06-01T11:15:00.000Z');
    const days = bucketRange(at, 7, 'Asia/Kathmandu');
    assert.equal(new Date(days.starts.at(-1)!).toISOString(), '2026-05-31T18:15:00.000Z');
  });
});

test('a kept value is given at once, computed again in the background once old, awaited once very old', async () => {
  let clock = 1_000;
  let computed = 0;
  let release: () => void = () => undefined;
  let hold = false;
  const kept = keptFresh(
    60_000,
    () => clock,
    async (at) => {
      computed++;
      if (hold) await new Promise<void>((resolve) => (release = resolve));
      return `value at ${at}`;
    },
  );
  assert.deepEqual(await kept(), { at: 1_000, value: 'value at 1000' });
  clock += 59_999;
  assert.deepEqual(await kept(), { at: 1_000, value: 'value at 1000' });
  assert.equal(computed, 1);
  clock += 1;
  hold = true;
  // Old: the kept value comes back at once, one computation starts however many ask meanwhile.
  assert.deepEqual(await kept(), { at: 1_000, value: 'value at 1000' });
  assert.deepEqual(await kept(), { at: 1_000, value: 'value at 1000' });
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(computed, 2);
  release();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(await kept(), { at: 61_000, value: 'value at 61000' });
  // Nobody asked for ten minutes: the next call waits for a new value.
  hold = false;
  clock += 600_000;
  assert.deepEqual(await kept(), { at: 661_000, value: 'value at 661000' });
  assert.equal(computed, 3);
});

describe('GET /api/overview', () => {
  let cible: TestCible;
  const get = (url: string, token = adminToken) =>
    cible.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } });

  before(async () => {
    cible = await startTestCible();
    const web = await cible.createSource('overview web');
    const app = await cible.createSource('overview app');
    const emailConsent = (granted: boolean) => ({ consent: { categoryPreferences: { email: granted } } });
    await cible.sendBatch(web, [
      // Ana: a userId and an e-mail address, e-mail consent granted.
      {
        type: 'identify',
        userId: 'u-ana',
        traits: { email: 'ana@example.com' },
        context: emailConsent(true),
      },
      { type: 'track', userId: 'u-ana', event: 'Product Viewed' },
      { type: 'track', userId: 'u-ana', event: 'Product Viewed' },
      // Someone anonymous on the website.
      { type: 'page', anonymousId: 'anon-bob', name: 'Home' },
      { type: 'page', anonymousId: 'anon-bob', name: 'Cart' },
      // Chloé: a userId, e-mail consent denied.
      { type: 'track', userId: 'u-chloe', event: 'Signed Up', context: emailConsent(false) },
    ]);
    await cible.sendBatch(app, [
      // Someone anonymous in the app who said yes to e-mail.
      { type: 'screen', anonymousId: 'anon-dan', name: 'Home', context: emailConsent(true) },
      { type: 'track', userId: 'u-ana', event: 'App Opened' },
      // No event name: quarantined.
      { type: 'track', userId: 'u-ana' },
    ]);
  });
  after(() => cible.close());

  test('counts events by source, type and minute, people, shares, quarantine and quality', async () => {
    const response = await get('/api/overview?days=1&timeZone=Europe/Paris');
    assert.equal(response.statusCode, 200, response.body);
    const overview = response.json<{
      generatedAt: string;
      figuresAt: string;
      totals: Record<string, number>;
      quarantine: { pending: number };
      perMinute: { at: string; events: number }[];
      series: {
        bucket: string;
        timeZone: string;
        buckets: string[];
        events: number;
        bySource: { name: string; events: number; counts: number[] }[];
        byType: { type: string; events: number; counts: number[] }[];
      };
      quality: Record<string, number>;
    }>();
    assert.deepEqual(overview.totals, {
      events: 8,
      sources: 2,
      profiles: 4,
      identified: 2,
      identifiedShare: 0.5,
      consented: 2,
      consentedShare: 0.5,
    });
    // The first call waits for the figures of the whole base: they are of this request.
    assert.ok(Date.parse(overview.figuresAt) >= Date.parse(overview.generatedAt));
    assert.equal(overview.quarantine.pending, 1);
    assert.equal(overview.perMinute.length, 60);
    assert.equal(
      overview.perMinute.reduce((sum, minute) => sum + minute.events, 0),
      8,
    );
    assert.ok(Date.parse(overview.perMinute.at(-1)!.at) <= Date.now());
    assert.equal(overview.series.bucket, 'hour');
    assert.equal(overview.series.timeZone, 'Europe/Paris');
    assert.equal(overview.series.buckets.length, 24);
    assert.equal(overview.series.events, 8);
    assert.deepEqual(
      overview.series.bySource.map(({ name, events }) => [name, events]),
      [
        ['overview web', 6],
        ['overview app', 2],
      ],
    );
    assert.deepEqual(
      overview.series.byType.map(({ type, events }) => [type, events]),
      [
        ['track', 4],
        ['page', 2],
        ['screen', 1],
        ['identify', 1],
      ],
    );
    for (const row of [...overview.series.bySource, ...overview.series.byType]) {
      assert.equal(row.counts.length, 24);
      assert.equal(
        row.counts.reduce((sum, count) => sum + count, 0),
        row.events,
      );
    }
    assert.deepEqual(overview.quality, {
      validEmailShare: 0.25,
      validPhoneShare: 0,
      staleDays: 180,
      staleShare: 0,
      duplicateGroups: 0,
      duplicateProfiles: 0,
      rejectedIdentifiers: 0,
    });
  });

  test('a week is cut into seven days; the live route gives the last 60 minutes alone', async () => {
    const week = (await get('/api/overview')).json<{ series: { bucket: string; buckets: string[] } }>();
    assert.equal(week.series.bucket, 'day');
    assert.equal(week.series.buckets.length, 7);
    assert.ok(week.series.buckets.every((start) => start.endsWith('T00:00:00.000Z')));
    const live = await get('/api/overview/live');
    assert.equal(live.statusCode, 200, live.body);
    const body = live.json<{ events: number; perMinute: { events: number }[] }>();
    assert.equal(body.events, 8);
    assert.equal(body.perMinute.length, 60);
    assert.equal(
      body.perMinute.reduce((sum, minute) => sum + minute.events, 0),
      8,
    );
  });

  test('every role may read it; an unknown time zone is refused, naming the parameter', async () => {
    for (const role of roles) {
      const created = await cible.app.inject({
        method: 'POST',
        url: '/api/tokens',
        headers: { authorization: `Bearer ${adminToken}` },
        payload: { name: `overview ${role}`, role },
      });
      const token = created.json<{ token: string }>().token;
      assert.equal((await get('/api/overview?days=30', token)).statusCode, 200, role);
    }
    const refused = await get('/api/overview?timeZone=Mars/Olympus');
    assert.equal(refused.statusCode, 400);
    const error = refused.json<{ error: { code: string; field: string; message: string } }>().error;
    assert.equal(error.code, 'CIBLE_ERR_API_INVALID_REQUEST');
    assert.equal(error.field, 'querystring.timeZone');
    assert.match(error.message, /Mars\/Olympus.*Europe\/Paris/);
  });
});
