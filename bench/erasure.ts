/**
 * The erasure benchmark: erasing one person among 10 million events (1 million profiles, the data
 * set of the segments benchmark).
 *
 * 1. logical: `store.erasure.erase` for people picked at random (their merged origins and
 *    identifiers included): every row about them deleted in one transaction, the suppression list
 *    written. Once it returns they are gone from every query. Target ≤ 100 ms.
 * 2. physical: what `POST /api/privacy/purge` does to the database file (`purgeDatabaseFile`: the
 *    tables the erasures deleted rows from written again, then the free blocks overwritten), after
 *    the first person (target ≤ 10 s) and after the others at once; then, for comparison, the whole
 *    file copied (`compactDatabaseFile`, the fallback).
 *
 * The last line printed is one JSON object with the results.
 */
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { compactDatabaseFile } from '../src/store/duckdb/compact-database.ts';
import { purgeDatabaseFile } from '../src/store/duckdb/purge-database.ts';
import { createDuckdbStore, databaseFileName } from '../src/store/duckdb/duckdb-store.ts';
import { fmt, integerFlag, log, percentile, round } from './measure.ts';
import { segmentsDataset } from './segments-data.ts';

const help = `Usage: npm run bench -- erasure [flags]

  --profiles <n>   Profiles of the data set (default 1000000)
  --events <n>     Events of the data set (default 10000000)
  --people <n>     People erased, one at a time (default 40)
  --dir <path>     Where to copy the database (default: the OS temp dir)
  --rebuild        Build the data set again even if it is cached
  --logical-only   Skip the physical purge
  --in-place-always  Purge in place even when it would write most of the database again
`;

