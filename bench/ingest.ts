/**
 * The ingest benchmark. Starts a real Cible process on a fresh data directory and measures:
 *
 * 1. saturation: events/s acknowledged (HTTP 200, after the DuckDB COMMIT) by `POST /v1/batch`
 *    under concurrent keep-alive clients;
 * 2. latency: acknowledgement latency at a fixed offered load, paced open-loop by a timer, each
 *    request timed from when it was due (so a slow answer cannot hide the requests behind it);
 * 3. raw appends: events/s written by the same DuckDB adapter (`writeBatch`) in this process,
 *    without HTTP, JSON or validation: the physical limit the server is compared with;
 *
 * plus the server's peak RSS, and a check that the store holds exactly the acknowledged events.
 * `--soak-events N` keeps sending until the store holds N events and reports the peak RSS then.
 *
 * The last line printed is one JSON object with the results.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { spawnCibleProcess } from '../test/cible-process.ts';
import { loadConfig } from '../src/config/config.ts';
import type { StoredEvent } from '../src/domain/events.ts';
import { isRejection } from '../src/ingestion/outcomes.ts';
import { toStoredEvent } from '../src/ingestion/to-stored-event.ts';
import { validateEvent } from '../src/ingestion/validate-event.ts';
import { createDuckdbStore } from '../src/store/duckdb/duckdb-store.ts';

const help = `Usage: npm run bench -- ingest [flags]

  --seconds <n>          Saturation phase length (default 20)
  --warmup-seconds <n>   Load sent before the saturation phase, not timed (default 3)
  --concurrency <n>      Concurrent keep-alive clients in the saturation phase (default 16)
  --batch-size <n>       Events per request in the saturation phase (default 250)
  --latency-seconds <n>  Latency phase length; 0 skips it (default 10)
  --latency-rate <n>     Offered load of the latency phase, events/s (default 10000)
  --latency-batch <n>    Events per request in the latency phase (default 100)
  --raw-seconds <n>      Raw append phase length; 0 skips it (default 10)
  --raw-batch <n>        Events per writeBatch in the raw phase (default: the server's average commit
                         in the saturation phase, so that both write the same batches)
  --soak-events <n>      Then keep sending until the store holds n events; report peak RSS (default off)
  --node-flags=<f>       Extra node flags for the server, e.g. --node-flags="--cpu-prof --cpu-prof-dir=/tmp/p"
  --dir <path>           Where to create the temporary data directory (default: the OS temp dir)

The server reads its usual environment (CIBLE_COMMIT_MAX_EVENTS, CIBLE_COMMIT_MAX_DELAY_MS,
CIBLE_DUCKDB_MEMORY_LIMIT...); the raw phase opens its store with the same settings.
`;

interface Options {
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly concurrency: number;
  readonly batchSize: number;
  readonly latencySeconds: number;
  readonly latencyRate: number;
  readonly latencyBatch: number;
  readonly rawSeconds: number;
  readonly rawBatch: number | undefined;
  readonly soakEvents: number;
  readonly nodeFlags: readonly string[];
  readonly dir: string;
}

function parseOptions(args: readonly string[]): Options | undefined {
  const { values } = parseArgs({
    args: [...args],
    options: {
      seconds: { type: 'string' },
      'warmup-seconds': { type: 'string' },
      concurrency: { type: 'string' },
      'batch-size': { type: 'string' },
      'latency-seconds': { type: 'string' },
      'latency-rate': { type: 'string' },
      'latency-batch': { type: 'string' },
      'raw-seconds': { type: 'string' },
      'raw-batch': { type: 'string' },
      'soak-events': { type: 'string' },
      'node-flags': { type: 'string' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  const number = (name: keyof typeof values, fallback: number, min: number): number => {
    const raw = values[name];
    if (typeof raw !== 'string') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < min)
      throw new Error(`--${name} must be a number >= ${min}, not "${raw}".`);
    return value;
  };
  const batchSize = Math.floor(number('batch-size', 250, 1));
  return {
    seconds: number('seconds', 20, 1),
    warmupSeconds: number('warmup-seconds', 3, 0),
    concurrency: Math.floor(number('concurrency', 16, 1)),
    batchSize,
    latencySeconds: number('latency-seconds', 10, 0),
    latencyRate: number('latency-rate', 10_000, 1),
    latencyBatch: Math.floor(number('latency-batch', 100, 1)),
    rawSeconds: number('raw-seconds', 10, 0),
    rawBatch: values['raw-batch'] === undefined ? undefined : Math.floor(number('raw-batch', 1, 1)),
    soakEvents: Math.floor(number('soak-events', 0, 0)),
    nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((flag) => flag !== ''),
    dir: values.dir ?? tmpdir(),
  };
}

export async function runIngestBenchmark(args: readonly string[]): Promise<number> {
  const options = parseOptions(args);
  if (options === undefined) {
    process.stdout.write(help);
    return 0;
  }
  const workDir = await mkdtemp(join(options.dir, 'cible-bench-'));
  let server: Server | undefined;
  try {
    const loadAverage = loadavg()[0] ?? 0;
    log(`data in ${workDir}; load average ${loadAverage.toFixed(2)} on ${availableParallelism()} cores`);
    server = await startServer(join(workDir, 'server'), options.nodeFlags);
    log(`server pid ${server.pid} at ${server.url}`);
    const writeKey = await createSource(server);
    const client = new LoadClient(server.url, writeKey);
    const rss = new ProcessSampler(server.pid);

    if (options.warmupSeconds > 0) {
      await saturate(client, rss, { ...options, label: 'warm-up', seconds: options.warmupSeconds });
    }
    const statsBefore = await stats(server);
    const cpuBefore = rss.cpuSeconds();
    const ownCpuBefore = process.cpuUsage();
    const saturation = await saturate(client, rss, { ...options, label: 'saturation' });
    const serverCores = (rss.cpuSeconds() - cpuBefore) / saturation.seconds;
    const ownCpu = process.cpuUsage(ownCpuBefore);
    const clientCores = (ownCpu.user + ownCpu.system) / 1e6 / saturation.seconds;
    const statsAfter = await stats(server);

    const latency = options.latencySeconds > 0 ? await measureLatency(client, rss, options) : undefined;

    const peakRssMbBeforeSoak = rss.peakMb();
    let soak: SaturationResult | undefined;
    if (options.soakEvents > client.acknowledged) {
      soak = await saturate(client, rss, {
        ...options,
        label: 'soak',
        seconds: Number.POSITIVE_INFINITY,
        until: () => client.acknowledged >= options.soakEvents,
      });
    }

    const final = await stats(server);
    const peakRssMb = rss.peakMb();
    const endRssMb = rss.currentMb();
    rss.stop();
    const dataMb = directoryMb(join(workDir, 'server'));
    const stored = final.events;
    const verified = stored === client.acknowledged && client.anomalies === 0;
    await server.stop();
    server = undefined;

    const eventsPerCommit = Math.round(
      (statsAfter.accepted - statsBefore.accepted) / Math.max(1, statsAfter.commits - statsBefore.commits),
    );
    const rawBatch = options.rawBatch ?? Math.max(1, eventsPerCommit);
    const raw =
      options.rawSeconds > 0
        ? await rawAppends(join(workDir, 'raw'), options.rawSeconds, rawBatch)
        : undefined;

    const eventsPerSec = Math.round(saturation.eventsPerSec);
    const rawAppendEventsPerSec = raw === undefined ? null : Math.round(raw.eventsPerSec);
    const result = {
      eventsPerSec,
      p50AckMs: latency === undefined ? null : round(latency.p50, 2),
      p99AckMs: latency === undefined ? null : round(latency.p99, 2),
      rawAppendEventsPerSec,
      ratioToRaw: rawAppendEventsPerSec === null ? null : round(eventsPerSec / rawAppendEventsPerSec, 3),
      peakRssMb: round(peakRssMb, 1),
      maxAckMs: latency === undefined ? null : round(latency.max, 2),
      latencyOfferedEventsPerSec: latency === undefined ? null : options.latencyRate,
      latencyAchievedEventsPerSec: latency === undefined ? null : Math.round(latency.achievedEventsPerSec),
      saturationSeconds: round(saturation.seconds, 2),
      saturationRequestsPerSec: Math.round(saturation.requests / saturation.seconds),
      saturationAvgAckMs: round(saturation.avgAckMs, 2),
      eventsPerCommit,
      rawBatch: raw === undefined ? null : rawBatch,
      overloaded429: client.overloaded,
      serverCpuCores: round(serverCores, 2),
      clientCpuCores: round(clientCores, 2),
      eventBytes: client.eventBytes,
      batchSize: options.batchSize,
      concurrency: options.concurrency,
      peakRssMbBeforeSoak: round(peakRssMbBeforeSoak, 1),
      endRssMb: round(endRssMb, 1),
      soakEvents: soak === undefined ? null : stored,
      soakEventsPerSec: soak === undefined ? null : Math.round(soak.eventsPerSec),
      dataDirMb: round(dataMb, 1),
      loadAverageAtStart: round(loadAverage, 2),
      acknowledgedEvents: client.acknowledged,
      storedEvents: stored,
      verified,
    };

    console.log('');
    console.log('Ingest benchmark');
    console.log(
      `  saturation   ${fmt(eventsPerSec)} events/s acknowledged (${fmt(result.saturationRequestsPerSec)} requests/s ` +
        `of ${options.batchSize}, ${options.concurrency} clients, ${fmt(result.eventsPerCommit)} events/commit, ` +
        `${client.overloaded} answers 429)`,
    );
    console.log(
      `               server used ${result.serverCpuCores} cores, the load generator ${result.clientCpuCores}`,
    );
    if (latency !== undefined) {
      console.log(
        `  latency      at ${fmt(options.latencyRate)} events/s offered: p50 ${result.p50AckMs} ms, ` +
          `p99 ${result.p99AckMs} ms, max ${result.maxAckMs} ms`,
      );
    }
    if (raw !== undefined && rawAppendEventsPerSec !== null) {
      console.log(
        `  raw appends  ${fmt(rawAppendEventsPerSec)} events/s (writeBatch of ${fmt(rawBatch)}); ` +
          `HTTP reaches ${result.ratioToRaw} of it`,
      );
    }
    if (soak !== undefined)
      console.log(`  soak         ${fmt(stored)} events stored at ${fmt(soak.eventsPerSec)} events/s`);
    console.log(
      `  peak RSS     ${result.peakRssMb} MB (server process` +
        (soak === undefined
          ? ')'
          : `; ${result.peakRssMbBeforeSoak} MB before the soak, ${result.endRssMb} MB at the end)`),
    );
    console.log(`  data dir     ${result.dataDirMb} MB (database and WAL)`);
    console.log(`  stored       ${fmt(stored)} events, acknowledged ${fmt(client.acknowledged)}`);
    if (!verified) {
      console.error('');
      console.error('!!! MISMATCH: the store does not hold exactly the acknowledged events !!!');
      console.error(
        `!!! acknowledged ${client.acknowledged}, stored ${stored}, answers with duplicates or rejections: ${client.anomalies}`,
      );
      console.error('');
    }
    console.log(JSON.stringify(result));
    return verified ? 0 : 1;
  } finally {
    if (server !== undefined) await server.stop().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The events

const eventNames = [
  'Product Viewed',
  'Product Added',
  'Checkout Started',
  'Order Completed',
  'Products Searched',
];
const userAgent =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

/**
 * One Segment track event as analytics.js sends it, about 600 bytes. Built from a template
 * string: the load generator shares the machine with the server and must stay cheap.
 */
