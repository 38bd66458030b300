/**
 * The data set of the segments benchmark: a DuckDB store of N profiles and E events, written with
 * INSERT ... SELECT over range() rather than through the pipeline, so that ten million events take
 * a minute, not an hour. Every value comes from hash(row, salt), so the same N and E give the same
 * data on every build.
 *
 * Its shape, over the year that ends at `datasetEnd`:
 * - profiles 1..N; about 5% are origins merged into another profile (the `merges` table);
 * - trait observations: every profile has a `city` (20 cities, Paris about 15%), one in ten a
 *   second one from the CRM at another time (the latest wins); about 2% have `vip` = true and 3%
 *   `vip` = false; also `email` (70%) and `plan` (40%), which the rule does not read;
 * - identities: an e-mail address for 70% of profiles;
 * - events in arrival order (timestamps grow with seq, as live ingestion appends them): about 15%
 *   "Order Completed" with {revenue, category} (13% of the year's events, 30% in its last 40 days,
 *   Christmas; one revenue in a hundred is a string, which `sum` skips), 15% "Email Opened", 20%
 *   page views, the rest "Product Viewed"; the profile of an event follows a power law, so a few
 *   profiles have thousands of events and the median profile about six.
 *
 * The store is kept in `<OS temp dir>/cible-bench-segments/<profiles>-<events>-v<recipe>/` with a
 * marker file written last: a directory without it (a build that stopped) is built again.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { Presets, SingleBar } from 'cli-progress';
import { databaseFileName, migrate } from '../src/store/duckdb/duckdb-store.ts';
import { insertIntoEventPartitions } from '../src/store/duckdb/event-partitions.ts';
import { migrations } from '../src/store/duckdb/migrations.ts';
import { fmt, log } from './measure.ts';

/** Bump when the data changes: stores of an older recipe sit in another directory. */
export const recipeVersion = 1;
/** The end of the data set's year, and the `now` the benchmark judges the rule at. */
export const datasetEnd = Date.UTC(2026, 0, 1);
const day = 86_400_000;
const spanMs = 365 * day;
const yearStartSeconds = (datasetEnd - spanMs) / 1000;

/** Share of profiles merged into another one, as sign-ups with a known e-mail address do. */
const mergedShare = 0.05;
/**
 * The profile of an event is rank^powerLaw of a uniform draw, ranks shuffled over the ids: with 3,
 * the busiest 1% of profiles send about a fifth of the events.
 */
const powerLaw = 3;
/** Events inserted per statement, so that the progress bar moves. */
const eventsPerChunk = 1_000_000;
/** Multiplies a rank into a profile id: prime, so it shuffles ranks over the ids without collision. */
const shuffle = 2_654_435_761;

/** Cities with their share in thousandths; Paris first and largest. */
const cities: readonly (readonly [string, number])[] = [
  ['Paris', 150],
  ['Lyon', 80],
  ['Marseille', 70],
  ['Toulouse', 70],
  ['Nice', 60],
  ['Nantes', 60],
  ['Montpellier', 55],
  ['Strasbourg', 55],
  ['Bordeaux', 55],
  ['Lille', 50],
  ['Rennes', 45],
  ['Reims', 35],
  ['Toulon', 35],
  ['Saint-Étienne', 30],
  ['Le Havre', 30],
  ['Grenoble', 30],
  ['Dijon', 25],
  ['Angers', 25],
  ['Nîmes', 20],
  ['Brest', 20],
];
const categories = ['shoes', 'clothing', 'bags', 'accessories', 'beauty', 'home', 'sports', 'kids'];
const pages = ['Home', 'Product', 'Category', 'Cart', 'Search', 'Account'];

export interface SegmentsDataset {
  readonly dir: string;
  readonly profiles: number;
  readonly events: number;
  readonly mergedOrigins: number;
  readonly traitObservations: number;
  readonly buildSeconds: number;
  readonly builtAt: string;
  readonly schemaVersion: number;
  /** True when this run built it, false when it came from the cache. */
  readonly built: boolean;
}

