/**
 * A store holding N profiles for the profiles benchmark, built the way live ingestion builds it:
 * Cible runs in this process (the composition root of `cible serve`) and every person's first
 * visit (an anonymous page view) and sign-up (an identify with userId, e-mail address, name,
 * plan and, one in three, a phone number) go through `POST /v1/batch`, injected without a socket.
 * So the profiles, identifiers, trait observations and events (with their profile_id) are exactly
 * those the server would have written.
 *
 * Building takes a while, so the database is kept under the OS temp directory, keyed by N, the
 * schema version and the version of this recipe, and copied for each run.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.ts';
import { startCible } from '../src/main.ts';
import { migrations } from '../src/store/duckdb/migrations.ts';
import { databaseFileName } from '../src/store/duckdb/duckdb-store.ts';
import { fmt, log } from './measure.ts';
import { firstVisitJson, identifyJson } from './people.ts';

/** Bump when the people or their events change: older cached stores are then rebuilt. */
const recipeVersion = 1;
/** People per request: their two events each stay within the 500 KB a batch request may hold. */
const peoplePerRequest = 250;
/** Requests in flight, so that the group commit gathers several per commit as under live load. */
const requestsInFlight = 8;
/** The people arrive over these 90 days, which end a day before the build. */
const spanMs = 90 * 24 * 3_600_000;

export interface ProfileStore {
  /** The directory holding the database file (to copy, not to open: it is shared between runs). */
  readonly dir: string;
  readonly profiles: number;
  readonly events: number;
  readonly identifiers: number;
  readonly builtAt: string;
  readonly buildSeconds: number;
  /** True when this run built it, false when it came from the cache. */
  readonly built: boolean;
}

type StoreMeta = Omit<ProfileStore, 'dir' | 'built'>;

/** The cached store of `profiles` people, built first if missing (or if `rebuild`). */
export async function profileStore(
  profiles: number,
  options: { rebuild: boolean; cacheDir?: string },
): Promise<ProfileStore> {
  const schema = Math.max(...migrations.map((migration) => migration.version));
  const dir = join(
    options.cacheDir ?? join(tmpdir(), 'cible-bench-profiles'),
    `${profiles}-schema${schema}-recipe${recipeVersion}`,
  );
  const metaPath = join(dir, 'meta.json');
  if (!options.rebuild && existsSync(metaPath)) {
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as StoreMeta;
    log(`store of ${fmt(profiles)} profiles from the cache: ${dir} (built ${meta.builtAt})`);
    return { ...meta, dir, built: false };
  }
  const building = `${dir}.building-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  const meta = await build(building, profiles);
  await writeFile(join(building, 'meta.json'), `${JSON.stringify(meta, null, 2)}\n`);
  await rm(dir, { recursive: true, force: true });
  await rename(building, dir);
  log(`store cached in ${dir}`);
  return { ...meta, dir, built: true };
}

/** Copies the cached database into a fresh data directory. */
export async function copyProfileStore(store: ProfileStore, dataDir: string): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  await copyFile(join(store.dir, databaseFileName), join(dataDir, databaseFileName));
}

async function build(dataDir: string, profiles: number): Promise<StoreMeta> {
  const token = randomBytes(16).toString('hex');
  const config = loadConfig({
    argv: ['--port', '0', '--data-dir', dataDir, '--log-level', 'warn'],
    env: { ...process.env, CIBLE_ADMIN_TOKEN: token },
  });
  log(`building a store of ${fmt(profiles)} profiles in ${dataDir}`);
  const cible = await startCible(config, { print: (line) => log(`[build] ${line}`) });
  const started = performance.now();
  try {
    const admin = { authorization: `Bearer ${token}` };
    const created = await cible.app.inject({
      method: 'POST',
      url: '/api/sources',
      headers: admin,
      payload: { name: 'web' },
    });
    if (created.statusCode !== 201)
      throw new Error(`POST /api/sources: ${created.statusCode} ${created.body}`);
    const writeKey = created.json<{ writeKey: string }>().writeKey;
    const authorization = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;

    const end = Date.now() - 24 * 3_600_000;
    const sentAt = new Date().toISOString();
    let next = 0;
    let done = 0;
    let nextReport = performance.now() + 10_000;
    const sendPeople = async (): Promise<void> => {
      while (next < profiles) {
        const first = next;
        const last = Math.min(profiles, first + peoplePerRequest);
        next = last;
        const events: string[] = [];
        for (let i = first; i < last; i++) {
          const at = end - ((profiles - i) * spanMs) / profiles;
          events.push(firstVisitJson(i, `build-${i}-visit`, new Date(at).toISOString(), sentAt));
          const signUp = new Date(at + 120_000).toISOString();
          events.push(identifyJson(i, `build-${i}-signup`, signUp, sentAt));
        }
        const send = () =>
          cible.app.inject({
            method: 'POST',
            url: '/v1/batch',
            headers: { authorization, 'content-type': 'application/json' },
            payload: `{"batch":[${events.join(',')}]}`,
          });
        let answer = await send();
        // The store behind the ingest log is full: wait as the answer says, and send again.
        while (answer.statusCode === 429) {
          await new Promise((resolve) =>
            setTimeout(resolve, Number(answer.headers['retry-after'] ?? 1) * 1000),
          );
          answer = await send();
        }
        const body = answer.json<{ accepted?: number }>();
        if (answer.statusCode !== 200 || body.accepted !== events.length)
          throw new Error(`Building the store: POST /v1/batch answered ${answer.statusCode} ${answer.body}`);
        done += last - first;
        if (performance.now() >= nextReport) {
          const seconds = (performance.now() - started) / 1000;
          log(
            `build: ${fmt(done)} profiles in ${seconds.toFixed(0)} s (${fmt((2 * done) / seconds)} events/s)`,
          );
          nextReport += 10_000;
        }
      }
    };
    await Promise.all(Array.from({ length: requestsInFlight }, sendPeople));

    // Reads wait for the store to hold what was acknowledged, 10 s at a time.
    let stats = await cible.app.inject({ method: 'GET', url: '/api/stats', headers: admin });
    while (stats.statusCode === 503) {
      log('build: waiting for the store to hold every acknowledged event');
      stats = await cible.app.inject({ method: 'GET', url: '/api/stats', headers: admin });
    }
    const counts = stats.json<{ events: number; profiles: number; identifiers: number }>();
    if (counts.profiles !== profiles || counts.events !== 2 * profiles) {
      throw new Error(
        `The built store holds ${counts.profiles} profiles and ${counts.events} events, ` +
          `not ${profiles} and ${2 * profiles}.`,
      );
    }
    const buildSeconds = (performance.now() - started) / 1000;
    log(
      `build: ${fmt(profiles)} profiles, ${fmt(counts.identifiers)} identifiers, ${fmt(counts.events)} events ` +
        `in ${buildSeconds.toFixed(1)} s (${fmt(counts.events / buildSeconds)} events/s)`,
    );
    return {
      profiles,
      events: counts.events,
      identifiers: counts.identifiers,
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round(buildSeconds * 10) / 10,
    };
  } finally {
    // Closing checkpoints: the cached file holds everything, with no write-ahead log beside it.
    await cible.stop();
  }
}