function trackEventJson(runId: string, n: number, timestamp: string): string {
  const user = n % 50_000;
  const product = n % 997;
  return (
    `{"type":"track","event":"${eventNames[n % eventNames.length]}","messageId":"ajs-${runId}-${n}",` +
    `"userId":"user-${user}","anonymousId":"anon-${(user * 2654435761) >>> 0}-4f1c-9a7e",` +
    `"timestamp":"${timestamp}","properties":{"product_id":"sku-${product}","name":"Product ${product}",` +
    `"price":${(product % 200) + 0.99},"currency":"EUR","quantity":${(n % 5) + 1}},` +
    `"context":{"library":{"name":"analytics.js","version":"5.2.1"},"page":{"path":"/products/${product}",` +
    `"url":"https://shop.example.com/products/${product}","referrer":"https://www.google.com/",` +
    `"title":"Product ${product}"},"userAgent":"${userAgent}","ip":"203.0.113.${n % 250}"}}`
  );
}

// ---------------------------------------------------------------------------------------------
// The client

interface Answer {
  readonly status: number;
  readonly text: string;
}

class LoadClient {
  /** Events acknowledged with 200 and counted in `accepted`. */
  acknowledged = 0;
  /** 429 answers, each followed by a retry of the same body. */
  overloaded = 0;
  /** 200 answers that did not accept every event (duplicates or rejections): none are expected. */
  anomalies = 0;
  readonly eventBytes: number;
  private next = 0;
  private readonly runId = randomBytes(6).toString('hex');
  private readonly host: string;
  private readonly port: number;
  private readonly authorization: string;

