/**
 * The access benchmark: what authentication, the role check and the audit log add to reading a
 * profile (`GET /api/profiles/{id}`), against a real Cible process.
 *
 * 1. people: N identified people (default 20,000) sent through `POST /v1/batch`;
 * 2. requests, one client on a keep-alive connection, interleaved in rounds so that noise hits
 *    all three alike:
 *    - `GET /healthz`: no authentication (the framework, the socket);
 *    - `GET /api/session` with a marketer API token: authentication and the role check, and a
 *      handler that does nothing;
 *    - `GET /api/profiles/{id}` with the same token: the read, audited as `profile.view`;
 * 3. audit: the cost of recording one entry, in this process (entries are written in groups).
 *
 * The added cost is (session − healthz) + one audit entry, and the ratio is that cost over the
 * profile read. Target: ≤ 5 %. The last line printed is one JSON object with the results.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAuditLog } from '../src/access/audit-log.ts';
import type { AuditEntry } from '../src/store/access-store.ts';
import { httpRequest } from './load-client.ts';
import { fmt, integerFlag, log, percentile, round } from './measure.ts';
import { identifyJson, person } from './people.ts';
import { createSource, startServer, type BenchServer } from './server.ts';

const help = `Usage: npm run bench -- access [flags]

  --people <n>     Identified people sent first (default 20000)
  --requests <n>   Timed requests of each kind (default 5000)
  --rounds <n>     Rounds the requests are interleaved in (default 10)
  --dir <path>     Where to create the temporary data directory (default: the OS temp dir)
`;

export async function runAccessBenchmark(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      people: { type: 'string' },
      requests: { type: 'string' },
      rounds: { type: 'string' },
      dir: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    console.log(help);
    return 0;
  }
  const people = integerFlag('--people', values.people, 20_000, 100);
  const requests = integerFlag('--requests', values.requests, 5_000, 100);
  const rounds = integerFlag('--rounds', values.rounds, 10, 1);
  const dataDir = await mkdtemp(join(values.dir ?? tmpdir(), 'cible-bench-access-'));
  const server = await startServer(dataDir);
  try {
    const ids = await loadPeople(server, people);
    const token = await marketerToken(server);
    const url = new URL(server.url);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = async (path: string, authorization?: string): Promise<number> => {
      const started = performance.now();
      const answer = await httpRequest(agent, {
        host: url.hostname,
        port: Number(url.port),
        path,
        method: 'GET',
        headers: authorization === undefined ? {} : { authorization },
      });
      if (answer.status !== 200) throw new Error(`GET ${path}: ${answer.status} ${answer.text}`);
      return performance.now() - started;
    };
    const bearer = `Bearer ${token}`;
    const kinds = {
      healthz: () => get('/healthz'),
      session: () => get('/api/session', bearer),
      profile: (i: number) => get(`/api/profiles/${ids[i % ids.length]!}`, bearer),
    };
    log(`warming up`);
    for (let i = 0; i < 500; i++) {
      await kinds.healthz();
      await kinds.session();
      await kinds.profile(i);
    }
    const times = { healthz: [] as number[], session: [] as number[], profile: [] as number[] };
    const perRound = Math.ceil(requests / rounds);
    for (let round_ = 0; round_ < rounds; round_++) {
      for (let i = 0; i < perRound; i++) times.healthz.push(await kinds.healthz());
      for (let i = 0; i < perRound; i++) times.session.push(await kinds.session());
      for (let i = 0; i < perRound; i++) times.profile.push(await kinds.profile(round_ * perRound + i));
    }
    agent.destroy();
    const auditMicros = await auditRecordMicros();

    const summary = (values_: number[]) => {
      const sorted = [...values_].sort((a, b) => a - b);
      return { p50: round(percentile(sorted, 0.5), 3), p99: round(percentile(sorted, 0.99), 3) };
    };
    const result = {
      people,
      requestsPerKind: perRound * rounds,
      healthzMs: summary(times.healthz),
      sessionMs: summary(times.session),
      profileMs: summary(times.profile),
      auditRecordMicros: round(auditMicros, 3),
      addedMs: 0,
      ratio: 0,
    };
    const added = Math.max(0, result.sessionMs.p50 - result.healthzMs.p50) + auditMicros / 1000;
    result.addedMs = round(added, 3);
    result.ratio = round(added / result.profileMs.p50, 4);
    log(
      `GET /healthz p50 ${result.healthzMs.p50} ms · GET /api/session (auth + role) p50 ${result.sessionMs.p50} ms` +
        ` · GET /api/profiles/{id} p50 ${result.profileMs.p50} ms (p99 ${result.profileMs.p99})`,
    );
    log(
      `auth, role check and audit add ${result.addedMs} ms = ${round(result.ratio * 100, 2)} % of a profile read` +
        ` (target ≤ 5 %; one audit entry costs ${result.auditRecordMicros} µs)`,
    );
    console.log(JSON.stringify(result));
    return 0;
  } finally {
    await server.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Sends `count` identifies; resolves with the profile ids of some of them. */
async function loadPeople(server: BenchServer, count: number): Promise<number[]> {
  const writeKey = await createSource(server);
  const now = new Date().toISOString();
  log(`sending ${fmt(count)} identified people`);
  for (let start = 0; start < count; start += 500) {
    const events: string[] = [];
    for (let i = start; i < Math.min(count, start + 500); i++)
      events.push(identifyJson(i, randomUUID(), now, now));
    const response = await fetch(`${server.url}/v1/batch`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`,
        'content-type': 'application/json',
      },
      body: `{"batch":[${events.join(',')}]}`,
    });
    if (response.status !== 200)
      throw new Error(`POST /v1/batch: ${response.status} ${await response.text()}`);
  }
  const ids: number[] = [];
  for (let i = 0; i < Math.min(count, 1000); i++) {
    const response = await fetch(
      `${server.url}/api/profiles?identifier=userId:${person((i * 7) % count).userId}`,
      {
        headers: { authorization: `Bearer ${server.token}` },
      },
    );
    if (response.status === 200) ids.push(((await response.json()) as { id: number }).id);
  }
  if (ids.length === 0) throw new Error('No profile found after sending people.');
  return ids;
}

async function marketerToken(server: BenchServer): Promise<string> {
  const response = await fetch(`${server.url}/api/tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', role: 'marketer' }),
  });
  if (response.status !== 201)
    throw new Error(`POST /api/tokens: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { token: string }).token;
}

/** Microseconds to record one audit entry (the write happens later, in groups). */
async function auditRecordMicros(): Promise<number> {
  const audit = createAuditLog({ appendAudit: () => Promise.resolve() }, { flushMs: 200 });
  const entry: AuditEntry = {
    at: Date.now(),
    actorType: 'token',
    actorId: 'tok_1',
    actorName: 'bench',
    role: 'marketer',
    action: 'profile.view',
    targetType: 'profiles',
    targetId: '42',
    ip: '127.0.0.1',
    detail: null,
  };
  const count = 200_000;
  const started = performance.now();
  for (let i = 0; i < count; i++) void audit.record({ ...entry, at: entry.at + i });
  const micros = ((performance.now() - started) * 1000) / count;
  await audit.close();
  return micros;
}
