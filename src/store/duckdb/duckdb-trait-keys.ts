import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { idList, timestampValue } from './append-rows.ts';
import type { TraitRow } from '../store.ts';

/**
 * Trait keys: the traits data quality compares (names, birth date, postal code, e-mail and phone
 * traits), normalised once when observed, in a narrow table beside `trait_observations`. Quality
 * reads them instead of parsing and normalising every trait value on every report: a person's key
 * is the latest normalised value of each part, across their origin profiles.
 *
 * Parts and their normalisation (SQL, here only):
 * - first_name, last_name, full_name (firstName, lastName, name): lower-case, accents removed,
 *   punctuation and runs of spaces as one space, trimmed;
 * - birth_date (birthday, birthDate): YYYY-MM-DD from an ISO date (or date and time) or DD/MM/YYYY;
 * - postal_code (postalCode, or address.postal_code / address.postalCode): upper-case, without
 *   spaces, hyphens and dots;
 * - email, phone (the traits, as given): whether the profile has such a trait at all.
 * A value that normalises to nothing is kept as NULL: the trait was cleared or is unusable.
 */
export const traitKeyNames = [
  'firstName',
  'lastName',
  'name',
  'birthday',
  'birthDate',
  'postalCode',
  'address',
  'email',
  'phone',
] as const;
const names = new Set<string>(traitKeyNames);

const text = `(value->>'$')`;
const normalisedName = `nullif(trim(regexp_replace(lower(strip_accents(${text})), '[^\\p{L}\\p{N}]+', ' ', 'g')), '')`;
const postal = (sql: string): string => `nullif(upper(translate(${sql}, ' -.', '')), '')`;

/**
 * `SELECT origin_profile_id, part, key, key_hash, observed_at` from a relation with
 * origin_profile_id, name, value (JSON), observed_at. `key_hash` (the low 64 bits of the key's
 * md5) lets a lookup by value scan numbers instead of decompressing every string.
 */
export function traitKeysFrom(relation: string): string {
  return `
  SELECT origin_profile_id, part, key, md5_number_lower(key) AS key_hash, observed_at FROM (
  SELECT origin_profile_id,
         CASE name WHEN 'firstName' THEN 'first_name' WHEN 'lastName' THEN 'last_name' WHEN 'name' THEN 'full_name'
                   WHEN 'birthday' THEN 'birth_date' WHEN 'birthDate' THEN 'birth_date'
                   WHEN 'postalCode' THEN 'postal_code' WHEN 'address' THEN 'postal_code'
                   ELSE name END AS part,
         CASE WHEN name IN ('firstName', 'lastName', 'name') THEN ${normalisedName}
              WHEN name IN ('birthday', 'birthDate')
              THEN strftime(coalesce(try_cast(left(${text}, 10) AS DATE), try_strptime(${text}, '%d/%m/%Y')::DATE), '%Y-%m-%d')
              WHEN name = 'postalCode' THEN ${postal(text)}
              WHEN name = 'address' THEN ${postal(`coalesce((value->>'postal_code'), (value->>'postalCode'))`)}
              ELSE ${text} END AS key,
         observed_at
  FROM ${relation}
  WHERE name IN (${traitKeyNames.map((name) => `'${name}'`).join(', ')})
    -- An address without a postal code says nothing of the postal code.
    AND (name <> 'address' OR json_type(value) <> 'OBJECT'
         OR (value->>'postal_code') IS NOT NULL OR (value->>'postalCode') IS NOT NULL))`;
}

/** Keys of the trait observations of a batch, inside the batch's transaction. */
export async function writeTraitKeys(
  connection: DuckDBConnection,
  traits: readonly TraitRow[],
): Promise<void> {
  const rows = traits.filter((trait) => names.has(trait.name));
  if (rows.length === 0) return;
  await connection.run(
    `INSERT INTO trait_keys ${traitKeysFrom(`(
       SELECT unnest(?::BIGINT[]) AS origin_profile_id, unnest(?) AS name, unnest(?)::JSON AS value,
              unnest(?) AS observed_at)`)}`,
    [
      idList(rows.map((row) => row.originProfileId)),
      listValue(rows.map((row) => row.name)),
      listValue(rows.map((row) => row.value)),
      listValue(rows.map((row) => timestampValue(row.at))),
    ],
  );
}