type Marker = Omit<SegmentsDataset, 'dir' | 'built'>;

const markerName = 'complete.json';

/** The cached data set of this size, built first when it is missing, incomplete or outdated. */
export async function segmentsDataset(
  profiles: number,
  events: number,
  options: { readonly rebuild: boolean },
): Promise<SegmentsDataset> {
  const dir = join(tmpdir(), 'cible-bench-segments', `${profiles}-${events}-v${recipeVersion}`);
  const schemaVersion = Math.max(...migrations.map((migration) => migration.version));
  const markerPath = join(dir, markerName);
  if (!options.rebuild && existsSync(markerPath)) {
    const marker = JSON.parse(await readFile(markerPath, 'utf8')) as Marker;
    if (marker.schemaVersion === schemaVersion) {
      log(`data set from the cache: ${dir} (built ${marker.builtAt} in ${marker.buildSeconds} s)`);
      return { ...marker, dir, built: false };
    }
    log(`the cached data set has schema ${marker.schemaVersion}, not ${schemaVersion}: building it again`);
  }
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  log(`building the data set of ${fmt(profiles)} profiles and ${fmt(events)} events in ${dir}`);
  const started = performance.now();
  const counts = await build(join(dir, databaseFileName), profiles, events);
  const marker: Marker = {
    profiles,
    events,
    ...counts,
    buildSeconds: Math.round((performance.now() - started) / 100) / 10,
    builtAt: new Date().toISOString(),
    schemaVersion,
  };
  await writeFile(markerPath, `${JSON.stringify(marker, null, 2)}\n`);
  log(`data set built in ${marker.buildSeconds} s`);
  return { ...marker, dir, built: true };
}

async function build(
  path: string,
  profiles: number,
  events: number,
): Promise<{ mergedOrigins: number; traitObservations: number }> {
  // Building is not what is measured: it may use every core and more memory than Cible would.
  const instance = await DuckDBInstance.create(path, {
    threads: String(availableParallelism()),
    memory_limit: '4GB',
  });
  try {
    const connection = await instance.connect();
    await migrate(connection);
    const step = async (label: string, work: () => Promise<void>): Promise<void> => {
      const started = performance.now();
      await work();
      log(`  ${label} (${fmt(performance.now() - started)} ms)`);
    };
    await step(`${fmt(profiles)} profiles`, () => insertProfiles(connection, profiles));
    await step('merges', () => insertMerges(connection, profiles));
    await step('identities', () => insertIdentities(connection, profiles));
    await step('trait observations', () => insertTraits(connection, profiles));
    await step(`${fmt(events)} events`, () => insertEvents(connection, profiles, events));
    await step('checkpoint', async () => {
      await connection.run('CHECKPOINT');
    });
    const count = async (sql: string): Promise<number> =>
      Number((await connection.runAndReadAll(sql)).getRows()[0]?.[0] ?? 0);
    return {
      mergedOrigins: await count('SELECT count(*) FROM merges'),
      traitObservations: await count('SELECT count(*) FROM trait_observations'),
    };
  } finally {
    instance.closeSync();
  }
}

/** A uniform draw in [0, 1) for a row, different for each salt: the same on every build. */
function draw(row: string, salt: string): string {
  return `((hash(${row}, '${salt}') % 1000003)::DOUBLE / 1000003)`;
}

/** A moment of the data set's year, `share` (a [0, 1) expression) of the way through it. */
function inYear(share: string): string {
  return `to_timestamp(${yearStartSeconds} + ${share} * ${spanMs / 1000})`;
}

/** Picks one of `options` with a [0, 1) draw, each option with its share in thousandths. */
function pick(drawn: string, options: readonly (readonly [string, number])[]): string {
  let bound = 0;
  const branches = options.map(([value, share]) => {
    bound += share;
    return `WHEN ${drawn} < ${bound / 1000} THEN '${value}'`;
  });
  return `CASE ${branches.join(' ')} END`;
}

