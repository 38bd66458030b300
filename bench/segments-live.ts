/**
 * The real-time segment benchmark. Target: a membership change is visible through the API at most
 * 100 ms after the 200 of the event that caused it, with 100 live segments, while ingesting
 * 10,000 events/s.
 *
 * It starts a real Cible process on a fresh data directory and saves N segments of varied rules
 * (segments-live-workload.ts) plus a probe segment (`trait probe = "in"`). It introduces the people
 * (one identify each) and waits until every segment has judged them, so that the load meets a
 * settled server. Then it sends an open-loop load of track and identify calls at the requested rate
 * while a probe person flips their `probe` trait every 250 ms and reads their profile back until
 * its `segments` show the flip (segments-live-probe.ts); a warm-up comes before the measured phase.
 *
 * It reports the visibility latency (p50, p95, p99, max; a probe gives up after 10 s), the achieved
 * ingest rate, 429 answers, the server's peak RSS and CPU, and the machine. The last line printed
 * is one JSON object. The exit code is 1 when the store does not hold exactly the acknowledged
 * events or the server logged an error; missing the target is a result, not a failure.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LoadClient, saturate } from './load-client.ts';
import { fmt, integerFlag, log, numberFlag, percentile, round, sleep } from './measure.ts';
import { createSource, ProcessSampler, startServer, stats, type BenchServer } from './server.ts';
import {
  createProbe,
  probeProfileId,
  type Probe,
  type ProbeRead,
  type ProbeSample,
} from './segments-live-probe.ts';
import {
  liveSegments,
  liveWorkload,
  probeSegment,
  seedWorkload,
  type SegmentDefinition,
} from './segments-live-workload.ts';

const help = `Usage: npm run bench -- segments-live [flags]

  --rate <n>             Offered load, events/s (default 10000)
  --seconds <n>          Measured phase length (default 30)
  --warmup-seconds <n>   Load sent before the measured phase, probes not counted (default 5)
  --segments <n>         Live segments besides the probe segment (default 100)
  --people <n>           Distinct people in the load (default 100000)
  --batch-size <n>       Events per POST /v1/batch (default 100)
  --skip-seed            Do not introduce the people (one identify each) before the load: the load
                         then signs up new people as it goes
  --probe-ms <n>         Time between two probe flips, ms (default 250)
  --read <profile|members>
                         What the probe reads after each flip: the profile's segments (default), or
                         the probe segment's members, which waits for the evaluation round
  --node-flags=<f>       Extra node flags for the server, e.g. --node-flags="--cpu-prof --cpu-prof-dir=/tmp/p"
  --dir <path>           Where to create the temporary data directory (default: the OS temp dir)

The server reads its usual environment (CIBLE_SEGMENT_REFRESH_SECONDS, CIBLE_COMMIT_MAX_DELAY_MS...).
`;

/** The target of the issue: a change visible within 100 ms of the 200. */
const targetMs = 100;
/** Pause between two reads of a profile that does not show the flip yet. */
const pollMs = 5;
/**
 * A probe that has not seen its flip after this long gives up, counted as timed out with the time
 * it waited (so percentiles that include one are lower bounds): an overloaded server must not
 * leave the measured phase with a single probe.
 */
const probeTimeoutMs = 10_000;

interface Options {
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly segments: number;
  readonly people: number;
  readonly batchSize: number;
  readonly seed: boolean;
  readonly probeMs: number;
  readonly read: ProbeRead;
  readonly nodeFlags: readonly string[];
  readonly dir: string;
}

