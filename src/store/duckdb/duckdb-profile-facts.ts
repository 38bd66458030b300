import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import { idList } from './append-rows.ts';
import { eventPartitionsOf, eventsOfProfiles } from './event-partitions.ts';
import { duplicateKeyOfParts, latestDuplicateParts } from './duckdb-quality.ts';
import type {
  ChannelSummary,
  IdentityView,
  MergeRow,
  ProfileFacts,
  ProfileGroups,
  ProfileSummary,
  TraitRow,
} from '../store.ts';

/**
 * What profiles are made of, for many profiles at once: each query joins the tables with the
 * (origin profile → profile) pairs, so reading ten thousand profiles costs about what reading one
 * does (a scan of the filtered column; the other columns are read for the matching rows only).
 */
export async function readProfileFacts(
  connection: DuckDBConnection,
  groups: ProfileGroups,
): Promise<Map<number, ProfileFacts>> {
  const facts = new Map<number, ProfileFacts>();
  if (groups.size === 0) return facts;
  const pairs = groupPairs(groups);
  // One connection runs one query at a time: these run one after the other.
  const identities = await readIdentities(connection, pairs);
  const traits = await readLatestTraits(connection, pairs);
  const summaries = await readSummaries(connection, pairs);
  const merges = await readMerges(connection, pairs);
  const withKey = await readDuplicateKeyHolders(connection, pairs);
  for (const [profile, members] of groups) {
    facts.set(profile, {
      members: [...members].sort((a, b) => a - b),
      identities: identities.get(profile) ?? [],
      traits: traits.get(profile) ?? [],
      summary: summaries.get(profile) ?? emptySummary,
      merges: merges.get(profile) ?? [],
      hasDuplicateKey: withKey.has(profile),
    });
  }
  return facts;
}

/** An event's channel, library and order revenue, as profile summaries count them (over an event row). */
export const channelSql = `coalesce(extra->>'channel', context->>'channel')`;
export const librarySql = `context->'library'->>'name'`;
export const isOrderSql = `type = 'track' AND event = 'Order Completed'`;
export const revenueSql = `coalesce(TRY_CAST(properties->>'revenue' AS DOUBLE), TRY_CAST(properties->>'total' AS DOUBLE))`;
/** A gap between a person's events that starts a new session. */
export const sessionGapSql = 'INTERVAL 30 MINUTE';

export const emptySummary: ProfileSummary = {
  events: 0,
  firstSeen: null,
  lastSeen: null,
  sources: [],
  purchases: 0,
  revenue: 0,
  sessions: 0,
  channels: [],
};

export interface GroupPairs {
  readonly origins: DuckDBValue;
  readonly profiles: DuckDBValue;
  /** The event partitions that hold the origins' events. */
  readonly eventPartitions: readonly number[];
}

/**
 * The events of the groups' origins joined to `g` (see groupsTable), as a subquery with the columns
 * of `select` (over `e` and `g`).
 */
export function memberEvents(pairs: GroupPairs, select: string): string {
  return eventsOfProfiles(
    pairs.eventPartitions,
    select,
    'JOIN g ON g.origin = e.profile_id',
    'profile_id IN (SELECT origin FROM members)',
  );
}

export function groupPairs(groups: ProfileGroups): GroupPairs {
  const origins: number[] = [];
  const profiles: number[] = [];
  for (const [profile, members] of groups) {
    for (const member of members) {
      origins.push(member);
      profiles.push(profile);
    }
  }
  return {
    origins: idList(origins),
    profiles: idList(profiles),
    eventPartitions: eventPartitionsOf(origins),
  };
}

/** The (origin, profile) pairs as a table `g`, and `members`: the origins alone. */
export const groupsTable = `
  g AS MATERIALIZED (SELECT unnest(?::BIGINT[]) AS origin, unnest(?::BIGINT[]) AS profile),
  members AS MATERIALIZED (SELECT DISTINCT origin FROM g)`;

/**
 * Identifiers with first and last seen. Last seen: the latest of the members' events carrying it
 * (userId, anonymousId: the events' columns; other types: their sightings), never before first seen.
 */
