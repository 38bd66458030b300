import { membersOf } from './duckdb-segments.ts';
import { createSerialQueue } from '../../serial-queue.ts';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { TraitRules } from '../../domain/traits.ts';
import type {
  AnalysisStore,
  Distinguishing,
  DistinguishingQuery,
  EventLift,
  MergedOrigins,
  RfmBucket,
  RfmCustomer,
  RfmQuery,
  RfmSummary,
  TraitLift,
} from '../analysis-store.ts';
import { idList, timestampValue } from './append-rows.ts';
import { traitOrder } from './duckdb-segment-sql.ts';

const day = 86_400_000;
const numericJson = `('BIGINT', 'UBIGINT', 'DOUBLE')`;

/**
 * Analyses over the whole base, on a connection of their own: each reads every event or trait for
 * a second or more, and neither requests nor segment refreshes should wait for one.
 */
export function createDuckdbAnalysisStore(connection: DuckDBConnection): AnalysisStore {
  const serial = createSerialQueue();

  async function rows(sql: string, values: DuckDBValue[]): Promise<Record<string, DuckDBValue>[]> {
    return serial(async () => (await connection.runAndReadAll(sql, values)).getRowObjects());
  }

  return {
    async rfmSummary(query) {
      const sql = createSql();
      // One pass: the (r, f) cells for the grid and the groups, and each score's range per dimension.
      const found = await rows(
        `WITH ${rfmScored(sql, query)}
         SELECT grouping(r, f, m)::INTEGER AS grouped, r::DOUBLE AS r, f::DOUBLE AS f, m::DOUBLE AS m,
                count(*)::DOUBLE AS customers,
                sum(recency)::DOUBLE AS recency, sum(frequency)::DOUBLE AS frequency, sum(monetary)::DOUBLE AS monetary,
                min(recency)::DOUBLE AS min_recency, max(recency)::DOUBLE AS max_recency,
                min(frequency)::DOUBLE AS min_frequency, max(frequency)::DOUBLE AS max_frequency,
                min(monetary)::DOUBLE AS min_monetary, max(monetary)::DOUBLE AS max_monetary
         FROM scored GROUP BY GROUPING SETS ((r, f), (r), (f), (m))
         ORDER BY grouped, r, f, m`,
        sql.params,
      );
      const cells: RfmSummary['cells'][number][] = [];
      const scores: Record<keyof RfmSummary['scores'], RfmBucket[]> = {
        recency: [],
        frequency: [],
        monetary: [],
      };
      const bucket = (
        row: Record<string, DuckDBValue>,
        score: DuckDBValue | undefined,
        column: string,
      ): RfmBucket => ({
        score: Number(score),
        customers: Number(row.customers),
        min: Number(row[`min_${column}`]),
        max: Number(row[`max_${column}`]),
      });
      // grouping() sets a bit for each column rolled up: r, f, m from the highest bit.
      for (const row of found) {
        const grouped = Number(row.grouped);
        if (grouped === 0b001) {
          cells.push({
            r: Number(row.r),
            f: Number(row.f),
            customers: Number(row.customers),
            recencyDays: Number(row.recency),
            frequency: Number(row.frequency),
            monetary: Number(row.monetary),
          });
        } else if (grouped === 0b011) scores.recency.push(bucket(row, row.r, 'recency'));
        else if (grouped === 0b101) scores.frequency.push(bucket(row, row.f, 'frequency'));
        else if (grouped === 0b110) scores.monetary.push(bucket(row, row.m, 'monetary'));
      }
      return { customers: cells.reduce((sum, cell) => sum + cell.customers, 0), cells, scores };
    },

    async rfmMembers(query, page) {
      if (page.cells.length === 0) return [];
      const sql = createSql();
      const scored = rfmScored(sql, query);
      const codes = sql.param(idList(page.cells.map((cell) => cell.r * 10 + cell.f)));
      const found = await rows(
        `WITH ${scored}
         SELECT profile::DOUBLE AS profile, recency, frequency, monetary, r::DOUBLE AS r, f::DOUBLE AS f, m::DOUBLE AS m
         FROM scored
         WHERE r * 10 + f IN (SELECT unnest(${codes}::BIGINT[])) AND profile > ${sql.param(page.after ?? -1)}
         ORDER BY profile LIMIT ${sql.param(Math.max(0, Math.floor(page.limit)))}`,
        sql.params,
      );
      return found.map((row): RfmCustomer => ({
        profileId: Number(row.profile),
        recencyDays: Number(row.recency),
        frequency: Number(row.frequency),
        monetary: Number(row.monetary),
        r: Number(row.r),
        f: Number(row.f),
        m: Number(row.m),
      }));
    },

    async distinguishingTraits(query) {
      const sql = createSql();
      const found = await rows(
        `WITH ${population(sql, query)},
         latest AS (${latestTraits(sql, query.traitRules)}),
         held AS (
           -- Categories only: a time (firstSeen...) is not one, however many share it.
           SELECT profile, name, v::VARCHAR AS value FROM latest
           WHERE json_type(v) = 'BOOLEAN'
              OR (json_type(v) = 'VARCHAR' AND NOT regexp_matches(v ->> '$', '^\\d{4}-\\d{2}-\\d{2}[T ]\\d{2}:\\d{2}'))),
         counted AS (
           SELECT name, value, count(members.profile)::DOUBLE AS in_members, count(*)::DOUBLE AS in_base
           FROM held LEFT JOIN members ON members.profile = held.profile GROUP BY name, value),
         shares AS (
           SELECT name, value, in_members, in_members / totals.members AS member_share,
                  in_base / totals.base AS base_share
           FROM counted, totals
           WHERE in_members >= ${threshold(sql, query)}),
         top AS (
           SELECT name, value, in_members AS members, member_share AS memberShare, base_share AS baseShare,
                  member_share / base_share AS lift
           FROM shares WHERE member_share > base_share
           ORDER BY lift DESC, members DESC, name, value LIMIT ${sql.param(query.limit)})
         SELECT totals.members, totals.base,
                (SELECT coalesce(to_json(list(top ORDER BY lift DESC, members DESC, name, value)), '[]')::VARCHAR FROM top) AS found
         FROM totals`,
        sql.params,
      );
      return distinguishing(found[0], (item): TraitLift => {
        const row = item as Omit<TraitLift, 'value'> & { value: string };
        return { ...row, value: JSON.parse(row.value) as string | boolean };
      });
    },

    async distinguishingEvents(query) {
      const sql = createSql();
      const found = await rows(
        `WITH ${population(sql, query)},
         done AS (
           SELECT coalesce(merged.profile, e.profile_id) AS profile, e.type,
                  CASE e.type WHEN 'track' THEN e.event ELSE 'page' END AS event, count(*)::DOUBLE AS n
           FROM events e LEFT JOIN merged ON merged.origin = e.profile_id
           WHERE e.profile_id IS NOT NULL AND e.timestamp >= ${sql.param(timestampValue(query.since))}
             AND ((e.type = 'track' AND e.event IS NOT NULL) OR e.type = 'page')
           GROUP BY ALL),
         counted AS (
           SELECT type, event, count(members.profile)::DOUBLE AS in_members, count(*)::DOUBLE AS in_base,
                  coalesce(sum(n) FILTER (WHERE members.profile IS NOT NULL), 0)::DOUBLE AS member_events,
                  sum(n)::DOUBLE AS base_events
           FROM done LEFT JOIN members ON members.profile = done.profile GROUP BY type, event),
         shares AS (
           SELECT type, event, in_members, in_members / totals.members AS member_share,
                  in_base / totals.base AS base_share,
                  member_events / totals.members AS per_member, base_events / totals.base AS per_person
           FROM counted, totals
           WHERE in_members >= ${threshold(sql, query)}),
         top AS (
           SELECT type, event, in_members AS members, member_share AS memberShare, base_share AS baseShare,
                  member_share / base_share AS lift, per_member AS perMember, per_person AS perPerson
           FROM shares ORDER BY lift DESC, members DESC, event, type LIMIT ${sql.param(query.limit)})
         SELECT totals.members, totals.base,
                (SELECT coalesce(to_json(list(top ORDER BY lift DESC, members DESC, event, type)), '[]')::VARCHAR FROM top) AS found
         FROM totals`,
        sql.params,
      );
      return distinguishing(found[0], (item) => item as EventLift);
    },
  };
}

