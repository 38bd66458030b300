import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { StoredEvent } from '../../domain/events.ts';
import { storedEventFixture } from '../../domain/events.fixture.ts';
import { compactDatabaseFile } from './compact-database.ts';
import { eventPartitionOf, eventPartitionTable } from './event-partitions.ts';
import { purgeDatabaseFile } from './purge-database.ts';
import { createDuckdbStore, databaseFileName } from './duckdb-store.ts';

const marker = 'erase-me-4c1f9a';

/** Event n of the test base; one in a thousand is the erased person's, with the marker. */
function event(n: number): StoredEvent {
  const erased = n % 1000 === 7;
  return storedEventFixture({
    sourceId: 'src_web',
    messageId: `m-${n}`,
    userId: erased ? `${marker}-${n}` : `usr_${n % 5000}`,
    anonymousId: `anon-${n % 7000}`,
    timestamp: 1_700_000_000_000 + n * 1000,
    receivedAt: 1_700_000_000_000 + n * 1000,
    properties: `{"product_id":"sku-${n % 997}","price":${n % 200}.99,"email":"${erased ? marker : 'someone'}-${n}@example.org"}`,
    context: '{"library":{"name":"analytics.js","version":"5.2.1"},"ip":"203.0.113.4"}',
    profileId: n % 5000,
  });
}

/** Occurrences of the marker in every file under `dir`, by file name. */
async function markerHits(dir: string): Promise<Record<string, number>> {
  const hits: Record<string, number> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const data = await readFile(path);
    let count = 0;
    for (let at = data.indexOf(marker); at >= 0; at = data.indexOf(marker, at + 1)) count++;
    if (count > 0) hits[path.slice(dir.length + 1)] = count;
  }
  return hits;
}

