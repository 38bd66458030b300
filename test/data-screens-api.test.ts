import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { EventOutput } from '../src/domain/events.ts';
import { adminToken, startTestCible, type TestCible } from './helpers.ts';

// What the console's sources and imports screens ask of the API beyond the CLI's needs:
// the events stored since the last one seen, and a preview of the start of an import file.

let cible: TestCible;
const auth = { authorization: `Bearer ${adminToken}` };

before(async () => {
  cible = await startTestCible();
});
after(async () => {
  await cible.close();
});

async function preview(payload: Record<string, unknown>) {
  const response = await cible.app.inject({
    method: 'POST',
    url: '/api/imports/preview',
    headers: auth,
    payload,
  });
  return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
}

test('GET /api/events?after= answers only the events stored after that seq, newest first', async () => {
  const writeKey = await cible.createSource('live');
  const first = { userId: 'after-1', type: 'track', event: 'Seen Before' };
  await cible.sendBatch(writeKey, [first]);
  const { events: before } = await cible.admin<{ events: EventOutput[] }>(
    '/api/events?userId=after-1&limit=10',
  );
  assert.equal(before.length, 1);
  const seen = before[0]!.seq;

  const none = await cible.admin<{ events: EventOutput[] }>(`/api/events?after=${seen}&limit=10`);
  assert.deepEqual(none.events, []);

  await cible.sendBatch(writeKey, [
    { userId: 'after-1', type: 'track', event: 'New One' },
    { userId: 'after-1', type: 'track', event: 'New Two' },
  ]);
  const fresh = await cible.admin<{ events: EventOutput[] }>(`/api/events?after=${seen}&limit=10`);
  assert.deepEqual(
    fresh.events.map((event) => event.event),
    ['New Two', 'New One'],
  );
  assert.ok(fresh.events.every((event) => event.seq > seen));
  const filtered = await cible.admin<{ events: EventOutput[] }>(
    `/api/events?after=${seen}&event=New%20One&limit=10`,
  );
  assert.deepEqual(
    filtered.events.map((event) => event.event),
    ['New One'],
  );
});

test('POST /api/imports/preview reads a csv sample as the import would: delimiter, quotes, header', async () => {
  const sample = [
    '\ufeffEmail;Name;"Opt, in"',
    'ann@example.com;"Ann; the first";yes',
    'bob@example.com;Bob;no',
    'cut@exam',
  ].join('\n');
  const { status, body } = await preview({ fileName: 'customers.csv', sample });
  assert.equal(status, 200);
  assert.deepEqual(body, {
    format: { type: 'csv', delimiter: ';' },
    columns: ['Email', 'Name', 'Opt, in'],
    rows: [
      ['ann@example.com', 'Ann; the first', 'yes'],
      ['bob@example.com', 'Bob', 'no'],
    ],
  });
  // The whole file: the last line is kept, and a short row is padded to the header's width.
  const whole = await preview({ fileName: 'c.csv', sample: 'a,b,c\n1,2', complete: true });
  assert.deepEqual(whole.body.rows, [['1', '2', '']]);
});

test('POST /api/imports/preview gives at most 20 rows, and reads whitespace and ndjson files', async () => {
  const lines = ['id,value', ...Array.from({ length: 50 }, (_, index) => `${index},v${index}`)];
  const many = await preview({ fileName: 'many.csv', sample: lines.join('\n'), complete: true });
  assert.equal((many.body.rows as unknown[]).length, 20);

  const spaced = await preview({
    fileName: 'cdnow.txt',
    sample: '00001 19970101 1 11.77\n00002 19970112 2  89.00\n',
    format: { type: 'whitespace', header: false, columns: ['customer', 'date', 'cds', 'amount'] },
  });
  assert.deepEqual(spaced.body, {
    format: { type: 'whitespace', delimiter: null },
    columns: ['customer', 'date', 'cds', 'amount'],
    rows: [
      ['00001', '19970101', '1', '11.77'],
      ['00002', '19970112', '2', '89.00'],
    ],
  });

  const ndjson = await preview({
    fileName: 'people.ndjson',
    sample:
      '{"customer":{"email":"a@example.com"},"tags":["x"]}\n{"customer":{"email":"b@example.com","age":3}}\n',
  });
  assert.deepEqual(ndjson.body, {
    format: { type: 'ndjson', delimiter: null },
    columns: ['customer.email', 'tags', 'customer.age'],
    rows: [
      ['a@example.com', '["x"]', ''],
      ['b@example.com', '', '3'],
    ],
  });
});

test('POST /api/imports/preview says what is wrong with an unreadable sample, and is closed to analysts', async () => {
  const empty = await preview({ fileName: 'empty.csv', sample: '', complete: true });
  assert.equal(empty.status, 422);
  assert.equal((empty.body.error as { code: string }).code, 'CIBLE_ERR_IMPORT_FILE_UNREADABLE');

  const badJson = await preview({ fileName: 'bad.ndjson', sample: '{"a":1}\n{oops\n' });
  assert.equal(badJson.status, 422);
  assert.match((badJson.body.error as { message: string }).message, /^Line 2 is not valid JSON/);

  const token = await cible.app.inject({
    method: 'POST',
    url: '/api/tokens',
    headers: auth,
    payload: { name: 'analysis', role: 'analyst' },
  });
  const analyst = await cible.app.inject({
    method: 'POST',
    url: '/api/imports/preview',
    headers: { authorization: `Bearer ${token.json<{ token: string }>().token}` },
    payload: { fileName: 'a.csv', sample: 'a\n1\n' },
  });
  assert.equal(analyst.statusCode, 403);
});