  constructor(url: string, writeKey: string) {
    const parsed = new URL(url);
    this.host = parsed.hostname;
    this.port = Number(parsed.port);
    this.authorization = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
    this.eventBytes = trackEventJson(this.runId, 123_456, new Date().toISOString()).length;
  }

  /** A batch body of `size` events, each with a messageId never sent before. */
  batchBody(size: number): string {
    const timestamp = new Date().toISOString();
    let body = '{"batch":[';
    for (let i = 0; i < size; i++) {
      if (i > 0) body += ',';
      body += trackEventJson(this.runId, this.next++, timestamp);
    }
    return `${body}],"sentAt":"${timestamp}"}`;
  }

  /** Sends a batch until it is acknowledged; 429 is retried after a short pause. Returns the events accepted. */
  async sendBatch(agent: Agent, body: string, size: number): Promise<number> {
    for (;;) {
      const answer = await this.post(agent, '/v1/batch', body);
      if (answer.status === 429) {
        this.overloaded++;
        await sleep(20);
        continue;
      }
      if (answer.status !== 200)
        throw new Error(`POST /v1/batch answered ${answer.status}: ${answer.text.slice(0, 500)}`);
      const parsed = JSON.parse(answer.text) as { accepted: number; duplicates: number; rejected: unknown[] };
      if (parsed.accepted !== size || parsed.duplicates !== 0 || parsed.rejected.length !== 0) {
        this.anomalies++;
        log(`!!! unexpected answer: ${answer.text.slice(0, 500)}`);
      }
      this.acknowledged += parsed.accepted;
      return parsed.accepted;
    }
  }

