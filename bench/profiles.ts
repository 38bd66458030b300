/**
 * The profiles benchmark: identity resolution and profile look-ups with a million profiles.
 *
 * 1. store: a database of N profiles (default 1,000,000), built once through the real ingest
 *    pipeline and cached (see profile-store.ts), copied for the run;
 * 2. start: a real Cible process on it; the time it takes to load the identity graph (the server
 *    says so when it starts) and its RSS once it listens;
 * 3. ingest: events/s acknowledged by `POST /v1/batch` under concurrent keep-alive clients, with a
 *    mix of returning people, new anonymous visitors, and visitors who then give the e-mail address
 *    of an existing profile (each such sign-up merges the visitor's profile into it);
 * 4. look-ups: `GET /api/profiles?identifier=email:<address>` for random people (and some
 *    addresses nobody has), from one client and from several at once, then `GET /api/profiles/{id}`;
 * 5. raw appends: events/s the same DuckDB adapter writes in this process, for the same events,
 *    without HTTP, validation or identity: the physical limit the ingest rate is compared with.
 *
 * The last line printed is one JSON object with the results.
 */
import { randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent } from 'node:http';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { httpRequest, LoadClient, saturate, type Workload } from './load-client.ts';
import { directoryMb, fmt, log, numberFlag, percentile, round } from './measure.ts';
import { anonymousId, identifyJson, mix, person, productViewedJson } from './people.ts';
import { copyProfileStore, profileStore } from './profile-store.ts';
import { rawAppends } from './raw-appends.ts';
import { firstWriteKey, ProcessSampler, startServer, stats, type BenchServer } from './server.ts';

const help = `Usage: npm run bench -- profiles [flags]

  --profiles <n>            Profiles in the store (default 1000000)
  --seconds <n>             Ingest phase length (default 20)
  --warmup-seconds <n>      Load sent before the ingest phase, not timed (default 3)
  --concurrency <n>         Concurrent keep-alive clients in the ingest phase (default 16)
  --batch-size <n>          Events per request in the ingest phase (default 250)
  --lookups <n>             Timed requests of each look-up kind (default 3000)
  --lookup-warmup <n>       Untimed requests before them (default 300)
  --lookup-concurrency <n>  Clients of the concurrent look-up phase (default 4)
  --raw-seconds <n>         Raw append phase length; 0 skips it (default 10)
  --raw-batch <n>           Events per writeBatch in the raw phase (default: the server's average commit)
  --rebuild                 Build the store again even if it is cached
  --cache-dir <path>        Where built stores are kept (default: <OS temp dir>/cible-bench-profiles)
  --node-flags=<f>          Extra node flags for the server, e.g. --node-flags="--cpu-prof --cpu-prof-dir=/tmp/p"
  --dir <path>              Where to create the temporary data directory (default: the OS temp dir)

The server reads its usual environment (CIBLE_COMMIT_MAX_EVENTS, CIBLE_DUCKDB_MEMORY_LIMIT...).
`;

interface Options {
  readonly profiles: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly concurrency: number;
  readonly batchSize: number;
  readonly lookups: number;
  readonly lookupWarmup: number;
  readonly lookupConcurrency: number;
  readonly rawSeconds: number;
  readonly rawBatch: number | undefined;
  readonly rebuild: boolean;
  readonly cacheDir: string | undefined;
  readonly nodeFlags: readonly string[];
  readonly dir: string;
}