/** One of `values`, evenly. */
function oneOf(row: string, salt: string, values: readonly string[]): string {
  return `[${values.map((value) => `'${value}'`).join(', ')}][1 + (hash(${row}, '${salt}') % ${values.length})::BIGINT]`;
}

async function insertProfiles(connection: DuckDBConnection, profiles: number): Promise<void> {
  // Created up to a year before the data set's year starts.
  await connection.run(
    `INSERT INTO profiles SELECT i, ${inYear(`(${draw('i', 'created')} - 1)`)}
     FROM range(1, ${profiles + 1}) t(i)`,
  );
}

/**
 * About 5% of profiles are absorbed into another one. A survivor is never absorbed itself, so
 * the table is already the flat origin → profile mapping the identity graph would give.
 */
async function insertMerges(connection: DuckDBConnection, profiles: number): Promise<void> {
  await connection.run(
    `INSERT INTO merges
     WITH candidates AS (
       SELECT i AS absorbed, 1 + hash(i, 'survivor') % ${profiles} AS survivor
       FROM range(1, ${profiles + 1}) t(i) WHERE ${draw('i', 'merged')} < ${mergedShare}
     )
     SELECT row_number() OVER (ORDER BY absorbed), ${inYear(draw('absorbed', 'merged_at'))}, survivor,
            absorbed, 'auto', 'email', 'user' || survivor || '@example.com', 'src_web',
            'merge-' || absorbed, NULL
     FROM candidates
     WHERE survivor <> absorbed AND survivor NOT IN (SELECT absorbed FROM candidates)`,
  );
}

const hasEmail = (row: string): string => `${draw(row, 'email')} < 0.7`;

async function insertIdentities(connection: DuckDBConnection, profiles: number): Promise<void> {
  await connection.run(
    `INSERT INTO identities
     SELECT 'email', 'user' || i || '@example.com', i, ${inYear(draw('i', 'email_at'))}, 'src_web', 'identify-' || i
     FROM range(1, ${profiles + 1}) t(i) WHERE ${hasEmail('i')}`,
  );
}

/** Every observation of the year, in the order they were observed (as the pipeline appends them). */
async function insertTraits(connection: DuckDBConnection, profiles: number): Promise<void> {
  const city = (salt: string): string => `'"' || ${pick(draw('i', salt), cities)} || '"'`;
  const observation = (name: string, value: string, source: string, where: string): string =>
    `SELECT i, '${name}', ${value}, '${source}', ${inYear(draw('i', `${name}_${source}_at`))},
            'identify-' || i || '-${name}-${source}'
     FROM range(1, ${profiles + 1}) t(i) WHERE ${where}`;
  await connection.run(
    `INSERT INTO trait_observations
     SELECT * FROM (
       ${observation('city', city('city'), 'src_web', 'true')}
       UNION ALL ${observation('city', city('city_crm'), 'src_crm', `${draw('i', 'second_city')} < 0.1`)}
       UNION ALL ${observation('vip', `(${draw('i', 'vip')} < 0.02)::VARCHAR`, 'src_crm', `${draw('i', 'vip')} < 0.05`)}
       UNION ALL ${observation('email', `'"user' || i || '@example.com"'`, 'src_web', hasEmail('i'))}
       UNION ALL ${observation('plan', `CASE WHEN ${draw('i', 'pro')} < 0.3 THEN '"pro"' ELSE '"free"' END`, 'src_crm', `${draw('i', 'plan')} < 0.4`)}
     ) ORDER BY 5`,
  );
}