export async function runErasureBenchmark(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      profiles: { type: 'string' },
      events: { type: 'string' },
      people: { type: 'string' },
      dir: { type: 'string' },
      rebuild: { type: 'boolean' },
      'logical-only': { type: 'boolean' },
      'in-place-always': { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help === true) {
    console.log(help);
    return 0;
  }
  const profiles = integerFlag('--profiles', values.profiles, 1_000_000, 1000);
  const events = integerFlag('--events', values.events, 10_000_000, 1000);
  const people = integerFlag('--people', values.people, 40, 2);
  const dataset = await segmentsDataset(profiles, events, { rebuild: values.rebuild === true });
  const dataDir = await mkdtemp(join(values.dir ?? tmpdir(), 'cible-bench-erasure-'));
  const path = join(dataDir, databaseFileName);
  try {
    await copyFile(join(dataset.dir, databaseFileName), path);
    // Opened once by the store, which applies the migrations a cached data set may lack.
    await (await createDuckdbStore({ dataDir })).close();
    const sizeMb = (await stat(path)).size / 1024 / 1024;
    const picked = await pickPeople(path, people, profiles);

    // The first erasure after the store opens reads from a cold buffer pool; the others are timed
    // apart, as in a server that has been running.
    const times: number[] = [];
    const coldTimes: number[] = [];
    let removedEvents = 0;
    /** Erases people[from, to) one at a time; answers their erasure ids. */
    const erase = async (
      from: number,
      to: number,
    ): Promise<{ ids: string[]; rewrite: readonly string[] }> => {
      const reopened = await createDuckdbStore({ dataDir });
      const ids: string[] = [];
      try {
        for (const [index, person] of picked.slice(from, to).entries()) {
          const id = `era_bench_${from + index}`;
          const started = performance.now();
          const record = await reopened.erasure.erase({
            id,
            at: Date.now(),
            requestedBy: 'bench',
            profileId: person.profileId,
            members: person.members,
            identifiers: person.identifiers,
            suppressed: person.identifiers.map((identifier, i) => ({
              hash: `bench-${from + index}-${i}`,
              type: identifier.type,
            })),
          });
          (index === 0 ? coldTimes : times).push(performance.now() - started);
          ids.push(id);
          removedEvents += record.removed.events ?? 0;
          const left = await reopened.listEvents({ profileIds: person.members, limit: 1 });
          if (left.length > 0)
            throw new Error(`profile ${person.profileId} still has events after its erasure`);
        }
        return { ids, rewrite: (await reopened.erasure.purgePlan(ids)).rewrite };
      } finally {
        await reopened.close();
      }
    };
    const purges: {
      what: string;
      people: number;
      ms: number;
      tablesRewritten: number;
      rowsRewritten: number;
      mbOverwritten: number;
      mbAfter: number;
    }[] = [];
    const purgeInPlace = async (what: string, erased: { ids: string[]; rewrite: readonly string[] }) => {
      const report = await purgeDatabaseFile(path, {
        rewrite: erased.rewrite,
        memoryLimit: '256MB',
        threads: 2,
        // `--in-place-always`: measure it even where Cible copies the whole file instead.
        ...(values['in-place-always'] === true ? { maxShare: 1 } : {}),
      });
      if (!report.inPlace) {
        log(
          `physical purge, ${what}: more than half the rows to write again, so the whole file is copied (below)`,
        );
        return;
      }
      const entry = {
        what,
        people: erased.ids.length,
        ms: Math.round(report.ms),
        tablesRewritten: report.tablesRewritten,
        rowsRewritten: report.rowsRewritten,
        mbOverwritten: round((report.blocksOverwritten * report.blockSize) / 1024 / 1024, 1),
        metadataPieces: report.metadataPiecesOverwritten,
        mbAfter: round(report.bytesAfter / 1024 / 1024, 1),
      };
      purges.push(entry);
      log(
        `physical purge in place, ${what}: ${fmt(entry.ms)} ms; ${entry.tablesRewritten} tables ` +
          `(${fmt(entry.rowsRewritten)} rows) written again, ${entry.mbOverwritten} MB of free blocks ` +
          `and ${fmt(entry.metadataPieces)} free pieces of metadata blocks overwritten (target ≤ 10 s)`,
      );
    };

    const first = await erase(0, 1);
    if (values['logical-only'] !== true) await purgeInPlace('one person', first);
    const rest = await erase(1, people);
    const sorted = [...times].sort((a, b) => a - b);
    const cold = coldTimes.map((ms) => round(ms, 1));
    log(
      `logical erasure of ${people} people (${fmt(removedEvents)} events): first after opening the store ` +
        `${cold.join(', ')} ms; the ${sorted.length} others p50 ${round(percentile(sorted, 0.5), 1)} ms, ` +
        `p90 ${round(percentile(sorted, 0.9), 1)} ms, max ${round(sorted.at(-1) ?? 0, 1)} ms (target ≤ 100 ms)`,
    );
    let wholeFile: { ms: number; mbBefore: number; mbAfter: number } | undefined;
    if (values['logical-only'] !== true && rest.ids.length > 0) {
      await purgeInPlace(`${rest.ids.length} people at once`, rest);
      // The other way, for comparison: the whole file copied (what a failed purge in place falls back to).
      const report = await compactDatabaseFile(path, { memoryLimit: '256MB', threads: 2 });
      wholeFile = {
        ms: Math.round(report.ms),
        mbBefore: round(report.bytesBefore / 1024 / 1024, 1),
        mbAfter: round(report.bytesAfter / 1024 / 1024, 1),
      };
      log(
        `the whole file copied instead: ${fmt(wholeFile.ms)} ms, ${wholeFile.mbBefore} → ${wholeFile.mbAfter} MB`,
      );
    }
    console.log(
      JSON.stringify({
        profiles,
        events,
        fileMb: round(sizeMb, 1),
        erasedPeople: people,
        erasedEvents: removedEvents,
        logicalMs: {
          firstAfterOpening: cold,
          p50: round(percentile(sorted, 0.5), 1),
          p90: round(percentile(sorted, 0.9), 1),
          max: round(sorted.at(-1) ?? 0, 1),
        },
        purgeOnePersonMs: purges[0]?.ms ?? null,
        purges,
        wholeFile: wholeFile ?? null,
      }),
    );
    return 0;
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

interface Person {
  readonly profileId: number;
  readonly members: number[];
  readonly identifiers: { type: string; value: string }[];
}

/** People picked at random among those with events, with their merged origins and identifiers. */
export async function pickPeople(path: string, count: number, profiles: number): Promise<Person[]> {
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  const picked: Person[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const profileId = 1 + Math.floor(((i * 7919 + 13) % profiles) * 0.999);
      const merged = (
        await connection.runAndReadAll('SELECT absorbed::DOUBLE AS id FROM merges WHERE survivor = ?', [
          profileId,
        ])
      ).getRowObjects();
      const members = [profileId, ...merged.map((row) => Number(row.id))];
      const identities = (
        await connection.runAndReadAll(
          `SELECT type, value FROM identities WHERE origin_profile_id IN (SELECT unnest(?::BIGINT[]))`,
          [`[${members.join(',')}]`],
        )
      ).getRowObjects();
      picked.push({
        profileId,
        members,
        identifiers: identities.map((row) => ({ type: String(row.type), value: String(row.value) })),
      });
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return picked;
}
