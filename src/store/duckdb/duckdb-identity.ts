import { BIGINT, LIST, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { appendNullableVarchar, appendRows, idsInSql, timestampValue } from './append-rows.ts';
import type {
  IdentityChanges,
  IdentityLoader,
  IdentityRow,
  MergeRow,
  ProfileSummary,
  TraitRow,
} from '../store.ts';

/** Writes the identity changes of a batch, inside the batch's transaction (the caller's). */
export async function writeIdentityChanges(
  connection: DuckDBConnection,
  changes: IdentityChanges,
): Promise<void> {
  if (changes.profiles.length > 0) {
    await appendRows(connection, 'profiles', (appender) => {
      for (const profile of changes.profiles) {
        appender.appendBigInt(BigInt(profile.id));
        appender.appendTimestampTZ(timestampValue(profile.createdAt));
        appender.endRow();
      }
    });
  }
  if (changes.identifiers.length > 0) {
    await appendRows(connection, 'identities', (appender) => {
      for (const row of changes.identifiers) {
        appender.appendVarchar(row.type);
        appender.appendVarchar(row.value);
        appender.appendBigInt(BigInt(row.originProfileId));
        appender.appendTimestampTZ(timestampValue(row.firstSeen));
        appender.appendVarchar(row.sourceId);
        appender.appendVarchar(row.messageId);
        appender.endRow();
      }
    });
  }
  // Appended, not inserted one by one: a statement costs one to two milliseconds, and a busy commit
  // holds hundreds of merges (new visitors signing in).
  if (changes.merges.length > 0) {
    await appendRows(connection, 'merges', (appender) => {
      for (const merge of changes.merges) {
        appender.appendBigInt(BigInt(merge.id));
        appender.appendTimestampTZ(timestampValue(merge.at));
        appender.appendBigInt(BigInt(merge.survivor));
        appender.appendBigInt(BigInt(merge.absorbed));
        appender.appendVarchar(merge.kind);
        appendNullableVarchar(appender, merge.identifierType);
        appendNullableVarchar(appender, merge.identifierValue);
        appendNullableVarchar(appender, merge.sourceId);
        appendNullableVarchar(appender, merge.messageId);
        if (merge.undoneAt === null) appender.appendNull();
        else appender.appendTimestampTZ(timestampValue(merge.undoneAt));
        appender.endRow();
      }
    });
  }
  // After the merges: a merge undone in the batch that made it is in the table by now.
  for (const undone of changes.undoneMerges) {
    await connection.run('UPDATE merges SET undone_at = ? WHERE id = ?', [
      timestampValue(undone.at),
      BigInt(undone.id),
    ]);
  }
  if (changes.conflicts.length > 0) {
    await appendRows(connection, 'identity_conflicts', (appender) => {
      for (const conflict of changes.conflicts) {
        appender.appendTimestampTZ(timestampValue(conflict.at));
        appender.appendVarchar(conflict.reason);
        appender.appendVarchar(conflict.identifierType);
        appender.appendVarchar(conflict.identifierValue);
        appender.appendList(
          conflict.profiles.map((id) => BigInt(id)),
          LIST(BIGINT),
        );
        appender.appendVarchar(conflict.sourceId);
        appender.appendVarchar(conflict.messageId);
        appender.endRow();
      }
    });
  }
  if (changes.shared.length > 0) {
    await appendRows(connection, 'shared_identifiers', (appender) => {
      for (const shared of changes.shared) {
        appender.appendVarchar(shared.type);
        appender.appendVarchar(shared.value);
        appender.appendTimestampTZ(timestampValue(shared.at));
        appender.endRow();
      }
    });
  }
  if (changes.traits.length > 0) {
    await appendRows(connection, 'trait_observations', (appender) => {
      for (const trait of changes.traits) {
        appender.appendBigInt(BigInt(trait.originProfileId));
        appender.appendVarchar(trait.name);
        appender.appendVarchar(trait.value);
        appender.appendVarchar(trait.sourceId);
        appender.appendTimestampTZ(timestampValue(trait.at));
        appender.appendVarchar(trait.messageId);
        appender.endRow();
      }
    });
  }
}

/** Streams the persisted graph into the loader, in an order that rebuilds it. */
export async function loadIdentity(
  connection: DuckDBConnection,
  loader: IdentityLoader,
): Promise<{ lastMergeId: number }> {
  await stream(
    connection,
    'SELECT id::DOUBLE, epoch_ms(created_at)::DOUBLE FROM profiles ORDER BY id',
    (row) => loader.profile(Number(row[0]), Number(row[1])),
  );
  await stream(connection, 'SELECT type, value, origin_profile_id::DOUBLE FROM identities', (row) =>
    loader.identifier(String(row[0]), String(row[1]), Number(row[2])),
  );
  let lastMergeId = 0;
  await stream(
    connection,
    'SELECT id::DOUBLE, survivor::DOUBLE, absorbed::DOUBLE, undone_at IS NOT NULL FROM merges ORDER BY id',
    (row) => {
      lastMergeId = Number(row[0]);
      if (row[3] === true) loader.split(Number(row[1]), Number(row[2]));
      else loader.merge(Number(row[1]), Number(row[2]), Number(row[0]));
    },
  );
  await stream(connection, 'SELECT type, value FROM shared_identifiers', (row) =>
    loader.shared(String(row[0]), String(row[1])),
  );
  return { lastMergeId };
}

export async function listIdentities(
  connection: DuckDBConnection,
  origins: readonly number[],
): Promise<IdentityRow[]> {
  if (origins.length === 0) return [];
  const rows = await read(
    connection,
    `SELECT type, value, origin_profile_id::DOUBLE AS origin, epoch_ms(first_seen)::DOUBLE AS first_seen, source_id, message_id
     FROM identities WHERE origin_profile_id IN ${idsInSql(origins)} ORDER BY first_seen, type, value`,
  );
  return rows.map((row) => ({
    type: String(row.type),
    value: String(row.value),
    originProfileId: Number(row.origin),
    firstSeen: Number(row.first_seen),
    sourceId: String(row.source_id),
    messageId: String(row.message_id),
  }));
}

export async function listProfileTraits(
  connection: DuckDBConnection,
  origins: readonly number[],
): Promise<TraitRow[]> {
  if (origins.length === 0) return [];
  const rows = await read(
    connection,
    `SELECT origin_profile_id::DOUBLE AS origin, name, value::VARCHAR AS value, source_id, epoch_ms(observed_at)::DOUBLE AS at, message_id
     FROM trait_observations WHERE origin_profile_id IN ${idsInSql(origins)} ORDER BY observed_at, name`,
  );
  return rows.map((row) => ({
    originProfileId: Number(row.origin),
    name: String(row.name),
    value: String(row.value),
    sourceId: String(row.source_id),
    at: Number(row.at),
    messageId: String(row.message_id),
  }));
}

export async function listMerges(
  connection: DuckDBConnection,
  profileIds: readonly number[],
): Promise<MergeRow[]> {
  if (profileIds.length === 0) return [];
  const rows = await read(
    connection,
    `SELECT id::DOUBLE AS id, epoch_ms(merged_at)::DOUBLE AS at, survivor::DOUBLE AS survivor, absorbed::DOUBLE AS absorbed, kind,
            identifier_type, identifier_value, source_id, message_id, epoch_ms(undone_at)::DOUBLE AS undone_at
     FROM merges WHERE survivor IN ${idsInSql(profileIds)} OR absorbed IN ${idsInSql(profileIds)} ORDER BY id`,
  );
  return rows.map((row) => ({
    id: Number(row.id),
    at: Number(row.at),
    survivor: Number(row.survivor),
    absorbed: Number(row.absorbed),
    kind: String(row.kind) as MergeRow['kind'],
    identifierType: row.identifier_type === null ? null : String(row.identifier_type),
    identifierValue: row.identifier_value === null ? null : String(row.identifier_value),
    sourceId: row.source_id === null ? null : String(row.source_id),
    messageId: row.message_id === null ? null : String(row.message_id),
    undoneAt: row.undone_at === null ? null : Number(row.undone_at),
  }));
}

export async function summarizeProfile(
  connection: DuckDBConnection,
  origins: readonly number[],
): Promise<ProfileSummary> {
  if (origins.length === 0) {
    return { events: 0, firstSeen: null, lastSeen: null, sources: [], purchases: 0, revenue: 0 };
  }
  const [row] = await read(
    connection,
    `SELECT count(*)::DOUBLE AS events,
            epoch_ms(min(timestamp))::DOUBLE AS first_seen,
            epoch_ms(max(timestamp))::DOUBLE AS last_seen,
            list_sort(list_distinct(list(source_id))) AS sources,
            count(*) FILTER (WHERE type = 'track' AND event = 'Order Completed')::DOUBLE AS purchases,
            coalesce(sum(coalesce(TRY_CAST(properties->>'revenue' AS DOUBLE), TRY_CAST(properties->>'total' AS DOUBLE)))
              FILTER (WHERE type = 'track' AND event = 'Order Completed'), 0)::DOUBLE AS revenue
     FROM events WHERE profile_id IN ${idsInSql(origins)}`,
  );
  const sources = row?.sources as { items?: unknown[] } | null | undefined;
  return {
    events: Number(row?.events ?? 0),
    firstSeen: row?.first_seen === null || row?.first_seen === undefined ? null : Number(row.first_seen),
    lastSeen: row?.last_seen === null || row?.last_seen === undefined ? null : Number(row.last_seen),
    sources: (sources?.items ?? []).map(String),
    purchases: Number(row?.purchases ?? 0),
    revenue: Number(row?.revenue ?? 0),
  };
}

/** Calls `onRow` for every row; the row array is reused, valid only during the call. */
async function stream(
  connection: DuckDBConnection,
  sql: string,
  onRow: (row: readonly DuckDBValue[]) => void,
): Promise<void> {
  const result = await connection.stream(sql);
  for (;;) {
    const chunk = await result.fetchChunk();
    const rows = chunk?.rowCount ?? 0;
    if (chunk === null || rows === 0) break;
    // Column by column: getRows() builds an array per row and converts each value on its own,
    // which doubles the time to load an identity graph of millions of identifiers.
    const columns = Array.from({ length: chunk.columnCount }, (_, index) => chunk.getColumnValues(index));
    const row: DuckDBValue[] = new Array<DuckDBValue>(columns.length).fill(null);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns.length; c++) row[c] = columns[c]![r]!;
      onRow(row);
    }
  }
}

async function read(connection: DuckDBConnection, sql: string): Promise<Record<string, DuckDBValue>[]> {
  return (await connection.runAndReadAll(sql)).getRowObjects();
}
