import {
  BIGINT,
  listValue,
  TIMESTAMPTZ,
  VARCHAR,
  type DuckDBConnection,
  type DuckDBValue,
} from '@duckdb/node-api';
import { appendChunks, appendRows, idList, timestampValue, type ChunkColumn } from './append-rows.ts';
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
    await appendRows(connection, 'profiles', (appender) =>
      appendChunks(appender, profileColumns, changes.profiles),
    );
  }
  if (changes.identifiers.length > 0) {
    await appendRows(connection, 'identities', (appender) =>
      appendChunks(appender, identityColumns, changes.identifiers),
    );
  }
  for (const merge of changes.merges) {
    await connection.run('INSERT INTO merges VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', [
      BigInt(merge.id),
      timestampValue(merge.at),
      BigInt(merge.survivor),
      BigInt(merge.absorbed),
      merge.kind,
      merge.identifierType,
      merge.identifierValue,
      merge.sourceId,
      merge.messageId,
      merge.undoneAt === null ? null : timestampValue(merge.undoneAt),
    ]);
  }
  for (const undone of changes.undoneMerges) {
    await connection.run('UPDATE merges SET undone_at = ? WHERE id = ?', [
      timestampValue(undone.at),
      BigInt(undone.id),
    ]);
  }
  for (const conflict of changes.conflicts) {
    await connection.run('INSERT INTO identity_conflicts VALUES (?, ?, ?, ?, ?, ?, ?)', [
      timestampValue(conflict.at),
      conflict.reason,
      conflict.identifierType,
      conflict.identifierValue,
      listValue(conflict.profiles.map((id) => BigInt(id))),
      conflict.sourceId,
      conflict.messageId,
    ]);
  }
  for (const shared of changes.shared) {
    await connection.run('INSERT INTO shared_identifiers VALUES (?, ?, ?)', [
      shared.type,
      shared.value,
      timestampValue(shared.at),
    ]);
  }
  if (changes.traits.length > 0) {
    await appendRows(connection, 'trait_observations', (appender) =>
      appendChunks(appender, traitColumns, changes.traits),
    );
  }
}

// The columns of the identity tables, in table order (see migrations.ts); JSON is VARCHAR to the appender.
const profileColumns: readonly ChunkColumn<IdentityChanges['profiles'][number]>[] = [
  { type: BIGINT, value: (profile) => BigInt(profile.id) },
  { type: TIMESTAMPTZ, value: (profile) => timestampValue(profile.createdAt) },
];
const identityColumns: readonly ChunkColumn<IdentityRow>[] = [
  { type: VARCHAR, value: (row) => row.type },
  { type: VARCHAR, value: (row) => row.value },
  { type: BIGINT, value: (row) => BigInt(row.originProfileId) },
  { type: TIMESTAMPTZ, value: (row) => timestampValue(row.firstSeen) },
  { type: VARCHAR, value: (row) => row.sourceId },
  { type: VARCHAR, value: (row) => row.messageId },
];
const traitColumns: readonly ChunkColumn<TraitRow>[] = [
  { type: BIGINT, value: (trait) => BigInt(trait.originProfileId) },
  { type: VARCHAR, value: (trait) => trait.name },
  { type: VARCHAR, value: (trait) => trait.value },
  { type: VARCHAR, value: (trait) => trait.sourceId },
  { type: TIMESTAMPTZ, value: (trait) => timestampValue(trait.at) },
  { type: VARCHAR, value: (trait) => trait.messageId },
];

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
     FROM identities WHERE origin_profile_id IN (SELECT unnest(?::BIGINT[])) ORDER BY first_seen, type, value`,
    [idList(origins)],
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
     FROM trait_observations WHERE origin_profile_id IN (SELECT unnest(?::BIGINT[])) ORDER BY observed_at, name`,
    [idList(origins)],
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
     FROM merges WHERE survivor IN (SELECT unnest(?::BIGINT[])) OR absorbed IN (SELECT unnest(?::BIGINT[])) ORDER BY id`,
    [idList(profileIds), idList(profileIds)],
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
  const [row] = await read(
    connection,
    `SELECT count(*)::DOUBLE AS events,
            epoch_ms(min(timestamp))::DOUBLE AS first_seen,
            epoch_ms(max(timestamp))::DOUBLE AS last_seen,
            list_sort(list_distinct(list(source_id))) AS sources,
            count(*) FILTER (WHERE type = 'track' AND event = 'Order Completed')::DOUBLE AS purchases,
            coalesce(sum(coalesce(TRY_CAST(properties->>'revenue' AS DOUBLE), TRY_CAST(properties->>'total' AS DOUBLE)))
              FILTER (WHERE type = 'track' AND event = 'Order Completed'), 0)::DOUBLE AS revenue
     FROM events WHERE profile_id IN (SELECT unnest(?::BIGINT[]))`,
    [idList(origins)],
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

async function stream(
  connection: DuckDBConnection,
  sql: string,
  onRow: (row: DuckDBValue[]) => void,
): Promise<void> {
  const result = await connection.stream(sql);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (chunk === null || chunk.rowCount === 0) break;
    for (const row of chunk.getRows()) onRow(row);
  }
}

async function read(
  connection: DuckDBConnection,
  sql: string,
  values: DuckDBValue[],
): Promise<Record<string, DuckDBValue>[]> {
  return (await connection.runAndReadAll(sql, values)).getRowObjects();
}