async function insertEvents(connection: DuckDBConnection, profiles: number, events: number): Promise<void> {
  const bar = new SingleBar(
    { format: '  events [{bar}] {percentage}% {value}/{total} rows, {duration}s', hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(events, 0);
  try {
    for (let first = 0; first < events; first += eventsPerChunk) {
      const last = Math.min(events, first + eventsPerChunk);
      // Built once, then shared out among the partitions of the events table.
      await connection.run(
        `CREATE OR REPLACE TEMP TABLE bench_events AS ${eventsSql(profiles, events, first, last)}`,
      );
      for (const statement of insertIntoEventPartitions(eventColumns, 'bench_events'))
        await connection.run(statement);
      await connection.run('DROP TABLE bench_events');
      bar.update(last);
    }
  } finally {
    bar.stop();
  }
}

const eventColumns =
  'seq, source_id, message_id, type, event, name, user_id, anonymous_id, timestamp, received_at, properties, profile_id';

/** Events first..last-1 of `events`, spread evenly over the year in arrival order. */
function eventsSql(profiles: number, events: number, first: number, last: number): string {
  const rank = `floor(${profiles} * pow(${draw('i', 'who')}, ${powerLaw}))::BIGINT`;
  const kind = draw('i', 'kind');
  // Orders are 13% of events most of the year and 30% in its last 40 days (Christmas), about 15%
  // in all; e-mail opens 15%, page views 20% and product views the rest.
  const christmas = Math.floor(events * (1 - 40 / 365));
  const orders = `CASE WHEN i >= ${christmas} THEN 0.30 ELSE 0.13 END`;
  const revenueDraw = draw('i', 'revenue');
  // Quarter euros: exact in binary, so that a sum does not depend on the order of its terms and
  // the compiled and hand-written queries cannot disagree on a total of exactly 200.
  const revenue = `(round((5 + 120 * pow(${revenueDraw}, 2)) * 4) / 4)::VARCHAR`;
  // One order in a hundred comes from a source that sends the revenue as a string.
  const revenueJson = `CASE WHEN ${draw('i', 'text_revenue')} < 0.01 THEN '"' || ${revenue} || '"' ELSE ${revenue} END`;
  const category = oneOf('i', 'category', categories);
  return `WITH drawn AS (
      SELECT i, 1 + (${rank} * ${shuffle}) % ${profiles} AS profile,
             CASE WHEN ${kind} < ${orders} THEN 'Order Completed'
                  WHEN ${kind} < ${orders} + 0.15 THEN 'Email Opened'
                  WHEN ${kind} < 0.8 THEN 'Product Viewed' END AS event,
             ${inYear(`(i + ${draw('i', 'jitter')}) / ${events}`)} AS happened_at
      FROM range(${first}, ${last}) t(i)
    )
    SELECT i + 1 AS seq,
           CASE WHEN hash(profile, 'app') % 3 = 0 THEN 'src_app' ELSE 'src_web' END AS source_id,
           'evt-' || i AS message_id,
           CASE WHEN event IS NULL THEN 'page' ELSE 'track' END AS type,
           event,
           CASE WHEN event IS NULL THEN ${oneOf('i', 'page', pages)} END AS name,
           CASE WHEN ${hasEmail('profile')} THEN 'u' || profile END AS user_id,
           'anon-' || profile AS anonymous_id,
           happened_at AS timestamp,
           happened_at + to_milliseconds((hash(i, 'received') % 5000)::BIGINT) AS received_at,
           CASE event
             WHEN 'Order Completed' THEN '{"order_id":"o' || i || '","revenue":' || ${revenueJson} ||
               ',"currency":"EUR","category":"' || ${category} || '"}'
             WHEN 'Product Viewed' THEN '{"product_id":"p' || hash(i, 'product') % 5000 || '","category":"' ||
               ${category} || '","price":' || ${revenue} || '}'
             WHEN 'Email Opened' THEN '{"campaign":"c' || hash(i, 'campaign') % 40 || '"}'
             ELSE '{"path":"/' || hash(i, 'path') % 1000 || '"}'
           END AS properties,
           profile AS profile_id
    FROM drawn`;
}