async function query(path: string, sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(path);
  try {
    const connection = await instance.connect();
    try {
      return (await connection.runAndReadAll(sql)).getRows();
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/**
 * 200,000 events written by the store, then the erased person's rows deleted (as an erasure does)
 * and checkpointed; answers the migrations recorded.
 */
async function buildErasedBase(dataDir: string): Promise<unknown[][]> {
  const store = await createDuckdbStore({ dataDir, memoryLimit: '256MB', threads: 1 });
  await store.createSource({
    id: 'src_web',
    name: 'Web',
    writeKey: 'wk_web',
    createdAt: 1_700_000_000_000,
    revokedAt: null,
  });
  for (let n = 1; n <= 200_000; n += 10_000) {
    const events = Array.from({ length: 10_000 }, (_, i) => event(n + i));
    await store.writeBatch({ events, quarantine: [], replayedQuarantineIds: [] });
  }
  await store.close();
  const instance = await DuckDBInstance.create(join(dataDir, databaseFileName));
  const connection = await instance.connect();
  try {
    for (const table of erasedPartitions) {
      await connection.run(`DELETE FROM ${table} WHERE user_id LIKE '${marker}%'`);
    }
    await connection.run('CHECKPOINT');
    return (
      await connection.runAndReadAll(
        'SELECT version, name, applied_at FROM cible_migrations ORDER BY version',
      )
    ).getRows();
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** The partitions holding the erased person's events (profiles n % 5000 for n % 1000 = 7). */
const erasedPartitions = [
  ...new Set(Array.from({ length: 5 }, (_, k) => eventPartitionTable(eventPartitionOf(k * 1000 + 7)))),
];

/** The base comes back whole but for the erased events, with its constraints and numbering. */
async function assertKeptTheRest(dataDir: string): Promise<void> {
  const store = await createDuckdbStore({ dataDir, memoryLimit: '256MB', threads: 1 });
  try {
    assert.equal(await store.countEvents(), 199_800);
    const oldest = await store.listEvents({ oldestFirst: true, limit: 8 });
    assert.deepEqual(
      oldest.map(({ seq, ...stored }) => ({ seq, stored })),
      [1, 2, 3, 4, 5, 6, 8, 9].map((n) => ({ seq: n, stored: event(n) })),
      'every field of the events comes back, the erased one (7) excepted',
    );
    assert.deepEqual(await store.listEvents({ userId: `${marker}-7`, limit: 1 }), []);
    // The constraints came across: the primary key and the unique write key are enforced.
    const source = { id: 'src_web', name: 'Again', writeKey: 'wk_other', createdAt: 1, revokedAt: null };
    await assert.rejects(store.createSource(source), /primary key/i);
    await assert.rejects(store.createSource({ ...source, id: 'src_app', writeKey: 'wk_web' }), /unique/i);
    await store.writeBatch({ events: [event(200_001)], quarantine: [], replayedQuarantineIds: [] });
    const [newest] = await store.listEvents({ limit: 1 });
    assert.equal(newest?.seq, 200_001, 'numbering goes on after the last event kept');
  } finally {
    await store.close();
  }
}

describe('compactDatabaseFile', () => {
  let dataDir: string;
  let path: string;
  let migrationsBefore: unknown[][];
  let hitsAfterDelete: Record<string, number>;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cible-test-compact-'));
    path = join(dataDir, databaseFileName);
    migrationsBefore = await buildErasedBase(dataDir);
    hitsAfterDelete = await markerHits(dataDir);
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('is needed: after DELETE and CHECKPOINT, the deleted rows are still in the file', () => {
    assert.ok((hitsAfterDelete[databaseFileName] ?? 0) > 0, JSON.stringify(hitsAfterDelete));
  });

  it('leaves the deleted rows in no file of the directory, and the rest as it was', async () => {
    const report = await compactDatabaseFile(path, { threads: 1 });
    assert.deepEqual(await markerHits(dataDir), {});
    assert.deepEqual(await readdir(dataDir), [databaseFileName], 'no WAL, no copy, no spill left');
    assert.ok(report.bytesBefore > 0 && report.bytesAfter > 0, JSON.stringify(report));
    assert.ok(report.ms > 0);

    assert.deepEqual(
      await query(path, 'SELECT version, name, applied_at FROM cible_migrations ORDER BY version'),
      migrationsBefore,
    );
    await assertKeptTheRest(dataDir);
  });

  it('takes in a WAL left by a crash, and leaves no WAL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cible-test-compact-wal-'));
    const crashed = await mkdtemp(join(tmpdir(), 'cible-test-compact-crashed-'));
    try {
      const store = await createDuckdbStore({ dataDir: dir, threads: 1, checkpointThreshold: '1GB' });
      await store.writeBatch({ events: [event(1), event(7)], quarantine: [], replayedQuarantineIds: [] });
      // The files as a crash would leave them: the batch is in the WAL only.
      await copyFile(join(dir, databaseFileName), join(crashed, databaseFileName));
      await copyFile(join(dir, `${databaseFileName}.wal`), join(crashed, `${databaseFileName}.wal`));
      await store.close();

      await compactDatabaseFile(join(crashed, databaseFileName), { threads: 1 });
      assert.deepEqual(await readdir(crashed), [databaseFileName]);
      const reopened = await createDuckdbStore({ dataDir: crashed, threads: 1 });
      try {
        assert.deepEqual(
          (await reopened.listEvents({ oldestFirst: true, limit: 5 })).map((row) => row.messageId),
          ['m-1', 'm-7'],
        );
      } finally {
        await reopened.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(crashed, { recursive: true, force: true });
    }
  });

  it('removes what an interrupted compaction left, and leaves the original alone when it fails', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cible-test-compact-failed-'));
    try {
      const notADatabase = join(dir, databaseFileName);
      await writeFile(notADatabase, 'not a database');
      await writeFile(`${notADatabase}.compact`, `half a copy with ${marker}`);
      await writeFile(`${notADatabase}.compact.wal`, marker);
      await mkdir(`${notADatabase}.compact.tmp`);
      await writeFile(join(`${notADatabase}.compact.tmp`, 'spill'), marker);

      await assert.rejects(
        compactDatabaseFile(notADatabase, { threads: 1 }),
        /the original file is left as it was/,
      );
      assert.deepEqual(await readdir(dir), [databaseFileName]);
      assert.equal(await readFile(notADatabase, 'utf8'), 'not a database');
      await assert.rejects(compactDatabaseFile(join(dir, 'missing.duckdb')), /there is no such file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('purgeDatabaseFile', () => {
  let dataDir: string;
  let path: string;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cible-test-purge-'));
    path = join(dataDir, databaseFileName);
    await buildErasedBase(dataDir);
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  it('leaves the deleted rows in no file, rewriting only the tables named', async () => {
    assert.ok(((await markerHits(dataDir))[databaseFileName] ?? 0) > 0, 'the deleted rows are in the file');
    const report = await purgeDatabaseFile(path, { rewrite: erasedPartitions, threads: 1 });
    assert.equal(report.inPlace, true);
    assert.deepEqual(await markerHits(dataDir), {});
    assert.deepEqual(await readdir(dataDir), [databaseFileName], 'no WAL, no spill left');
    assert.equal(report.tablesRewritten, erasedPartitions.length);
    assert.ok(report.rowsRewritten > 0 && report.rowsRewritten < 199_800 / 2, JSON.stringify(report));
    assert.ok(report.blocksOverwritten > 0, JSON.stringify(report));
    assert.deepEqual(
      await query(path, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'cible_%'"),
      [[1n]],
    ); // cible_migrations alone: no filling or rewrite table left
    await assertKeptTheRest(dataDir);
  });

  it('writes again only the row groups that lost rows of a table without an index', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cible-test-purge-groups-'));
    const file = join(dir, 'notes.duckdb');
    try {
      const instance = await DuckDBInstance.create(file);
      const connection = await instance.connect();
      // Stored as written, so that a byte search finds every copy.
      await connection.run(`SET force_compression = 'uncompressed'`);
      await connection.run('CREATE TABLE notes (id BIGINT NOT NULL, note VARCHAR NOT NULL)');
      await connection.run(
        `INSERT INTO notes SELECT i, CASE WHEN i IN (250001, 250777) THEN '${marker}-' || i ELSE 'note-' || i END
         FROM range(500000) t(i)`,
      );
      await connection.run(`DELETE FROM notes WHERE note LIKE '${marker}%'`);
      await connection.run('CHECKPOINT');
      connection.closeSync();
      instance.closeSync();
      assert.ok(((await markerHits(dir))['notes.duckdb'] ?? 0) > 0, 'the deleted rows are in the file');

      const report = await purgeDatabaseFile(file, { rewrite: ['notes'], threads: 1 });
      assert.deepEqual(await markerHits(dir), {});
      assert.equal(report.rowsRewritten, 122_880 - 2, 'one row group of 122,880 rows, less the two deleted');
      assert.deepEqual(await query(file, 'SELECT count(*), count(DISTINCT id), sum(id) FROM notes'), [
        [499_998n, 499_998n, BigInt((499_999 * 500_000) / 2 - 250_001 - 250_777)],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('overwrites the column statistics left in the free pieces of metadata blocks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cible-test-purge-metadata-'));
    const file = join(dir, 'people.duckdb');
    // Statistics keep the first 8 bytes of a segment's smallest value: the marker's, here.
    const prefix = marker.slice(0, 8);
    const prefixHits = async () => (await readFile(file)).indexOf(prefix) >= 0;
    try {
      const instance = await DuckDBInstance.create(file);
      const connection = await instance.connect();
      await connection.run('CREATE TABLE people (email VARCHAR PRIMARY KEY, name VARCHAR)');
      await connection.run('CREATE TABLE visits (email VARCHAR, visited TIMESTAMP)');
      await connection.run(
        `INSERT INTO people VALUES ('${marker}@example.com', '${marker}'), ('zoe@example.com', 'Zoe')`,
      );
      await connection.run(
        `INSERT INTO visits VALUES ('${marker}@example.com', now()), ('zoe@example.com', now())`,
      );
      await connection.run('CHECKPOINT');
      await connection.run(`DELETE FROM people WHERE name = '${marker}'`);
      await connection.run(`DELETE FROM visits WHERE email LIKE '${marker}%'`);
      connection.closeSync();
      instance.closeSync();
      assert.equal(await prefixHits(), true, 'the deleted values are in the file');

      const report = await purgeDatabaseFile(file, { rewrite: ['people', 'visits'], threads: 1 });
      assert.ok(report.metadataPiecesOverwritten > 0, JSON.stringify(report));
      assert.equal(await prefixHits(), false, 'no statistics keep the deleted values');
      assert.deepEqual(await query(file, 'SELECT email, name FROM people'), [['zoe@example.com', 'Zoe']]);
      assert.deepEqual(await query(file, 'SELECT email FROM visits'), [['zoe@example.com']]);
      assert.deepEqual(
        await query(file, "SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE 'cible_%'"),
        [[0n]],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names a table it cannot read, and changes nothing when a rewrite fails', async () => {
    await assert.rejects(purgeDatabaseFile(join(dataDir, 'missing.duckdb'), { rewrite: [] }), /no such file/);
    const before = await query(path, 'SELECT count(*) FROM events');
    await purgeDatabaseFile(path, { rewrite: ['no_such_table', 'sources'], threads: 1 });
    assert.deepEqual(await query(path, 'SELECT count(*) FROM events'), before);
    // Most of the rows to write again: copying the whole file is as fast, so the purge leaves it.
    const tooMuch = await purgeDatabaseFile(path, {
      rewrite: erasedPartitions,
      threads: 1,
      maxShare: 0.1,
      maxShareFromRows: 0,
    });
    assert.equal(tooMuch.inPlace, false);
    assert.equal(tooMuch.tablesRewritten, 0);
  });
});
