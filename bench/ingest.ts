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
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LoadClient, saturate, type SaturationResult, type Workload } from './load-client.ts';
import { directoryMb, fmt, log, numberFlag, percentile, round, sleep } from './measure.ts';
import { rawAppends } from './raw-appends.ts';
import { createSource, ProcessSampler, startServer, stats, type BenchServer } from './server.ts';

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
  const number = (name: keyof typeof values, fallback: number, min: number): number =>
    numberFlag(name, values[name], fallback, min);
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
  let server: BenchServer | undefined;
  try {
    const loadAverage = loadavg()[0] ?? 0;
    log(`data in ${workDir}; load average ${loadAverage.toFixed(2)} on ${availableParallelism()} cores`);
    server = await startServer(join(workDir, 'server'), { nodeFlags: options.nodeFlags });
    log(`server pid ${server.pid} at ${server.url}`);
    const writeKey = await createSource(server);
    const client = new LoadClient(server.url, writeKey, trackWorkload(randomBytes(6).toString('hex')));
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
    const statsAfterLatency = latency === undefined ? undefined : await stats(server);
    // How many events each store write held while the load was 10,000 events/s: a write costs the
    // JavaScript thread a fixed part (a flush per partition) besides its events.
    const eventsPerStoreWriteAtLatency =
      statsAfterLatency === undefined
        ? null
        : Math.round(
            (statsAfterLatency.events - statsAfter.events) /
              Math.max(1, statsAfterLatency.storeWrites - statsAfter.storeWrites),
          );

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
    const fileBackedMb = round(rss.fileBackedMb(), 1);
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
        ? await rawAppends({
            dataDir: join(workDir, 'raw'),
            seconds: options.rawSeconds,
            batchSize: rawBatch,
            workload: trackWorkload(randomBytes(6).toString('hex')),
          })
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
      eventsPerStoreWriteAtLatency,
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
      memoryAtEndMb: final.memoryMb ?? null,
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
    if (final.memoryMb !== undefined) {
      const m = final.memoryMb;
      console.log(
        `  memory       at the end: RSS ${m.rss} MB = JavaScript heap ${m.heapUsed} MB (of ${m.heapTotal} MB ` +
          `committed) + array buffers ${m.arrayBuffers} MB + DuckDB ${m.store} MB (limit ${m.storeLimit}) + ` +
          `the rest ${round(m.rss - m.heapUsed - m.arrayBuffers - m.store, 1)} MB, of which mapped files ` +
          `${fileBackedMb} MB; ${fmt(m.dedupeMessages)} messages in the de-duplication window`,
      );
    }
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

/** Track events of 50,000 returning users, each with a messageId of its own. */
function trackWorkload(runId: string): Workload {
  return { event: (n, timestamp) => trackEventJson(runId, n, timestamp) };
}

// ---------------------------------------------------------------------------------------------
// Phases

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
      const batch = client.batchBody(options.latencyBatch);
      const sending = client.sendBatch(agent, batch).then(
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
