import { listValue, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';
import { inlineIds, timestampValue } from './append-rows.ts';
import type { DuplicateGroup, QualityOptions, QualityReport } from '../store.ts';

/**
 * Data quality in SQL. People are origin profiles joined by the merges that were not undone, as
 * the identity graph joins them: `merged_into` maps each absorbed origin profile to the person it
 * belongs to now, and every other origin profile is a person of its own. A person's trait, here,
 * is the latest value across their origin profiles.
 */
const mergedInto = `
  active_merges AS MATERIALIZED (SELECT absorbed, survivor FROM merges WHERE undone_at IS NULL),
  merge_chains(origin, person, depth) AS (
    SELECT absorbed, survivor, 1 FROM active_merges
    UNION ALL
    SELECT c.origin, m.survivor, c.depth + 1 FROM merge_chains c JOIN active_merges m ON m.absorbed = c.person
    WHERE c.depth < 10000),
  merged_into AS MATERIALIZED (SELECT origin, arg_max(person, depth) AS person FROM merge_chains GROUP BY origin)`;

/** Per person (`k`: trait_keys rows grouped by person): the latest value of each part. */
export const latestDuplicateParts = `
  arg_max_null(k.key, k.observed_at) FILTER (WHERE k.part = 'first_name') AS first_name,
  arg_max_null(k.key, k.observed_at) FILTER (WHERE k.part = 'last_name') AS last_name,
  arg_max_null(k.key, k.observed_at) FILTER (WHERE k.part = 'full_name') AS full_name,
  arg_max_null(k.key, k.observed_at) FILTER (WHERE k.part = 'birth_date') AS birth_date,
  arg_max_null(k.key, k.observed_at) FILTER (WHERE k.part = 'postal_code') AS postal_code`;
/** The duplicate key from the latest parts: first and last name together, or the full name. */
export const duplicateKeyOfParts = `
  CASE WHEN first_name IS NOT NULL AND last_name IS NOT NULL THEN first_name || ' ' || last_name
       ELSE full_name END AS name,
  birth_date, postal_code`;

export async function qualityReport(
  connection: DuckDBConnection,
  options: QualityOptions,
): Promise<QualityReport> {
  const [counts] = await read(
    connection,
    `WITH RECURSIVE ${mergedInto},
     valid_contacts AS MATERIALIZED (
       SELECT DISTINCT coalesce(mi.person, i.origin_profile_id) AS person, i.type
       FROM identities i LEFT JOIN merged_into mi ON mi.origin = i.origin_profile_id
       WHERE i.type IN ('email', 'phone')),
     contact_traits AS (
       SELECT coalesce(mi.person, k.origin_profile_id) AS person, k.part AS type,
              arg_max_null(k.key, k.observed_at) IS NOT NULL AS present
       FROM trait_keys k LEFT JOIN merged_into mi ON mi.origin = k.origin_profile_id
       WHERE k.part IN ('email', 'phone') GROUP BY ALL)
     SELECT
       (SELECT count(*) FROM profiles)::DOUBLE AS origin_profiles,
       (SELECT count(*) FROM merged_into)::DOUBLE AS absorbed,
       (SELECT count(*) FROM identities)::DOUBLE AS identifiers,
       (SELECT count(*) FROM events)::DOUBLE AS events,
       (SELECT count(*) FILTER (WHERE type = 'email') FROM valid_contacts)::DOUBLE AS with_valid_email,
       (SELECT count(*) FILTER (WHERE type = 'phone') FROM valid_contacts)::DOUBLE AS with_valid_phone,
       (SELECT count(*) FILTER (WHERE type = 'email') FROM contact_traits c ANTI JOIN valid_contacts v USING (person, type)
        WHERE c.present)::DOUBLE AS invalid_email_only,
       (SELECT count(*) FILTER (WHERE type = 'phone') FROM contact_traits c ANTI JOIN valid_contacts v USING (person, type)
        WHERE c.present)::DOUBLE AS invalid_phone_only,
       (SELECT count(DISTINCT coalesce(mi.person, e.profile_id))
        FROM events e LEFT JOIN merged_into mi ON mi.origin = e.profile_id
        WHERE e.timestamp >= ? AND e.profile_id IS NOT NULL)::DOUBLE AS active`,
    [timestampValue(options.staleBefore)],
  );
  // Duplicates: people sharing a birth date and a postal code first (two short parts per person),
  // then the names of those people only.
  const [duplicates] = await read(
    connection,
    `WITH RECURSIVE ${mergedInto},
     blocks AS MATERIALIZED (
       SELECT coalesce(mi.person, k.origin_profile_id) AS person,
              arg_max_null(k.key, k.observed_at) FILTER (WHERE k.part = 'birth_date') AS birth_date,
              arg_max_null(k.key, k.observed_at) FILTER (WHERE k.part = 'postal_code') AS postal_code
       FROM trait_keys k LEFT JOIN merged_into mi ON mi.origin = k.origin_profile_id
       WHERE k.part = 'birth_date' OR k.part = 'postal_code'
       GROUP BY 1),
     shared_blocks AS (
       SELECT birth_date, postal_code FROM blocks
       WHERE birth_date IS NOT NULL AND postal_code IS NOT NULL GROUP BY ALL HAVING count(*) > 1),
     candidates AS MATERIALIZED (
       SELECT b.* FROM blocks b
       SEMI JOIN shared_blocks s ON s.birth_date = b.birth_date AND s.postal_code = b.postal_code),
     candidate_origins AS (
       SELECT person AS origin, person FROM candidates
       UNION ALL
       SELECT mi.origin, mi.person FROM merged_into mi SEMI JOIN candidates c ON c.person = mi.person),
     names AS (
       SELECT o.person, ${latestDuplicateParts}
       FROM trait_keys k JOIN candidate_origins o ON o.origin = k.origin_profile_id
       WHERE k.part = 'first_name' OR k.part = 'last_name' OR k.part = 'full_name'
       GROUP BY o.person),
     keys AS (
       SELECT c.person, CASE WHEN n.first_name IS NOT NULL AND n.last_name IS NOT NULL
                             THEN n.first_name || ' ' || n.last_name ELSE n.full_name END AS name,
              c.birth_date, c.postal_code
       FROM candidates c JOIN names n USING (person)),
     groups AS (
       SELECT name, birth_date, postal_code, list(person ORDER BY person) AS profiles, count(*) AS size
       FROM keys WHERE name IS NOT NULL GROUP BY ALL HAVING count(*) > 1)
     SELECT count(*)::DOUBLE AS groups, coalesce(sum(size), 0)::DOUBLE AS profiles,
            coalesce(to_json(list({name: name, birthDate: birth_date, postalCode: postal_code, profiles: profiles}
                                  ORDER BY size DESC, profiles[1])[1:?]), '[]')::VARCHAR AS sample
     FROM groups`,
    [options.sample],
  );
  const quarantine = await read(
    connection,
    `SELECT code, field, count(*) FILTER (WHERE status = 'pending')::DOUBLE AS pending,
            count(*) FILTER (WHERE status = 'replayed')::DOUBLE AS replayed
     FROM quarantine GROUP BY ALL ORDER BY pending + replayed DESC, code, field`,
    [],
  );
  const rejected = await read(
    connection,
    `SELECT type, reason AS kind, sum(count)::DOUBLE AS count, epoch_ms(max(seen_at))::DOUBLE AS last_seen,
            arg_max(example_value, seen_at) AS example_value, arg_max(example_reason, seen_at) AS example_reason,
            arg_max(source_id, seen_at) AS source_id, arg_max(example_message_id, seen_at) AS message_id
     FROM identifier_rejections GROUP BY ALL ORDER BY count DESC, type, kind`,
    [],
  );
  const profiles = Number(counts?.origin_profiles ?? 0) - Number(counts?.absorbed ?? 0);
  return {
    profiles,
    originProfiles: Number(counts?.origin_profiles ?? 0),
    identifiers: Number(counts?.identifiers ?? 0),
    events: Number(counts?.events ?? 0),
    withValidEmail: Number(counts?.with_valid_email ?? 0),
    withInvalidEmailOnly: Number(counts?.invalid_email_only ?? 0),
    withValidPhone: Number(counts?.with_valid_phone ?? 0),
    withInvalidPhoneOnly: Number(counts?.invalid_phone_only ?? 0),
    stale: profiles - Number(counts?.active ?? 0),
    duplicateGroups: Number(duplicates?.groups ?? 0),
    duplicateProfiles: Number(duplicates?.profiles ?? 0),
    duplicateSample: JSON.parse(String(duplicates?.sample ?? '[]')) as DuplicateGroup[],
    quarantine: quarantine.map((row) => ({
      code: String(row.code),
      field: row.field === null ? null : String(row.field),
      pending: Number(row.pending),
      replayed: Number(row.replayed),
    })),
    rejectedIdentifiers: rejected.map((row) => ({
      type: String(row.type),
      kind: String(row.kind),
      count: Number(row.count),
      lastSeen: Number(row.last_seen),
      example: {
        value: row.example_value === null ? null : String(row.example_value),
        reason: String(row.example_reason),
        sourceId: String(row.source_id),
        messageId: String(row.message_id),
      },
    })),
  };
}

/**
 * Other people with the same duplicate key as the person made of these origin profiles: the key
 * from these origin profiles' trait keys; then the origin profiles with the same postal code,
 * their people (merges followed up, then down to all their origin profiles) and those people's keys.
 */
export async function findSuspectedDuplicates(
  connection: DuckDBConnection,
  origins: readonly number[],
): Promise<DuplicateGroup | undefined> {
  if (origins.length === 0) return undefined;
  const [own] = await read(
    connection,
    `WITH parts AS (
       SELECT ${latestDuplicateParts} FROM trait_keys k
       WHERE k.rowid IN (SELECT rowid FROM trait_keys WHERE origin_profile_id IN (${inlineIds(origins)}))),
     own_key AS (SELECT ${duplicateKeyOfParts} FROM parts)
     SELECT * FROM own_key WHERE name IS NOT NULL AND birth_date IS NOT NULL AND postal_code IS NOT NULL`,
    [],
  );
  if (own === undefined) return undefined;
  const key = {
    name: String(own.name),
    birthDate: String(own.birth_date),
    postalCode: String(own.postal_code),
  };
  // Origin profiles with the same postal code or birth date (a scan of numbers: the keys' hashes),
  // then the people with both (merges followed up), all their origin profiles (followed down), and
  // those people's keys, compared whole.
  const matching = await read(
    connection,
    `SELECT DISTINCT origin_profile_id::DOUBLE AS origin, part FROM trait_keys
     WHERE (key_hash = md5_number_lower(?) AND part = 'postal_code')
        OR (key_hash = md5_number_lower(?) AND part = 'birth_date')`,
    [key.postalCode, key.birthDate],
  );
  if (matching.length === 0) return { ...key, profiles: [] };
  const [row] = await read(
    connection,
    `WITH RECURSIVE active_merges AS MATERIALIZED (SELECT absorbed, survivor FROM merges WHERE undone_at IS NULL),
     matching AS (
       SELECT unnest([${inlineIds(matching.map((match) => Number(match.origin)))}]::BIGINT[]) AS origin,
              unnest(?::VARCHAR[]) AS part),
     up(origin, person, depth) AS (
       SELECT DISTINCT origin, origin, 0 FROM matching
       UNION ALL
       SELECT up.origin, m.survivor, up.depth + 1 FROM up JOIN active_merges m ON m.absorbed = up.person
       WHERE up.depth < 10000),
     person_of AS (SELECT origin, arg_max(person, depth) AS person FROM up GROUP BY origin),
     people AS (
       SELECT p.person FROM matching m JOIN person_of p USING (origin) GROUP BY p.person
       HAVING bool_or(m.part = 'postal_code') AND bool_or(m.part = 'birth_date')),
     down(person, origin, depth) AS (
       SELECT person, person, 0 FROM people
       UNION ALL
       SELECT down.person, m.absorbed, down.depth + 1 FROM down JOIN active_merges m ON m.survivor = down.origin
       WHERE down.depth < 10000),
     others AS (
       SELECT person, origin FROM down
       WHERE person NOT IN (SELECT person FROM down WHERE origin IN (${inlineIds(origins)}))),
     parts AS (
       SELECT o.person, ${latestDuplicateParts}
       FROM trait_keys k JOIN others o ON o.origin = k.origin_profile_id
       GROUP BY o.person),
     keys AS (SELECT person, ${duplicateKeyOfParts} FROM parts)
     SELECT coalesce(list(person ORDER BY person), []) AS profiles FROM keys
     WHERE name = ? AND birth_date = ? AND postal_code = ?`,
    [listValue(matching.map((match) => String(match.part))), key.name, key.birthDate, key.postalCode],
  );
  const profiles = row?.profiles as { items?: unknown[] } | null | undefined;
  return { ...key, profiles: (profiles?.items ?? []).map(Number) };
}

async function read(
  connection: DuckDBConnection,
  sql: string,
  values: DuckDBValue[],
): Promise<Record<string, DuckDBValue>[]> {
  return (await connection.runAndReadAll(sql, values)).getRowObjects();
}
