import {
  DuckDBDataChunk,
  DuckDBTimestampTZValue,
  type DuckDBAppender,
  type DuckDBConnection,
  type DuckDBType,
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
  fill: (appender: DuckDBAppender) => void | Promise<void>,
): Promise<void> {
  const appender = await connection.createAppender(table);
  try {
    await fill(appender);
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

export function appendNullableVarchar(appender: DuckDBAppender, value: string | null): void {
  if (value === null) appender.appendNull();
  else appender.appendVarchar(value);
}

/** Milliseconds since the epoch as a DuckDB TIMESTAMPTZ. */
export function timestampValue(ms: number): DuckDBTimestampTZValue {
  return new DuckDBTimestampTZValue(BigInt(Math.round(ms * 1000)));
}

/**
 * Ids written into the SQL, `(1,2,3)`, for `column IN (...)`: a list of constants becomes a filter
 * of the table scan, where `IN (SELECT unnest(?))` plans a semi-join whose hash table costs about
 * a millisecond a query.
 */
export function idsInSql(ids: readonly number[]): string {
  return `(${inlineIds(ids)})`;
}

/**
 * Ids written into the SQL as a bare list, `1,2,3` (`NULL` when there are none), for `IN (...)` or
 * a list literal. Only safe integers pass, so nothing but digits and commas reach the SQL.
 */
export function inlineIds(ids: readonly number[]): string {
  for (const id of ids) {
    if (!Number.isSafeInteger(id)) throw new Error(`${id} is not an id.`);
  }
  return ids.length === 0 ? 'NULL' : ids.join(',');
}

/** Ids as a list literal for `unnest(?::BIGINT[])`. */
export function idList(ids: readonly number[]): DuckDBValue {
  return `[${ids.map((id) => Math.floor(id)).join(',')}]`;
}

/** How one column of a table is filled from a row, in table order. */
export interface ChunkColumn<T> {
  readonly type: DuckDBType;
  /** The value of this column for a row; `position` is `firstPosition` plus the row's index. */
  readonly value: (row: T, position: number) => DuckDBValue;
}

/** Rows in one DuckDB data chunk (DuckDB's vector size). */
const chunkRows = 2048;

/**
 * Appends rows a data chunk (2,048 rows) at a time, column by column: numbers and timestamps go
 * into typed arrays and each string costs one native call, where appending value by value costs a
 * native call per value (and a DuckDB value object per timestamp). Between chunks it lets the
 * event loop run: a large batch would otherwise hold every request waiting behind it for tens of
 * milliseconds.
 */
export async function appendChunks<T>(
  appender: DuckDBAppender,
  columns: readonly ChunkColumn<T>[],
  rows: readonly T[],
  /** The position of the first row (the next ones follow it), or each row's position. */
  positions: number | readonly number[] = 0,
): Promise<void> {
  const positionOf =
    typeof positions === 'number'
      ? (index: number) => positions + index
      : (index: number) => positions[index]!;
  const types = columns.map((column) => column.type);
  for (let offset = 0; offset < rows.length; offset += chunkRows) {
    if (offset > 0) await new Promise((resolve) => setImmediate(resolve));
    const size = Math.min(chunkRows, rows.length - offset);
    const chunk = DuckDBDataChunk.create(types, size);
    columns.forEach((column, index) => {
      const vector = chunk.getColumnVector(index);
      for (let row = 0; row < size; row++) {
        vector.setItem(row, column.value(rows[offset + row]!, positionOf(offset + row)));
      }
      vector.flush();
    });
    appender.appendDataChunk(chunk);
  }
}
