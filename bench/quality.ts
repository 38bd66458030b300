/**
 * The profile quality and search benchmark. Generates a base of people straight through the DuckDB
 * adapter's `writeBatch` (profiles, identifiers, merges, traits, events, identifier sightings), then
 * starts Cible in this process on it and times, through the HTTP API (`app.inject`):
 *
 * 1. start: rebuilding the identity graph and looking for events without a profile;
 * 2. `GET /api/quality`: the data-quality report over every profile;
 * 3. `GET /api/profiles/{id}`: one whole profile, with its quality block (suspected duplicates);
 * 4. `GET /api/profiles?q=...` and `?trait....`: searches by identifier prefix and by trait.
 *
 * The physical limit it compares the report with: one pass of DuckDB over the events grouped by
 * profile (the least the "stale" count needs), on the same file, before Cible opens it.
 *
 * The last line printed is one JSON object with the results.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../src/config/config.ts';
import type { StoredEvent } from '../src/domain/events.ts';
import { startCible } from '../src/main.ts';
import { createDuckdbStore, databaseFileName } from '../src/store/duckdb/duckdb-store.ts';
import type { IdentityChanges, IdentityRow, TraitRow } from '../src/store/store.ts';
import { integerFlag } from './measure.ts';

const help = `Usage: npm run bench -- quality [flags]

  --profiles <n>   People in the generated base (default 200000); one in ten has a second,
                   merged origin profile, so origin profiles are 10% more
  --repeat <n>     Times each request is timed; the median is reported (default 5)
  --dir <path>     Where to create the temporary data directory (default: the OS temp dir)
`;

const adminToken = 'bench-admin-token-0123456789abcdef';
const day = 86_400_000;

interface Options {
  readonly profiles: number;
  readonly repeat: number;
  readonly dir: string;
}

function parseOptions(args: readonly string[]): Options | undefined {
  const { values } = parseArgs({
    args: [...args],
    options: {
      profiles: { type: 'string' },
      repeat: { type: 'string' },
      dir: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help === true) return undefined;
  const number = (raw: string | undefined, fallback: number, name: string): number =>
    integerFlag(name, raw, fallback, 1);
  return {
    profiles: number(values.profiles, 200_000, 'profiles'),
    repeat: number(values.repeat, 5, 'repeat'),
    dir: values.dir ?? tmpdir(),
  };
}

export async function runQualityBenchmark(args: readonly string[]): Promise<number> {
  const options = parseOptions(args);
  if (options === undefined) {
    process.stdout.write(help);
    return 0;
  }
  const workDir = await mkdtemp(join(options.dir, 'cible-bench-'));
  try {
    const loadAverage = loadavg()[0] ?? 0;
    log(`data in ${workDir}; load average ${loadAverage.toFixed(2)}`);
    const now = Date.now();
    const generated = await generate(workDir, options.profiles, now);
    log(
      `generated ${fmt(options.profiles)} people, ${fmt(generated.origins)} origin profiles, ` +
        `${fmt(generated.events)} events, ${fmt(generated.traits)} trait values in ${fmt(generated.ms)} ms`,
    );
    const scanMs = await eventScan(workDir, options.repeat);

    const startedAt = performance.now();
    const cible = await startCible(
      loadConfig({
        argv: ['--port', '0', '--data-dir', workDir, '--log-level', 'silent'],
        env: { CIBLE_ADMIN_TOKEN: adminToken },
      }),
      { print: (line) => log(line) },
    );
    const startMs = performance.now() - startedAt;
    try {
      const get = async (url: string): Promise<unknown> => {
        const response = await cible.app.inject({
          method: 'GET',
          url,
          headers: { authorization: `Bearer ${adminToken}` },
        });
        if (response.statusCode !== 200)
          throw new Error(`GET ${url}: ${response.statusCode} ${response.body}`);
        return response.json();
      };
      const time = async (
        urls: readonly string[],
      ): Promise<{ median: number; max: number; found: number }> => {
        const times: number[] = [];
        let found = 0;
        for (const url of urls) {
          const started = performance.now();
          const body = (await get(url)) as { profiles?: unknown[] };
          times.push(performance.now() - started);
          found += Array.isArray(body.profiles) ? body.profiles.length : 1;
        }
        times.sort((a, b) => a - b);
        return { median: times[Math.floor(times.length / 2)]!, max: times.at(-1)!, found };
      };
      const repeat = <T>(make: (index: number) => T): T[] =>
        Array.from({ length: options.repeat }, (_, i) => make(i));
      const person = (i: number): number => 1 + Math.floor(((i + 1) * 7_919 * 104_729) % options.profiles);

      const quality = await time(repeat(() => '/api/quality'));
      const report = (await get('/api/quality')) as Record<string, unknown>;
      const profile = await time(repeat((i) => `/api/profiles/${person(i)}`));
      const emailPrefix = await time(
        repeat((i) => `/api/profiles?q=email:${names(person(i)).first.toLowerCase()}.`),
      );
      const anyPrefix = await time(repeat((i) => `/api/profiles?q=u${person(i)}`));
      const traitEquals = await time(repeat((i) => `/api/profiles?trait.city=${cities[i % cities.length]}`));
      const traitPrefix = await time(
        repeat((i) => `/api/profiles?trait.lastName=${names(person(i)).last.slice(0, 4)}*`),
      );
      const combined = await time(
        repeat(
          (i) =>
            `/api/profiles?trait.city=${cities[i % cities.length]}&q=email:${names(person(i)).first.toLowerCase()}`,
        ),
      );

      const result = {
        qualityMs: round(quality.median, 1),
        profileMs: round(profile.median, 1),
        searchEmailPrefixMs: round(emailPrefix.median, 1),
        searchAnyPrefixMs: round(anyPrefix.median, 1),
        searchTraitMs: round(traitEquals.median, 1),
        searchTraitPrefixMs: round(traitPrefix.median, 1),
        searchCombinedMs: round(combined.median, 1),
        eventScanMs: round(scanMs, 1),
        qualityToScan: round(quality.median / scanMs, 2),
        startMs: Math.round(startMs),
        profiles: options.profiles,
        originProfiles: generated.origins,
        events: generated.events,
        traitValues: generated.traits,
        generateMs: Math.round(generated.ms),
        repeat: options.repeat,
        maxMs: {
          quality: round(quality.max, 1),
          profile: round(profile.max, 1),
          searchEmailPrefix: round(emailPrefix.max, 1),
          searchAnyPrefix: round(anyPrefix.max, 1),
          searchTrait: round(traitEquals.max, 1),
          searchTraitPrefix: round(traitPrefix.max, 1),
          searchCombined: round(combined.max, 1),
        },
        report: {
          duplicates: (report.duplicates as { groups: number }).groups,
          stale: (report.stale as { profiles: number }).profiles,
          validEmail: (report.email as { valid: number }).valid,
        },
        loadAverageAtStart: round(loadAverage, 2),
      };
      console.log('');
      console.log(`Quality and search over ${fmt(options.profiles)} people (median of ${options.repeat})`);
      console.log(
        `  start                 ${fmt(result.startMs)} ms (identity graph, events without a profile)`,
      );
      console.log(
        `  GET /api/quality      ${result.qualityMs} ms; one pass over the events by profile: ${result.eventScanMs} ms ` +
          `(${result.qualityToScan}×)`,
      );
      console.log(`  GET /api/profiles/id  ${result.profileMs} ms`);
      console.log(`  q=email:<first>.      ${result.searchEmailPrefixMs} ms`);
      console.log(`  q=u<digits>           ${result.searchAnyPrefixMs} ms`);
      console.log(`  trait.city=<city>     ${result.searchTraitMs} ms`);
      console.log(`  trait.lastName=<4>*   ${result.searchTraitPrefixMs} ms`);
      console.log(`  trait + q             ${result.searchCombinedMs} ms`);
      console.log(JSON.stringify(result));
      return 0;
    } finally {
      await cible.stop();
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The base

const firstNames = [
  'Jean',
  'Marie',
  'Léa',
  'Hugo',
  'Chloé',
  'Lucas',
  'Inès',
  'Noé',
  'Zoé',
  'Émile',
  'Anaïs',
  'Louis',
];
const syllables = [
  'ber',
  'mar',
  'tin',
  'dur',
  'lau',
  'ro',
  'vel',
  'gar',
  'nier',
  'fon',
  'che',
  'mo',
  'ri',
  'dé',
  'la',
];
const cities = [
  'Paris',
  'Lyon',
  'Marseille',
  'Toulouse',
  'Nice',
  'Nantes',
  'Lille',
  'Rennes',
  'Brest',
  'Dijon',
];

function names(person: number): { first: string; last: string } {
  const s = (n: number) => syllables[n % syllables.length]!;
  const last = s(person) + s(Math.floor(person / 15)) + s(Math.floor(person / 225));
  return {
    first: firstNames[Math.floor(person / 7) % firstNames.length]!,
    last: last[0]!.toUpperCase() + last.slice(1),
  };
}

/**
 * People 1..n. Person k has origin profile k; one in ten also a second origin (another device,
 * with the address) merged into it. 85% have an e-mail address, 60% a phone number; 5% an e-mail
 * trait that is not an address; one in a hundred repeats the name, birth date and postal code of
 * the person before (a suspected duplicate). Each origin has three events: two ten minutes apart,
 * one a day later, at a time spread over two years before now.
 */