function parseOptions(args: readonly string[]): Options | undefined {
  const { values } = parseArgs({
    args: [...args],
    options: {
      profiles: { type: 'string' },
      seconds: { type: 'string' },
      'warmup-seconds': { type: 'string' },
      concurrency: { type: 'string' },
      'batch-size': { type: 'string' },
      lookups: { type: 'string' },
      'lookup-warmup': { type: 'string' },
      'lookup-concurrency': { type: 'string' },
      'raw-seconds': { type: 'string' },
      'raw-batch': { type: 'string' },
      rebuild: { type: 'boolean' },
      'cache-dir': { type: 'string' },
      'node-flags': { type: 'string' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  const number = (name: keyof typeof values, fallback: number, min: number): number =>
    numberFlag(name, values[name], fallback, min);
  return {
    profiles: Math.floor(number('profiles', 1_000_000, 100)),
    seconds: number('seconds', 20, 1),
    warmupSeconds: number('warmup-seconds', 3, 0),
    concurrency: Math.floor(number('concurrency', 16, 1)),
    batchSize: Math.floor(number('batch-size', 250, 1)),
    lookups: Math.floor(number('lookups', 3000, 1)),
    lookupWarmup: Math.floor(number('lookup-warmup', 300, 0)),
    lookupConcurrency: Math.floor(number('lookup-concurrency', 4, 1)),
    rawSeconds: number('raw-seconds', 10, 0),
    rawBatch: values['raw-batch'] === undefined ? undefined : Math.floor(number('raw-batch', 1, 1)),
    rebuild: values.rebuild === true,
    cacheDir: values['cache-dir'],
    nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((flag) => flag !== ''),
    dir: values.dir ?? tmpdir(),
  };
}

export async function runProfilesBenchmark(args: readonly string[]): Promise<number> {
  const options = parseOptions(args);
  if (options === undefined) {
    process.stdout.write(help);
    return 0;
  }
  const loadAverage = loadavg()[0] ?? 0;
  log(`load average ${loadAverage.toFixed(2)} on ${availableParallelism()} cores`);
  const store = await profileStore(options.profiles, {
    rebuild: options.rebuild,
    ...(options.cacheDir === undefined ? {} : { cacheDir: options.cacheDir }),
  });
  const workDir = await mkdtemp(join(options.dir, 'cible-bench-'));
  let server: BenchServer | undefined;
  let sampler: ProcessSampler | undefined;
  try {
    const dataDir = join(workDir, 'server');
    await copyProfileStore(store, dataDir);
    log(`data in ${workDir} (a copy of ${store.dir})`);

    // 2. Start: the server prints how long loading the identity graph took.
    let graphLoadMs: number | null = null;
    const startStarted = performance.now();
    server = await startServer(dataDir, {
      nodeFlags: options.nodeFlags,
      onLine: (line) => {
        const loaded = /^Identity graph: .* loaded \((\d+) ms\)$/.exec(line);
        if (loaded !== null) graphLoadMs = Number(loaded[1]);
      },
    });
    const startMs = performance.now() - startStarted;
    sampler = new ProcessSampler(server.pid);
    const rssAfterLoadMb = sampler.currentMb();
    log(
      `server pid ${server.pid} at ${server.url}: listening after ${fmt(startMs)} ms, ` +
        `identity graph loaded in ${graphLoadMs ?? '?'} ms, RSS ${rssAfterLoadMb.toFixed(0)} MB`,
    );
    const writeKey = await firstWriteKey(server);
    const atStart = await stats(server);
    if (atStart.profiles !== store.profiles)
      throw new Error(`The server counts ${atStart.profiles} profiles, not ${store.profiles}.`);

    // 3. Ingest at saturation.
    const workload = new ProfilesWorkload(store.profiles, randomInt(1, 4096));
    const client = new LoadClient(server.url, writeKey, workload);
    if (options.warmupSeconds > 0) {
      await saturate(client, sampler, { ...options, label: 'warm-up', seconds: options.warmupSeconds });
    }
    const beforeIngest = await stats(server);
    const countsBefore = workload.snapshot();
    const cpuBefore = sampler.cpuSeconds();
    const ingest = await saturate(client, sampler, { ...options, label: 'ingest' });
    const serverCores = (sampler.cpuSeconds() - cpuBefore) / ingest.seconds;
    const afterIngest = await stats(server);
    const ingestMix = workload.since(countsBefore);
    const eventsPerCommit = Math.round(
      (afterIngest.accepted - beforeIngest.accepted) /
        Math.max(1, afterIngest.commits - beforeIngest.commits),
    );
    // Every new visitor starts a profile and every sign-up of a known visitor merges one away.
    const all = workload.snapshot();
    const expectedProfiles = atStart.profiles + all.visitors - all.merges;
    const identityVerified =
      afterIngest.profiles === expectedProfiles &&
      afterIngest.events === atStart.events + client.acknowledged &&
      client.anomalies === 0;

    // 4. Look-ups, with the server idle, once every profile has its document (built in the
    //    background when writes pause: the whole store after a start without them, else the
    //    profiles the ingest phase changed).
    const documentsStarted = performance.now();
    let documentStats = await stats(server);
    while (documentStats.buildingDocuments) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      documentStats = await stats(server);
    }
    const documentsWaitMs = performance.now() - documentsStarted;
    log(`${fmt(documentStats.documents)} profile documents after waiting ${fmt(documentsWaitMs)} ms`);
    const lookupAgent = (sockets: number): Agent => new Agent({ keepAlive: true, maxSockets: sockets });
    const lookups = new LookupClient(server, store.profiles);
    const emailPath = (k: number): string => lookups.emailPath(k);
    await lookups.run('e-mail warm-up', options.lookupWarmup, 1, lookupAgent(1), emailPath);
    const byEmail = await lookups.run('by e-mail', options.lookups, 1, lookupAgent(1), emailPath);
    const byEmailConcurrent = await lookups.run(
      `by e-mail, ${options.lookupConcurrency} clients`,
      options.lookups,
      options.lookupConcurrency,
      lookupAgent(options.lookupConcurrency),
      emailPath,
    );
    const idPath = (k: number): string => `/api/profiles/${1 + (mix(k) % store.profiles)}`;
    await lookups.run('id warm-up', options.lookupWarmup, 1, lookupAgent(1), idPath);
    const byId = await lookups.run('by id', options.lookups, 1, lookupAgent(1), idPath);

    const peakRssMb = sampler.peakMb();
    const endRssMb = sampler.currentMb();
    sampler.stop();
    await server.stop();
    server = undefined;
    const dataDirMb = directoryMb(dataDir);

    // 5. Raw appends of the same kind of events.
    const rawBatch = options.rawBatch ?? Math.max(1, eventsPerCommit);
    const raw =
      options.rawSeconds > 0
        ? await rawAppends({
            dataDir: join(workDir, 'raw'),
            seconds: options.rawSeconds,
            batchSize: rawBatch,
            workload: new ProfilesWorkload(store.profiles, 4095),
          })
        : undefined;

    const eventsPerSec = Math.round(ingest.eventsPerSec);
    const rawAppendEventsPerSec = raw === undefined ? null : Math.round(raw.eventsPerSec);
    const lookupsVerified = lookups.anomalies === 0;
    const result = {
      profiles: store.profiles,
      graphLoadMs,
      rssAfterLoadMb: round(rssAfterLoadMb, 1),
      eventsPerSec,
      ratioToRaw: rawAppendEventsPerSec === null ? null : round(eventsPerSec / rawAppendEventsPerSec, 3),
      lookupP50Ms: round(byEmail.p50, 2),
      lookupP99Ms: round(byEmail.p99, 2),
      profileP99Ms: round(byId.p99, 2),
      documents: documentStats.documents,
      documentsWaitMs: Math.round(documentsWaitMs),
      peakRssMb: round(peakRssMb, 1),
      merges: ingestMix.merges,
      mergesPerSec: Math.round(ingestMix.merges / ingest.seconds),
      newProfilesPerSec: Math.round(ingestMix.visitors / ingest.seconds),
      mix: ingestMix,
      rawAppendEventsPerSec,
      rawBatch: raw === undefined ? null : rawBatch,
      eventsPerCommit,
      overloaded429: client.overloaded,
      serverCpuCores: round(serverCores, 2),
      lookupMaxMs: round(byEmail.max, 2),
      lookupRequestsPerSec: Math.round(byEmail.requestsPerSec),
      lookupConcurrentP50Ms: round(byEmailConcurrent.p50, 2),
      lookupConcurrentP99Ms: round(byEmailConcurrent.p99, 2),
      lookupConcurrentRequestsPerSec: Math.round(byEmailConcurrent.requestsPerSec),
      lookupConcurrency: options.lookupConcurrency,
      lookupMissRatio: LookupClient.missRatio,
      profileP50Ms: round(byId.p50, 2),
      profileMaxMs: round(byId.max, 2),
      profileRequestsPerSec: Math.round(byId.requestsPerSec),
      lookups: options.lookups,
      startMs: Math.round(startMs),
      endRssMb: round(endRssMb, 1),
      storeEvents: store.events,
      storeIdentifiers: store.identifiers,
      storeFromCache: !store.built,
      storeBuildSeconds: store.buildSeconds,
      dataDirMb: round(dataDirMb, 1),
      eventBytes: client.eventBytes,
      batchSize: options.batchSize,
      concurrency: options.concurrency,
      loadAverageAtStart: round(loadAverage, 2),
      acknowledgedEvents: client.acknowledged,
      verified: identityVerified && lookupsVerified,
    };

    console.log('');
    console.log('Profiles benchmark');
    console.log(
      `  store        ${fmt(store.profiles)} profiles, ${fmt(store.identifiers)} identifiers, ${fmt(store.events)} events ` +
        (store.built
          ? `(built in ${store.buildSeconds} s, now cached in ${store.dir})`
          : `(from the cache ${store.dir}, built ${store.builtAt} in ${store.buildSeconds} s)`),
    );
    console.log(
      `  start        identity graph loaded in ${graphLoadMs ?? '?'} ms; listening after ${fmt(startMs)} ms; ` +
        `RSS ${result.rssAfterLoadMb} MB`,
    );
    console.log(
      `  ingest       ${fmt(eventsPerSec)} events/s acknowledged (${options.concurrency} clients, batches of ` +
        `${options.batchSize}, ${fmt(eventsPerCommit)} events/commit, ${client.overloaded} answers 429); ` +
        `server used ${result.serverCpuCores} cores`,
    );
    console.log(
      `               mix: ${fmt(ingestMix.returning)} returning, ${fmt(ingestMix.refreshes)} identify again, ` +
        `${fmt(ingestMix.visitors)} new visitors, ${fmt(ingestMix.signUps)} sign-ups with a known e-mail ` +
        `(${fmt(ingestMix.merges)} merges, ${result.mergesPerSec}/s)`,
    );
    if (raw !== undefined) {
      console.log(
        `  raw appends  ${fmt(raw.eventsPerSec)} events/s (writeBatch of ${fmt(rawBatch)}); ` +
          `HTTP with identity reaches ${result.ratioToRaw} of it`,
      );
    }
    console.log(
      `  documents    ${fmt(documentStats.documents)} profile documents, ready ${fmt(documentsWaitMs)} ms after the ingest phase`,
    );
    for (const [label, lookup] of [
      ['by e-mail', byEmail],
      [`by e-mail ×${options.lookupConcurrency}`, byEmailConcurrent],
      ['by id', byId],
    ] as const) {
      console.log(
        `  ${label.padEnd(12)} p50 ${lookup.p50.toFixed(2)} ms, p99 ${lookup.p99.toFixed(2)} ms, ` +
          `max ${lookup.max.toFixed(2)} ms, ${fmt(lookup.requestsPerSec)} requests/s (${fmt(lookup.requests)} requests)`,
      );
    }
    console.log(`  peak RSS     ${result.peakRssMb} MB (server process; ${result.endRssMb} MB at the end)`);
    console.log(`  data dir     ${result.dataDirMb} MB`);
    if (!result.verified) {
      console.error('');
      console.error('!!! MISMATCH !!!');
      console.error(
        `!!! profiles: ${afterIngest.profiles}, expected ${expectedProfiles}; events: ${afterIngest.events}, ` +
          `expected ${atStart.events + client.acknowledged}; unexpected ingest answers: ${client.anomalies}; ` +
          `unexpected look-up answers: ${lookups.anomalies}`,
      );
      console.error('');
    }
    console.log(JSON.stringify(result));
    return result.verified ? 0 : 1;
  } finally {
    sampler?.stop();
    if (server !== undefined) await server.stop().catch(() => undefined);
    await rm(workDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The ingest mix

interface MixCounts {
  /** Product views by known people (their anonymousId, and their userId one time in two). */
  returning: number;
  /** Known people identifying again (same identifiers, traits observed again). */
  refreshes: number;
  /** Product views by anonymousIds never seen: each starts a profile. */
  visitors: number;
  /** Identifies with a known e-mail address from a new device. */
  signUps: number;
  /** ...of which came from a visitor's device already committed: each merges two profiles. */
  merges: number;
}

/**
 * Per hundred events: 62 returning, 5 identify again, 22 new visitors, 11 sign-ups. A sign-up
 * names a random existing person's e-mail address (no userId: a newsletter or checkout form)
 * from the device of a new visitor whose events are already acknowledged, so that the visitor's
 * profile merges into the existing one; before any visitor is acknowledged it uses a device never
 * seen, which only adds an identifier.
 */
class ProfilesWorkload implements Workload {
  private readonly counts: MixCounts = { returning: 0, refreshes: 0, visitors: 0, signUps: 0, merges: 0 };
  /** Visitors' devices by the n of their event, until it is acknowledged. */
  private readonly pending = new Map<number, string>();
  /** Acknowledged visitors' devices, not yet signed up. */
  private readonly ready: string[] = [];
  private readyNext = 0;

  constructor(
    private readonly people: number,
    /** Sets this run's new anonymousIds apart from the store's people (salt 0) and other runs. */
    private readonly salt: number,
  ) {}

  event(n: number, timestamp: string): string {
    const messageId = `bench-${this.salt}-${n}`;
    const roll = mix(n ^ (this.salt << 20)) % 100;
    const someone = mix(n + this.salt * 7919) % this.people;
    if (roll < 62) {
      this.counts.returning++;
      const known = person(someone);
      return productViewedJson(n, messageId, timestamp, {
        anonymousId: known.anonymousId,
        ...(n % 2 === 0 ? { userId: known.userId } : {}),
      });
    }
    if (roll < 67) {
      this.counts.refreshes++;
      return identifyJson(someone, messageId, timestamp, timestamp);
    }
    if (roll < 89) {
      this.counts.visitors++;
      const device = anonymousId(n, this.salt);
      this.pending.set(n, device);
      return productViewedJson(n, messageId, timestamp, { anonymousId: device });
    }
    this.counts.signUps++;
    let device = this.ready[this.readyNext];
    if (device === undefined) {
      device = anonymousId(n, this.salt);
    } else {
      this.readyNext++;
      this.counts.merges++;
    }
    return identifyJson(someone, messageId, timestamp, timestamp, { device, withUserId: false });
  }

  acknowledged(first: number, size: number): void {
    for (let n = first; n < first + size; n++) {
      const device = this.pending.get(n);
      if (device === undefined) continue;
      this.pending.delete(n);
      this.ready.push(device);
    }
  }

  snapshot(): Readonly<MixCounts> {
    return { ...this.counts };
  }

  since(before: Readonly<MixCounts>): MixCounts {
    const now = this.counts;
    return {
      returning: now.returning - before.returning,
      refreshes: now.refreshes - before.refreshes,
      visitors: now.visitors - before.visitors,
      signUps: now.signUps - before.signUps,
      merges: now.merges - before.merges,
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Look-ups

interface LookupResult {
  readonly requests: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly requestsPerSec: number;
}

/** Times GET requests of the admin API; each answer must be 200, or 404 where a miss is meant. */
class LookupClient {
  /** Share of e-mail look-ups for addresses nobody has. */
  static readonly missRatio = 0.1;
  /** Answers that were not what the request expected. */
  anomalies = 0;
  private readonly host: string;
  private readonly port: number;
  private readonly authorization: string;
  private next = 0;

  constructor(
    server: BenchServer,
    private readonly people: number,
  ) {
    const url = new URL(server.url);
    this.host = url.hostname;
    this.port = Number(url.port);
    this.authorization = `Bearer ${server.token}`;
  }

  /** The k-th e-mail look-up: a random person's address as they type it, or one in ten nobody has. */
  emailPath(k: number): string {
    const roll = mix(k * 31 + 7);
    const email =
      roll % 100 < LookupClient.missRatio * 100
        ? `nobody_${k}@example.net`
        : person(roll % this.people).email;
    return `/api/profiles?identifier=${encodeURIComponent(`email:${email}`)}`;
  }

  async run(
    label: string,
    requests: number,
    clients: number,
    agent: Agent,
    path: (k: number) => string,
  ): Promise<LookupResult> {
    const latencies: number[] = [];
    let issued = 0;
    const started = performance.now();
    const worker = async (): Promise<void> => {
      while (issued < requests) {
        issued++;
        const target = path(this.next++);
        const sent = performance.now();
        const answer = await httpRequest(agent, {
          host: this.host,
          port: this.port,
          path: target,
          method: 'GET',
          headers: { authorization: this.authorization },
        });
        latencies.push(performance.now() - sent);
        const expected = target.includes('nobody_') ? 404 : 200;
        if (answer.status !== expected) {
          this.anomalies++;
          if (this.anomalies <= 5)
            log(`!!! GET ${target} answered ${answer.status}: ${answer.text.slice(0, 300)}`);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: clients }, worker));
    } finally {
      agent.destroy();
    }
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const result = {
      requests,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: latencies.at(-1) ?? 0,
      requestsPerSec: requests / seconds,
    };
    log(
      `look-ups ${label}: ${fmt(requests)} in ${seconds.toFixed(1)} s, p50 ${result.p50.toFixed(2)} ms, ` +
        `p99 ${result.p99.toFixed(2)} ms, max ${result.max.toFixed(2)} ms`,
    );
    return result;
  }
}
