/**
 * The import benchmark. Generates till files in a temporary directory and imports them end to end
 * through a real Cible process (`POST /api/imports`, the file uploaded with `PUT`, progress polled
 * until the job ends), then imports the same file again (idempotent: nothing stored). Two files:
 *
 * - receipts: till receipts with their line items, 1 to 7 lines a receipt (4 on average), one
 *   "Order Completed" per receipt (the shape of a till export);
 * - orders: one order per row, as in CDNOW (the worst case: one event per row).
 *
 * The physical limits, measured in this process on the same files before the server starts:
 * csv-parse reading the file without doing anything with the records, and the DuckDB adapter
 * appending (`writeBatch`) the very events the import builds, ready-made.
 *
 * The last line printed is one JSON object with the results.
 */
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { parse } from 'csv-parse';
import { spawnCibleProcess } from '../test/cible-process.ts';
import { loadConfig } from '../src/config/config.ts';
import type { StoredEvent } from '../src/domain/events.ts';
import { defaultIdentifierRules } from '../src/domain/identifiers.ts';
import { importRows } from '../src/imports/import-rows.ts';
import { compileMapping, type ImportMapping } from '../src/imports/mapping.ts';
import { FingerprintCounter } from '../src/imports/row-keys.ts';
import { createDuckdbStore } from '../src/store/duckdb/duckdb-store.ts';
import { integerFlag } from './measure.ts';

const help = `Usage: npm run bench -- import [flags]

  --rows <n>           Rows of each generated file (default 1000000)
  --files <list>       Which files, comma-separated: receipts, orders (default receipts,orders)
  --raw-events <n>     Events appended in the raw append phase (default 200000)
  --node-flags=<f>     Extra node flags for the server, e.g. --node-flags="--cpu-prof --cpu-prof-dir=/tmp/p"
  --dir <path>         Where to create the temporary directory (default: the OS temp dir)
`;

interface Options {
  readonly rows: number;
  readonly files: readonly Shape[];
  readonly rawEvents: number;
  readonly nodeFlags: readonly string[];
  readonly dir: string;
}

type Shape = 'receipts' | 'orders';

const mappings: Readonly<Record<Shape, ImportMapping>> = {
  receipts: {
    kind: 'transactions',
    orderId: 'receipt',
    columns: {
      card: { identifier: 'loyaltyId' },
      date: { timestamp: 'YYYY-MM-DD HH:mm' },
      store: { property: 'store' },
      sku: { product: 'sku' },
      quantity: { product: 'quantity', type: 'integer' },
      price: { product: 'price' },
    },
  },
  orders: {
    kind: 'transactions',
    columns: {
      customer: { identifier: 'crmId' },
      date: { timestamp: 'YYYYMMDD' },
      items: { property: 'quantity', type: 'integer' },
      amount: { property: 'revenue' },
    },
  },
};

