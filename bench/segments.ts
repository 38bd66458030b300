/**
 * The batch segment benchmark: how long the query the segment compiler writes takes over the
 * whole base, next to the same rule written by hand in DuckDB SQL, in the same process, on the
 * same database, with the settings Cible's store uses.
 *
 * Target: a 5-condition segment over 10 million events and 1 million profiles in 2 s at most, and
 * no more than 1.5 times the hand-written query. Both count the members; the counts must agree.
 *
 * The data set is generated with SQL and cached (see segments-data.ts). The last line printed is
 * one JSON object with the results.
 */
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { loadConfig } from '../src/config/config.ts';
import { defaultTraitRules } from '../src/domain/traits.ts';
import type { Rule } from '../src/segments/rule.ts';
import { parseRule } from '../src/segments/segment-text.ts';
import { databaseFileName } from '../src/store/duckdb/duckdb-store.ts';
import { compileSegmentQuery } from '../src/store/duckdb/duckdb-segment-sql.ts';
import { fmt, integerFlag, log, percentile, round } from './measure.ts';
import { datasetEnd, segmentsDataset, type SegmentsDataset } from './segments-data.ts';
import { handWrittenCount, type MergedProfiles } from './segments-hand.ts';

const help = `Usage: npm run bench -- segments [flags]

  --profiles <n>        Profiles in the data set (default 1000000)
  --events <n>          Events in the data set (default 10000000)
  --runs <n>            Timed runs of each query, alternated, after one warm-up each (default 5)
  --threads <n>         DuckDB threads (default: Cible's, CIBLE_DUCKDB_THREADS or 2)
  --memory-limit <size> DuckDB memory limit (default: Cible's, CIBLE_DUCKDB_MEMORY_LIMIT or 256MB)
  --explain             Also print EXPLAIN ANALYZE of both queries
  --rebuild             Build the data set again even if it is cached

The data set is cached in <OS temp dir>/cible-bench-segments/<profiles>-<events>-v<recipe>/.
`;

/** The rule measured, in the text form people write. */
export const benchmarkRule =
  'trait city = "Paris" and count(event "Order Completed" in last 30 days) >= 3 ' +
  'and sum(event "Order Completed".revenue in last 90 days) > 200 ' +
  'and last(event "Email Opened") within last 14 days and not in segment "VIP"';
const vipRule = 'trait vip = true';

const targetMs = 2000;
const targetRatio = 1.5;

interface Options {
  readonly profiles: number;
  readonly events: number;
  readonly runs: number;
  readonly threads: number;
  readonly memoryLimit: string;
  readonly explain: boolean;
  readonly rebuild: boolean;
}