  private post(agent: Agent, path: string, body: string): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(
        {
          agent,
          host: this.host,
          port: this.port,
          path,
          method: 'POST',
          headers: {
            authorization: this.authorization,
            'content-type': 'application/json',
            // The bodies are ASCII: one byte a character.
            'content-length': body.length,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Phases

interface SaturationResult {
  readonly events: number;
  readonly requests: number;
  readonly seconds: number;
  readonly eventsPerSec: number;
  readonly avgAckMs: number;
}

/** Closed loop: each client sends its next batch as soon as the previous one is acknowledged. */
async function saturate(
  client: LoadClient,
  sampler: ProcessSampler,
  phase: Options & { label: string; until?: () => boolean },
): Promise<SaturationResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: phase.concurrency });
  const started = performance.now();
  const deadline = started + phase.seconds * 1000;
  let events = 0;
  let requests = 0;
  let ackMs = 0;
  let last = { at: started, events: 0 };
  const progress = setInterval(
    () => {
      const now = performance.now();
      const rate = ((events - last.events) * 1000) / (now - last.at);
      last = { at: now, events };
      log(
        `${phase.label}: ${((now - started) / 1000).toFixed(0)} s, ${fmt(events)} events (${fmt(rate)}/s), ` +
          `${fmt(client.acknowledged)} in all, server RSS ${sampler.currentMb().toFixed(0)} MB`,
      );
    },
    phase.label === 'soak' ? 10_000 : 5_000,
  );
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && phase.until?.() !== true) {
      const body = client.batchBody(phase.batchSize);
      const sent = performance.now();
      // Not `events += await ...`: that would read `events` before the await and lose other clients' counts.
      const accepted = await client.sendBatch(agent, body, phase.batchSize);
      events += accepted;
      ackMs += performance.now() - sent;
      requests++;
    }
  };
  try {
    await Promise.all(Array.from({ length: phase.concurrency }, worker));
  } finally {
    clearInterval(progress);
    agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  log(
    `${phase.label}: done, ${fmt(events)} events in ${seconds.toFixed(1)} s = ${fmt(events / seconds)} events/s`,
  );
  return {
    events,
    requests,
    seconds,
    eventsPerSec: events / seconds,
    avgAckMs: ackMs / Math.max(1, requests),
  };
}