async function generate(
  dataDir: string,
  people: number,
  now: number,
): Promise<{ origins: number; events: number; traits: number; ms: number }> {
  const started = performance.now();
  const store = await createDuckdbStore({ dataDir });
  const chunk = 10_000;
  let origins = 0;
  let events = 0;
  let traits = 0;
  let nextSeq = 0;
  let mergeId = 0;
  let nextSecondary = people + 1;
  for (let from = 1; from <= people; from += chunk) {
    const batchEvents: StoredEvent[] = [];
    const changes = {
      profiles: [] as { id: number; createdAt: number }[],
      identifiers: [] as IdentityRow[],
      merges: [] as IdentityChanges['merges'][number][],
      undoneMerges: [],
      conflicts: [],
      shared: [],
      traits: [] as TraitRow[],
      sightings: [] as NonNullable<IdentityChanges['sightings']>[number][],
    };
    for (let k = from; k < Math.min(from + chunk, people + 1); k++) {
      const keyOf = k % 100 === 1 && k > 1 ? k - 1 : k;
      const { first, last } = names(keyOf);
      const base = now - ((k * 7_919) % 730) * day - (k % 86_400) * 1000;
      const origin = (id: number, identifiers: { type: string; value: string }[]) => {
        origins++;
        changes.profiles.push({ id, createdAt: base });
        for (const identifier of identifiers) {
          changes.identifiers.push({
            ...identifier,
            originProfileId: id,
            firstSeen: base,
            sourceId: 'src_bench',
            messageId: `m-${k}`,
          });
        }
        for (const at of [base, base + 10 * 60_000, base + day]) {
          nextSeq++;
          batchEvents.push(event(id, k, at, nextSeq));
        }
        changes.sightings.push({ identifiers, at: base + day });
      };
      const trait = (id: number, name: string, value: unknown) =>
        changes.traits.push({
          originProfileId: id,
          name,
          value: JSON.stringify(value),
          sourceId: 'src_bench',
          at: base,
          messageId: `m-${k}`,
        });

      const identifiers = [{ type: 'userId', value: `u${k}` }];
      if (k % 20 < 17)
        identifiers.push({ type: 'email', value: `${ascii(first)}.${ascii(last)}${k}@example.com` });
      if (k % 10 < 6) identifiers.push({ type: 'phone', value: `+336${String(10_000_000 + k).slice(-8)}` });
      origin(k, identifiers);
      const variant = keyOf === k ? first : first.toUpperCase();
      trait(k, 'firstName', variant);
      trait(k, 'lastName', last);
      trait(
        k,
        'birthday',
        new Date(Date.UTC(1950, 0, 1) + (spread(keyOf, 1) % 20_000) * day).toISOString().slice(0, 10),
      );
      trait(k, 'city', cities[keyOf % cities.length]);
      if (k % 20 === 18) trait(k, 'email', `not-an-address-${k}`);
      const postalCode = String(10_000 + (spread(keyOf, 2) % 5_000) * 17).slice(0, 5);
      if (k % 10 === 0) {
        const second = nextSecondary++;
        origin(second, [{ type: 'anonymousId', value: `anon-${k}` }]);
        trait(second, 'address', {
          postal_code: `${postalCode.slice(0, 2)} ${postalCode.slice(2)}`,
          city: cities[keyOf % cities.length],
        });
        changes.merges.push({
          id: ++mergeId,
          at: base,
          survivor: k,
          absorbed: second,
          kind: 'auto',
          identifierType: 'anonymousId',
          identifierValue: `anon-${k}`,
          sourceId: 'src_bench',
          messageId: `m-${k}`,
          undoneAt: null,
        });
      } else {
        trait(k, 'postalCode', postalCode);
      }
    }
    // Profiles must exist before the merges that name them: the secondary ids were handed out above.
    await store.writeBatch({
      events: batchEvents,
      quarantine: [],
      replayedQuarantineIds: [],
      identity: changes,
    });
    events += batchEvents.length;
    traits += changes.traits.length;
  }
  await store.close();
  return { origins, events, traits, ms: performance.now() - started };
}