function parseOptions(args: readonly string[]): Options | undefined {
  const { values } = parseArgs({
    args: [...args],
    options: {
      rate: { type: 'string' },
      seconds: { type: 'string' },
      'warmup-seconds': { type: 'string' },
      segments: { type: 'string' },
      people: { type: 'string' },
      'batch-size': { type: 'string' },
      'skip-seed': { type: 'boolean' },
      'probe-ms': { type: 'string' },
      read: { type: 'string' },
      'node-flags': { type: 'string' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  const read = values.read ?? 'profile';
  if (read !== 'profile' && read !== 'members') {
    throw new Error(`--read must be profile or members, not "${read}".`);
  }
  return {
    rate: numberFlag('rate', values.rate, 10_000, 1),
    seconds: numberFlag('seconds', values.seconds, 30, 1),
    warmupSeconds: numberFlag('warmup-seconds', values['warmup-seconds'], 5, 0),
    segments: integerFlag('segments', values.segments, 100, 0),
    people: integerFlag('people', values.people, 100_000, 1),
    batchSize: integerFlag('batch-size', values['batch-size'], 100, 1),
    seed: values['skip-seed'] !== true,
    probeMs: numberFlag('probe-ms', values['probe-ms'], 250, 1),
    read,
    nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((flag) => flag !== ''),
    dir: values.dir ?? tmpdir(),
  };
}

export async function runLiveSegmentsBenchmark(args: readonly string[]): Promise<number> {
  const options = parseOptions(args);
  if (options === undefined) {
    process.stdout.write(help);
    return 0;
  }
  const machine = describeMachine();
  log(
    `machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB; load average ${machine.loadAverage}`,
  );
  const workDir = await mkdtemp(join(options.dir, 'cible-bench-live-'));
  let server: BenchServer | undefined;
  try {
    const serverErrors: string[] = [];
    server = await startServer(join(workDir, 'server'), {
      nodeFlags: options.nodeFlags,
      onLine: (line) => {
        if (/"level":(50|60)/.test(line) || /error/i.test(line)) serverErrors.push(line);
      },
    });
    log(`server pid ${server.pid} at ${server.url}, data in ${workDir}`);
    const result = await measure(server, options, machine, serverErrors);
    await server.stop();
    server = undefined;
    printReport(result, options);
    console.log(JSON.stringify(result));
    return result.verified ? 0 : 1;
  } finally {
    if (server !== undefined) await server.stop().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The run

interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly loadAverage: number;
}

function describeMachine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: availableParallelism(),
    memoryGb: round(totalmem() / 1024 ** 3, 1),
    loadAverage: round(loadavg()[0] ?? 0, 2),
  };
}

type Result = Awaited<ReturnType<typeof measure>>;

async function measure(
  server: BenchServer,
  options: Options,
  machine: Machine,
  serverErrors: readonly string[],
) {
  const runId = randomBytes(6).toString('hex');
  const writeKey = await createSource(server);
  const setup = await createSegments(server, [...liveSegments(options.segments), probeSegment]);
  log(`${setup.ids.size} segments saved in ${(setup.ms / 1000).toFixed(1)} s`);
  const probeUserId = `probe_${runId}`;
  const probe = createProbe({
    server,
    writeKey,
    userId: probeUserId,
    segmentId: setup.ids.get(probeSegment.name)!,
    read: options.read,
    pollMs,
    timeoutMs: probeTimeoutMs,
    runId,
  });
  const sampler = new ProcessSampler(server.pid);
  const client = new LoadClient(server.url, writeKey, liveWorkload(runId, options.people));
  try {
    // The first flip creates the probe's profile; it is not timed as part of the run.
    await probe.flip();
    if ((await probeProfileId(server, probeUserId)) === undefined)
      throw new Error('The probe has no profile.');
    const seed = options.seed ? await seedPeople(server, writeKey, runId, options, sampler) : undefined;
    const phase = await loadAndProbe(client, probe, sampler, options);
    // The server may fail to answer (it did with DuckDB out of memory): the run still reports.
    const final = await stats(server).catch((error: unknown) => {
      log(`!!! GET /api/stats failed: ${String(error)}`);
      return undefined;
    });
    // Every acknowledged event must be in the store: the seed's, the load's and the probe's.
    const acknowledged = (seed?.acknowledged ?? 0) + client.acknowledged + probe.acknowledged;
    return {
      ...summarise(phase.samples),
      segments: options.segments,
      read: options.read,
      rateRequested: options.rate,
      rateAchieved: Math.round(phase.acknowledged / phase.seconds),
      overloaded429: phase.overloaded,
      lateRequestsAtEnd: phase.lateAtStop,
      batchAckP50Ms: round(percentile(phase.ackMs, 0.5), 1),
      batchAckP99Ms: round(percentile(phase.ackMs, 0.99), 1),
      peakRssMb: round(sampler.peakMb(), 1),
      serverCpuCores: round(phase.serverCores, 2),
      clientCpuCores: round(phase.clientCores, 2),
      people: options.people,
      profiles: final?.profiles ?? null,
      seconds: round(phase.seconds, 1),
      segmentSetupSeconds: round(setup.ms / 1000, 1),
      seedSeconds: round(seed?.seconds ?? 0, 1),
      acknowledgedEvents: acknowledged,
      storedEvents: final?.events ?? null,
      serverErrors: serverErrors.length,
      // What went wrong, once each: the log's message and the start of the error's.
      serverErrorKinds: [...new Set(serverErrors.map(errorKind))],
      verified:
        client.anomalies === 0 &&
        serverErrors.length === 0 &&
        final !== undefined &&
        final.events === acknowledged,
      // The machine may be shared: a load average well above the cores at the end says the numbers suffered.
      machine: { ...machine, loadAverageAtEnd: round(loadavg()[0] ?? 0, 2) },
    };
  } finally {
    probe.close();
    sampler.stop();
  }
}

/** The load at the requested rate with the probe flipping: a warm-up, then the measured phase. */
async function loadAndProbe(client: LoadClient, probe: Probe, sampler: ProcessSampler, options: Options) {
  const load = startOpenLoopLoad(client, options);
  try {
    if (options.warmupSeconds > 0) {
      log(`warm-up: ${fmt(options.rate)} events/s for ${options.warmupSeconds} s`);
      await probeFor(probe, options.warmupSeconds * 1000, options.probeMs);
    }
    const before = {
      acknowledged: client.acknowledged,
      overloaded: client.overloaded,
      serverCpu: sampler.cpuSeconds(),
      clientCpu: process.cpuUsage(),
    };
    const started = performance.now();
    log(
      `measuring: ${fmt(options.rate)} events/s for ${options.seconds} s, a probe flip every ${options.probeMs} ms`,
    );
    const progress = setInterval(() => logProgress(client, sampler, started, before.acknowledged), 5_000);
    const samples = await probeFor(probe, options.seconds * 1000, options.probeMs).finally(() =>
      clearInterval(progress),
    );
    const seconds = (performance.now() - started) / 1000;
    const clientCpu = process.cpuUsage(before.clientCpu);
    const measured = {
      samples,
      seconds,
      acknowledged: client.acknowledged - before.acknowledged,
      overloaded: client.overloaded - before.overloaded,
      serverCores: (sampler.cpuSeconds() - before.serverCpu) / seconds,
      // The load generator shares the machine with the server: what it took is not the server's.
      clientCores: (clientCpu.user + clientCpu.system) / 1e6 / seconds,
    };
    return { ...measured, ...(await load.stop()) };
  } finally {
    await load.stop().catch(() => undefined);
  }
}

/** Saves the segments in order (a rule may name an earlier one); each must answer 201. */
async function createSegments(
  server: BenchServer,
  definitions: readonly SegmentDefinition[],
): Promise<{ ids: Map<string, string>; ms: number }> {
  const started = performance.now();
  const ids = new Map<string, string>();
  for (const definition of definitions) {
    const response = await fetch(`${server.url}/api/segments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(definition),
    });
    if (response.status !== 201) {
      throw new Error(
        `POST /api/segments ${JSON.stringify(definition)} answered ${response.status}: ${await response.text()}`,
      );
    }
    ids.set(definition.name, ((await response.json()) as { id: string }).id);
  }
  return { ids, ms: performance.now() - started };
}

/**
 * Introduces every person with one identify call, closed loop (as fast as the server acknowledges),
 * then waits until the store holds them. Resolves with the seconds it took.
 */
async function seedPeople(
  server: BenchServer,
  writeKey: string,
  runId: string,
  options: Options,
  sampler: ProcessSampler,
): Promise<{ seconds: number; acknowledged: number }> {
  const started = performance.now();
  const seeder = new LoadClient(server.url, writeKey, seedWorkload(runId, options.people));
  await saturate(seeder, sampler, {
    label: 'seed',
    seconds: Number.POSITIVE_INFINITY,
    concurrency: 8,
    batchSize: 250,
    until: () => seeder.acknowledged >= options.people,
  });
  // The load starts from a settled server: the store holds the people and every segment has judged them.
  await segmentsSettled(server);
  return { seconds: (performance.now() - started) / 1000, acknowledged: seeder.acknowledged };
}

/** Resolves once the server has evaluated everything it acknowledged: segment reads wait for that. */
async function segmentsSettled(server: BenchServer): Promise<void> {
  for (;;) {
    const response = await fetch(`${server.url}/api/segments`, {
      headers: { authorization: `Bearer ${server.token}` },
    });
    await response.body?.cancel();
    // 503: the store is still loading what was acknowledged, after the server's 10 s; ask again.
    if (response.status === 200) return;
    if (response.status !== 503) throw new Error(`GET /api/segments answered ${response.status}.`);
  }
}

/** Flips the probe every `everyMs` (or as soon as the last flip is seen, if later) for `ms`. */
async function probeFor(probe: Probe, ms: number, everyMs: number): Promise<ProbeSample[]> {
  const samples: ProbeSample[] = [];
  const started = performance.now();
  for (let next = started; next < started + ms; next += everyMs) {
    await sleep(Math.max(0, next - performance.now()));
    const sample = await probe.flip();
    samples.push(sample);
    if (sample.visibleMs > targetMs) {
      log(
        `probe: ${sample.visibleMs.toFixed(0)} ms to see the flip (first read ${sample.firstReadMs.toFixed(0)} ms, ` +
          `${sample.reads} reads, ack ${sample.ackMs.toFixed(0)} ms, /healthz ${sample.healthzMs.toFixed(0)} ms)`,
      );
    }
    // A flip slower than the period pushes the next one back rather than overlapping it.
    next = Math.max(next, performance.now() - everyMs);
  }
  return samples;
}

function logProgress(
  client: LoadClient,
  sampler: ProcessSampler,
  started: number,
  acknowledgedBefore: number,
): void {
  const seconds = (performance.now() - started) / 1000;
  log(
    `${seconds.toFixed(0)} s: ${fmt((client.acknowledged - acknowledgedBefore) / seconds)} events/s acknowledged, ` +
      `${client.overloaded} answers 429 in all, server RSS ${sampler.currentMb().toFixed(0)} MB`,
  );
}

/** A server error line in short: pino's `msg` and the first line of `err.message`. */
function errorKind(line: string): string {
  try {
    const parsed = JSON.parse(line) as { msg?: string; err?: { message?: string } };
    return `${parsed.msg ?? ''}: ${(parsed.err?.message ?? '').split('\n')[0]?.slice(0, 120) ?? ''}`;
  } catch {
    return line.slice(0, 160);
  }
}

// ---------------------------------------------------------------------------------------------
// The load

interface OpenLoopLoad {
  /** Stops sending, waits for the requests in flight; resolves with how far behind the load was. */
  stop(): Promise<{ lateAtStop: number; ackMs: number[] }>;
}

/**
 * Open loop: batch i is due at start + i × interval whatever happened to the earlier ones, so a
 * slow server meets the same offered load instead of slowing the client down. Acknowledgement
 * times run from when a batch was due.
 */
function startOpenLoopLoad(client: LoadClient, options: Options): OpenLoopLoad {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const intervalMs = (1000 * options.batchSize) / options.rate;
  const inFlight = new Set<Promise<void>>();
  const ackMs: number[] = [];
  let failure: Error | undefined;
  let stopping = false;
  let late = 0;

  const send = (due: number): void => {
    const sending = client.sendBatch(agent, client.batchBody(options.batchSize)).then(
      () => {
        ackMs.push(performance.now() - due);
      },
      (error: unknown) => {
        // sendBatch rejects with an Error: an unexpected status or a network error.
        failure ??= error as Error;
      },
    );
    inFlight.add(sending);
    void sending.finally(() => inFlight.delete(sending));
  };

  const loop = (async () => {
    const started = performance.now();
    for (let i = 0; !stopping && failure === undefined;) {
      // Send everything that is due, then sleep until the next one is.
      const now = performance.now();
      while (started + i * intervalMs <= now) send(started + i++ * intervalMs);
      // Requests still unanswered beyond a second's worth: the server is not keeping up.
      late = Math.max(0, inFlight.size - Math.ceil(1000 / intervalMs));
      await sleep(Math.max(0, started + i * intervalMs - performance.now()));
    }
  })();

  let stopped: Promise<{ lateAtStop: number; ackMs: number[] }> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping = true;
        const lateAtStop = late;
        await loop;
        await Promise.all(inFlight);
        agent.destroy();
        if (failure !== undefined) throw failure;
        return { lateAtStop, ackMs: ackMs.sort((a, b) => a - b) };
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The report

function summarise(samples: readonly ProbeSample[]) {
  const visible = samples.map((sample) => sample.visibleMs).sort((a, b) => a - b);
  const firstRead = samples.map((sample) => sample.firstReadMs).sort((a, b) => a - b);
  const healthz = samples.map((sample) => sample.healthzMs).sort((a, b) => a - b);
  const ack = samples.map((sample) => sample.ackMs).sort((a, b) => a - b);
  return {
    probes: samples.length,
    p50Ms: round(percentile(visible, 0.5), 1),
    p95Ms: round(percentile(visible, 0.95), 1),
    p99Ms: round(percentile(visible, 0.99), 1),
    maxMs: round(visible.at(-1) ?? 0, 1),
    withinTarget: samples.filter((sample) => sample.visibleMs <= targetMs).length,
    seenOnFirstRead: samples.filter((sample) => sample.firstReadMatched).length,
    timedOut: samples.filter((sample) => sample.timedOut).length,
    unavailable503: samples.reduce((sum, sample) => sum + sample.unavailable, 0),
    firstReadP50Ms: round(percentile(firstRead, 0.5), 1),
    firstReadP99Ms: round(percentile(firstRead, 0.99), 1),
    probeAckP50Ms: round(percentile(ack, 0.5), 1),
    probeAckP99Ms: round(percentile(ack, 0.99), 1),
    healthzP50Ms: round(percentile(healthz, 0.5), 1),
    healthzP99Ms: round(percentile(healthz, 0.99), 1),
  };
}

function printReport(result: Result, options: Options): void {
  const { machine } = result;
  console.log('');
  console.log('Real-time segments benchmark');
  console.log(
    `  machine      ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB (load average ${machine.loadAverage} at start, ${machine.loadAverageAtEnd} at the end)`,
  );
  console.log(
    `  setup        ${result.segments} segments + the probe segment, saved in ${result.segmentSetupSeconds} s; ` +
      `${fmt(options.people)} people in the load` +
      (options.seed ? ` (introduced and evaluated in ${result.seedSeconds} s)` : '') +
      `, ${result.profiles === null ? '?' : fmt(result.profiles)} profiles at the end`,
  );
  console.log(
    `  ingest       ${fmt(result.rateAchieved)} events/s acknowledged of ${fmt(result.rateRequested)} offered ` +
      `(batches of ${options.batchSize}: ack p50 ${result.batchAckP50Ms} ms, p99 ${result.batchAckP99Ms} ms; ` +
      `${result.overloaded429} answers 429; ${result.lateRequestsAtEnd} requests late at the end)`,
  );
  console.log(
    `  visibility   ${result.probes} probes reading the ${options.read === 'profile' ? 'profile' : "segment's members"}: p50 ${result.p50Ms} ms, p95 ${result.p95Ms} ms, p99 ${result.p99Ms} ms, ` +
      `max ${result.maxMs} ms (target ${targetMs} ms: ${result.withinTarget} within)`,
  );
  console.log(
    `               ${result.seenOnFirstRead} seen on the first read (first read p50 ${result.firstReadP50Ms} ms, ` +
      `p99 ${result.firstReadP99Ms} ms); ${result.timedOut} timed out; ` +
      `${result.unavailable503} reads answered 503 (store behind)`,
  );
  console.log(
    `  probe        identify ack p50 ${result.probeAckP50Ms} ms, p99 ${result.probeAckP99Ms} ms; ` +
      `/healthz p50 ${result.healthzP50Ms} ms, p99 ${result.healthzP99Ms} ms`,
  );
  console.log(
    `  server       peak RSS ${result.peakRssMb} MB, ${result.serverCpuCores} cores busy ` +
      `(the load generator ${result.clientCpuCores})`,
  );
  console.log(
    `  stored       ${result.storedEvents === null ? '?' : fmt(result.storedEvents)} events, ${fmt(result.acknowledgedEvents)} acknowledged` +
      (result.serverErrors > 0 ? `; ${result.serverErrors} error lines from the server` : ''),
  );
  for (const kind of result.serverErrorKinds) console.log(`  server error ${kind}`);
  const verdict = result.p99Ms <= targetMs ? 'meets' : 'misses';
  console.log(`  target       p99 ${result.p99Ms} ms ${verdict} the ${targetMs} ms target`);
}