interface LatencyResult {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly achievedEventsPerSec: number;
}

/**
 * Open loop: request i is due at start + i × interval whatever happened to the earlier ones, and
 * its latency runs from when it was due to when it was acknowledged.
 */
async function measureLatency(
  client: LoadClient,
  sampler: ProcessSampler,
  options: Options,
): Promise<LatencyResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const intervalMs = (1000 * options.latencyBatch) / options.latencyRate;
  const total = Math.max(1, Math.round((options.latencySeconds * 1000) / intervalMs));
  const latencies: number[] = [];
  const inFlight = new Set<Promise<void>>();
  // sendBatch rejects with an Error: an unexpected status or a network error.
  let failure: Error | undefined;
  log(
    `latency: ${fmt(options.latencyRate)} events/s offered (${fmt(1000 / intervalMs)} requests/s of ` +
      `${options.latencyBatch}) for ${options.latencySeconds} s`,
  );
  const started = performance.now();
  let nextReport = started + 5_000;
  for (let i = 0; i < total && failure === undefined;) {
    const now = performance.now();
    // Send everything that is due, then sleep until the next one is.
    while (i < total && started + i * intervalMs <= now) {
      const due = started + i * intervalMs;
      const body = client.batchBody(options.latencyBatch);
      const sending = client.sendBatch(agent, body, options.latencyBatch).then(
        () => {
          latencies.push(performance.now() - due);
        },
        (error: unknown) => {
          failure ??= error as Error;
        },
      );
      inFlight.add(sending);
      void sending.finally(() => inFlight.delete(sending));
      i++;
    }
    if (now >= nextReport) {
      log(
        `latency: ${((now - started) / 1000).toFixed(0)} s, ${fmt(latencies.length)} requests answered, ` +
          `server RSS ${sampler.currentMb().toFixed(0)} MB`,
      );
      nextReport += 5_000;
    }
    if (i < total) await sleep(Math.max(0, started + i * intervalMs - performance.now()));
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  if (failure !== undefined) throw failure;
  latencies.sort((a, b) => a - b);
  const result = {
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    max: latencies.at(-1) ?? 0,
    achievedEventsPerSec: (latencies.length * options.latencyBatch) / seconds,
  };
  log(
    `latency: done, p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms, max ${result.max.toFixed(2)} ms`,
  );
  return result;
}

interface RawResult {
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSec: number;
}

/**
 * The physical limit: the same DuckDB adapter, in this process, given ready-made StoredEvents of
 * the same shape (built by the pipeline's own functions from the same JSON) in fixed batches.
 */