/** Positional parameters (`$1`, `$2`...) gathered while a query is written. */
function createSql(): { readonly params: DuckDBValue[]; readonly param: (value: DuckDBValue) => string } {
  const params: DuckDBValue[] = [];
  return {
    params,
    param: (value) => {
      params.push(value);
      return `$${params.length}`;
    },
  };
}

type Sql = ReturnType<typeof createSql>;

function mergedTable(sql: Sql, merged: MergedOrigins): string {
  return `merged AS (SELECT unnest(${sql.param(idList(merged.origins))}::BIGINT[]) AS origin,
                            unnest(${sql.param(idList(merged.profiles))}::BIGINT[]) AS profile)`;
}

/**
 * CTEs ending with `scored`: one row per customer (a person with a purchase event up to `now`)
 * with recency (whole days), frequency, monetary and their scores r, f, m.
 */
function rfmScored(sql: Sql, query: RfmQuery): string {
  const amount = `json_extract(e.properties, ${sql.param(`$.${JSON.stringify(query.property)}`)})`;
  const score = (order: string) => `(1 + least(4, floor(5 * percent_rank() OVER (ORDER BY ${order}))))`;
  return `${mergedTable(sql, query.merged)},
    customers AS (
      SELECT coalesce(merged.profile, e.profile_id) AS profile,
             greatest(0, floor((${sql.param(query.now)}::DOUBLE - epoch_ms(max(e.timestamp))) / ${day}))::DOUBLE AS recency,
             count(*)::DOUBLE AS frequency,
             coalesce(sum(CASE WHEN json_type(${amount}) IN ${numericJson} THEN try_cast(${amount} AS DOUBLE) END), 0)::DOUBLE AS monetary
      FROM events e LEFT JOIN merged ON merged.origin = e.profile_id
      WHERE e.type = 'track' AND e.event = ${sql.param(query.event)} AND e.profile_id IS NOT NULL
        AND e.timestamp <= ${sql.param(timestampValue(query.now))}
      GROUP BY ALL),
    scored AS (
      SELECT *, ${score('recency DESC')} AS r, ${score('frequency')} AS f, ${score('monetary')} AS m
      FROM customers)`;
}

