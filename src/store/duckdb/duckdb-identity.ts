import {
  BIGINT,
  LIST,
  TIMESTAMPTZ,
  VARCHAR,
  type DuckDBConnection,
  type DuckDBValue,
} from '@duckdb/node-api';
import {
  appendChunks,
  appendNullableVarchar,
  appendRows,
  timestampValue,
  type ChunkColumn,
} from './append-rows.ts';
import { writeTraitKeys } from './duckdb-trait-keys.ts';
import {
  typesSeenInEvents,
  type IdentityChanges,
  type IdentityLoader,
  type IdentityRow,
  type TraitRow,
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
  await writeSightings(connection, changes);
  await writeRejectedIdentifiers(connection, changes);
  if (changes.traits.length > 0) {
    await appendRows(connection, 'trait_observations', (appender) =>
      appendChunks(appender, traitColumns, changes.traits),
    );
    await writeTraitKeys(connection, changes.traits);
  }
}

/** One row per identifier of the batch, with the latest event time it was seen at. */
async function writeSightings(connection: DuckDBConnection, changes: IdentityChanges): Promise<void> {
  if (changes.sightings === undefined || changes.sightings.length === 0) return;
  const latest = new Map<string, { type: string; value: string; at: number }>();
  for (const sighting of changes.sightings) {
    for (const identifier of sighting.identifiers) {
      if (typesSeenInEvents.has(identifier.type)) continue;
      const key = `${identifier.type}\u0000${identifier.value}`;
      const seen = latest.get(key);
      if (seen === undefined) latest.set(key, { ...identifier, at: sighting.at });
      else if (sighting.at > seen.at) seen.at = sighting.at;
    }
  }
  if (latest.size === 0) return;
  await appendRows(connection, 'identifier_sightings', (appender) => {
    for (const row of latest.values()) {
      appender.appendVarchar(row.type);
      appender.appendVarchar(row.value);
      appender.appendTimestampTZ(timestampValue(row.at));
      appender.endRow();
    }
  });
}

/** Refused identifier values, counted per source, type and reason, with the latest as the example. */
async function writeRejectedIdentifiers(
  connection: DuckDBConnection,
  changes: IdentityChanges,
): Promise<void> {
  if (changes.rejectedIdentifiers === undefined || changes.rejectedIdentifiers.length === 0) return;
  const groups = new Map<
    string,
    { count: number; example: NonNullable<IdentityChanges['rejectedIdentifiers']>[number] }
  >();
  for (const rejection of changes.rejectedIdentifiers) {
    const key = `${rejection.sourceId}\u0000${rejection.type}\u0000${rejection.kind}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, { count: 1, example: rejection });
    else {
      group.count++;
      if (rejection.at >= group.example.at) group.example = rejection;
    }
  }
  await appendRows(connection, 'identifier_rejections', (appender) => {
    for (const { count, example } of groups.values()) {
      appender.appendTimestampTZ(timestampValue(example.at));
      appender.appendVarchar(example.sourceId);
      appender.appendVarchar(example.type);
      appender.appendVarchar(example.kind);
      appender.appendInteger(count);
      if (example.value === null) appender.appendNull();
      else appender.appendVarchar(example.value);
      appender.appendVarchar(example.reason);
      appender.appendVarchar(example.messageId);
      appender.endRow();
    }
  });
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
