import { rm } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import { withDuckdb } from './compact-database.ts';
import { sizeOf, syncPath } from '../file-sync.ts';

export interface PurgeDatabaseOptions {
  /** The tables whose deleted rows must leave the file (ErasureStore.purgePlan). */
  readonly rewrite: readonly string[];
  /** DuckDB's memory limit meanwhile; the store is closed, so its budget is free. */
  readonly memoryLimit?: string;
  readonly threads?: number;
  /**
   * Above this share of the database's rows to write again, the purge does nothing and says so
   * (`inPlace: false`): copying the whole file is then as fast (0.5 by default). Only for databases
   * of a million rows or more: below, either takes about a second, and in place needs no second copy
   * of the data on the disk.
   */
  readonly maxShare?: number;
  /** The size from which `maxShare` applies, in rows (1,000,000 by default). */
  readonly maxShareFromRows?: number;
}

export interface PurgeDatabaseReport {
  /** False when the tables named hold too much of the database (see maxShare): nothing was done. */
  readonly inPlace: boolean;
  readonly tablesRewritten: number;
  readonly rowsRewritten: number;
  /** Free blocks of the file overwritten, and the block size, in bytes. */
  readonly blocksOverwritten: number;
  readonly blockSize: number;
  /** Free pieces of metadata blocks overwritten (see overwriteFreeSpace). */
  readonly metadataPiecesOverwritten: number;
  readonly bytesAfter: number;
  readonly ms: number;
}

/** What a purge writes beside the database file (DuckDB's spill directory); a crash may leave it. */
export function purgeLeftovers(path: string): string[] {
  return [`${path}.purge.tmp`];
}

/** The table that fills the free blocks while a purge runs; one left by a crash is dropped. */
const scrubTable = 'cible_scrub';
const rewriteTable = 'cible_rewrite';
/** The tables that take the free pieces of metadata blocks (cible_scrub_metadata0, 1...). */
const metadataTable = 'cible_scrub_metadata';
const metadataFillerColumns = 100;
/** Rounds of filling before giving up: each fills every block free when it starts. */
const maxScrubRounds = 6;

/**
 * Removes the bytes of deleted rows from a closed DuckDB database file, in place, in time that
 * grows with the tables named, not with the whole file (see decision 11).
 *
 * DuckDB leaves a deleted row's bytes where they were: in its row group (marked deleted) until the
 * table is written again, and then in the blocks the old row group occupied, now free but not
 * cleared, and its column statistics in the free pieces of metadata blocks. So: (1) each table
 * named is written again, as a new table with the same definition filled from the old one, which
 * is dropped, in one transaction; (2) after a checkpoint the file's free blocks, which hold the old
 * copies, are overwritten with random bytes: a table of random values is written until no block is
 * free (DuckDB allocates from its free list before growing the file); (3) the free pieces of
 * metadata blocks are overwritten too (overwriteFreeSpace); the filling tables are dropped. Their
 * blocks are then free again, holding only random bytes and metadata of the purged database.
 *
 * A crash leaves either the old tables or the new ones (one transaction), and at most leftover
 * filling tables, dropped by the next purge; the caller keeps the erasures pending until this
 * resolves, so the next purge starts again. Throws if free space remains after the rounds: the
 * caller then rewrites the whole file (compactDatabaseFile).
 */
export async function purgeDatabaseFile(
  path: string,
  options: PurgeDatabaseOptions,
): Promise<PurgeDatabaseReport> {
  const started = performance.now();
  const [spill] = purgeLeftovers(path) as [string];
  await rm(spill, { recursive: true, force: true });
  if ((await sizeOf(path)) === undefined) {
    throw new Error(`Cannot purge ${path}: there is no such file. Give the path of a DuckDB database file.`);
  }
  let report: Omit<PurgeDatabaseReport, 'bytesAfter' | 'ms'> | undefined;
  try {
    report = await withDuckdb(path, { ...options, spill }, async (connection) => {
      await connection.run(`DROP TABLE IF EXISTS ${scrubTable}`);
      await connection.run(`DROP TABLE IF EXISTS ${rewriteTable}`);
      await dropMetadataFillers(connection);
      const { share, all } = await shareOfRows(connection, options.rewrite);
      if (all >= (options.maxShareFromRows ?? 1_000_000) && share > (options.maxShare ?? 0.5))
        return undefined;
      const { tables, rows } = await rewriteTables(connection, options.rewrite);
      await connection.run('CHECKPOINT');
      const { blocks, blockSize, metadataPieces } = await overwriteFreeSpace(connection);
      return {
        inPlace: true,
        tablesRewritten: tables,
        rowsRewritten: rows,
        blocksOverwritten: blocks,
        blockSize,
        metadataPiecesOverwritten: metadataPieces,
      };
    });
    if (report !== undefined) await syncPath(path);
  } finally {
    await rm(spill, { recursive: true, force: true });
  }
  const ms = performance.now() - started;
  if (report === undefined) {
    return {
      inPlace: false,
      tablesRewritten: 0,
      rowsRewritten: 0,
      blocksOverwritten: 0,
      blockSize: 0,
      metadataPiecesOverwritten: 0,
      bytesAfter: 0,
      ms,
    };
  }
  return { ...report, bytesAfter: (await sizeOf(path)) ?? 0, ms };
}

