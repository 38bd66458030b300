/**
 * The benchmark rule written by hand in DuckDB SQL, as an engineer who knows the schema would
 * write it for this one rule, with the same semantics as the compiled query (src/segments/rule.ts):
 * events and traits of merged origins count for their profile; a trait's value is its latest
 * observation (ties to the one recorded last); `sum` skips revenues that are not JSON numbers.
 *
 * How it differs from the compiled query:
 * - the three event conditions in one pass over the events, reading only the 90 days the widest
 *   window needs: `last(...) within last 14 days` holds exactly when there is such an event in
 *   those 14 days, so the e-mail opens of the rest of the year are never read;
 * - the traits are merged only for the profiles that meet the event conditions (a few thousand),
 *   not for every profile;
 * - no list of every profile: each member has events, and events only name existing profiles.
 */
import type { DuckDBValue } from '@duckdb/node-api';
import { idList } from '../src/store/duckdb/append-rows.ts';

const day = 86_400_000;

export interface MergedProfiles {
  readonly origins: readonly number[];
  readonly profiles: readonly number[];
}

/** `SELECT count(*)` of the members, for `now` (ms) and the merged origins. */
export function handWrittenCount(
  now: number,
  merged: MergedProfiles,
): { sql: string; params: DuckDBValue[] } {
  const since = (days: number): string => `TIMESTAMPTZ '${new Date(now - days * day).toISOString()}'`;
  const sql = `
    WITH merged AS (
      SELECT unnest($1::BIGINT[]) AS origin, unnest($2::BIGINT[]) AS profile
    ),
    buyers AS (
      SELECT coalesce(merged.profile, e.profile_id) AS profile
      FROM events e LEFT JOIN merged ON merged.origin = e.profile_id
      WHERE e.type = 'track' AND e.event IN ('Order Completed', 'Email Opened')
        AND e.timestamp >= ${since(90)}
      GROUP BY ALL
      HAVING count(*) FILTER (WHERE e.event = 'Order Completed' AND e.timestamp >= ${since(30)}) >= 3
         AND sum(CASE WHEN json_type(e.properties, '$.revenue') IN ('BIGINT', 'UBIGINT', 'DOUBLE')
                      THEN (e.properties ->> '$.revenue')::DOUBLE END)
               FILTER (WHERE e.event = 'Order Completed') > 200
         AND count(*) FILTER (WHERE e.event = 'Email Opened' AND e.timestamp >= ${since(14)}) > 0
    ),
    traits AS (
      SELECT coalesce(merged.profile, o.origin_profile_id) AS profile,
             arg_max(o.value, (o.observed_at, o.rowid)) FILTER (WHERE o.name = 'city') AS city,
             arg_max(o.value, (o.observed_at, o.rowid)) FILTER (WHERE o.name = 'vip') AS vip
      FROM trait_observations o LEFT JOIN merged ON merged.origin = o.origin_profile_id
      WHERE o.name IN ('city', 'vip')
        AND coalesce(merged.profile, o.origin_profile_id) IN (SELECT profile FROM buyers)
      GROUP BY ALL
    )
    -- Every profile in traits is a buyer.
    SELECT count(*) FROM traits
    WHERE json_type(traits.city) = 'VARCHAR' AND (traits.city ->> '$') = 'Paris'
      AND NOT coalesce(json_type(traits.vip) = 'BOOLEAN' AND traits.vip::BOOLEAN, false)`;
  return { sql, params: [idList(merged.origins), idList(merged.profiles)] };
}
