import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { EventOutput } from '../src/domain/events.ts';
import {
  adminToken,
  basic,
  removeTestDir,
  repoRoot,
  startTestCible,
  testDataDir,
  type TestCible,
} from './helpers.ts';

interface Job {
  id: string;
  attempts: number;
  status: string;
  sourceId: string;
  rows: { read: number; rejected: number };
  events: { accepted: number; duplicates: number };
  progress: { bytesTotal: number; bytesRead: number; percent: number };
  rowsPerSecond: number;
  error: { code: string; message: string } | null;
}

interface Rejected {
  line: number;
  code: string;
  reason: string;
  field: string | null;
  raw: string;
}

interface Profile {
  id: number;
  identifiers: { type: string; value: string }[];
  traits: Record<string, { value: unknown }>;
  summary: { events: number; purchases: number; revenue: number };
}

let cible: TestCible;
let workDir: string;
const auth = { authorization: `Bearer ${adminToken}` };

before(async () => {
  cible = await startTestCible();
  workDir = await testDataDir();
});
after(async () => {
  await cible.close();
  await removeTestDir(workDir);
});

async function call<T>(method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, type?: string) {
  const response = await cible.app.inject({
    method,
    url,
    headers: { ...auth, ...(type === undefined ? {} : { 'content-type': type }) },
    ...(payload === undefined ? {} : { payload: payload as string }),
  });
  return { status: response.statusCode, body: response.body, json: () => response.json<T>() };
}