/** The share of the database's rows (DuckDB's estimate) that these tables hold. */
async function shareOfRows(
  connection: DuckDBConnection,
  names: readonly string[],
): Promise<{ share: number; all: number }> {
  const wanted = new Set(names);
  let all = 0;
  let named = 0;
  for (const row of (
    await connection.runAndReadAll(
      `SELECT table_name, estimated_size::DOUBLE AS n FROM duckdb_tables() WHERE database_name = current_database()`,
    )
  ).getRowObjects()) {
    all += Number(row.n);
    if (wanted.has(String(row.table_name))) named += Number(row.n);
  }
  return { share: all === 0 ? 0 : named / all, all };
}

/**
 * Writes again, in one transaction, the row groups of each table that lost rows, or the whole
 * table: DuckDB does not drop the row groups of a table with an index (its primary key), so those
 * are written whole, as are tables where most row groups lost rows. Checks that every row is kept.
 */
async function rewriteTables(
  connection: DuckDBConnection,
  names: readonly string[],
): Promise<{ tables: number; rows: number }> {
  const definitions = new Map(
    (
      await connection.runAndReadAll(
        `SELECT table_name, sql FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'`,
      )
    )
      .getRowObjects()
      .map((row) => [String(row.table_name), String(row.sql)]),
  );
  const indexed = new Set(
    (
      await connection.runAndReadAll(
        `SELECT table_name FROM duckdb_constraints()
         WHERE database_name = current_database() AND constraint_type IN ('PRIMARY KEY', 'UNIQUE', 'FOREIGN KEY')
         UNION SELECT table_name FROM duckdb_indexes() WHERE database_name = current_database()`,
      )
    )
      .getRowObjects()
      .map((row) => String(row.table_name)),
  );
  let tables = 0;
  let rows = 0;
  await connection.run('BEGIN TRANSACTION');
  try {
    for (const name of new Set(names)) {
      const definition = definitions.get(name);
      if (definition === undefined) continue; // gone since (a later migration), nothing to purge
      const groups = indexed.has(name) ? undefined : await rowGroupsWithGaps(connection, name);
      const written =
        groups === undefined || groups.rows * 2 > groups.tableRows
          ? await rewriteWholeTable(connection, name, definition)
          : await rewriteRowGroups(connection, name, groups.ranges);
      tables++;
      rows += written;
    }
    await connection.run('COMMIT');
  } catch (error) {
    await connection.run('ROLLBACK');
    throw error;
  }
  return { tables, rows };
}

/** A new table with the same definition (constraints included), filled from the old one, which goes. */
async function rewriteWholeTable(
  connection: DuckDBConnection,
  name: string,
  definition: string,
): Promise<number> {
  const quoted = quoteIdentifier(name);
  const prefix = [`CREATE TABLE ${name}(`, `CREATE TABLE ${quoted}(`].find((start) =>
    definition.startsWith(start),
  );
  if (prefix === undefined) throw new Error(`Cannot read the definition of table ${name}: ${definition}`);
  await connection.run(`CREATE TABLE ${rewriteTable}(${definition.slice(prefix.length)}`);
  const copied = Number(
    (await connection.run(`INSERT INTO ${rewriteTable} SELECT * FROM ${quoted}`)).rowsChanged,
  );
  await expectRows(connection, name, `SELECT count(*)::DOUBLE FROM ${quoted}`, copied);
  await connection.run(`DROP TABLE ${quoted}`);
  await connection.run(`ALTER TABLE ${rewriteTable} RENAME TO ${quoted}`);
  return copied;
}

