import {
  DuckDBTimestampTZValue,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBValue,
} from '@duckdb/node-api';

/**
 * Appends rows to a table within the connection's current transaction. The appender is always
 * closed: one left open after an error would flush its rows whenever it is garbage-collected,
 * into whatever transaction the connection runs then, and abort it.
 */
export async function appendRows(
  connection: DuckDBConnection,
  table: string,
  fill: (appender: DuckDBAppender) => void,
): Promise<void> {
  const appender = await connection.createAppender(table);
  try {
    fill(appender);
    appender.flushSync();
  } catch (error) {
    appender.clear();
    throw error;
  } finally {
    try {
      appender.closeSync();
    } catch {
      // Closing flushes; after clear() there is nothing left to flush, and the error above is the one to report.
    }
  }
}

/** Milliseconds since the epoch as a DuckDB TIMESTAMPTZ. */
export function timestampValue(ms: number): DuckDBTimestampTZValue {
  return new DuckDBTimestampTZValue(BigInt(Math.round(ms * 1000)));
}

/** Ids as a list literal for `unnest(?::BIGINT[])`. */
export function idList(ids: readonly number[]): DuckDBValue {
  return `[${ids.map((id) => Math.floor(id)).join(',')}]`;
}

/**
 * Ids written into the SQL as a constant list, for `column IN (...)`: DuckDB pushes a constant
 * list into the scan (row groups whose range misses it are skipped), not a subquery. Ids are
 * numbers formatted here, never text from outside.
 */
export function inlineIds(ids: readonly number[]): string {
  return ids.length === 0 ? 'NULL' : ids.map((id) => String(Math.floor(id))).join(', ');
}