/** Creates an import, sends its file, and waits for it to end. */
async function importFile(fileName: string, mapping: unknown, content: string): Promise<Job> {
  const created = await call<Job>('POST', '/api/imports', { fileName, mapping });
  assert.equal(created.status, 201, created.body);
  const sent = await call<Job>('PUT', `/api/imports/${created.json().id}/file`, content, 'text/csv');
  assert.equal(sent.status, 202, sent.body);
  for (;;) {
    const job = (await call<Job>('GET', `/api/imports/${created.json().id}`)).json();
    if (['completed', 'failed', 'cancelled'].includes(job.status)) return job;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function rejected(id: string): Promise<Rejected[]> {
  return (await call<{ rejected: Rejected[] }>('GET', `/api/imports/${id}/rejected`)).json().rejected;
}

async function profileOf(identifier: string): Promise<Profile> {
  return cible.admin<Profile>(`/api/profiles?identifier=${encodeURIComponent(identifier)}`);
}

const customersMapping = {
  kind: 'customers',
  format: { delimiter: ';' },
  columns: {
    Email: { identifier: 'email' },
    Phone: { identifier: 'phone' },
    Card: { identifier: 'loyaltyId' },
    'First name': { trait: 'firstName' },
    Birth: { trait: 'birthday', type: 'date', format: 'DD/MM/YYYY' },
    Newsletter: { trait: 'newsletter', type: 'boolean' },
  },
};

const customersCsv = [
  'Email;Phone;Card;First name;Birth;Newsletter',
  'jane.doe+shop@gmail.com;06 12 34 56 78;LOY-1;Jane;07/03/1985;yes',
  '"Bob@Example.com";+44 20 7946 0958;LOY-2;Bob;;no',
  'not-an-email;;LOY-3;Ann;01/01/1990;yes',
  'n/a;;;Nobody;;',
  'carl@example.com;;LOY-4;Carl;31/02/1990;no',
  'dan@example.com;;LOY-5;Dan',
  '',
].join('\n');

let customersImport: Job;

test('customers: identifiers normalised, traits set, a till customer joins the web profile by e-mail', async () => {
  const web = await cible.createSource('web');
  const identify = await cible.app.inject({
    method: 'POST',
    url: '/v1/identify',
    headers: { authorization: basic(web), 'content-type': 'application/json' },
    payload: { userId: 'web-42', traits: { email: 'Jane.Doe@Gmail.com' } },
  });
  assert.equal(identify.statusCode, 200, identify.body);

  customersImport = await importFile('customers.csv', customersMapping, customersCsv);
  assert.equal(customersImport.status, 'completed', JSON.stringify(customersImport.error));
  assert.deepEqual(customersImport.rows, { read: 6, rejected: 4 });
  assert.deepEqual(customersImport.events, { accepted: 2, duplicates: 0 });
  assert.equal(customersImport.progress.percent, 100);

  const jane = await profileOf('loyaltyId:LOY-1');
  const webProfile = await profileOf('userId:web-42');
  assert.equal(jane.id, webProfile.id, 'the till customer and the web visitor are one profile');
  const identifiers = jane.identifiers.map(({ type, value }) => `${type}:${value}`).sort();
  assert.deepEqual(identifiers, [
    'email:janedoe@gmail.com',
    'loyaltyId:LOY-1',
    'phone:+33612345678',
    'userId:web-42',
  ]);
  assert.equal(jane.traits.firstName?.value, 'Jane');
  assert.equal(jane.traits.birthday?.value, '1985-03-07');
  assert.equal(jane.traits.newsletter?.value, true);
  const bob = await profileOf('phone:+442079460958');
  assert.equal(bob.traits.firstName?.value, 'Bob');
  assert.equal(bob.traits.newsletter?.value, false);
  assert.equal((await profileOf('email:bob@example.com')).id, bob.id);
});

test('bad rows are reported with their line number, reason and column, and kept', async () => {
  const rows = await rejected(customersImport.id);
  assert.deepEqual(
    rows.map(({ line, code, field }) => ({ line, code, field })),
    [
      { line: 4, code: 'CIBLE_ERR_IMPORT_ROW_BAD_IDENTIFIER', field: 'Email' },
      { line: 5, code: 'CIBLE_ERR_IMPORT_ROW_NO_IDENTIFIER', field: 'Email' },
      { line: 6, code: 'CIBLE_ERR_IMPORT_ROW_INVALID_VALUE', field: 'Birth' },
      { line: 7, code: 'CIBLE_ERR_IMPORT_ROW_MALFORMED', field: null },
    ],
  );
  assert.match(rows[0]!.reason, /"not-an-email" is not an e-mail address/);
  assert.match(rows[2]!.reason, /"31\/02\/1990" is not a valid date/);
  assert.match(rows[3]!.reason, /4 fields where the header has 6/);
  assert.equal(rows[0]!.raw, 'not-an-email;;LOY-3;Ann;01/01/1990;yes');

  // They survive a restart: they are in the store, with the job.
  const file = await call('GET', `/api/imports/${customersImport.id}/rejected/file`);
  assert.equal(file.status, 200);
  assert.equal(
    file.body,
    [
      'Email;Phone;Card;First name;Birth;Newsletter',
      'not-an-email;;LOY-3;Ann;01/01/1990;yes',
      'n/a;;;Nobody;;',
      'carl@example.com;;LOY-4;Carl;31/02/1990;no',
      'dan@example.com;;LOY-5;Dan',
      '',
    ].join('\n'),
  );

  // Fixed, the rejected rows import with the same mapping.
  const fixed = file.body
    .replace('not-an-email', 'ann@example.com')
    .replace('n/a;', 'nobody@example.com;')
    .replace('31/02/1990', '28/02/1990')
    .replace('LOY-5;Dan', 'LOY-5;Dan;;yes');
  const again = await importFile('customers.rejected.csv', customersMapping, fixed);
  assert.deepEqual(again.rows, { read: 4, rejected: 0 });
  assert.deepEqual(again.events, { accepted: 4, duplicates: 0 });
  assert.equal((await profileOf('loyaltyId:LOY-4')).traits.birthday?.value, '1990-02-28');
});

test('importing the same file again changes nothing', async () => {
  const before = await cible.admin<{ events: number; profiles: number; identifiers: number }>('/api/stats');
  const again = await importFile('customers.csv', customersMapping, customersCsv);
  assert.deepEqual(again.events, { accepted: 0, duplicates: 2 });
  assert.deepEqual(again.rows, { read: 6, rejected: 4 });
  const after = await cible.admin<{ events: number; profiles: number; identifiers: number }>('/api/stats');
  assert.deepEqual(
    { events: after.events, profiles: after.profiles, identifiers: after.identifiers },
    { events: before.events, profiles: before.profiles, identifiers: before.identifiers },
  );
});

const tillsMapping = {
  kind: 'transactions',
  orderId: 'ticket',
  timezone: 'Europe/Paris',
  columns: {
    card: { identifier: 'loyaltyId' },
    date: { timestamp: 'YYYY-MM-DD HH:mm' },
    store: { property: 'store' },
    sku: { product: 'sku' },
    qty: { product: 'quantity', type: 'integer' },
    price: { product: 'price' },
  },
};

const tillsCsv = [
  'ticket,store,card,date,sku,qty,price',
  'T1,Lyon,LOY-1,2024-03-01 10:15,SKU-A,2,9.50',
  'T1,,LOY-1,2024-03-01 10:15,SKU-B,1,20',
  'T2,Paris,LOY-2,2024-03-02 11:00,SKU-A,1,9.50',
  'T3,Paris,LOY-9,2024-03-02 12:00,SKU-C,1,5',
  'T3,Paris,LOY-8,2024-03-02 12:00,SKU-D,1,5',
  'T4,Nice,LOY-1,2024-03-03 09:00,SKU-E,1,5',
  'T4,Nice,LOY-1,2024-03-03 09:00,SKU-F,x,5',
  'T1,Lyon,LOY-1,2024-03-01 10:15,SKU-Z,1,1',
].join('\r\n');

test('transactions: the lines of a receipt become one order with its products; a bad line rejects its order', async () => {
  const job = await importFile('tills.csv', tillsMapping, tillsCsv);
  assert.equal(job.status, 'completed', JSON.stringify(job.error));
  assert.deepEqual(job.rows, { read: 8, rejected: 5 });
  assert.deepEqual(job.events, { accepted: 2, duplicates: 0 });

  const jane = await profileOf('loyaltyId:LOY-1');
  const { events } = await cible.admin<{ events: EventOutput[] }>(
    `/api/profiles/${jane.id}/events?limit=100`,
  );
  const orders = events.filter((event) => event.event === 'Order Completed');
  assert.equal(orders.length, 1);
  assert.equal(orders[0]!.timestamp, '2024-03-01T09:15:00.000Z', 'Paris time, UTC+1 in March');
  assert.deepEqual(orders[0]!.properties, {
    order_id: 'T1',
    store: 'Lyon',
    products: [
      { sku: 'SKU-A', quantity: 2, price: 9.5 },
      { sku: 'SKU-B', quantity: 1, price: 20 },
    ],
    revenue: 39,
  });
  assert.deepEqual(
    { purchases: jane.summary.purchases, revenue: jane.summary.revenue },
    { purchases: 1, revenue: 39 },
  );

  const rows = await rejected(job.id);
  assert.deepEqual(
    rows.map(({ line, code, field }) => ({ line, code, field })),
    [
      { line: 5, code: 'CIBLE_ERR_IMPORT_ORDER_INCONSISTENT', field: 'card' },
      { line: 7, code: 'CIBLE_ERR_IMPORT_ROW_INVALID_VALUE', field: 'qty' },
      { line: 9, code: 'CIBLE_ERR_IMPORT_ORDER_INCONSISTENT', field: 'ticket' },
    ],
  );
  assert.match(rows[0]!.reason, /Order of lines 5–6: Line 6 gives card "LOY-8" where line 5/);
  assert.equal(
    rows[0]!.raw,
    'T3,Paris,LOY-9,2024-03-02 12:00,SKU-C,1,5\nT3,Paris,LOY-8,2024-03-02 12:00,SKU-D,1,5',
  );
  assert.match(rows[2]!.reason, /appears again after other orders/);

  const again = await importFile('tills.csv', tillsMapping, tillsCsv);
  assert.deepEqual(again.events, { accepted: 0, duplicates: 2 });
});

test('a mapping that cannot work is refused with where and why', async () => {
  const refused = await call<{ error: { code: string; message: string; field: string } }>(
    'POST',
    '/api/imports',
    {
      fileName: 'x.csv',
      mapping: { kind: 'transactions', columns: { when: { timestamp: 'DD/MM' }, who: { trait: 'name' } } },
    },
  );
  assert.equal(refused.status, 400);
  const { error } = refused.json();
  assert.equal(error.code, 'CIBLE_ERR_IMPORT_INVALID_MAPPING');
  assert.equal(error.field, 'columns.when.timestamp');
  assert.match(error.message, /The format "DD\/MM" has no year/);
  assert.match(error.message, /columns\.who\.trait: Traits come from customers files/);
  assert.match(error.message, /Map at least one column to an identifier/);

  const missing = await importFile(
    'x.csv',
    { kind: 'customers', columns: { mail: { identifier: 'email' } } },
    'email\na@example.com\n',
  );
  assert.equal(missing.status, 'failed');
  assert.equal(missing.error?.code, 'CIBLE_ERR_IMPORT_INVALID_MAPPING');
  assert.match(missing.error?.message ?? '', /Column "mail" is not in the file; its columns are "email"/);
});

test('cible import --mapping runs the job, shows its report and writes the rejected rows beside', async () => {
  const mappingPath = join(workDir, 'customers.mapping.json');
  await writeFile(mappingPath, JSON.stringify(customersMapping));
  const file = join(workDir, 'members.csv');
  await writeFile(file, customersCsv.replace('LOY-1', 'LOY-1').replaceAll('@', '+cli@'));
  const result = await promisify(execFile)(
    process.execPath,
    [
      join(repoRoot, 'bin/cible.js'),
      'import',
      file,
      '--mapping',
      mappingPath,
      '--source',
      'members',
      '--url',
      cible.url,
      '--token',
      adminToken,
    ],
    { cwd: workDir },
  ).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
  assert.equal(result.code, 2, result.stdout);
  assert.match(
    result.stdout,
    /Import imp_[0-9a-f]+ completed: 6 rows read, 2 events stored, 0 already stored, 4 rows rejected/,
  );
  assert.match(
    result.stdout,
    /line 6: Column Birth: "31\/02\/1990" is not a valid date \(DD\/MM\/YYYY\)\. \[Birth\]/,
  );
  const rejectedFile = join(workDir, 'members.rejected.csv');
  await access(rejectedFile);
  assert.equal(
    (await readFile(rejectedFile, 'utf8')).split('\n')[0],
    'Email;Phone;Card;First name;Birth;Newsletter',
  );
  const { imports } = await cible.admin<{ imports: Job[] }>('/api/imports');
  const members = (
    await cible.admin<{ sources: { id: string; name: string }[] }>('/api/sources')
  ).sources.find((source) => source.name === 'members');
  assert.equal(imports[0]!.sourceId, members?.id);
});

const cdnow = join(repoRoot, '..', 'shared', 'datasets', 'cdnow', 'CDNOW_master.txt');
const cdnowPresent = await access(cdnow).then(
  () => true,
  () => false,
);

test(
  'CDNOW: 69,659 purchases of 23,570 customers become as many orders and profiles',
  { skip: !cdnowPresent && process.env.CI !== 'true' ? `${cdnow} is absent (a fresh clone)` : false },
  async () => {
    const mapping = JSON.parse(
      await readFile(join(repoRoot, 'docs/examples/cdnow.mapping.json'), 'utf8'),
    ) as unknown;
    const before = await cible.admin<{ events: number; profiles: number }>('/api/stats');
    const job = await importFile('CDNOW_master.txt', mapping, await readFile(cdnow, 'utf8'));
    assert.equal(job.status, 'completed', JSON.stringify(job.error));
    assert.deepEqual(job.rows, { read: 69_659, rejected: 0 });
    assert.deepEqual(job.events, { accepted: 69_659, duplicates: 0 });
    const after = await cible.admin<{ events: number; profiles: number }>('/api/stats');
    assert.equal(after.events - before.events, 69_659);
    assert.equal(after.profiles - before.profiles, 23_570);
    const first = await profileOf('crmId:00001');
    assert.deepEqual(
      { purchases: first.summary.purchases, revenue: first.summary.revenue },
      { purchases: 1, revenue: 11.77 },
    );
    const second = await profileOf('crmId:00002');
    assert.deepEqual(
      { purchases: second.summary.purchases, revenue: second.summary.revenue },
      { purchases: 2, revenue: 89 },
    );
  },
);

test('the API is described in the OpenAPI document, and an import waiting for its file can be cancelled', async () => {
  const openapi = (await call<{ paths: Record<string, unknown> }>('GET', '/api/openapi.json')).json();
  for (const path of [
    '/api/imports',
    '/api/imports/{id}',
    '/api/imports/{id}/file',
    '/api/imports/{id}/rejected',
  ]) {
    assert.ok(path in openapi.paths, path);
  }
  const created = (
    await call<Job>('POST', '/api/imports', { fileName: 'later.csv', mapping: customersMapping })
  ).json();
  assert.equal(created.status, 'awaiting_file');
  const cancelled = await call<Job>('POST', `/api/imports/${created.id}/cancel`);
  assert.equal(cancelled.json().status, 'cancelled');
  const again = await call<{ error: { code: string } }>('POST', `/api/imports/${created.id}/cancel`);
  assert.equal(again.status, 409);
  assert.equal(again.json().error.code, 'CIBLE_ERR_IMPORT_FINISHED');
  const late = await call<{ error: { code: string } }>(
    'PUT',
    `/api/imports/${created.id}/file`,
    'Email\n',
    'text/csv',
  );
  assert.equal(late.json().error.code, 'CIBLE_ERR_IMPORT_FILE_ALREADY_SENT');
  assert.equal((await call('GET', '/api/imports/imp_00')).status, 404);
});

test('an import a stop interrupts runs again at the next start, and stores every row once', async () => {
  const dataDir = await testDataDir();
  const rows = [
    'card,date,amount',
    ...Array.from(
      { length: 6_000 },
      (_, i) => `C${i % 2000},2024-01-${String(1 + (i % 28)).padStart(2, '0')},${i}`,
    ),
  ];
  const mapping = {
    kind: 'transactions',
    columns: {
      card: { identifier: 'crmId' },
      date: { timestamp: 'YYYY-MM-DD' },
      amount: { property: 'revenue' },
    },
  };
  const first = await startTestCible({}, dataDir);
  const created = await first.app.inject({
    method: 'POST',
    url: '/api/imports',
    headers: auth,
    payload: { fileName: 'big.csv', mapping },
  });
  const id = created.json<Job>().id;
  await first.app.inject({
    method: 'PUT',
    url: `/api/imports/${id}/file`,
    headers: { ...auth, 'content-type': 'text/csv' },
    payload: rows.join('\n'),
  });
  await first.stop();
  const second = await startTestCible({}, dataDir);
  try {
    let job: Job;
    for (;;) {
      job = await second.admin<Job>(`/api/imports/${id}`);
      if (job.status === 'completed' || job.status === 'failed') break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(job.status, 'completed', JSON.stringify(job.error));
    assert.equal(job.attempts, 2, 'it ran again from its start');
    assert.equal(job.events.accepted + job.events.duplicates, 6_000);
    assert.equal((await second.admin<{ events: number }>('/api/stats')).events, 6_000);
  } finally {
    await second.close();
  }
});

test('a file larger than the limit is refused, said or not in Content-Length, and the import still waits for one', async () => {
  const small = await startTestCible({ CIBLE_IMPORT_MAX_FILE_MB: '1' });
  try {
    const headers = { ...auth, 'content-type': 'text/csv' };
    const created = await small.app.inject({
      method: 'POST',
      url: '/api/imports',
      headers: auth,
      payload: { fileName: 'big.csv', mapping: customersMapping },
    });
    const id = created.json<Job>().id;
    const rows = `Email;Phone;Card;First name;Birth;Newsletter\n${'someone@example.com;;;;;\n'.repeat(60_000)}`;
    assert.ok(rows.length > 1024 * 1024);
    for (const payload of [rows, Readable.from([rows.slice(0, 800_000), rows.slice(800_000)])]) {
      const refused = await small.app.inject({
        method: 'PUT',
        url: `/api/imports/${id}/file`,
        headers,
        payload,
      });
      assert.equal(refused.statusCode, 413, refused.body);
      const error = refused.json<{ error: { code: string; message: string } }>().error;
      assert.equal(error.code, 'CIBLE_ERR_IMPORT_FILE_TOO_LARGE');
      assert.match(error.message, /1048576 bytes/);
    }
    const waiting = await small.app.inject({ method: 'GET', url: `/api/imports/${id}`, headers: auth });
    assert.equal(waiting.json<Job>().status, 'awaiting_file');
    const accepted = await small.app.inject({
      method: 'PUT',
      url: `/api/imports/${id}/file`,
      headers,
      payload: customersCsv,
    });
    assert.equal(accepted.statusCode, 202, accepted.body);
  } finally {
    await small.close();
  }
});
