import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { strFromU8, unzipSync } from 'fflate';
import { adminToken, basic, removeTestDir, startTestCible, testDataDir, type TestCible } from './helpers.ts';

const secrets = [
  'erin.walsh.7731@example.org',
  'Erin.Walsh.7731@Example.org',
  'erin-7731',
  '+33655512345',
  '06 55 51 23 45',
];

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => join(entry.parentPath, entry.name));
}

/** Every file of the data dir that holds one of the strings, as text or UTF-16. */
async function filesHolding(dir: string, needles: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const file of await filesUnder(dir)) {
    const bytes = await readFile(file);
    for (const needle of needles) {
      if (bytes.includes(Buffer.from(needle, 'utf8')) || bytes.includes(Buffer.from(needle, 'utf16le'))) {
        found.push(`${file}: ${needle}`);
      }
    }
  }
  return found;
}

async function call(cible: TestCible, method: string, url: string, payload?: unknown) {
  return cible.app.inject({
    method: method as 'GET',
    url,
    headers: { authorization: `Bearer ${adminToken}` },
    ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
  });
}

test('erasure: gone from queries at once, from every file after the purge, and never rebuilt', async () => {
  const dir = await testDataDir();
  let cible = await startTestCible({}, dir);
  try {
    const web = await cible.createSource('web');
    const erin = [
      {
        type: 'identify',
        userId: 'erin-7731',
        anonymousId: 'cookie-erin',
        traits: { email: 'Erin.Walsh.7731@Example.org', phone: '06 55 51 23 45', firstName: 'Erinna' },
      },
      {
        type: 'track',
        userId: 'erin-7731',
        event: 'Order Completed',
        properties: { revenue: 40, note: 'gift for erin.walsh.7731@example.org' },
      },
      {
        type: 'track',
        anonymousId: 'cookie-erin',
        event: 'Consent Updated',
        properties: { purpose: 'email', state: 'granted' },
      },
    ];
    const other = [
      { type: 'identify', userId: 'sam-1', traits: { email: 'sam@example.net', city: 'Lyon' } },
      { type: 'track', userId: 'sam-1', event: 'Order Completed', properties: { revenue: 10 } },
    ];
    await cible.sendBatch(web, [...erin, ...other]);
    // A record refused at the door, holding the person's email.
    await cible.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basic(web), 'content-type': 'application/json' },
      payload: { userId: 'erin-7731', properties: { email: 'erin.walsh.7731@example.org' } },
    });
    const segment = await call(cible, 'POST', '/api/segments', {
      name: 'Buyers',
      rule: 'count(event "Order Completed") >= 1',
    });
    assert.equal(segment.statusCode, 201, segment.body);

    const found = await call(cible, 'GET', '/api/profiles?identifier=userId:erin-7731');
    const { id } = found.json<{ id: number }>();
    // Rectification: the corrected value is the one shown, from source "api".
    const rectified = await call(cible, 'PATCH', `/api/profiles/${id}/traits`, {
      traits: { firstName: 'Erin' },
    });
    assert.equal(rectified.statusCode, 200, rectified.body);
    const traits = rectified.json<{ traits: Record<string, { value: unknown; sourceId: string }> }>().traits;
    assert.deepEqual([traits.firstName?.value, traits.firstName?.sourceId], ['Erin', 'api']);

    // Access and portability: one JSON document, or a zip of CSV files.
    const json = await call(cible, 'GET', `/api/profiles/${id}/export`);
    const document = json.json<{
      profile: { identifiers: unknown[]; consent: { history: unknown[] } };
      events: { event?: string }[];
    }>();
    assert.ok(document.profile.identifiers.length >= 4);
    assert.equal(document.profile.consent.history.length, 1);
    assert.deepEqual(
      document.events.map((event) => event.event ?? null),
      [null, 'Order Completed', 'Consent Updated'],
    );
    const exported = await call(cible, 'GET', `/api/profiles/${id}/export?format=zip`);
    assert.equal(exported.statusCode, 200, exported.body);
    const archive = unzipSync(exported.rawPayload);
    assert.ok(strFromU8(archive['identifiers.csv']!).includes('erin-7731'));
    assert.ok(strFromU8(archive['events.csv']!).includes('Order Completed'));

    const erased = await call(cible, 'DELETE', `/api/profiles/${id}`);
    assert.equal(erased.statusCode, 200, erased.body);
    assert.ok((erased.json<{ removed: Record<string, number> }>().removed.events ?? 0) >= 3);

    // Gone from every query.
    assert.equal((await call(cible, 'GET', `/api/profiles/${id}`)).statusCode, 404);
    assert.equal((await call(cible, 'GET', '/api/profiles?identifier=userId:erin-7731')).statusCode, 404);
    const events = (await call(cible, 'GET', '/api/events?limit=1000')).body;
    const quarantine = (await call(cible, 'GET', '/api/quarantine?limit=1000')).body;
    const members = (await call(cible, 'GET', `/api/segments/${segment.json<{ id: string }>().id}/members`))
      .body;
    for (const text of [events, quarantine, members]) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `${secret} still answered`);
    }
    assert.ok(events.includes('sam-1'), 'the other person is untouched');

    // Later events for the same identifiers are dropped, counted, and do not rebuild the person.
    await cible.sendBatch(web, [{ type: 'identify', userId: 'erin-7731', traits: { plan: 'gold' } }]);
    await cible.sendBatch(web, [
      { type: 'track', anonymousId: 'x-new', event: 'Viewed', context: { traits: {} } },
    ]);
    assert.equal((await call(cible, 'GET', '/api/profiles?identifier=userId:erin-7731')).statusCode, 404);

    const purge = await call(cible, 'POST', '/api/privacy/purge');
    assert.equal(purge.statusCode, 200, purge.body);
    assert.equal(purge.json<{ purged: number }>().purged, 1);
    assert.equal(purge.json<{ method: string }>().method, 'in-place');
    const status = (await call(cible, 'GET', '/api/privacy')).json<{
      pendingPurges: number;
      droppedEvents: number;
    }>();
    assert.equal(status.pendingPurges, 0);
    assert.ok(status.droppedEvents >= 1);

    assert.deepEqual(await filesHolding(dir, secrets), []);

    // After a restart the suppression list still holds.
    await cible.stop();
    cible = await startTestCible({}, dir);
    await cible.sendBatch(web, [
      { type: 'identify', userId: 'erin-7731', traits: { email: 'erin.walsh.7731@example.org' } },
    ]);
    assert.equal((await call(cible, 'GET', '/api/profiles?identifier=userId:erin-7731')).statusCode, 404);
    assert.equal(
      (await call(cible, 'GET', '/api/profiles?identifier=email:erin.walsh.7731@example.org')).statusCode,
      404,
    );
    assert.equal((await call(cible, 'GET', '/api/profiles?identifier=userId:sam-1')).statusCode, 200);
  } finally {
    await cible.stop();
    await removeTestDir(dir);
  }
});