function event(profileId: number, person: number, at: number, seq: number): StoredEvent {
  return {
    sourceId: 'src_bench',
    messageId: `e-${seq}`,
    type: 'track',
    event: seq % 7 === 0 ? 'Order Completed' : 'Product Viewed',
    name: null,
    userId: `u${person}`,
    anonymousId: null,
    groupId: null,
    previousId: null,
    timestamp: at,
    originalTimestamp: at,
    sentAt: at,
    receivedAt: at,
    properties: seq % 7 === 0 ? `{"revenue":${(seq % 90) + 10}}` : `{"product_id":"sku-${seq % 997}"}`,
    traits: null,
    context: '{"library":{"name":"analytics.js","version":"5.2.1"}}',
    integrations: null,
    extra: null,
    profileId,
  };
}

/** A well-mixed number from n, different for each salt, so that traits do not follow one another. */
function spread(n: number, salt: number): number {
  let x = Math.imul(n ^ (salt * 0x9e3779b9), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

function ascii(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();
}

/** One DuckDB pass over the events grouped by profile, median of `repeat`. */
async function eventScan(dataDir: string, repeat: number): Promise<number> {
  const instance = await DuckDBInstance.create(join(dataDir, databaseFileName), {
    memory_limit: '256MB',
    threads: '2',
  });
  const connection = await instance.connect();
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const started = performance.now();
    await connection.runAndReadAll(
      'SELECT count(*) FROM (SELECT profile_id, max(timestamp) FROM events GROUP BY profile_id)',
    );
    times.push(performance.now() - started);
  }
  connection.closeSync();
  instance.closeSync();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
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
