import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { generateDemo, demoPassword, type DemoData } from '../src/demo/demo-data.ts';
import { loadDemo, type DemoLoadReport } from '../src/demo/load-demo.ts';
import { isIdentifierRejection, normaliseIdentifier } from '../src/domain/identifiers.ts';
import {
  adminGet,
  adminToken,
  removeTestDir,
  spawnCible,
  testDataDir,
  type CibleProcess,
} from './helpers.ts';

// A small demo, loaded once through the HTTP API of a real Cible process; the tests read what it made.
let cible: CibleProcess;
let dataDir: string;
let data: DemoData;
let report: DemoLoadReport;
const steps: string[] = [];

before(async () => {
  dataDir = await testDataDir();
  cible = await spawnCible(dataDir);
  data = generateDemo({ seed: 5, people: 200, now: Date.now() });
  report = await loadDemo(cible.url, adminToken, data, (progress) => {
    if (steps.at(-1) !== progress.step) steps.push(progress.step);
  });
});
after(async () => {
  await cible.stop();
  await removeTestDir(dataDir);
});

test('every demo event is stored, and the progress went through every step to the end', async () => {
  assert.deepEqual(report.events, { accepted: data.summary.events, duplicates: 0, rejected: 0 });
  assert.deepEqual(steps, [
    'sources',
    'events',
    'crm import',
    'bad payloads',
    'computed traits',
    'segments',
    'users',
    'commit',
  ]);
  const stats = await adminGet<{ events: number; sources: number }>(cible.url, '/api/stats');
  assert.equal(stats.events, data.summary.events + report.crmImport.events.accepted);
  assert.equal(stats.sources, 4);
});

test('identity resolution merges journeys: fewer profiles than anonymousIds, one profile over phone, laptop and CRM row', async () => {
  assert.ok(
    report.stats.profiles < data.summary.anonymousIds,
    `${report.stats.profiles} profiles for ${data.summary.anonymousIds} anonymousIds`,
  );
  // At most one profile per person, but for the few the CRM holds twice under other identifiers
  // (customer numbers CRM-9…, an old address and nothing else).
  const crm = parse<Record<string, string>>(data.crm.csv, { columns: true, delimiter: ';' });
  const enteredTwice = crm.filter((row) => row['Customer no']?.startsWith('CRM-9') === true).length;
  // The safeguards (a few identifiers per type per profile, devices shared by too many people)
  // decide by arrival order, and the loader sends four batches at a time: allow 2 % of slack.
  assert.ok(
    report.stats.profiles <= data.summary.people + enteredTwice + Math.ceil(data.summary.people * 0.02),
    `${report.stats.profiles} profiles for ${data.summary.people} people, ${enteredTwice} of them entered twice`,
  );
  // Someone who browsed the app anonymously, signed up on the site, signed in on the app, and whom
  // the CRM knows under an address written another way.
  const dirtyLines = new Set(data.crm.dirtyRows.map((row) => row.line));
  const inCrm = new Set(
    crm
      .filter((row, index) => !dirtyLines.has(index + 2) && row.Email !== '')
      .map((row) => emailKey(row.Email!)),
  );
  const signIn = data.sources[1]!.events.find(
    (event) => event.type === 'identify' && inCrm.has(emailKey((event.traits as { email: string }).email)),
  )!;
  const profile = await adminGet<{ identifiers: { type: string; value: string }[] }>(
    cible.url,
    `/api/profiles?identifier=${encodeURIComponent(`userId:${String(signIn.userId)}`)}`,
  );
  const types = profile.identifiers.map((identifier) => identifier.type);
  assert.ok(types.includes('deviceId'), types.join(', '));
  assert.ok(types.filter((type) => type === 'anonymousId').length >= 2, types.join(', '));
  assert.ok(types.includes('email'), types.join(', '));
  assert.ok(types.includes('crmId'), types.join(', '));
});

/** An e-mail address as Cible compares them. */
function emailKey(email: string): string {
  const normalised = normaliseIdentifier('email', email);
  return isIdentifierRejection(normalised) ? email : normalised.value;
}

test('the CRM import rejects the dirty rows, at their lines, and stores the others', async () => {
  assert.equal(report.crmImport.status, 'completed');
  assert.equal(report.crmImport.rows.read, data.crm.rows);
  assert.equal(report.crmImport.rows.rejected, data.crm.dirtyRows.length);
  assert.equal(report.crmImport.events.accepted, data.crm.rows - data.crm.dirtyRows.length);
  const { rejected } = await adminGet<{ rejected: { line: number; field: string }[] }>(
    cible.url,
    `/api/imports/${report.crmImport.id}/rejected`,
  );
  assert.deepEqual(
    rejected.map((row) => ({ line: row.line, column: row.field })),
    data.crm.dirtyRows.map((row) => ({ line: row.line, column: row.column })),
  );
});

test('the quarantine holds one record per bad payload', async () => {
  assert.equal(report.refused, data.badPayloads.length);
  const { records } = await adminGet<{ records: { code: string }[] }>(cible.url, '/api/quarantine?limit=100');
  assert.equal(records.length, data.badPayloads.length);
  const codes = new Set(records.map((record) => record.code));
  for (const code of [
    'CIBLE_ERR_TRACKING_INVALID_JSON',
    'CIBLE_ERR_TRACKING_MISSING_IDENTITY',
    'CIBLE_ERR_TRACKING_UNKNOWN_TYPE',
    'CIBLE_ERR_TRACKING_INVALID_FIELD',
  ]) {
    assert.ok(codes.has(code), [...codes].join(', '));
  }
});

test('the segments have members, and computed traits have values', async () => {
  const { segments } = await adminGet<{ segments: { name: string; size: number }[] }>(
    cible.url,
    '/api/segments',
  );
  assert.deepEqual(
    segments.map((segment) => segment.name).sort(),
    data.segments.map((segment) => segment.name).sort(),
  );
  for (const name of ['VIP', 'Newsletter audience', 'Lapsed customers', 'Shoe lovers']) {
    const size = segments.find((segment) => segment.name === name)!.size;
    assert.ok(size > 0, `${name}: ${size} members`);
  }
  const { computedTraits } = await adminGet<{ computedTraits: { id: string; name: string }[] }>(
    cible.url,
    '/api/computed-traits',
  );
  const revenue = computedTraits.find((trait) => trait.name === 'totalRevenue')!;
  const { values } = await adminGet<{ values: { value: unknown }[] }>(
    cible.url,
    `/api/computed-traits/${revenue.id}/values?limit=1000`,
  );
  assert.ok(values.some((entry) => typeof entry.value === 'number' && entry.value > 100));
});

test('the demo users sign in with the demo password', async () => {
  for (const user of data.users) {
    const response = await fetch(`${cible.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: user.email, password: demoPassword }),
    });
    assert.equal(response.status, 200, user.email);
    const session = (await response.json()) as { actor: { type: string; name: string; role: string } };
    assert.equal(session.actor.role, user.role, user.email);
    assert.match(response.headers.get('set-cookie') ?? '', /./);
  }
});