async function readIdentities(
  connection: DuckDBConnection,
  pairs: GroupPairs,
): Promise<Map<number, IdentityView[]>> {
  const rows = await read(
    connection,
    `WITH ${groupsTable},
     ids AS (
       SELECT g.profile, i.type, i.value, i.origin_profile_id, i.first_seen, i.source_id, i.message_id
       FROM identities i JOIN g ON g.origin = i.origin_profile_id
       WHERE i.rowid IN (SELECT rowid FROM identities WHERE origin_profile_id IN (SELECT origin FROM members))),
     member_events AS (
       SELECT * FROM ${memberEvents(pairs, 'g.profile, e.user_id, e.anonymous_id, e.timestamp')}),
     seen AS (
       SELECT profile, 'userId' AS type, trim(user_id) AS value, max(timestamp) AS seen_at
       FROM member_events WHERE user_id IS NOT NULL GROUP BY ALL
       UNION ALL
       SELECT profile, 'anonymousId', trim(anonymous_id), max(timestamp)
       FROM member_events WHERE anonymous_id IS NOT NULL GROUP BY ALL
       UNION ALL
       SELECT ids.profile, s.type, s.value, max(s.seen_at)
       FROM identifier_sightings s JOIN ids ON ids.type = s.type AND ids.value = s.value GROUP BY ALL),
     latest AS (SELECT profile, type, value, max(seen_at) AS seen_at FROM seen GROUP BY ALL)
     SELECT ids.profile::DOUBLE AS profile, ids.type, ids.value, ids.origin_profile_id::DOUBLE AS origin,
            epoch_ms(ids.first_seen)::DOUBLE AS first_seen,
            epoch_ms(greatest(ids.first_seen, latest.seen_at))::DOUBLE AS last_seen,
            ids.source_id, ids.message_id
     FROM ids LEFT JOIN latest ON latest.profile = ids.profile AND latest.type = ids.type AND latest.value = ids.value
     ORDER BY ids.profile, first_seen, ids.type, ids.value`,
    pairs,
  );
  return byProfile(rows, (row) => ({
    type: String(row.type),
    value: String(row.value),
    originProfileId: Number(row.origin),
    firstSeen: Number(row.first_seen),
    lastSeen: Number(row.last_seen),
    sourceId: String(row.source_id),
    messageId: String(row.message_id),
  }));
}

/**
 * Of each trait, per source, the earliest and the latest observation: all that merging traits
 * needs (latest wins, sources ranked per trait, first-touch traits keep the earliest), however
 * often a trait was set. In order of observation; among observations of the same time, in order
 * of arrival.
 */
export async function readLatestTraits(
  connection: DuckDBConnection,
  pairs: GroupPairs,
  names?: readonly string[],
): Promise<Map<number, TraitRow[]>> {
  const only = names === undefined ? '' : `AND o.name IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`;
  const rows = (
    await connection.runAndReadAll(
      `WITH ${groupsTable},
       observed AS (
         SELECT g.profile, o.origin_profile_id, o.name, o.value, o.source_id, o.observed_at, o.message_id, o.rowid AS arrival
         FROM trait_observations o JOIN g ON g.origin = o.origin_profile_id
         WHERE o.rowid IN (SELECT rowid FROM trait_observations WHERE origin_profile_id IN (SELECT origin FROM members))
           ${only})
       SELECT profile::DOUBLE AS profile, origin_profile_id::DOUBLE AS origin, name, value::VARCHAR AS value,
              source_id, epoch_ms(observed_at)::DOUBLE AS at, message_id
       FROM observed
       QUALIFY row_number() OVER (PARTITION BY profile, name, source_id ORDER BY observed_at DESC, arrival DESC) = 1
            OR row_number() OVER (PARTITION BY profile, name, source_id ORDER BY observed_at, arrival) = 1
       ORDER BY profile, observed_at, arrival`,
      names === undefined
        ? [pairs.origins, pairs.profiles]
        : [pairs.origins, pairs.profiles, JSON.stringify(names)],
    )
  ).getRowObjects();
  return byProfile(rows, (row) => ({
    originProfileId: Number(row.origin),
    name: String(row.name),
    value: String(row.value),
    sourceId: String(row.source_id),
    at: Number(row.at),
    messageId: String(row.message_id),
  }));
}

