import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { EventOutput } from '../src/domain/events.ts';
import {
  adminGet,
  adminToken,
  removeTestDir,
  repoRoot,
  spawnCible,
  testDataDir,
  type CibleProcess,
} from './helpers.ts';

const run = promisify(execFile);
let cible: CibleProcess;
let dataDir: string;
let workDir: string;

before(async () => {
  dataDir = await testDataDir();
  workDir = await testDataDir();
  cible = await spawnCible(dataDir);
});
after(async () => {
  await cible.stop();
  await removeTestDir(dataDir);
  await removeTestDir(workDir);
});

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [join(repoRoot, 'bin/cible.js'), ...args, '--url', cible.url, '--token', adminToken],
      { cwd: workDir },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

test('cible sources create prints the new source and its write key', async () => {
  const { code, stdout } = await cli('sources', 'create', 'shop', 'tills');
  assert.equal(code, 0);
  assert.match(stdout, /Source shop tills created/);
  const writeKey = /write key: (\S+)/.exec(stdout)?.[1];
  const { sources } = await adminGet<{ sources: { name: string; writeKey: string }[] }>(
    cible.url,
    '/api/sources',
  );
  assert.equal(sources.find((source) => source.name === 'shop tills')?.writeKey, writeKey);
});

test('cible users and tokens: a console user from a piped password, an API token shown once', async () => {
  const created = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, 'bin/cible.js'),
        'users',
        'create',
        'lea@example.com',
        '--role',
        'marketer',
        '--url',
        cible.url,
        '--token',
        adminToken,
      ],
      { cwd: workDir },
    );
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout }));
    child.stdin.end('a long enough password\n');
  });
  assert.equal(created.code, 0, created.stdout);
  assert.match(created.stdout, /User lea@example\.com created \(marketer\)/);
  const signIn = await fetch(`${cible.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'lea@example.com', password: 'a long enough password' }),
  });
  assert.equal(signIn.status, 200);
  assert.match((await cli('users', 'list')).stdout, /\tmarketer\tactive\tlea@example\.com/);

  const token = await cli('tokens', 'create', 'weekly', 'report', '--role', 'analyst');
  assert.equal(token.code, 0, token.stderr);
  const secret = /token: (cible_\S+)/.exec(token.stdout)?.[1];
  assert.ok(secret !== undefined);
  const stats = await fetch(`${cible.url}/api/stats`, { headers: { authorization: `Bearer ${secret}` } });
  assert.equal(stats.status, 200);
  const listed = (await cli('tokens', 'list')).stdout;
  assert.match(listed, /\tanalyst\tlast used \S+\tweekly report/);
  assert.ok(!listed.includes(secret));
  const wrong = await cli('tokens', 'create', 'x');
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /--role/);
});

test('cible import sends NDJSON through the pipeline and reports rejected lines by number', async () => {
  const file = join(workDir, 'events.ndjson');
  await writeFile(
    file,
    [
      JSON.stringify({ type: 'identify', userId: 'crm-1', traits: { email: 'a@example.com' } }),
      JSON.stringify({ type: 'track', userId: 'crm-1', event: 'Order Completed', properties: { total: 30 } }),
      '{"type": "track", "userId": ',
      '',
      JSON.stringify({ type: 'track', userId: 'crm-2', event: 'Order Completed' }),
      JSON.stringify({ type: 'track', userId: 'crm-2' }),
    ].join('\n'),
  );
  const first = await cli('import', file);
  assert.equal(first.code, 2, first.stderr);
  assert.match(first.stdout, /Imported 3 events from 6 lines \(0 already stored, 2 rejected\)/);
  assert.match(first.stdout, /line 3: Line is not valid JSON/);
  assert.match(first.stdout, /line 6: The track event needs "event"\. \[event\]/);
  const rejected = (await readFile(join(workDir, 'events.rejected.ndjson'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { line: number; code: string });
  assert.deepEqual(
    rejected.map((line) => [line.line, line.code]),
    [
      [3, 'CIBLE_ERR_TRACKING_INVALID_JSON'],
      [6, 'CIBLE_ERR_TRACKING_MISSING_FIELD'],
    ],
  );

  // Importing the same file again stores nothing new.
  const again = await cli('import', file);
  assert.match(again.stdout, /Imported 0 events from 6 lines \(3 already stored, 2 rejected\)/);
  const { sources } = await adminGet<{ sources: { id: string; name: string }[] }>(cible.url, '/api/sources');
  const importSource = sources.find((source) => source.name === 'import');
  assert.ok(importSource, 'a source named "import" was created');
  const { events } = await adminGet<{ events: EventOutput[] }>(
    cible.url,
    `/api/events?sourceId=${importSource.id}&limit=100`,
  );
  assert.equal(events.length, 3);
});

test('cible import maps CSV columns to event fields, properties and traits', async () => {
  const file = join(workDir, 'till.csv');
  await writeFile(
    file,
    [
      'userId,event,timestamp,properties.total,store,postcode',
      'card-9,Till Receipt,2026-03-01T10:00:00Z,12.50,Lyon Part-Dieu,06100',
      'card-9,Till Receipt,not a date,3,Lyon Part-Dieu,06100',
    ].join('\n'),
  );
  const { code, stdout } = await cli('import', file);
  assert.equal(code, 2);
  assert.match(stdout, /Imported 1 events from 3 lines/);
  assert.match(stdout, /line 3: "timestamp" must be an ISO-8601 date and time\. \[timestamp\]/);
  const { events } = await adminGet<{ events: EventOutput[] }>(cible.url, '/api/events?userId=card-9');
  assert.equal(events.length, 1);
  assert.equal(events[0]!.event, 'Till Receipt');
  assert.equal(events[0]!.timestamp, '2026-03-01T10:00:00.000Z');
  assert.deepEqual(events[0]!.properties, { total: 12.5, store: 'Lyon Part-Dieu', postcode: '06100' });
});

test('cible tells what is wrong when no server answers', async () => {
  const { code, stderr } = await run(
    process.execPath,
    [join(repoRoot, 'bin/cible.js'), 'sources', 'list', '--url', 'http://127.0.0.1:1', '--token', adminToken],
    { cwd: workDir },
  ).then(
    () => ({ code: 0, stderr: '' }),
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal(code, 1);
  assert.match(stderr, /CIBLE_ERR_CLI_SERVER_UNREACHABLE: No Cible answers at http:\/\/127\.0\.0\.1:1/);
  assert.match(stderr, /npm start/);
});

test('cible segments list shows each segment with its size over the last 30 days; preview counts a rule', async () => {
  const created = await fetch(`${cible.url}/api/segments`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Everyone seen', rule: 'count(event "Nothing Happened") = 0' }),
  });
  assert.equal(created.status, 201);
  const { size } = (await created.json()) as { size: number };
  const list = await cli('segments', 'list');
  assert.equal(list.code, 0, list.stderr);
  const line = list.stdout.split('\n').find((text) => text.startsWith('Everyone seen\t'));
  assert.ok(line !== undefined, list.stdout);
  const [, count, sizes, rule] = line.split('\t');
  assert.equal(Number(count), size);
  assert.match(sizes ?? '', /^[▁▂▃▄▅▆▇█]{30}$/);
  assert.equal(rule, 'count(event "Nothing Happened") = 0');

  const preview = await cli('segments', 'preview', 'count(event "Nothing Happened") = 0');
  assert.equal(preview.code, 0, preview.stderr);
  assert.match(preview.stdout, new RegExp(`^${size} profiles?`));
  const broken = await cli('segments', 'preview', 'trait city is "Paris"');
  assert.notEqual(broken.code, 0);
  assert.match(broken.stderr, /CIBLE_ERR_SEGMENT_SYNTAX|line 1, column 12/);
});
