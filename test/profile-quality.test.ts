import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { adminToken, startTestCible, type TestCible } from './helpers.ts';

let cible: TestCible;
let web: string;
let crm: string;
const hour = 3_600_000;
const day = 24 * hour;
const t0 = Date.now() - 2 * day;
const at = (ms: number): string => new Date(ms).toISOString();

function send(writeKey: string, batch: Record<string, unknown>[]) {
  return cible.sendBatch(writeKey, batch);
}

async function get(path: string, token: string | null = adminToken) {
  return cible.app.inject({
    method: 'GET',
    url: path,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
}

interface Profile {
  id: number;
  identifiers: { type: string; value: string; firstSeen: string; lastSeen: string }[];
  summary: {
    events: number;
    sessions: number;
    channels: { sourceId: string; channel: string | null; library: string | null; events: number }[];
    purchases: number;
    revenue: number;
  };
  quality: {
    hasValidEmail: boolean;
    hasValidPhone: boolean;
    stale: boolean;
    staleDays: number;
    suspectedDuplicates: { name: string; birthDate: string; postalCode: string; profiles: number[] } | null;
  };
}

interface Page {
  profiles: {
    id: number;
    identifiers: { type: string; value: string }[];
    traits: Record<string, unknown>;
    lastSeen: string;
  }[];
  nextCursor: number | null;
}

let amelie: Profile;
let crmAmelie: Profile;
let oldTimer: Profile;
let parisian: Profile;

before(async () => {
  cible = await startTestCible();
  web = await cible.createSource('web');
  crm = await cible.createSource('crm');
  const library = { library: { name: 'analytics.js', version: '5.2.1' } };
  await send(web, [
    {
      type: 'identify',
      anonymousId: 'a-phone',
      userId: 'amelie',
      timestamp: at(t0),
      messageId: 'a1',
      context: library,
      traits: {
        email: 'Amelie.Martin@Example.com',
        firstName: 'Amélie',
        lastName: 'Martin',
        birthday: '1985-03-04',
        address: { postal_code: '69 001', city: 'Lyon' },
      },
    },
    {
      type: 'page',
      anonymousId: 'a-phone',
      name: 'Home',
      timestamp: at(t0 + 5 * 60_000),
      messageId: 'a2',
      context: library,
    },
    {
      type: 'track',
      userId: 'amelie',
      event: 'Order Completed',
      properties: { revenue: 42.5 },
      timestamp: at(t0 + 2 * hour),
      messageId: 'a3',
      context: { channel: 'mobile' },
    },
    {
      type: 'identify',
      userId: 'amelie',
      timestamp: at(t0 + day),
      messageId: 'a4',
      traits: { email: 'amelie.martin@example.com' },
      context: library,
    },
    // Invalid: a track needs its event name. Kept in the quarantine.
    { type: 'track', userId: 'amelie', messageId: 'a5' },
  ]);
  await send(crm, [
    {
      type: 'identify',
      userId: 'crm-77',
      timestamp: at(t0),
      messageId: 'c1',
      traits: {
        name: '  AMELIE   MARTIN ',
        birthDate: '04/03/1985',
        postalCode: '69001',
        phone: '06 11 22 33 44',
        city: 'Lyon',
      },
    },
    {
      type: 'identify',
      userId: 'old-timer',
      timestamp: at(t0 - 400 * day),
      messageId: 'c2',
      traits: { email: 'test@test.com', city: 'Paris' },
    },
    {
      type: 'identify',
      userId: 'paris-1',
      timestamp: at(t0),
      messageId: 'c3',
      traits: { email: 'not-an-email', phone: '123', city: 'paris' },
    },
  ]);
  const byUser = async (userId: string) =>
    (await get(`/api/profiles?identifier=userId:${userId}`)).json<Profile>();
  amelie = await byUser('amelie');
  crmAmelie = await byUser('crm-77');
  oldTimer = await byUser('old-timer');
  parisian = await byUser('paris-1');
});
after(() => cible.close());

test('a profile shows when each identifier was first and last seen, its visits and its channels', () => {
  const identifiers = Object.fromEntries(
    amelie.identifiers.map((row) => [`${row.type}:${row.value}`, [row.firstSeen, row.lastSeen]]),
  );
  assert.deepEqual(identifiers, {
    'anonymousId:a-phone': [at(t0), at(t0 + 5 * 60_000)],
    'userId:amelie': [at(t0), at(t0 + day)],
    'email:amelie.martin@example.com': [at(t0), at(t0 + day)],
  });
  assert.equal(amelie.summary.events, 4);
  // t0 and 5 minutes later, 2 hours later, a day later.
  assert.equal(amelie.summary.sessions, 3);
  assert.equal(amelie.summary.purchases, 1);
  assert.equal(amelie.summary.revenue, 42.5);
  assert.deepEqual(
    amelie.summary.channels.map((channel) => [channel.channel, channel.library, channel.events]),
    [
      [null, 'analytics.js', 3],
      ['mobile', null, 1],
    ],
  );
});

test('each profile carries its own quality: valid contacts, staleness, suspected duplicates', async () => {
  assert.deepEqual(amelie.quality, {
    hasValidEmail: true,
    hasValidPhone: false,
    stale: false,
    staleDays: 180,
    suspectedDuplicates: {
      name: 'amelie martin',
      birthDate: '1985-03-04',
      postalCode: '69001',
      profiles: [crmAmelie.id],
    },
  });
  assert.deepEqual(crmAmelie.quality.suspectedDuplicates?.profiles, [amelie.id]);
  assert.equal(crmAmelie.quality.hasValidPhone, true);
  assert.equal(oldTimer.quality.stale, true);
  assert.equal(oldTimer.quality.hasValidEmail, false, 'a placeholder address is no address');
  assert.equal(oldTimer.quality.suspectedDuplicates, null, 'no name, birth date and postal code');
  const lenient = (await get(`/api/profiles/${oldTimer.id}?staleDays=1000`)).json<Profile>();
  assert.equal(lenient.quality.stale, false);
  assert.equal(lenient.quality.staleDays, 1000);
});

test('profiles are searched by identifier prefix, typed or not, and by trait, page by page', async () => {
  const ids = async (query: string) => {
    const response = await get(`/api/profiles?${query}`);
    assert.equal(response.statusCode, 200, response.body);
    return response.json<Page>().profiles.map((card) => card.id);
  };
  assert.deepEqual(await ids('q=email:AMELIE.m'), [amelie.id]);
  assert.deepEqual(await ids('q=amel'), [amelie.id]);
  assert.deepEqual(await ids(`q=${encodeURIComponent('phone:06 11')}`), [crmAmelie.id]);
  assert.deepEqual(await ids('q=nobody'), []);
  assert.deepEqual(await ids('trait.city=LYON'), [crmAmelie.id]);
  assert.deepEqual(await ids('trait.address.city=LYON'), [amelie.id]);
  assert.deepEqual(await ids('trait.city=lyon&q=crm'), [crmAmelie.id]);
  assert.deepEqual(
    await ids('trait.city=par*'),
    [oldTimer.id, parisian.id].sort((a, b) => a - b),
  );
  assert.deepEqual(await ids('trait.address.postal_code=69*'), [amelie.id]);

  // Page by page: each page hands the cursor of the next.
  const pages: number[][] = [];
  let cursor: number | null = null;
  do {
    const query: string = `trait.city=P*&limit=1${cursor === null ? '' : `&cursor=${cursor}`}`;
    const page: Page = (await get(`/api/profiles?${query}`)).json<Page>();
    pages.push(page.profiles.map((card) => card.id));
    cursor = page.nextCursor;
  } while (cursor !== null && pages.length < 10);
  assert.deepEqual(
    pages.flat(),
    [oldTimer.id, parisian.id].sort((a, b) => a - b),
  );
  assert.ok(pages.every((page) => page.length <= 1));

  const [card] = (await get('/api/profiles?q=userId:amelie')).json<Page>().profiles;
  assert.deepEqual(card, {
    id: amelie.id,
    identifiers: [
      { type: 'userId', value: 'amelie' },
      { type: 'email', value: 'amelie.martin@example.com' },
      { type: 'anonymousId', value: 'a-phone' },
    ],
    traits: {
      email: 'amelie.martin@example.com',
      firstName: 'Amélie',
      lastName: 'Martin',
      address: { postal_code: '69 001', city: 'Lyon' },
    },
    lastSeen: at(t0 + day),
    events: 4,
  });
});

test('a search without criteria, or with an empty one, says what to send', async () => {
  for (const query of ['', '?limit=5', '?q=email:', '?trait.=x']) {
    const response = await get(`/api/profiles${query}`);
    assert.equal(response.statusCode, 400, query);
    assert.equal(response.json().error.code, 'CIBLE_ERR_PROFILES_INVALID_SEARCH', query);
  }
  const star = await get('/api/profiles?trait.city=*');
  assert.equal(star.statusCode, 400);
  assert.match(star.json().error.message, /trait\.city/);
});

test('the quality report: valid contacts, stale profiles, duplicates, rejected values', async () => {
  assert.equal((await get('/api/quality', null)).statusCode, 401);
  const response = await get('/api/quality?staleDays=180&sample=5');
  assert.equal(response.statusCode, 200, response.body);
  const report = response.json();
  assert.deepEqual(report.totals, { profiles: 4, originProfiles: 4, identifiers: 7, events: 7 });
  assert.deepEqual(report.email, { valid: 1, validShare: 0.25, invalidOnly: 2 });
  assert.deepEqual(report.phone, { valid: 1, validShare: 0.25, invalidOnly: 1 });
  assert.equal(report.stale.days, 180);
  assert.equal(report.stale.profiles, 1);
  assert.deepEqual(report.duplicates, {
    groups: 1,
    profiles: 2,
    sample: [
      {
        name: 'amelie martin',
        birthDate: '1985-03-04',
        postalCode: '69001',
        profiles: [amelie.id, crmAmelie.id].sort((a, b) => a - b),
      },
    ],
  });
  assert.deepEqual(
    report.rejected.identifiers
      .map((row: { type: string; reason: string; count: number }) => `${row.type} ${row.reason} ${row.count}`)
      .sort(),
    ['email invalid 1', 'email placeholder 1', 'phone invalid 1'],
  );
  const placeholder = report.rejected.identifiers.find(
    (row: { reason: string }) => row.reason === 'placeholder',
  );
  assert.equal(placeholder.example.value, 'test@test.com');
  assert.equal(placeholder.example.messageId, 'c2');
  assert.deepEqual(report.rejected.quarantine, [
    { code: 'CIBLE_ERR_TRACKING_MISSING_FIELD', field: 'event', pending: 1, replayed: 0 },
  ]);
});