interface RowGroupGaps {
  /** Row id ranges [start, end) of the row groups holding deleted rows. */
  readonly ranges: readonly (readonly [number, number])[];
  /** Rows those row groups hold (deleted ones included), and the table. */
  readonly rows: number;
  readonly tableRows: number;
}

/**
 * The row groups that hold deleted rows: a row group's row ids run from the sum of the rows of the
 * groups before it, deleted rows included (DuckDB's storage info), so one with fewer live row ids
 * than rows lost some.
 */
async function rowGroupsWithGaps(connection: DuckDBConnection, name: string): Promise<RowGroupGaps> {
  const quoted = quoteIdentifier(name);
  const groups = (
    await connection.runAndReadAll(
      `WITH segments AS (
         SELECT row_group_id, sum(count) AS n FROM pragma_storage_info(?)
         WHERE column_id = 0 AND column_path = '[0]' AND segment_type <> 'VALIDITY' GROUP BY ALL),
       ranges AS (
         SELECT row_group_id, n,
                coalesce(sum(n) OVER (ORDER BY row_group_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS start
         FROM segments)
       SELECT r.start::DOUBLE AS start, r.n::DOUBLE AS n, count(t.rowid)::DOUBLE AS alive
       FROM ranges r LEFT JOIN ${quoted} t ON t.rowid >= r.start AND t.rowid < r.start + r.n
       GROUP BY ALL ORDER BY 1`,
      [name],
    )
  ).getRowObjects();
  const ranges: [number, number][] = [];
  let rows = 0;
  let tableRows = 0;
  for (const group of groups) {
    const start = Number(group.start);
    const n = Number(group.n);
    tableRows += n;
    if (Number(group.alive) >= n) continue;
    ranges.push([start, start + n]);
    rows += n;
  }
  return { ranges, rows, tableRows };
}

/**
 * Moves the live rows of these row groups to the end of the table: copied aside, deleted, inserted
 * again. Fully deleted, the old row groups are dropped at the next checkpoint, their blocks freed.
 */
async function rewriteRowGroups(
  connection: DuckDBConnection,
  name: string,
  ranges: readonly (readonly [number, number])[],
): Promise<number> {
  if (ranges.length === 0) return 0;
  const quoted = quoteIdentifier(name);
  const inRanges = ranges.map(([start, end]) => `(rowid >= ${start} AND rowid < ${end})`).join(' OR ');
  await connection.run(
    `CREATE TEMP TABLE cible_purge_keep AS SELECT * FROM ${quoted} WHERE ${inRanges} ORDER BY rowid`,
  );
  try {
    await connection.run(`DELETE FROM ${quoted} WHERE ${inRanges}`);
    const moved = Number(
      (await connection.run(`INSERT INTO ${quoted} SELECT * FROM cible_purge_keep`)).rowsChanged,
    );
    await expectRows(connection, name, 'SELECT count(*)::DOUBLE FROM cible_purge_keep', moved);
    return moved;
  } finally {
    await connection.run('DROP TABLE cible_purge_keep');
  }
}

async function expectRows(
  connection: DuckDBConnection,
  name: string,
  countSql: string,
  written: number,
): Promise<void> {
  const [count] = (await connection.runAndReadAll(countSql)).getRows();
  if (Number(count?.[0]) !== written) {
    throw new Error(
      `Rewriting table ${name} wrote ${written} rows of ${String(count?.[0])}; nothing was changed.`,
    );
  }
}

/**
 * Overwrites every free part of the file that may hold old bytes: the free blocks, and the free
 * pieces of metadata blocks. DuckDB splits a metadata block into 64 pieces, each written whole
 * (zeros after the content) when allocated, and gives a block back to the free list only when all
 * its pieces are free; the free pieces keep old column statistics, which hold the first 8 bytes
 * of a segment's smallest and largest values.
 *
 * So the free pieces found after the rewrite are suspects, until seen in use after a checkpoint
 * (allocated, hence overwritten). With no free block left (DuckDB then allocates metadata from
 * the existing blocks' free pieces, lowest block first, before growing the file), wide tables of
 * one row are written until every suspect piece has been in use. Free blocks are filled before
 * and after that, since a metadata block all of whose pieces are freed becomes a free block.
 */
