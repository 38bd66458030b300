import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { adminToken, removeTestDir, startTestCible, testDataDir, type TestCible } from './helpers.ts';
import { standardPurposes } from '../src/domain/consent.ts';

interface PurposeView {
  state: 'granted' | 'denied' | 'unknown';
  at: string | null;
  sourceId: string | null;
  method: string | null;
  detail: string | null;
  doubleOptIn?: { state: string; at: string | null };
}

interface HistoryEntry {
  purpose: string;
  state: string;
  doubleOptIn: string | null;
  at: string;
  sourceId: string;
  method: string;
  detail: string | null;
  messageId: string;
}

interface ConsentView {
  purposes: Record<string, PurposeView>;
  history: HistoryEntry[];
}

interface Profile {
  id: number;
  members: number[];
  consent: ConsentView;
}

let cible: TestCible;
let dataDir: string;
let web: string;
const auth = { authorization: `Bearer ${adminToken}` };
const at = (minute: number) => new Date(Date.UTC(2026, 1, 2, 9, minute)).toISOString();

before(async () => {
  dataDir = await testDataDir();
  // A purpose of the deployment's own, and the consent manager's category for it.
  await writeFile(
    join(dataDir, 'cible.json'),
    JSON.stringify({ consent: { purposes: ['loyalty'], categories: { C0009: 'loyalty' } } }),
  );
  cible = await startTestCible({}, dataDir);
  web = await cible.createSource('web');
});
after(async () => {
  await cible.close();
  await removeTestDir(dataDir);
});

const profileOf = (identifier: string) =>
  cible.admin<Profile>(`/api/profiles?identifier=${encodeURIComponent(identifier)}`);

const summary = (history: readonly HistoryEntry[]) =>
  history.map((entry) => `${entry.purpose}:${entry.state}:${entry.method}`);

async function putConsent(id: number, body: unknown) {
  const response = await cible.app.inject({
    method: 'PUT',
    url: `/api/profiles/${id}/consent`,
    headers: auth,
    payload: body as Record<string, unknown>,
  });
  return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
}

test('the SDK repeats its preferences on every event: history holds one entry per change', async () => {
  const page = (minute: number, marketing: boolean) => ({
    type: 'page',
    anonymousId: 'sdk-visitor',
    name: 'Home',
    timestamp: at(minute),
    messageId: `sdk-${minute}`,
    context: {
      consent: {
        categoryPreferences: { Analytics: true, Marketing: marketing, C0009: true, necessary: true },
      },
    },
  });
  await cible.sendBatch(web, [page(0, true), page(1, true), page(2, true)]);
  await cible.sendBatch(web, [page(3, true), page(4, true)]);
  await cible.sendBatch(web, [page(5, false), page(6, false), page(7, false)]);
  // An event without consent says nothing about it.
  await cible.sendBatch(web, [
    { type: 'page', anonymousId: 'sdk-visitor', timestamp: at(8), messageId: 'sdk-8' },
  ]);

  const { consent } = await profileOf('anonymousId:sdk-visitor');
  const marketing = ['email', 'sms', 'push', 'postal', 'phone'];
  assert.deepEqual(
    summary(consent.history).sort(),
    [
      'analytics:granted:sdk',
      ...marketing.map((purpose) => `${purpose}:granted:sdk`),
      ...marketing.map((purpose) => `${purpose}:denied:sdk`),
      'loyalty:granted:sdk',
    ].sort(),
  );
  assert.deepEqual(
    consent.history.filter((entry) => entry.purpose === 'email').map((entry) => [entry.messageId, entry.at]),
    [
      ['sdk-0', at(0)],
      ['sdk-5', at(5)],
    ],
  );
  assert.deepEqual(consent.purposes.email, {
    state: 'denied',
    at: at(5),
    sourceId: consent.history[0]!.sourceId,
    method: 'sdk',
    detail: null,
    doubleOptIn: { state: 'none', at: at(5) },
  });
  assert.equal(consent.purposes.loyalty?.state, 'granted');
  assert.deepEqual(consent.purposes.advertising, {
    state: 'unknown',
    at: null,
    sourceId: null,
    method: null,
    detail: null,
  });
  assert.deepEqual(Object.keys(consent.purposes), [...standardPurposes, 'loyalty']);
});