function parseOptions(args: readonly string[]): Options | undefined {
  const { values } = parseArgs({
    args: [...args],
    options: {
      rows: { type: 'string' },
      files: { type: 'string' },
      'raw-events': { type: 'string' },
      'node-flags': { type: 'string' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  const integer = (name: string, raw: string | undefined, fallback: number): number =>
    integerFlag(name, raw, fallback, 1);
  const files = (values.files ?? 'receipts,orders').split(',').map((name) => name.trim());
  for (const file of files) {
    if (file !== 'receipts' && file !== 'orders')
      throw new Error(`--files: "${file}" is not receipts or orders.`);
  }
  return {
    rows: integer('rows', values.rows, 1_000_000),
    files: files as Shape[],
    rawEvents: integer('raw-events', values['raw-events'], 200_000),
    nodeFlags: (values['node-flags'] ?? '').split(/\s+/).filter((flag) => flag !== ''),
    dir: values.dir ?? tmpdir(),
  };
}

interface FileResult {
  readonly rows: number;
  readonly events: number;
  readonly megabytes: number;
  readonly parseRowsPerSec: number;
  readonly rawAppendEventsPerSec: number;
  readonly rowsPerSec: number;
  readonly jobRowsPerSec: number;
  readonly eventsPerSec: number;
  readonly uploadSeconds: number;
  readonly reimportRowsPerSec: number;
  readonly reimportStored: number;
  readonly storedEvents: number;
  readonly profiles: number;
  readonly serverCpuCores: number;
  readonly verified: boolean;
}

export async function runImportBenchmark(args: readonly string[]): Promise<number> {
  const options = parseOptions(args);
  if (options === undefined) {
    process.stdout.write(help);
    return 0;
  }
  const workDir = await mkdtemp(join(options.dir, 'cible-bench-import-'));
  try {
    const loadAverage = loadavg()[0] ?? 0;
    log(`work in ${workDir}; load average ${loadAverage.toFixed(2)} on ${availableParallelism()} cores`);
    const results: Partial<Record<Shape, FileResult>> = {};
    for (const shape of options.files) {
      results[shape] = await benchFile(shape, workDir, options);
    }
    console.log('');
    console.log('Import benchmark');
    for (const [shape, result] of Object.entries(results)) {
      console.log(
        `  ${shape.padEnd(9)} ${fmt(result.rows)} rows (${result.megabytes} MB, ${fmt(result.events)} orders): ` +
          `${fmt(result.rowsPerSec)} rows/s end to end (${fmt(result.eventsPerSec)} events/s; ` +
          `the job alone ${fmt(result.jobRowsPerSec)} rows/s, upload ${result.uploadSeconds} s)`,
      );
      console.log(
        `            limits: csv-parse alone ${fmt(result.parseRowsPerSec)} rows/s (import reaches ` +
          `${round(result.rowsPerSec / result.parseRowsPerSec, 3)} of it), raw appends ` +
          `${fmt(result.rawAppendEventsPerSec)} events/s (import reaches ${round(result.eventsPerSec / result.rawAppendEventsPerSec, 3)})`,
      );
      console.log(
        `            again: ${fmt(result.reimportRowsPerSec)} rows/s, ${result.reimportStored} events stored; ` +
          `store holds ${fmt(result.storedEvents)} events, ${fmt(result.profiles)} profiles; ` +
          `server used ${result.serverCpuCores} cores${result.verified ? '' : '  !!! MISMATCH !!!'}`,
      );
    }
    const headline = results.receipts ?? results.orders!;
    const summary = {
      rowsPerSec: headline.rowsPerSec,
      ratioToParse: round(headline.rowsPerSec / headline.parseRowsPerSec, 3),
      ratioToRawAppend: round(headline.eventsPerSec / headline.rawAppendEventsPerSec, 3),
      headlineFile: results.receipts === undefined ? 'orders' : 'receipts',
      ...Object.fromEntries(Object.entries(results).map(([shape, result]) => [shape, result])),
      loadAverageAtStart: round(loadAverage, 2),
      verified: Object.values(results).every((result) => result.verified),
    };
    console.log(JSON.stringify(summary));
    return summary.verified ? 0 : 1;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

async function benchFile(shape: Shape, workDir: string, options: Options): Promise<FileResult> {
  const path = join(workDir, `${shape}.csv`);
  const { orders } = await generate(shape, path, options.rows);
  const bytes = (await stat(path)).size;
  log(`${shape}: ${fmt(options.rows)} rows, ${fmt(orders)} orders, ${(bytes / 1e6).toFixed(1)} MB`);

  const parseRowsPerSec = await parseRate(path);
  log(`${shape}: csv-parse alone reads ${fmt(parseRowsPerSec)} rows/s`);
  const rawAppendEventsPerSec = await rawAppendRate(
    path,
    shape,
    join(workDir, `${shape}-raw`),
    options.rawEvents,
  );
  log(`${shape}: raw appends of the import's events: ${fmt(rawAppendEventsPerSec)} events/s`);

  const token = 'bench-import-token-0123456789';
  const server = await spawnCibleProcess({
    dataDir: join(workDir, `${shape}-server`),
    nodeFlags: options.nodeFlags,
    env: { CIBLE_ADMIN_TOKEN: token },
    onOutput: (line, stream) => (stream === 'stderr' ? console.error : console.log)(`[server] ${line}`),
  });
  try {
    const api = client(server.url, token);
    const cpuBefore = cpuSeconds(server.pid);
    const first = await importOnce(api, path, shape);
    const serverCpuCores = (cpuSeconds(server.pid) - cpuBefore) / first.seconds;
    const second = await importOnce(api, path, shape);
    const stats = await api<{ events: number; profiles: number }>('GET', '/api/stats');
    const verified =
      first.job.events.accepted === orders &&
      first.job.rows.rejected === 0 &&
      second.job.events.accepted === 0 &&
      second.job.events.duplicates === orders &&
      stats.events === orders;
    return {
      rows: options.rows,
      events: orders,
      megabytes: round(bytes / 1e6, 1),
      parseRowsPerSec: Math.round(parseRowsPerSec),
      rawAppendEventsPerSec: Math.round(rawAppendEventsPerSec),
      rowsPerSec: Math.round(options.rows / first.seconds),
      jobRowsPerSec: first.job.rowsPerSecond,
      eventsPerSec: Math.round(orders / first.seconds),
      uploadSeconds: round(first.uploadSeconds, 2),
      reimportRowsPerSec: Math.round(options.rows / second.seconds),
      reimportStored: second.job.events.accepted,
      storedEvents: stats.events,
      profiles: stats.profiles,
      serverCpuCores: round(serverCpuCores, 2),
      verified,
    };
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The files

/** Writes a file of `rows` rows; returns how many orders (events) it holds. */
async function generate(shape: Shape, path: string, rows: number): Promise<{ orders: number }> {
  const out = createWriteStream(path);
  let text =
    shape === 'receipts' ? 'receipt,store,card,date,sku,quantity,price\n' : 'customer,date,items,amount\n';
  let written = 0;
  let order = 0;
  const start = Date.UTC(2024, 0, 1);
  while (written < rows) {
    // 100,000 customers; a customer comes back about every 100,000 orders.
    const customer = (order * 7919) % 100_000;
    const at = new Date(start + (order % 525_600) * 60_000).toISOString();
    if (shape === 'receipts') {
      const lines = 1 + ((order * 13) % 7);
      const when = `${at.slice(0, 10)} ${at.slice(11, 16)}`;
      for (let line = 0; line < lines && written < rows; line++, written++) {
        const sku = (order * 31 + line * 17) % 5000;
        text += `R${order},S${order % 40},LOY${String(customer).padStart(7, '0')},${when},SKU-${sku},${1 + (line % 3)},${(1 + (sku % 3000) / 100).toFixed(2)}\n`;
      }
    } else {
      text += `C${String(customer).padStart(6, '0')},${at.slice(0, 10).replaceAll('-', '')},${1 + (order % 5)},${(5 + (order % 9000) / 100).toFixed(2)}\n`;
      written++;
    }
    order++;
    if (text.length > 1 << 20) {
      if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
      text = '';
    }
  }
  out.end(text);
  await finished(out);
  return { orders: order };
}

// ---------------------------------------------------------------------------------------------
// The limits

/** Rows per second csv-parse reads from the file, doing nothing with them. */
async function parseRate(path: string): Promise<number> {
  const started = performance.now();
  let rows = 0;
  const parser = createReadStream(path, { highWaterMark: 1 << 20 }).pipe(parse({ relax_column_count: true }));
  parser.on('data', () => rows++);
  await finished(parser);
  return (rows - 1) / ((performance.now() - started) / 1000);
}

/**
 * Events per second the DuckDB adapter appends, given the import's own events (prepared by the
 * import's own code from the first rows of the file: mapping, validate, build the stored event) in
 * batches of 10,000, without identity resolution.
 */
async function rawAppendRate(path: string, shape: Shape, dataDir: string, limit: number): Promise<number> {
  const compiled = compileMapping(mappings[shape], {
    fileName: path,
    identifierRules: defaultIdentifierRules,
  });
  if (!compiled.ok)
    throw new Error(`The benchmark's mapping is invalid: ${JSON.stringify(compiled.problems)}`);
  const events: StoredEvent[] = [];
  await importRows(
    {
      importId: 'imp_bench',
      path,
      mapping: compiled.mapping,
      sourceId: 'src_bench',
      identifierRules: defaultIdentifierRules,
      maxEventBytes: 32 * 1024,
      stored: new FingerprintCounter(),
      stopped: () => events.length >= limit,
      now: Date.now,
    },
    {
      async events(prepared) {
        for (const { stored } of prepared) if (events.length < limit) events.push(stored);
      },
      async rejected(rows) {
        throw new Error(`The benchmark's file has rejected rows: ${JSON.stringify(rows.slice(0, 3))}`);
      },
      progress: () => undefined,
    },
  );
  const config = loadConfig({ argv: [], env: process.env });
  const store = await createDuckdbStore({
    dataDir,
    memoryLimit: config.store.memoryLimit,
    threads: config.store.threads,
  });
  try {
    const started = performance.now();
    for (let offset = 0; offset < events.length; offset += 10_000) {
      await store.writeBatch({
        events: events.slice(offset, offset + 10_000),
        quarantine: [],
        replayedQuarantineIds: [],
      });
    }
    return events.length / ((performance.now() - started) / 1000);
  } finally {
    await store.close();
  }
}

// ---------------------------------------------------------------------------------------------
// The server

interface Job {
  id: string;
  status: string;
  rows: { read: number; rejected: number };
  events: { accepted: number; duplicates: number };
  progress: { percent: number };
  rowsPerSecond: number;
  error: { code: string; message: string } | null;
}

type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

function client(url: string, token: string): Api {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const stream = body instanceof ReadableStream;
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': stream ? 'text/csv' : 'application/json' }),
      },
      ...(body === undefined ? {} : stream ? { body, duplex: 'half' } : { body: JSON.stringify(body) }),
    });
    if (!response.ok)
      throw new Error(`${method} ${path} answered ${response.status}: ${await response.text()}`);
    return (await response.json()) as T;
  };
}

/** One import, timed from the start of the upload to the end of the job. */
async function importOnce(
  api: Api,
  path: string,
  shape: Shape,
): Promise<{ job: Job; seconds: number; uploadSeconds: number }> {
  const created = await api<Job>('POST', '/api/imports', {
    fileName: `${shape}.csv`,
    mapping: mappings[shape],
  });
  const started = performance.now();
  const body = Readable.toWeb(
    createReadStream(path, { highWaterMark: 1 << 20 }),
  ) as ReadableStream<Uint8Array>;
  await api('PUT', `/api/imports/${created.id}/file`, body);
  const uploadSeconds = (performance.now() - started) / 1000;
  let next = performance.now() + 5000;
  for (;;) {
    const job = await api<Job>('GET', `/api/imports/${created.id}`);
    if (job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled') {
      if (job.status !== 'completed')
        throw new Error(`The import ${job.status}: ${JSON.stringify(job.error)}`);
      const seconds = (performance.now() - started) / 1000;
      log(
        `${shape}: ${fmt(job.rows.read)} rows in ${seconds.toFixed(1)} s = ${fmt(job.rows.read / seconds)} rows/s; ` +
          `${fmt(job.events.accepted)} events stored, ${fmt(job.events.duplicates)} already stored`,
      );
      return { job, seconds, uploadSeconds };
    }
    if (performance.now() >= next) {
      log(`${shape}: ${job.progress.percent}%, ${fmt(job.rows.read)} rows, ${fmt(job.rowsPerSecond)} rows/s`);
      next += 5000;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** User plus system CPU time a process has used, in seconds (Linux). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function log(message: string): void {
  console.log(`[bench] ${message}`);
}

function fmt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