async function overwriteFreeSpace(
  connection: DuckDBConnection,
): Promise<{ blocks: number; blockSize: number; metadataPieces: number }> {
  const suspects = await freeMetadataPieces(connection);
  const seen = async () => {
    const free = await freeMetadataPieces(connection);
    for (const piece of suspects) if (!free.has(piece)) suspects.delete(piece);
  };
  const metadataPieces = suspects.size;
  await connection.run(`CREATE TABLE ${scrubTable} (b BLOB)`);
  const first = await fillFreeBlocks(connection, seen);
  let fillers = 0;
  try {
    for (let round = 0; suspects.size > 0; round++) {
      if (round === maxScrubRounds) {
        throw new Error(
          `${suspects.size} free pieces of metadata blocks are still to overwrite after ${round} rounds.`,
        );
      }
      // About 60 pieces a table of 100 columns; every free piece is taken lowest block first.
      const free = (await freeMetadataPieces(connection)).size;
      for (const end = fillers + Math.ceil(free / 50); fillers < end; fillers++) {
        const columns = Array.from({ length: metadataFillerColumns }, (_, i) => `c${i}`);
        await connection.run(
          `CREATE TABLE ${metadataTable}${fillers} (${columns.map((column) => `${column} VARCHAR`).join(', ')})`,
        );
        await connection.run(
          `INSERT INTO ${metadataTable}${fillers} SELECT ${columns.map(() => 'md5(random()::VARCHAR)').join(', ')}`,
        );
      }
      await connection.run('CHECKPOINT');
      await seen();
    }
    const second = await fillFreeBlocks(connection, seen);
    return { blocks: first.blocks + second.blocks, blockSize: first.blockSize, metadataPieces };
  } finally {
    for (let filler = 0; filler < fillers; filler++) {
      await connection.run(`DROP TABLE IF EXISTS ${metadataTable}${filler}`);
    }
    await connection.run(`DROP TABLE ${scrubTable}`);
    await connection.run('CHECKPOINT');
  }
}

/** Drops the metadata filling tables a crash may have left. */
async function dropMetadataFillers(connection: DuckDBConnection): Promise<void> {
  for (const row of (
    await connection.runAndReadAll(
      `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND starts_with(table_name, ?)`,
      [metadataTable],
    )
  ).getRowObjects()) {
    await connection.run(`DROP TABLE ${quoteIdentifier(String(row.table_name))}`);
  }
}

/** The free pieces of the metadata blocks, as "block:piece". */
async function freeMetadataPieces(connection: DuckDBConnection): Promise<Set<string>> {
  const pieces = new Set<string>();
  for (const row of (
    await connection.runAndReadAll(
      `SELECT unnest(list_transform(free_list, x -> block_id::VARCHAR || ':' || x::VARCHAR)) AS piece
       FROM pragma_metadata_info()`,
    )
  ).getRows()) {
    pieces.add(String(row[0]));
  }
  return pieces;
}

/** Fills the file's free blocks with random bytes (rows of the scrub table) until none is free. */
async function fillFreeBlocks(
  connection: DuckDBConnection,
  afterCheckpoint: () => Promise<void>,
): Promise<{ blocks: number; blockSize: number }> {
  const size = async () => {
    const [row] = (await connection.runAndReadAll('PRAGMA database_size')).getRowObjects();
    return { free: Number(row?.free_blocks), blockSize: Number(row?.block_size) };
  };
  const initial = await size();
  const blockSize = initial.blockSize;
  let free = initial.free;
  let blocks = 0;
  for (let round = 0; free > 0; round++) {
    if (round === maxScrubRounds) {
      throw new Error(
        `${free} free blocks of the database file are still to overwrite after ${round} rounds.`,
      );
    }
    // Values of 16 KB of random bytes (hexadecimal: DuckDB stores them as they are): 16 fill a
    // block; a few more than the free blocks, since DuckDB's own metadata takes some too.
    const values = Math.ceil(((free + 2) * blockSize) / 16_384);
    await connection.run(
      `INSERT INTO ${scrubTable}
       SELECT array_to_string(list_transform(range(512), x -> md5(random()::VARCHAR || x::VARCHAR || i::VARCHAR)), '')::BLOB
       FROM range(${values}) t(i)`,
    );
    await connection.run('CHECKPOINT');
    await afterCheckpoint();
    blocks += free;
    ({ free } = await size());
  }
  return { blocks, blockSize };
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