test('a Consent Updated event records its purposes, how, and the email double opt-in', async () => {
  await cible.sendBatch(web, [
    {
      type: 'track',
      event: 'Consent Updated',
      userId: 'event-user',
      timestamp: at(10),
      messageId: 'cu-1',
      properties: {
        purposes: { email: 'granted', push: 'denied' },
        doubleOptIn: 'pending',
        method: 'signup form',
      },
    },
    {
      type: 'track',
      event: 'Consent Updated',
      userId: 'event-user',
      timestamp: at(12),
      messageId: 'cu-2',
      properties: { purpose: 'email', state: 'granted', doubleOptIn: 'confirmed' },
    },
  ]);
  const { consent } = await profileOf('userId:event-user');
  assert.deepEqual(
    consent.history.map((entry) => [
      entry.purpose,
      entry.state,
      entry.doubleOptIn,
      entry.method,
      entry.detail,
    ]),
    [
      ['email', 'granted', 'pending', 'event', 'signup form'],
      ['push', 'denied', null, 'event', 'signup form'],
      ['email', 'granted', 'confirmed', 'event', null],
    ],
  );
  assert.deepEqual(consent.purposes.email?.doubleOptIn, { state: 'confirmed', at: at(12) });
  assert.equal(consent.purposes.email?.at, at(12));
});

