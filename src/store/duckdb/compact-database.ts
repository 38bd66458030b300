import { rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { sizeOf, syncPath } from '../file-sync.ts';

export interface CompactDatabaseOptions {
  /**
   * DuckDB's memory limit while copying; 256MB by default, as the store's. The store is closed
   * meanwhile, so its budget is free; more goes faster (2 million events: 13 s at 256MB, 7 s at 1GB).
   */
  readonly memoryLimit?: string;
  readonly threads?: number;
}

export interface CompactionReport {
  /** The database file and its WAL before, in bytes. */
  readonly bytesBefore: number;
  /** The new database file, in bytes (it has no WAL). */
  readonly bytesAfter: number;
  /** Time taken, ms. */
  readonly ms: number;
}

/**
 * What a compaction writes beside the database file while it works: the new file, its WAL, and
 * DuckDB's spill directory. Left behind by a crash, they may hold data erased since, so they go.
 */
export function compactionLeftovers(path: string): string[] {
  return [`${path}.compact`, `${path}.compact.wal`, `${path}.compact.tmp`];
}

/** Removes what a compaction of `path` interrupted by a crash left behind. */
export async function removeCompactionLeftovers(path: string): Promise<void> {
  for (const leftover of compactionLeftovers(path)) await rm(leftover, { recursive: true, force: true });
}

/**
 * Runs `work` on a DuckDB instance of its own over `path` (a file, or ':memory:'), closed after.
 * Blocks DuckDB spills meanwhile are copies of the data: they go to `spill`, for the caller to remove.
 */
export async function withDuckdb<T>(
  path: string,
  options: CompactDatabaseOptions & { readonly spill: string },
  work: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(path, {
    memory_limit: options.memoryLimit ?? '256MB',
    threads: String(options.threads ?? 2),
    temp_directory: options.spill,
  });
  try {
    const connection = await instance.connect();
    try {
      return await work(connection);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/**
 * Rewrites a closed DuckDB database file so that it holds only live data, and nothing else.
 *
 * DuckDB keeps deleted rows' bytes in the file: DELETE, CHECKPOINT and VACUUM only mark their
 * blocks free, to be overwritten some day. A new file, filled by COPY FROM DATABASE (schema,
 * constraints, indexes, sequences, views, then every table's live rows), holds none of them. It
 * replaces the old one by a rename once it is complete and synced, so a crash at any point leaves
 * either the old file or the new one; a half-written copy is removed by the next call.
 *
 * The file must not be open (the caller closes its store first).
 */
export async function compactDatabaseFile(
  path: string,
  options: CompactDatabaseOptions = {},
): Promise<CompactionReport> {
  const started = performance.now();
  const [copy, copyWal, spill] = compactionLeftovers(path) as [string, string, string];
  const wal = `${path}.wal`;
  await removeCompactionLeftovers(path);
  const before = await sizeOf(path);
  if (before === undefined) {
    throw new Error(
      `Cannot compact ${path}: there is no such file. Give the path of a DuckDB database file.`,
    );
  }
  const bytesBefore = before + ((await sizeOf(wal)) ?? 0);

  let replaced = false;
  try {
    await withDuckdb(':memory:', { ...options, spill }, async (connection) => {
      await connection.run(`ATTACH ${sqlString(path)} AS cible_old`);
      // Moves a WAL left by a crash into the file, so that the old WAL can be deleted below.
      await connection.run('CHECKPOINT cible_old');
      await connection.run(`ATTACH ${sqlString(copy)} AS cible_new`);
      await connection.run('COPY FROM DATABASE cible_old TO cible_new');
      await checkSameContents(connection, path);
      await connection.run('CHECKPOINT cible_new');
      await connection.run('DETACH cible_new');
      await connection.run('DETACH cible_old');
    });
    if ((await sizeOf(copyWal)) !== undefined) {
      throw new Error(
        `The copy of ${path} still has a WAL after a checkpoint; the original is left as it was.`,
      );
    }
    await syncPath(copy);
    // The old WAL is already in the old file (checkpointed above); replayed against the new file,
    // it would corrupt it.
    await rm(wal, { force: true });
    await syncPath(dirname(path));
    await rename(copy, path);
    replaced = true;
    await syncPath(dirname(path));
  } catch (error) {
    await removeCompactionLeftovers(path).catch(() => undefined);
    throw new Error(
      replaced
        ? `The database file ${path} was compacted, but syncing its directory failed: check the disk.`
        : `Compacting the database file ${path} failed; the original file is left as it was. ` +
            'Check the free disk space (the copy needs as much as the live data) and try again.',
      { cause: error },
    );
  } finally {
    await rm(spill, { recursive: true, force: true });
  }
  return { bytesBefore, bytesAfter: (await sizeOf(path)) ?? 0, ms: performance.now() - started };
}

/**
 * Compares the copy with the original before it replaces it: the same tables with as many rows,
 * the same constraints (primary keys, unique, not null, checks), indexes, sequences and views.
 */
async function checkSameContents(connection: DuckDBConnection, path: string): Promise<void> {
  const catalogue = async (database: string): Promise<string[]> => {
    const describe = async (what: string, sql: string): Promise<string[]> =>
      (await connection.runAndReadAll(sql, [database]))
        .getRows()
        .map((row) => `${what} ${row.map(String).join(' ')}`);
    const tables = (
      await connection.runAndReadAll(
        'SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? ORDER BY ALL',
        [database],
      )
    ).getRows();
    const lines: string[] = [];
    for (const [schema, table] of tables) {
      const name = [database, String(schema), String(table)].map(sqlIdentifier).join('.');
      const [row] = (await connection.runAndReadAll(`SELECT count(*) FROM ${name}`)).getRows();
      lines.push(`table ${String(schema)}.${String(table)} of ${String(row?.[0])} rows`);
    }
    lines.push(
      ...(await describe(
        'constraint',
        `SELECT table_name, constraint_type, constraint_text FROM duckdb_constraints()
         WHERE database_name = ? ORDER BY ALL`,
      )),
      ...(await describe(
        'index',
        'SELECT table_name, sql FROM duckdb_indexes() WHERE database_name = ? ORDER BY ALL',
      )),
      ...(await describe(
        'sequence',
        'SELECT schema_name, sequence_name FROM duckdb_sequences() WHERE database_name = ? ORDER BY ALL',
      )),
      ...(await describe(
        'view',
        'SELECT view_name, sql FROM duckdb_views() WHERE database_name = ? AND NOT internal ORDER BY ALL',
      )),
      ...(await describe(
        'column',
        `SELECT table_name, column_index, column_name, data_type, column_default, is_nullable
         FROM duckdb_columns() WHERE database_name = ? ORDER BY ALL`,
      )),
    );
    return lines;
  };
  const original = await catalogue('cible_old');
  const copied = await catalogue('cible_new');
  const missing = original.filter((line) => !copied.includes(line));
  const extra = copied.filter((line) => !original.includes(line));
  if (missing.length > 0 || extra.length > 0) {
    throw new Error(
      `The copy of ${path} differs from it: missing ${JSON.stringify(missing)}, extra ${JSON.stringify(extra)}.`,
    );
  }
}

function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

function sqlIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