async function rawAppends(dataDir: string, rawSeconds: number, rawBatch: number): Promise<RawResult> {
  const config = loadConfig({ argv: [], env: process.env });
  const store = await createDuckdbStore({
    dataDir,
    memoryLimit: config.store.memoryLimit,
    threads: config.store.threads,
  });
  try {
    // A pool of distinct events, built before the clock starts and cycled through.
    const runId = randomBytes(6).toString('hex');
    const poolBatches = Math.max(1, Math.ceil(50_000 / rawBatch));
    const receivedAt = Date.now();
    const timestamp = new Date(receivedAt).toISOString();
    const batches: StoredEvent[][] = [];
    for (let b = 0, n = 0; b < poolBatches; b++) {
      const batch: StoredEvent[] = [];
      for (let i = 0; i < rawBatch; i++, n++) {
        const valid = validateEvent(JSON.parse(trackEventJson(runId, n, timestamp)));
        if (isRejection(valid)) throw new Error(`The benchmark's event is invalid: ${valid.message}`);
        const stored = toStoredEvent(
          { ...valid, sentAt: timestamp },
          { sourceId: 'src_bench', receivedAt, ip: '127.0.0.1', maxEventBytes: 32 * 1024 },
        );
        if (isRejection(stored)) throw new Error(`The benchmark's event is rejected: ${stored.message}`);
        batch.push(stored);
      }
      batches.push(batch);
    }
    log(`raw appends: writeBatch of ${rawBatch} events for ${rawSeconds} s`);
    const started = performance.now();
    const deadline = started + rawSeconds * 1000;
    let events = 0;
    let nextReport = started + 5_000;
    for (let b = 0; performance.now() < deadline; b++) {
      const batch = batches[b % batches.length]!;
      await store.writeBatch({ events: batch, quarantine: [], replayedQuarantineIds: [] });
      events += batch.length;
      if (performance.now() >= nextReport) {
        log(`raw appends: ${((performance.now() - started) / 1000).toFixed(0)} s, ${fmt(events)} events`);
        nextReport += 5_000;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const stored = await store.countEvents();
    if (stored !== events)
      throw new Error(`Raw appends: wrote ${events} events but the store holds ${stored}.`);
    log(
      `raw appends: done, ${fmt(events)} events in ${seconds.toFixed(1)} s = ${fmt(events / seconds)} events/s`,
    );
    return { events, seconds, eventsPerSec: events / seconds };
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The server process

interface Server {
  readonly pid: number;
  readonly url: string;
  readonly token: string;
  stop(): Promise<void>;
}

async function startServer(dataDir: string, nodeFlags: readonly string[]): Promise<Server> {
  const token = randomBytes(16).toString('hex');
  const cible = await spawnCibleProcess({
    dataDir,
    nodeFlags,
    env: { CIBLE_ADMIN_TOKEN: token },
    onOutput: (line, stream) => (stream === 'stderr' ? console.error : console.log)(`[server] ${line}`),
  });
  return { pid: cible.pid, url: cible.url, token, stop: () => cible.stop() };
}

async function createSource(server: Server): Promise<string> {
  const response = await fetch(`${server.url}/api/sources`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench' }),
  });
  if (response.status !== 201)
    throw new Error(`POST /api/sources answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { writeKey: string }).writeKey;
}

interface Stats {
  readonly events: number;
  /** Commits and events accepted so far, from the pipeline's counters. */
  readonly commits: number;
  readonly accepted: number;
}

async function stats(server: Server): Promise<Stats> {
  const response = await fetch(`${server.url}/api/stats`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  if (response.status !== 200)
    throw new Error(`GET /api/stats answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as {
    events: number;
    ingest?: { commits?: number; accepted?: number };
  };
  return { events: body.events, commits: body.ingest?.commits ?? 0, accepted: body.ingest?.accepted ?? 0 };
}

/** Samples a process's memory (VmRSS, and the kernel's high-water mark VmHWM) and CPU time from /proc. */
class ProcessSampler {
  private peakKb = 0;
  private currentKb = 0;
  private readonly timer: NodeJS.Timeout;
  /** USER_HZ: the unit of the CPU times in /proc/<pid>/stat, 100 on Linux. */
  private readonly ticksPerSecond = 100;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 200);
  }

  peakMb(): number {
    this.sample();
    return this.peakKb / 1024;
  }

  currentMb(): number {
    return this.currentKb / 1024;
  }

  /** User plus system CPU time the process has used, in seconds. */
  cpuSeconds(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after "pid (comm) ": state is the first, utime the 12th, stime the 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / this.ticksPerSecond;
    } catch {
      return 0;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    let status: string;
    try {
      status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return;
    }
    const kb = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    this.currentKb = kb('VmRSS');
    this.peakKb = Math.max(this.peakKb, kb('VmHWM'), this.currentKb);
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Total size of the files in a directory (not recursive), in MB. */
function directoryMb(path: string): number {
  let bytes = 0;
  for (const name of readdirSync(path)) bytes += statSync(join(path, name)).size;
  return bytes / 1024 / 1024;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}