/** What each profile's events add up to; profiles without events are left out. */
async function readSummaries(
  connection: DuckDBConnection,
  pairs: GroupPairs,
): Promise<Map<number, ProfileSummary>> {
  const rows = await read(
    connection,
    `WITH ${groupsTable},
     member_events AS MATERIALIZED (
       SELECT * FROM ${memberEvents(
         pairs,
         'g.profile, e.timestamp, e.source_id, e.type, e.event, e.properties, e.context, e.extra',
       )}),
     member_rollups AS MATERIALIZED (
       SELECT g.profile, r.* FROM event_rollups r JOIN g ON g.origin = r.profile_id),
     totals AS (
       SELECT profile, sum(events)::DOUBLE AS events,
              epoch_ms(min(first_at))::DOUBLE AS first_seen, epoch_ms(max(last_at))::DOUBLE AS last_seen,
              list_sort(list_distinct(flatten(list(sources)))) AS sources,
              sum(purchases)::DOUBLE AS purchases, sum(revenue)::DOUBLE AS revenue
       FROM (
         SELECT profile, count(*) AS events, min(timestamp) AS first_at, max(timestamp) AS last_at,
                list_distinct(list(source_id)) AS sources,
                count(*) FILTER (WHERE ${isOrderSql}) AS purchases,
                coalesce(sum(${revenueSql}) FILTER (WHERE ${isOrderSql}), 0) AS revenue
         FROM member_events GROUP BY profile
         UNION ALL
         -- What the retention job deleted, added up before it went.
         SELECT profile, sum(events), min(first_at), max(last_at), list_distinct(list(source_id)),
                coalesce(sum(events) FILTER (WHERE ${isOrderSql}), 0), sum(revenue)
         FROM member_rollups GROUP BY profile)
       GROUP BY profile),
     visits AS (
       SELECT profile, sum(sessions)::DOUBLE AS sessions FROM (
         SELECT profile, count(*) FILTER (WHERE gap IS NULL OR gap > ${sessionGapSql}) AS sessions
         FROM (SELECT profile, timestamp - lag(timestamp) OVER (PARTITION BY profile ORDER BY timestamp) AS gap
               FROM member_events)
         GROUP BY profile
         UNION ALL
         SELECT profile, sum(sessions) FROM member_rollups GROUP BY profile)
       GROUP BY profile),
     channels AS (
       SELECT profile,
              to_json(list({sourceId: source_id, channel: channel, library: library, events: events, lastSeen: last_seen}
                           ORDER BY events DESC, source_id, channel NULLS FIRST, library NULLS FIRST))::VARCHAR AS channels
       FROM (SELECT profile, source_id, channel, library, sum(events)::DOUBLE AS events,
                    epoch_ms(max(last_at))::DOUBLE AS last_seen
             FROM (SELECT profile, source_id, ${channelSql} AS channel, ${librarySql} AS library,
                          count(*) AS events, max(timestamp) AS last_at
                   FROM member_events GROUP BY ALL
                   UNION ALL
                   SELECT profile, source_id, channel, library, sum(events), max(last_at)
                   FROM member_rollups GROUP BY ALL)
             GROUP BY ALL)
       GROUP BY profile)
     SELECT totals.profile::DOUBLE AS profile, events, first_seen, last_seen, sources, purchases, revenue,
            sessions, channels
     FROM totals JOIN visits USING (profile) JOIN channels USING (profile)`,
    pairs,
  );
  const summaries = new Map<number, ProfileSummary>();
  for (const row of rows) {
    const sources = row.sources as { items?: unknown[] } | null;
    summaries.set(Number(row.profile), {
      events: Number(row.events),
      firstSeen: Number(row.first_seen),
      lastSeen: Number(row.last_seen),
      sources: (sources?.items ?? []).map(String),
      sessions: Number(row.sessions),
      channels: JSON.parse(String(row.channels)) as ChannelSummary[],
      purchases: Number(row.purchases),
      revenue: Number(row.revenue),
    });
  }
  return summaries;
}

/** Merges in which any member took part, oldest first. */
async function readMerges(connection: DuckDBConnection, pairs: GroupPairs): Promise<Map<number, MergeRow[]>> {
  const rows = await read(
    connection,
    `WITH ${groupsTable},
     involved AS (
       SELECT g.profile, m.id FROM merges m JOIN g ON g.origin = m.survivor
       UNION
       SELECT g.profile, m.id FROM merges m JOIN g ON g.origin = m.absorbed)
     SELECT involved.profile::DOUBLE AS profile, m.id::DOUBLE AS id, epoch_ms(m.merged_at)::DOUBLE AS at,
            m.survivor::DOUBLE AS survivor, m.absorbed::DOUBLE AS absorbed, m.kind,
            m.identifier_type, m.identifier_value, m.source_id, m.message_id,
            epoch_ms(m.undone_at)::DOUBLE AS undone_at
     FROM involved JOIN merges m USING (id)
     ORDER BY involved.profile, m.id`,
    pairs,
  );
  return byProfile(rows, (row) => ({
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

/** Profiles whose latest traits give a whole duplicate key: name, birth date and postal code. */
async function readDuplicateKeyHolders(
  connection: DuckDBConnection,
  pairs: GroupPairs,
): Promise<Set<number>> {
  const rows = await read(
    connection,
    `WITH ${groupsTable},
     parts AS (
       SELECT g.profile, ${latestDuplicateParts}
       FROM trait_keys k JOIN g ON g.origin = k.origin_profile_id
       WHERE k.rowid IN (SELECT rowid FROM trait_keys WHERE origin_profile_id IN (SELECT origin FROM members))
       GROUP BY g.profile),
     keys AS (SELECT profile, ${duplicateKeyOfParts} FROM parts)
     SELECT profile::DOUBLE AS profile FROM keys
     WHERE name IS NOT NULL AND birth_date IS NOT NULL AND postal_code IS NOT NULL`,
    pairs,
  );
  return new Set(rows.map((row) => Number(row.profile)));
}

function byProfile<T>(
  rows: readonly Record<string, DuckDBValue>[],
  toItem: (row: Record<string, DuckDBValue>) => T,
): Map<number, T[]> {
  const out = new Map<number, T[]>();
  for (const row of rows) {
    const profile = Number(row.profile);
    let items = out.get(profile);
    if (items === undefined) out.set(profile, (items = []));
    items.push(toItem(row));
  }
  return out;
}

async function read(
  connection: DuckDBConnection,
  sql: string,
  pairs: GroupPairs,
): Promise<Record<string, DuckDBValue>[]> {
  return (await connection.runAndReadAll(sql, [pairs.origins, pairs.profiles])).getRowObjects();
}