/** CTEs `merged`, `people` (every person), `members` (the segment's members now) and `totals`. */
function population(sql: Sql, query: DistinguishingQuery): string {
  return `${mergedTable(sql, query.merged)},
    people AS (
      SELECT DISTINCT coalesce(merged.profile, p.id) AS profile FROM profiles p LEFT JOIN merged ON merged.origin = p.id),
    members AS (
      SELECT profile_id AS profile FROM ${membersOf(sql.param(query.segmentId))} AS current(profile_id)
      WHERE profile_id IN (SELECT profile FROM people)),
    totals AS (
      SELECT (SELECT count(*) FROM members)::DOUBLE AS members, (SELECT count(*) FROM people)::DOUBLE AS base)`;
}

/** The fewest members that must share a value or an event for it to be given. */
function threshold(sql: Sql, query: DistinguishingQuery): string {
  return `greatest(${sql.param(query.minMembers)}::DOUBLE, ${sql.param(query.minShare)}::DOUBLE * totals.members)`;
}

/**
 * Each person's value of every trait (`profile`, `name`, `v`), chosen as profiles choose it
 * (traitOrder): one part per trait with a rule of its own, one for all the others.
 */
function latestTraits(sql: Sql, rules: TraitRules): string {
  const ruled = [
    ...new Set([
      ...rules.firstTouch,
      ...Object.entries(rules.sourcePriority)
        .filter(([, sources]) => sources.length > 0)
        .map(([name]) => name),
    ]),
  ];
  const part = (order: string, where: string) =>
    `SELECT coalesce(merged.profile, o.origin_profile_id) AS profile, o.name, first(o.value ORDER BY ${order}) AS v
     FROM trait_observations o LEFT JOIN merged ON merged.origin = o.origin_profile_id
     WHERE ${where} GROUP BY ALL`;
  const names = JSON.stringify(ruled);
  const parts = ruled.map((name) => part(traitOrder(name, rules, sql.param), `o.name = ${sql.param(name)}`));
  const others =
    ruled.length === 0
      ? 'true'
      : `o.name NOT IN (SELECT unnest(from_json(${sql.param(names)}, '["VARCHAR"]')))`;
  parts.push(part(traitOrder('', { sourcePriority: {}, firstTouch: [] }, sql.param), others));
  return parts.join('\nUNION ALL\n');
}

function distinguishing<T>(
  row: Record<string, DuckDBValue> | undefined,
  item: (parsed: unknown) => T,
): Distinguishing<T> {
  return {
    members: Number(row?.members ?? 0),
    base: Number(row?.base ?? 0),
    found: (JSON.parse(String(row?.found ?? '[]')) as unknown[]).map(item),
  };
}
