import type { DuckDBConnection } from '@duckdb/node-api';
import type { ConsentMethod, ConsentState } from '../../domain/consent.ts';
import type { ConsentChangeRow, ConsentRow, ProfileGroups } from '../store.ts';
import { appendNullableVarchar, appendRows, timestampValue } from './append-rows.ts';
import { groupPairs, groupsTable } from './duckdb-profile-facts.ts';

/** Appends consent changes numbered from `firstSeq`, inside the caller's transaction. */
export async function appendConsentChanges(
  connection: DuckDBConnection,
  rows: readonly ConsentRow[],
  firstSeq: number,
): Promise<void> {
  if (rows.length === 0) return;
  let seq = firstSeq;
  await appendRows(connection, 'consent_changes', (appender) => {
    for (const row of rows) {
      appender.appendBigInt(BigInt(seq++));
      appender.appendBigInt(BigInt(row.profileId));
      appender.appendVarchar(row.purpose);
      appender.appendVarchar(row.state);
      appendNullableVarchar(appender, row.doubleOptIn);
      appender.appendTimestampTZ(timestampValue(row.at));
      appender.appendVarchar(row.sourceId);
      appender.appendVarchar(row.messageId);
      appender.appendVarchar(row.method);
      appendNullableVarchar(appender, row.detail);
      appender.endRow();
    }
  });
}

/** Each profile's consent history (the changes of all its origin profiles), in recording order. */
export async function readConsentHistory(
  connection: DuckDBConnection,
  groups: ProfileGroups,
): Promise<Map<number, ConsentRow[]>> {
  const pairs = groupPairs(groups);
  const rows = (
    await connection.runAndReadAll(
      `WITH ${groupsTable}
       SELECT g.profile::DOUBLE AS profile, c.profile_id::DOUBLE AS origin, c.purpose, c.state, c.double_opt_in,
              epoch_ms(c.expressed_at)::DOUBLE AS at, c.source_id, c.message_id, c.method, c.detail
       FROM consent_changes c JOIN g ON g.origin = c.profile_id
       ORDER BY g.profile, c.seq`,
      [pairs.origins, pairs.profiles],
    )
  ).getRowObjects();
  const history = new Map<number, ConsentRow[]>();
  for (const row of rows) {
    const profile = Number(row.profile);
    let list = history.get(profile);
    if (list === undefined) history.set(profile, (list = []));
    list.push({
      profileId: Number(row.origin),
      purpose: String(row.purpose),
      state: String(row.state) as ConsentState,
      doubleOptIn: row.double_opt_in === null ? null : (String(row.double_opt_in) as 'pending' | 'confirmed'),
      at: Number(row.at),
      sourceId: String(row.source_id),
      messageId: String(row.message_id),
      method: String(row.method) as ConsentMethod,
      detail: row.detail === null ? null : String(row.detail),
    });
  }
  return history;
}

/** Streams every consent change, in recording order, with what tells a change from a repetition. */
export async function loadConsent(
  connection: DuckDBConnection,
  onChange: (change: ConsentChangeRow) => void,
): Promise<number> {
  const result = await connection.stream(
    `SELECT profile_id::DOUBLE, purpose, state, double_opt_in, epoch_ms(expressed_at)::DOUBLE
     FROM consent_changes ORDER BY seq`,
  );
  let count = 0;
  for (;;) {
    const chunk = await result.fetchChunk();
    const rows = chunk?.rowCount ?? 0;
    if (chunk === null || rows === 0) break;
    const [profiles, purposes, states, doubleOptIns, times] = Array.from({ length: 5 }, (_, index) =>
      chunk.getColumnValues(index),
    );
    for (let r = 0; r < rows; r++) {
      const doubleOptIn = doubleOptIns![r];
      onChange({
        profileId: Number(profiles![r]),
        purpose: String(purposes![r]),
        state: String(states![r]) as ConsentState,
        doubleOptIn: doubleOptIn === null ? null : (String(doubleOptIn) as 'pending' | 'confirmed'),
        at: Number(times![r]),
      });
    }
    count += rows;
  }
  return count;
}
