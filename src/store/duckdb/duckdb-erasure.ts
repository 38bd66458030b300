import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { ErasureRecord, ErasureRequest, ExpiryRule, PurgePlan } from '../erasure-store.ts';
import { idList, idsInSql, timestampValue } from './append-rows.ts';
import { eventPartitionsOf, eventPartitionTable, eventPartitionTables } from './event-partitions.ts';
import { durationMs, type EventExpression } from '../../segments/rule.ts';
import { expressionKey } from '../../segments/expression-key.ts';
import { compileRollupInsert } from './duckdb-segment-sql.ts';
import { channelSql, isOrderSql, librarySql, revenueSql, sessionGapSql } from './duckdb-profile-facts.ts';

/**
 * Deletes every row about the people of the request, inside the caller's transaction (on the
 * writer connection, after every batch acknowledged before it). Returns the rows removed per table.
 */
export async function eraseRows(
  connection: DuckDBConnection,
  request: ErasureRequest,
): Promise<Record<string, number>> {
  // The ids written into the SQL: a list of constants filters the table scan (see idsInSql).
  const members = idsInSql(request.members);
  const types = jsonList(request.identifiers.map((identifier) => identifier.type));
  const values = jsonList(request.identifiers.map((identifier) => identifier.value));
  const run = async (sql: string, params: DuckDBValue[]): Promise<number> =>
    Number((await connection.run(sql, params)).rowsChanged);
  const pairs = `(SELECT unnest(from_json(?, '["VARCHAR"]')) AS type, unnest(from_json(?, '["VARCHAR"]')) AS value)`;

  // Their events, found once: by profile (an integer column), and among the events stored without
  // a profile (a filter DuckDB applies while scanning) by userId or anonymousId.
  // Only the partitions of their origin profiles hold their events, and the first also those
  // stored without a profile.
  const partitions = eventPartitionsOf(request.members, true);
  // Not user_id nor anonymous_id: the request's identifiers hold them (trimmed), and any text that
  // holds one as sent also holds it trimmed.
  const carried = 'rowid::DOUBLE AS row, message_id, traits::VARCHAR AS traits';
  const found = (
    await connection.runAndReadAll(
      `${partitions
        .map(
          (partition) =>
            `SELECT ${partition} AS part, ${carried} FROM ${eventPartitionTable(partition)} WHERE profile_id IN ${members}`,
        )
        .join(' UNION ALL ')}
       UNION ALL
       SELECT 0 AS part, ${carried} FROM ${eventPartitionTable(0)}
       WHERE profile_id IS NULL AND (user_id IN (SELECT value FROM ${pairs} WHERE type = 'userId')
         OR anonymous_id IN (SELECT value FROM ${pairs} WHERE type = 'anonymousId'))`,
      [types, values, types, values],
    )
  ).getRowObjects();
  // Their rows in each partition, deleted by row id: DuckDB goes straight to them.
  const rowsByPartition = new Map<number, number[]>();
  const messageIds = new Set<string>();
  // The values as their events carried them ("Jane.Doe@Gmail.com", "06 12 34 56 78") and as
  // normalised: records kept as received text are searched for any of them.
  const erasedValues = new Set<string>();
  const addValue = (value: unknown) => {
    if (typeof value === 'string' && value.length >= 3) erasedValues.add(value.toLowerCase());
  };
  for (const row of found) {
    const part = Number(row.part);
    const rows = rowsByPartition.get(part) ?? [];
    rows.push(Number(row.row));
    rowsByPartition.set(part, rows);
    messageIds.add(String(row.message_id));
    if (row.traits !== null) {
      const traits = JSON.parse(String(row.traits)) as Record<string, unknown> | null;
      for (const name of ['email', 'phone', 'userId']) addValue(traits?.[name]);
    }
  }
  for (const identifier of request.identifiers) addValue(identifier.value);
  for (const rows of rowsByPartition.values()) rows.sort((a, b) => a - b);
  const emptied = [...rowsByPartition.keys()].sort((a, b) => a - b);
  const erasedJson = jsonList([...erasedValues]);
  const holdsValue = (column: string): string =>
    `EXISTS (SELECT 1 FROM (SELECT unnest(from_json(?, '["VARCHAR"]')) AS v) WHERE contains(lower(${column}), v))`;

  const removed: Record<string, number> = {};
  removed.identifier_rejections = await run(
    `DELETE FROM identifier_rejections
     WHERE example_message_id IN (SELECT unnest(from_json(?, '["VARCHAR"]'))) OR ${holdsValue('example_value')}`,
    [jsonList([...messageIds]), erasedJson],
  );
  removed.quarantine = await run(`DELETE FROM quarantine WHERE ${holdsValue('payload')}`, [erasedJson]);
  removed.import_rejections = await run(`DELETE FROM import_rejections WHERE ${holdsValue('raw')}`, [
    erasedJson,
  ]);
  removed.events = 0;
  for (const [partition, rows] of rowsByPartition) {
    removed.events += await run(
      `DELETE FROM ${eventPartitionTable(partition)} WHERE rowid IN ${idsInSql(rows)}`,
      [],
    );
  }
  for (const table of ['identities', 'trait_observations', 'trait_keys']) {
    removed[table] = await run(`DELETE FROM ${table} WHERE origin_profile_id IN ${members}`, []);
  }
  removed.merges = await run(`DELETE FROM merges WHERE survivor IN ${members} OR absorbed IN ${members}`, []);
  removed.identity_conflicts = await run(
    `DELETE FROM identity_conflicts WHERE list_has_any(profiles, ?::BIGINT[])
       OR (identifier_type, identifier_value) IN (SELECT (type, value) FROM ${pairs})`,
    [idList(request.members), types, values],
  );
  for (const table of ['identifier_sightings', 'shared_identifiers']) {
    removed[table] = await run(
      `DELETE FROM ${table} WHERE (type, value) IN (SELECT (type, value) FROM ${pairs})`,
      [types, values],
    );
  }
  for (const table of ['consent_changes', 'segment_changes', 'event_rollups', 'computed_trait_rollups']) {
    removed[table] = await run(`DELETE FROM ${table} WHERE profile_id IN ${members}`, []);
  }
  removed.profiles = await run(`DELETE FROM profiles WHERE id IN ${members}`, []);

  // Those already on the list (from an earlier erasure) are left as they are. Not INSERT OR IGNORE:
  // its handling of conflicts costs several times the insert.
  const hashes = [...new Map(request.suppressed.map((entry) => [entry.hash, entry])).values()];
  const listed = new Set(
    hashes.length === 0
      ? []
      : (
          await connection.runAndReadAll(
            `SELECT hash FROM suppressed_identifiers WHERE hash IN (${hashes.map(() => '?').join(', ')})`,
            hashes.map((entry) => entry.hash),
          )
        )
          .getRows()
          .map((row) => String(row[0])),
  );
  const suppressed = hashes.filter((entry) => !listed.has(entry.hash));
  if (suppressed.length > 0) {
    await connection.run(
      `INSERT INTO suppressed_identifiers VALUES ${suppressed.map(() => '(?, ?, ?, ?)').join(', ')}`,
      suppressed.flatMap((entry) => [entry.hash, entry.type, timestampValue(request.at), request.id]),
    );
  }
  await connection.run('INSERT INTO erasures VALUES (?, ?, ?, ?, ?, NULL, ?)', [
    request.id,
    request.profileId,
    request.requestedBy,
    timestampValue(request.at),
    JSON.stringify(removed),
    JSON.stringify(emptied),
  ]);
  return removed;
}