test('PUT /api/profiles/{id}/consent records a change through the writer, visible at once', async () => {
  await cible.sendBatch(web, [
    { type: 'identify', userId: 'api-user', timestamp: at(20), messageId: 'api-0' },
  ]);
  const { id } = await profileOf('userId:api-user');

  const put = await putConsent(id, {
    purposes: { email: 'granted', sms: 'denied' },
    doubleOptIn: 'confirmed',
    detail: 'call centre',
    at: at(21),
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const answered = put.body as unknown as ConsentView;
  assert.deepEqual(summary(answered.history), ['email:granted:api', 'sms:denied:api']);
  const [email] = answered.history;
  assert.equal(email?.sourceId, 'api');
  assert.equal(email?.detail, 'call centre');
  assert.match(email?.messageId ?? '', /^api-/);
  assert.deepEqual(answered.purposes.email?.doubleOptIn, { state: 'confirmed', at: at(21) });

  const read = await profileOf('userId:api-user');
  assert.deepEqual(read.consent, answered, 'the next read shows it');

  // The audit log says who changed it, and which change that was.
  const { entries } = await cible.admin<{
    entries: { action: string; target: { id: string } | null; detail: Record<string, unknown> | null }[];
  }>('/api/audit?action=consent.change');
  assert.deepEqual(
    entries.map((entry) => [entry.target?.id, entry.detail]),
    [
      [
        String(id),
        { messageId: email?.messageId, purposes: { email: 'granted', sms: 'denied' }, recorded: 2 },
      ],
    ],
  );

  // The same again changes nothing; a new answer adds to the history.
  const same = await putConsent(id, { purposes: { sms: 'denied' } });
  assert.equal(same.status, 200);
  assert.equal((same.body as unknown as ConsentView).history.length, 2);
  const changed = await putConsent(id, { purposes: { sms: true } });
  assert.deepEqual(summary((changed.body as unknown as ConsentView).history), [
    'email:granted:api',
    'sms:denied:api',
    'sms:granted:api',
  ]);
});

test('the consent API names what is wrong', async () => {
  const { id } = await profileOf('userId:api-user');
  const unknown = await putConsent(id, { purposes: { email: 'granted', foo: 'granted' } });
  assert.equal(unknown.status, 400);
  const error = unknown.body.error as { code: string; field: string; message: string };
  assert.equal(error.code, 'CIBLE_ERR_CONSENT_UNKNOWN_PURPOSE');
  assert.equal(error.field, 'purposes.foo');
  assert.match(
    error.message,
    /Known purposes: analytics, personalization, email, sms, push, postal, phone, advertising, loyalty/,
  );

  const badState = await putConsent(id, { purposes: { email: 'yes please' } });
  assert.equal(badState.status, 400);
  assert.deepEqual(
    [(badState.body.error as { code: string }).code, (badState.body.error as { field: string }).field],
    ['CIBLE_ERR_CONSENT_INVALID', 'purposes.email'],
  );
  const optIn = await putConsent(id, { purposes: { sms: 'granted' }, doubleOptIn: 'confirmed' });
  assert.equal((optIn.body.error as { field: string }).field, 'doubleOptIn');
  const future = await putConsent(id, { purposes: { sms: 'granted' }, at: '2999-01-01T00:00:00Z' });
  assert.equal((future.body.error as { field: string }).field, 'at');

  const missing = await putConsent(987_654, { purposes: { email: 'granted' } });
  assert.equal(missing.status, 404);
  assert.equal((missing.body.error as { code: string }).code, 'CIBLE_ERR_API_NOT_FOUND');

  // Nothing of the refused requests was recorded.
  assert.equal((await profileOf('userId:api-user')).consent.history.length, 3);
});

test('an import maps columns to consent; a bad answer rejects its row, naming the column', async () => {
  const mapping = {
    kind: 'customers',
    columns: {
      email: { identifier: 'email' },
      optin_email: { consent: 'email' },
      optin_sms: { consent: 'sms' },
      club: { consent: 'loyalty' },
    },
  };
  const csv = [
    'email,optin_email,optin_sms,club',
    'lena@example.com,yes,0,',
    'marc@example.com,maybe,1,yes',
    'nina@example.com,,,',
    '',
  ].join('\n');
  const created = await cible.app.inject({
    method: 'POST',
    url: '/api/imports',
    headers: auth,
    payload: { fileName: 'crm.csv', mapping },
  });
  assert.equal(created.statusCode, 201, created.body);
  const importId = created.json<{ id: string }>().id;
  const sent = await cible.app.inject({
    method: 'PUT',
    url: `/api/imports/${importId}/file`,
    headers: { ...auth, 'content-type': 'text/csv' },
    payload: csv,
  });
  assert.equal(sent.statusCode, 202, sent.body);
  let job: { status: string; rows: { read: number; rejected: number } };
  for (;;) {
    job = await cible.admin(`/api/imports/${importId}`);
    if (['completed', 'failed', 'cancelled'].includes(job.status)) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(job.status, 'completed');
  assert.deepEqual(job.rows, { read: 3, rejected: 1 });
  const { rejected } = await cible.admin<{ rejected: { line: number; field: string; code: string }[] }>(
    `/api/imports/${importId}/rejected`,
  );
  assert.deepEqual(
    rejected.map((row) => [row.line, row.code, row.field]),
    [[3, 'CIBLE_ERR_IMPORT_ROW_INVALID_VALUE', 'optin_email']],
  );

  const lena = (await profileOf('email:lena@example.com')).consent;
  assert.deepEqual(
    lena.history.map((entry) => [entry.purpose, entry.state, entry.method, entry.detail]),
    [
      ['email', 'granted', 'import', `${importId}, line 2`],
      ['sms', 'denied', 'import', `${importId}, line 2`],
    ],
  );
  assert.equal(lena.purposes.loyalty?.state, 'unknown', 'an empty cell says nothing');
  assert.deepEqual((await profileOf('email:nina@example.com')).consent.history, []);

  // A mapping naming a purpose the rules do not know is refused when the import is created.
  const refused = await cible.app.inject({
    method: 'POST',
    url: '/api/imports',
    headers: auth,
    payload: {
      fileName: 'crm.csv',
      mapping: { ...mapping, columns: { ...mapping.columns, x: { consent: 'fax' } } },
    },
  });
  assert.equal(refused.statusCode, 400);
  assert.equal(refused.json<{ error: { field: string } }>().error.field, 'columns.x.consent');
});

test('a merged profile shows the fold of both histories', async () => {
  await cible.sendBatch(web, [
    {
      type: 'track',
      event: 'Consent Updated',
      anonymousId: 'laptop',
      timestamp: at(30),
      messageId: 'm-1',
      properties: { purposes: { email: 'granted', sms: 'granted' } },
    },
    {
      type: 'track',
      event: 'Consent Updated',
      userId: 'merge-user',
      timestamp: at(31),
      messageId: 'm-2',
      properties: { purposes: { sms: 'denied', analytics: 'granted' } },
    },
  ]);
  const laptop = await profileOf('anonymousId:laptop');
  const user = await profileOf('userId:merge-user');
  assert.notEqual(laptop.id, user.id);

  // Signing in on the laptop makes them one person.
  await cible.sendBatch(web, [
    { type: 'identify', anonymousId: 'laptop', userId: 'merge-user', timestamp: at(32), messageId: 'm-3' },
  ]);
  const merged = await profileOf('userId:merge-user');
  assert.deepEqual([...merged.members].sort(), [laptop.id, user.id].sort());
  assert.deepEqual(summary(merged.consent.history), [
    'email:granted:event',
    'sms:granted:event',
    'sms:denied:event',
    'analytics:granted:event',
  ]);
  const states = Object.fromEntries(
    Object.entries(merged.consent.purposes).map(([purpose, view]) => [purpose, view.state]),
  );
  assert.deepEqual(
    [states.email, states.sms, states.analytics, states.push],
    ['granted', 'denied', 'granted', 'unknown'],
  );

  // What either origin profile said is the person's now: sms denied is no change, from the laptop too.
  await cible.sendBatch(web, [
    {
      type: 'track',
      event: 'Consent Updated',
      anonymousId: 'laptop',
      timestamp: at(33),
      messageId: 'm-4',
      properties: { purposes: { sms: 'denied', email: 'denied' } },
    },
  ]);
  assert.deepEqual(summary((await profileOf('userId:merge-user')).consent.history).slice(4), [
    'email:denied:event',
  ]);
});

test('consent survives a restart, and is still told from repetitions after it', async () => {
  const before = await profileOf('anonymousId:sdk-visitor');
  const apiUser = await profileOf('userId:api-user');
  await cible.close();
  cible = await startTestCible({}, dataDir);

  assert.deepEqual((await profileOf('anonymousId:sdk-visitor')).consent, before.consent);
  assert.deepEqual((await profileOf('userId:api-user')).consent, apiUser.consent);

  // The preferences in force, sent again after the restart, are no change.
  await cible.sendBatch(web, [
    {
      type: 'page',
      anonymousId: 'sdk-visitor',
      timestamp: at(40),
      messageId: 'sdk-40',
      context: { consent: { categoryPreferences: { analytics: true, marketing: false, C0009: true } } },
    },
  ]);
  assert.equal(
    (await profileOf('anonymousId:sdk-visitor')).consent.history.length,
    before.consent.history.length,
  );
  const again = await putConsent(apiUser.id, { purposes: { sms: 'granted' } });
  assert.equal((again.body as unknown as ConsentView).history.length, apiUser.consent.history.length);
});

test('consent-manager categories that stand for no purpose are counted, for the rules file', async () => {
  const page = (minute: number) => ({
    type: 'page',
    anonymousId: 'unknown-category-visitor',
    timestamp: at(minute),
    messageId: `unknown-category-${minute}`,
    context: { consent: { categoryPreferences: { Analytics: true, C0042: true } } },
  });
  await cible.sendBatch(web, [page(0), page(1), page(2)]);
  const stats = await cible.admin<{ consent: { unknownCategories: Record<string, number> } }>('/api/stats');
  assert.equal(stats.consent.unknownCategories.C0042, 3);
  assert.equal(stats.consent.unknownCategories.Analytics, undefined);
});
