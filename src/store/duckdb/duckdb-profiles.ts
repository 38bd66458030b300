import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { idList, inlineIds } from './append-rows.ts';
import { eventPartitionSql, eventPartitionsOf, eventPartitionTable } from './event-partitions.ts';
import type { IdentifierPrefix, TraitFilter } from '../../domain/profile-search.ts';

/** Profile search and activity: identifier prefixes, trait values, latest events. */

export async function findProfilesByIdentifierPrefix(
  connection: DuckDBConnection,
  prefixes: readonly IdentifierPrefix[],
): Promise<number[]> {
  if (prefixes.length === 0) return [];
  const conditions: string[] = [];
  const values: DuckDBValue[] = [];
  for (const { type, prefix } of prefixes) {
    if (type === undefined) {
      conditions.push('starts_with(value, ?)');
      values.push(prefix);
    } else {
      conditions.push('(type = ? AND starts_with(value, ?))');
      values.push(type, prefix);
    }
  }
  return ids(
    connection,
    `SELECT DISTINCT origin_profile_id::DOUBLE FROM identities WHERE ${conditions.join(' OR ')} ORDER BY 1`,
    values,
  );
}

/**
 * Origin profiles whose latest observation of the trait matches: those with any matching
 * observation first, then their latest value checked. Values are kept as JSON text, which holds
 * the searched text as it is unless JSON escapes it: a containment test on the raw text (no JSON
 * parsing) narrows the observations before the exact comparison.
 */
export async function findProfilesByTrait(
  connection: DuckDBConnection,
  filter: TraitFilter,
): Promise<number[]> {
  const text =
    filter.path.length === 0
      ? `lower((value->>'$'))`
      : `lower(json_extract_string(value, '${jsonPath(filter.path)}'))`;
  const matches = filter.match === 'equals' ? `${text} = ?` : `starts_with(${text}, ?)`;
  // JSON text holds the value as it is unless JSON.stringify escapes some of its characters.
  const verbatimInJson = JSON.stringify(filter.value) === `"${filter.value}"`;
  const narrow = verbatimInJson ? 'contains(lower(value::VARCHAR), ?) AND ' : '';
  return ids(
    connection,
    `WITH candidates AS (
       SELECT DISTINCT origin_profile_id FROM trait_observations WHERE name = ? AND ${narrow}${matches}),
     latest AS (
       SELECT origin_profile_id, arg_max(value, observed_at) AS value FROM trait_observations
       WHERE name = ? AND origin_profile_id IN (SELECT origin_profile_id FROM candidates)
       GROUP BY origin_profile_id)
     SELECT origin_profile_id::DOUBLE FROM latest WHERE ${matches} ORDER BY 1`,
    [filter.name, ...(verbatimInJson ? [filter.value] : []), filter.value, filter.name, filter.value],
  );
}

/** `$."a"."b"`; keys holding a quote or a backslash never reach here (see parseTraitFilter). */
function jsonPath(path: readonly string[]): string {
  return `$${path.map((key) => `."${key.replaceAll("'", "''")}"`).join('')}`;
}

/**
 * Sets the origin profile of events stored without one. The seq range lets DuckDB skip every row
 * group outside it (seq grows with the table).
 */
export async function assignEventProfiles(
  connection: DuckDBConnection,
  assignments: readonly { readonly seq: number; readonly profileId: number }[],
): Promise<void> {
  if (assignments.length === 0) return;
  let low = Infinity;
  let high = -Infinity;
  for (const { seq } of assignments) {
    low = Math.min(low, seq);
    high = Math.max(high, seq);
  }
  // Events without a profile are in the first partition; those whose profile belongs to another
  // move there, in the caller's transaction.
  const unassigned = eventPartitionTable(0);
  await connection.run(
    `UPDATE ${unassigned} SET profile_id = assigned.profile_id
     FROM (SELECT unnest(?::BIGINT[]) AS seq, unnest(?::BIGINT[]) AS profile_id) assigned
     WHERE ${unassigned}.seq = assigned.seq AND ${unassigned}.seq BETWEEN ? AND ?
       AND ${unassigned}.profile_id IS NULL`,
    [
      idList(assignments.map((assignment) => assignment.seq)),
      idList(assignments.map((assignment) => assignment.profileId)),
      BigInt(low),
      BigInt(high),
    ],
  );
  const moving = `seq BETWEEN ${Math.trunc(low)} AND ${Math.trunc(high)} AND seq IN (${inlineIds(
    assignments.map((assignment) => assignment.seq),
  )})`;
  const partitions = eventPartitionsOf(assignments.map((assignment) => assignment.profileId));
  for (const partition of partitions) {
    if (partition === 0) continue;
    await connection.run(
      `INSERT INTO ${eventPartitionTable(partition)} SELECT * FROM ${unassigned}
       WHERE ${moving} AND ${eventPartitionSql()} = ${partition} ORDER BY seq`,
    );
  }
  if (partitions.some((partition) => partition !== 0)) {
    await connection.run(`DELETE FROM ${unassigned} WHERE ${moving} AND ${eventPartitionSql()} <> 0`);
  }
}

/**
 * The first column of a query's rows, as numbers. Read whole, not streamed: the reader connection
 * serves concurrent requests, and a new query on a connection ends the stream of the one before.
 */
async function ids(connection: DuckDBConnection, sql: string, values: DuckDBValue[]): Promise<number[]> {
  const result = await connection.runAndReadAll(sql, values);
  return (result.getColumns()[0] ?? []).map(Number);
}