function parseOptions(args: readonly string[]): Options | undefined {
  const { values } = parseArgs({
    args: [...args],
    options: {
      profiles: { type: 'string' },
      events: { type: 'string' },
      runs: { type: 'string' },
      threads: { type: 'string' },
      'memory-limit': { type: 'string' },
      explain: { type: 'boolean' },
      rebuild: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  const store = loadConfig({ argv: [], env: process.env }).store;
  return {
    profiles: integerFlag('profiles', values.profiles, 1_000_000, 100),
    events: integerFlag('events', values.events, 10_000_000, 1),
    runs: integerFlag('runs', values.runs, 5, 1),
    threads: integerFlag('threads', values.threads, store.threads, 1),
    memoryLimit: values['memory-limit'] ?? store.memoryLimit,
    explain: values.explain === true,
    rebuild: values.rebuild === true,
  };
}

interface Query {
  readonly sql: string;
  readonly params: DuckDBValue[];
}

interface Timing {
  readonly medianMs: number;
  readonly minMs: number;
  readonly runsMs: readonly number[];
}

export async function runSegmentsBenchmark(args: readonly string[]): Promise<number> {
  const options = parseOptions(args);
  if (options === undefined) {
    process.stdout.write(help);
    return 0;
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const memoryGb = totalmem() / 1024 ** 3;
  // Other work on the machine slows both queries; the load says how quiet it was.
  const loadAverage = loadavg()[0] ?? 0;
  log(
    `machine: ${cpu}, ${cpus().length} cores, ${memoryGb.toFixed(1)} GB, load average ${loadAverage.toFixed(2)}`,
  );
  const dataset = await segmentsDataset(options.profiles, options.events, { rebuild: options.rebuild });

  const instance = await openLikeTheStore(dataset.dir, options);
  const rss = rssSampler();
  try {
    const connection = await instance.connect();
    const settings = await duckdbSettings(connection);
    log(`DuckDB ${settings.version}: ${settings.threads} threads, memory limit ${settings.memoryLimit}`);
    const merged = await mergedProfiles(connection);
    const compiled = compiledCount(merged);
    const hand = handWrittenCount(datasetEnd, merged);

    const measured = await measure(connection, compiled, hand, options.runs);
    if (options.explain) {
      await explain(connection, 'compiled', compiled);
      await explain(connection, 'hand-written', hand);
    }
    const peakRssMb = rss.stop();

    const { members, handMembers, compiled: compiledTiming, hand: handTiming } = measured;
    const agree = members === handMembers;
    const ratio = compiledTiming.medianMs / handTiming.medianMs;
    const result = {
      profiles: dataset.profiles,
      events: dataset.events,
      mergedOrigins: dataset.mergedOrigins,
      members,
      handMembers,
      compiledMedianMs: round(compiledTiming.medianMs, 1),
      compiledMinMs: round(compiledTiming.minMs, 1),
      handMedianMs: round(handTiming.medianMs, 1),
      handMinMs: round(handTiming.minMs, 1),
      ratio: round(ratio, 2),
      targetMs,
      targetRatio,
      withinTargetMs: compiledTiming.medianMs <= targetMs,
      withinTargetRatio: ratio <= targetRatio,
      runs: options.runs,
      compiledRunsMs: compiledTiming.runsMs.map((ms) => round(ms, 1)),
      handRunsMs: handTiming.runsMs.map((ms) => round(ms, 1)),
      threads: settings.threads,
      memoryLimit: settings.memoryLimit,
      duckdb: settings.version,
      cpu,
      cores: cpus().length,
      memoryGb: round(memoryGb, 1),
      loadAverageAtStart: round(loadAverage, 2),
      peakRssMb: round(peakRssMb, 1),
      processMaxRssMb: round(process.resourceUsage().maxRSS / 1024, 1),
      datasetFromCache: !dataset.built,
      datasetBuildSeconds: dataset.buildSeconds,
      compiledSqlChars: compiled.sql.length,
      verified: agree,
    };
    printSummary(dataset, result);
    if (!agree) {
      console.error('');
      console.error(
        `!!! MISMATCH: the compiled query counts ${members} members, the hand-written one ${handMembers}`,
      );
      console.error('');
    }
    console.log(JSON.stringify(result));
    return agree ? 0 : 1;
  } finally {
    rss.stop();
    instance.closeSync();
  }
}

/**
 * The database opened as createDuckdbStore opens it (the same memory limit, threads and allocator
 * settings), but read-only: the cached data set must stay as it was built.
 */
async function openLikeTheStore(dir: string, options: Options): Promise<DuckDBInstance> {
  return DuckDBInstance.create(join(dir, databaseFileName), {
    access_mode: 'READ_ONLY',
    memory_limit: options.memoryLimit,
    threads: String(options.threads),
    allocator_background_threads: 'true',
    allocator_flush_threshold: '16MB',
  });
}

async function duckdbSettings(
  connection: DuckDBConnection,
): Promise<{ version: string; threads: number; memoryLimit: string }> {
  const [row] = (
    await connection.runAndReadAll(
      `SELECT version() AS version, current_setting('threads')::INTEGER AS threads,
              current_setting('memory_limit') AS memory_limit`,
    )
  ).getRowObjects();
  return {
    version: String(row?.version),
    threads: Number(row?.threads),
    memoryLimit: String(row?.memory_limit),
  };
}

/** The merged origins and their profiles, as the identity graph hands them to the segment service. */
async function mergedProfiles(connection: DuckDBConnection): Promise<MergedProfiles> {
  const rows = (
    await connection.runAndReadAll(
      'SELECT absorbed::DOUBLE, survivor::DOUBLE FROM merges WHERE undone_at IS NULL ORDER BY absorbed',
    )
  ).getRows();
  return { origins: rows.map((row) => Number(row[0])), profiles: rows.map((row) => Number(row[1])) };
}

/** The benchmark rule through the text parser and the compiler, wrapped to count the members. */
function compiledCount(merged: MergedProfiles): Query {
  const segments = new Map<string, Rule>([['VIP', parseRule(vipRule)]]);
  const query = compileSegmentQuery(parseRule(benchmarkRule), {
    now: datasetEnd,
    traitRules: defaultTraitRules,
    segmentRule: (name) => segments.get(name),
    merged,
  });
  return { sql: `SELECT count(*) FROM (${query.sql})`, params: query.params };
}

interface Measured {
  readonly members: number;
  readonly handMembers: number;
  readonly compiled: Timing;
  readonly hand: Timing;
}

/**
 * One untimed run of each query (it reads the file into DuckDB's buffers and gives the counts),
 * then `runs` timed runs of each, alternated, so that a slower moment of the machine weighs on both.
 */
async function measure(
  connection: DuckDBConnection,
  compiled: Query,
  hand: Query,
  runs: number,
): Promise<Measured> {
  const members = await count(connection, compiled);
  const handMembers = await count(connection, hand);
  log(`warm-up: ${fmt(members)} members (compiled), ${fmt(handMembers)} (hand-written)`);
  const compiledMs: number[] = [];
  const handMs: number[] = [];
  for (let run = 1; run <= runs; run++) {
    compiledMs.push(await timed(connection, compiled));
    handMs.push(await timed(connection, hand));
    log(`run ${run}: compiled ${fmt(compiledMs.at(-1)!)} ms, hand-written ${fmt(handMs.at(-1)!)} ms`);
  }
  return { members, handMembers, compiled: timing(compiledMs), hand: timing(handMs) };
}

async function count(connection: DuckDBConnection, query: Query): Promise<number> {
  const [row] = (await connection.runAndReadAll(query.sql, query.params)).getRows();
  return Number(row?.[0]);
}

async function timed(connection: DuckDBConnection, query: Query): Promise<number> {
  const started = performance.now();
  await count(connection, query);
  return performance.now() - started;
}

function timing(runsMs: readonly number[]): Timing {
  const sorted = [...runsMs].sort((a, b) => a - b);
  return { medianMs: percentile(sorted, 0.5), minMs: sorted[0] ?? 0, runsMs };
}

async function explain(connection: DuckDBConnection, label: string, query: Query): Promise<void> {
  const rows = (await connection.runAndReadAll(`EXPLAIN ANALYZE ${query.sql}`, query.params)).getRows();
  console.log('');
  console.log(`EXPLAIN ANALYZE of the ${label} query`);
  for (const row of rows) console.log(String(row.at(-1)));
}

/** The highest RSS of this process seen while it runs, sampled every 20 ms (DuckDB works off the event loop). */
function rssSampler(): { stop(): number } {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage.rss()) / 1024 / 1024;
    },
  };
}

interface Summary {
  readonly members: number;
  readonly compiledMedianMs: number;
  readonly compiledMinMs: number;
  readonly handMedianMs: number;
  readonly handMinMs: number;
  readonly ratio: number;
  readonly runs: number;
  readonly threads: number;
  readonly memoryLimit: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly peakRssMb: number;
  readonly processMaxRssMb: number;
}

function printSummary(dataset: SegmentsDataset, result: Summary): void {
  const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  console.log('');
  console.log('Segments benchmark');
  console.log(`  machine      ${result.cpu}, ${result.cores} cores, ${result.memoryGb} GB`);
  console.log(`  DuckDB       ${result.threads} threads, memory limit ${result.memoryLimit}`);
  console.log(
    `  data set     ${fmt(dataset.profiles)} profiles (${fmt(dataset.mergedOrigins)} merged into another), ` +
      `${fmt(dataset.events)} events, ${fmt(dataset.traitObservations)} trait observations ` +
      (dataset.built
        ? `(built in ${dataset.buildSeconds} s)`
        : `(cached, built in ${dataset.buildSeconds} s)`),
  );
  console.log(`  rule         ${benchmarkRule}`);
  console.log(`               with segment VIP = ${vipRule}; now = ${new Date(datasetEnd).toISOString()}`);
  console.log(`  members      ${fmt(result.members)}`);
  console.log(
    `  compiled     median ${fmt(result.compiledMedianMs)} ms, min ${fmt(result.compiledMinMs)} ms ` +
      `(${result.runs} runs; target ${fmt(targetMs)} ms: ${verdict(result.compiledMedianMs <= targetMs)})`,
  );
  console.log(`  hand-written median ${fmt(result.handMedianMs)} ms, min ${fmt(result.handMinMs)} ms`);
  console.log(
    `  ratio        ${result.ratio} compiled / hand-written medians (target ${targetRatio}: ` +
      `${verdict(result.ratio <= targetRatio)})`,
  );
  console.log(
    `  peak RSS     ${result.peakRssMb} MB while querying; ${result.processMaxRssMb} MB for the whole process`,
  );
}