/**
 * The tables the erasures deleted rows from, each event partition by name. Erasures recorded before
 * events had partitions name none: their purge rewrites every partition.
 */
export async function purgePlan(connection: DuckDBConnection, ids: readonly string[]): Promise<PurgePlan> {
  const rows = (
    await connection.runAndReadAll(
      `SELECT removed::VARCHAR AS removed, event_partitions::VARCHAR AS partitions FROM erasures
       WHERE id IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`,
      [JSON.stringify(ids)],
    )
  ).getRowObjects();
  const tables = new Set<string>();
  for (const row of rows) {
    const removed = JSON.parse(String(row.removed)) as Record<string, number>;
    for (const [table, count] of Object.entries(removed))
      if (table !== 'events' && count > 0) tables.add(table);
    if ((removed.events ?? 0) === 0) continue;
    const partitions = row.partitions === null ? undefined : (JSON.parse(String(row.partitions)) as number[]);
    for (const table of partitions === undefined ? eventPartitionTables : partitions.map(eventPartitionTable))
      tables.add(table);
  }
  return { rewrite: [...tables].sort() };
}

export async function listErasures(
  connection: DuckDBConnection,
  where: 'all' | 'pending',
  limit: number,
): Promise<ErasureRecord[]> {
  const rows = (
    await connection.runAndReadAll(
      `SELECT id, profile_id::DOUBLE AS profile_id, requested_by, epoch_ms(erased_at)::DOUBLE AS erased_at,
              removed::VARCHAR AS removed, epoch_ms(purged_at)::DOUBLE AS purged_at
       FROM erasures ${where === 'pending' ? 'WHERE purged_at IS NULL' : ''}
       ORDER BY erased_at DESC, id LIMIT ${Math.trunc(limit)}`,
    )
  ).getRowObjects();
  return rows.map((row) => ({
    id: String(row.id),
    profileId: Number(row.profile_id),
    requestedBy: String(row.requested_by),
    erasedAt: Number(row.erased_at),
    removed: JSON.parse(String(row.removed)) as Record<string, number>,
    purgedAt: row.purged_at === null ? null : Number(row.purged_at),
  }));
}

function jsonList(values: readonly string[]): string {
  return JSON.stringify(values);
}

/**
 * Drops the roll-ups no computed trait reads any more: those of expressions no longer defined
 * (a computed trait deleted or changed), and those a window of the last N days has left for good.
 */
async function forgetStaleRollups(
  connection: DuckDBConnection,
  expressions: readonly EventExpression[],
  at: number,
): Promise<void> {
  await connection.run(
    `DELETE FROM computed_trait_rollups WHERE expression_key NOT IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`,
    [jsonList(expressions.map(expressionKey))],
  );
  for (const expression of expressions) {
    if (expression.window.kind !== 'last') continue;
    await connection.run('DELETE FROM computed_trait_rollups WHERE expression_key = ? AND last_at < ?', [
      expressionKey(expression),
      timestampValue(at - durationMs(expression.window.duration)),
    ]);
  }
}

/** Deletes the events each rule expires, inside the caller's transaction; see ErasureStore.applyRetention. */
export async function expireEvents(
  connection: DuckDBConnection,
  rules: readonly ExpiryRule[],
  at: number,
  expressions: readonly EventExpression[],
): Promise<{ deleted: number[]; profiles: number[] }> {
  const deleted: number[] = [];
  const profiles = new Set<number>();
  await forgetStaleRollups(connection, expressions, at);
  for (const rule of rules) {
    const where = ['timestamp < ?'];
    const params: DuckDBValue[] = [timestampValue(rule.before)];
    if (rule.type !== undefined) {
      where.push('type = ?');
      params.push(rule.type);
    }
    if (rule.event !== undefined) {
      where.push('event = ?');
      params.push(rule.event);
    }
    if (rule.sourceIds !== undefined) {
      where.push(`source_id IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`);
      params.push(jsonList(rule.sourceIds));
    }
    const conditions = (param: (value: DuckDBValue) => string) => [
      `e.timestamp < ${param(timestampValue(rule.before))}`,
      ...(rule.type === undefined ? [] : [`e.type = ${param(rule.type)}`]),
      ...(rule.event === undefined ? [] : [`e.event = ${param(rule.event)}`]),
      ...(rule.sourceIds === undefined
        ? []
        : [`e.source_id IN (SELECT unnest(from_json(${param(jsonList(rule.sourceIds))}, '["VARCHAR"]')))`]),
    ];
    let count = 0;
    for (const table of eventPartitionTables) {
      // Added up first, so that the computed traits still count them (see ExpressionRollup)...
      for (const expression of expressions) {
        const insert = compileRollupInsert(expression, { now: at, table, conditions });
        await connection.run(insert.sql, insert.params);
      }
      // ... and the profile summaries too (see readSummaries).
      await connection.run(
        `INSERT INTO event_rollups
         SELECT profile_id, source_id, type, event, channel, library, count(*),
                count(*) FILTER (WHERE gap IS NULL OR gap > ${sessionGapSql}),
                coalesce(sum(revenue) FILTER (WHERE ${isOrderSql}), 0), min(timestamp), max(timestamp)
         FROM (SELECT profile_id, source_id, type, event, ${channelSql} AS channel, ${librarySql} AS library,
                      timestamp, ${revenueSql} AS revenue,
                      timestamp - lag(timestamp) OVER (PARTITION BY profile_id ORDER BY timestamp) AS gap
               FROM ${table} WHERE ${where.join(' AND ')} AND profile_id IS NOT NULL)
         GROUP BY ALL`,
        params,
      );
      const gone = (
        await connection.runAndReadAll(
          `DELETE FROM ${table} WHERE ${where.join(' AND ')} RETURNING profile_id::DOUBLE AS profile`,
          params,
        )
      ).getRowObjects();
      count += gone.length;
      for (const row of gone) if (row.profile !== null) profiles.add(Number(row.profile));
    }
    deleted.push(count);
  }
  await connection.run('INSERT INTO retention_runs VALUES (?, ?)', [
    timestampValue(at),
    JSON.stringify(deleted),
  ]);
  return { deleted, profiles: [...profiles].sort((a, b) => a - b) };
}
