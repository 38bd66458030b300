import { createSerialQueue } from '../../serial-queue.ts';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import {
  foldConsent,
  type ConsentMethod,
  type ConsentObservation,
  type ConsentState,
} from '../../domain/consent.ts';
import type { EventExpression, Rule } from '../../segments/rule.ts';
import type { ExpressionRollup, ViewEvent } from '../../segments/evaluate-rule.ts';
import type { Needs } from '../../segments/rule-dependencies.ts';
import type {
  ComputedTraitRecord,
  ProfileViewData,
  SegmentChange,
  SegmentRecord,
  SegmentStore,
} from '../segment-store.ts';
import type { ProfileGroups, TraitRow } from '../store.ts';
import { groupPairs, groupsTable, memberEvents, readLatestTraits } from './duckdb-profile-facts.ts';
import { appendRows, timestampValue } from './append-rows.ts';
import { compileExpressionQuery, compileSegmentQuery } from './duckdb-segment-sql.ts';

const day = 86_400_000;

/**
 * Segments and their membership, on a connection of their own: evaluating a segment over the
 * whole base reads for seconds, and neither requests nor the pipeline wait for it.
 */
export async function createDuckdbSegmentStore(
  connection: DuckDBConnection,
  live: DuckDBConnection,
): Promise<SegmentStore> {
  const serial = createSerialQueue();
  // Reads for real-time evaluation, on their own connection: they never wait for a long refresh.
  const liveSerial = createSerialQueue();

  async function rows(sql: string, values: DuckDBValue[] = []): Promise<Record<string, DuckDBValue>[]> {
    return (await connection.runAndReadAll(sql, values)).getRowObjects();
  }

  const [last] = await rows('SELECT coalesce(max(seq), 0)::DOUBLE AS seq FROM segment_changes');
  let nextSeq = Number(last?.seq ?? 0) + 1;

  /**
   * Records the changes in the temp table `cible_segment_changes` (segment_id, profile, entered) as
   * of `at`, appended to the log. Runs inside the caller's transaction.
   */
  async function recordChanges(at: number): Promise<SegmentChange[]> {
    const changes = await rows(
      `SELECT segment_id, profile::DOUBLE AS profile, entered FROM cible_segment_changes
       ORDER BY segment_id, entered DESC, profile`,
    );
    return appendChanges(
      changes.map((row) => ({
        segmentId: String(row.segment_id),
        profileId: Number(row.profile),
        change: row.entered === true ? ('entered' as const) : ('exited' as const),
      })),
      at,
    );
  }

  /** Appends changes to the log, numbered in order. Runs inside the caller's transaction. */
  async function appendChanges(
    changes: readonly Pick<SegmentChange, 'segmentId' | 'profileId' | 'change'>[],
    at: number,
  ): Promise<SegmentChange[]> {
    const first = nextSeq;
    const recorded = changes.map((change, index) => ({ ...change, seq: first + index, at }));
    if (recorded.length === 0) return recorded;
    const changedAt = timestampValue(at);
    await appendRows(connection, 'segment_changes', (appender) => {
      for (const change of recorded) {
        appender.appendBigInt(BigInt(change.seq));
        appender.appendVarchar(change.segmentId);
        appender.appendBigInt(BigInt(change.profileId));
        appender.appendBoolean(change.change === 'entered');
        appender.appendTimestampTZ(changedAt);
        appender.endRow();
      }
    });
    nextSeq += recorded.length;
    return recorded;
  }

  async function inTransaction<T>(work: () => Promise<T>): Promise<T> {
    await connection.run('BEGIN TRANSACTION');
    try {
      const result = await work();
      await connection.run('COMMIT');
      return result;
    } catch (error) {
      await connection.run('ROLLBACK');
      throw error;
    }
  }

  return {
    saveSegment: (segment) =>
      serial(async () => {
        await connection.run(`INSERT OR REPLACE INTO segments VALUES (?, ?, ?, ?, ?, ?, NULL)`, [
          segment.id,
          segment.name,
          segment.description,
          JSON.stringify(segment.rule),
          timestampValue(segment.createdAt),
          timestampValue(segment.updatedAt),
        ]);
      }),

    listSegments: () =>
      serial(async () => {
        const found = await rows(
          `SELECT id, name, description, rule::VARCHAR AS rule, epoch_ms(created_at)::DOUBLE AS created_at,
                  epoch_ms(updated_at)::DOUBLE AS updated_at
           FROM segments WHERE deleted_at IS NULL ORDER BY created_at, id`,
        );
        return found.map((row): SegmentRecord => ({
          id: String(row.id),
          name: String(row.name),
          description: String(row.description),
          rule: JSON.parse(String(row.rule)) as Rule,
          createdAt: Number(row.created_at),
          updatedAt: Number(row.updated_at),
        }));
      }),

    deleteSegment: (id, at) =>
      serial(async () => {
        await connection.run('UPDATE segments SET deleted_at = ? WHERE id = ?', [timestampValue(at), id]);
      }),

    saveComputedTrait: (trait) =>
      serial(async () => {
        await connection.run(`INSERT OR REPLACE INTO computed_traits VALUES (?, ?, ?, ?, ?, ?, NULL)`, [
          trait.id,
          trait.name,
          trait.description,
          JSON.stringify(trait.expression),
          timestampValue(trait.createdAt),
          timestampValue(trait.updatedAt),
        ]);
      }),

    listComputedTraits: () =>
      serial(async () => {
        const found = await rows(
          `SELECT id, name, description, expression::VARCHAR AS expression,
                  epoch_ms(created_at)::DOUBLE AS created_at, epoch_ms(updated_at)::DOUBLE AS updated_at
           FROM computed_traits WHERE deleted_at IS NULL ORDER BY created_at, id`,
        );
        return found.map((row): ComputedTraitRecord => ({
          id: String(row.id),
          name: String(row.name),
          description: String(row.description),
          expression: JSON.parse(String(row.expression)) as EventExpression,
          createdAt: Number(row.created_at),
          updatedAt: Number(row.updated_at),
        }));
      }),

    deleteComputedTrait: (id, at) =>
      serial(async () => {
        await connection.run('UPDATE computed_traits SET deleted_at = ? WHERE id = ?', [
          timestampValue(at),
          id,
        ]);
      }),

    computedValues: (expression, context, { after, limit }) =>
      serial(async () => {
        const compiled = compileExpressionQuery(expression, context);
        const found = await rows(
          `SELECT profile::DOUBLE AS profile, v::VARCHAR AS v FROM (${compiled.sql}) WHERE profile > ${Math.floor(after ?? -1)}
           ORDER BY profile LIMIT ${Math.floor(limit)}`,
          compiled.params,
        );
        return found.map((row) => ({
          profileId: Number(row.profile),
          value: row.v === null ? null : (JSON.parse(String(row.v)) as unknown),
        }));
      }),

    previewRule: (rule, context, sampleSize) =>
      serial(async () => {
        const compiled = compileSegmentQuery(rule, context);
        const found = await rows(
          `WITH members AS (${compiled.sql})
           SELECT (SELECT count(*) FROM members)::DOUBLE AS size,
                  (SELECT list(profile::DOUBLE ORDER BY hash(profile), profile) FROM
                     (SELECT profile FROM members ORDER BY hash(profile), profile LIMIT ${Math.floor(sampleSize)})) AS sample`,
          compiled.params,
        );
        const row = found[0];
        const sample = (row?.sample as { items?: unknown[] } | null)?.items ?? [];
        return { size: Number(row?.size ?? 0), sample: sample.map(Number) };
      }),

    refreshSegment: (segmentId, rule, context) =>
      serial(() =>
        inTransaction(async () => {
          const compiled = compileSegmentQuery(rule, context);
          await connection.run(
            `CREATE OR REPLACE TEMP TABLE cible_segment_now AS ${compiled.sql}`,
            compiled.params,
          );
          await connection.run(
            `CREATE OR REPLACE TEMP TABLE cible_segment_changes AS
             SELECT ?::VARCHAR AS segment_id, profile, true AS entered FROM cible_segment_now
             WHERE profile NOT IN ${membersOf('?')}
             UNION ALL
             SELECT ?, profile_id, false FROM ${membersOf('?')} AS members(profile_id)
             WHERE profile_id NOT IN (SELECT profile FROM cible_segment_now)`,
            [segmentId, segmentId, segmentId, segmentId],
          );
          return recordChanges(context.now);
        }),
      ),

    closeSegment: (segmentId, at) =>
      serial(() =>
        inTransaction(async () => {
          await connection.run(
            `CREATE OR REPLACE TEMP TABLE cible_segment_changes AS
             SELECT ?::VARCHAR AS segment_id, profile_id AS profile, false AS entered
             FROM ${membersOf('?')} AS members(profile_id)`,
            [segmentId, segmentId],
          );
          return recordChanges(at);
        }),
      ),

    recordChanges: (changes, at) => serial(() => inTransaction(() => appendChanges(changes, at))),

    readProfileViews: (groups, needs) => liveSerial(() => readProfileViews(live, groups, needs)),

    loadMemberships: () =>
      serial(async () => {
        const memberships = new Map<string, Set<number>>();
        const reader = await connection.stream(
          `SELECT segment_id, profile_id::DOUBLE AS profile FROM segment_changes
           WHERE segment_id IN (SELECT id FROM segments WHERE deleted_at IS NULL)
           GROUP BY ALL HAVING arg_max(entered, seq)`,
        );
        for (;;) {
          const chunk = await reader.fetchChunk();
          if (chunk === null || chunk.rowCount === 0) break;
          const [segmentIds, profiles] = [chunk.getColumnValues(0), chunk.getColumnValues(1)];
          for (let index = 0; index < chunk.rowCount; index++) {
            const segmentId = String(segmentIds[index]);
            let members = memberships.get(segmentId);
            if (members === undefined) memberships.set(segmentId, (members = new Set()));
            members.add(Number(profiles[index]));
          }
        }
        return memberships;
      }),

    listMembers: (segmentId, { after, limit }) =>
      serial(async () => {
        const found = await rows(
          `SELECT profile_id::DOUBLE AS profile FROM ${membersOf('?')} AS members(profile_id)
           WHERE profile_id > ? ORDER BY profile_id LIMIT ?`,
          [segmentId, after ?? -1, limit],
        );
        return found.map((row) => Number(row.profile));
      }),

    listChanges: (segmentId, { after, limit }) =>
      serial(async () => {
        const found = await rows(
          `SELECT seq::DOUBLE AS seq, profile_id::DOUBLE AS profile, entered, epoch_ms(changed_at)::DOUBLE AS at
           FROM segment_changes WHERE segment_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
          [segmentId, after ?? 0, limit],
        );
        return found.map((row) => ({
          seq: Number(row.seq),
          segmentId,
          profileId: Number(row.profile),
          change: row.entered === true ? ('entered' as const) : ('exited' as const),
          at: Number(row.at),
        }));
      }),

    segmentSizes: (segmentId, { from, to }) =>
      serial(async () => {
        const found = await rows(
          `SELECT floor(epoch_ms(changed_at) / ${day})::DOUBLE AS day, sum(CASE WHEN entered THEN 1 ELSE -1 END)::DOUBLE AS delta
           FROM segment_changes WHERE segment_id = ? AND changed_at < ? GROUP BY ALL ORDER BY day`,
          [segmentId, timestampValue(Math.floor(to / day) * day + day)],
        );
        const sizes: { day: string; size: number }[] = [];
        let size = 0;
        let next = 0;
        for (let current = Math.floor(from / day); current <= Math.floor(to / day); current++) {
          while (next < found.length && Number(found[next]!.day) <= current)
            size += Number(found[next++]!.delta);
          sizes.push({ day: new Date(current * day).toISOString().slice(0, 10), size });
        }
        return sizes;
      }),
  };
}

/**
 * The members now of the segment whose id is the SQL expression given: the profiles whose latest
 * change is an entry. A subquery of one column.
 */
export function membersOf(segmentId: string): string {
  return `(SELECT profile_id FROM segment_changes WHERE segment_id = ${segmentId}
           GROUP BY profile_id HAVING arg_max(entered, seq))`;
}

/** See SegmentStore.readProfileViews. */
async function readProfileViews(
  connection: DuckDBConnection,
  groups: ProfileGroups,
  needs: Needs,
): Promise<Map<number, ProfileViewData>> {
  if (groups.size === 0) return new Map();
  const views = new Map<
    number,
    { events: ViewEvent[]; rollups: ExpressionRollup[]; traits: TraitRow[]; changes: ConsentObservation[] }
  >();
  for (const profile of groups.keys())
    views.set(profile, { events: [], rollups: [], traits: [], changes: [] });
  const pairs = groupPairs(groups);
  if (needs.events.length > 0) {
    const events = await connection.runAndReadAll(
      `WITH ${groupsTable}
       SELECT profile::DOUBLE AS profile, seq::DOUBLE AS seq, event, epoch_ms(timestamp)::DOUBLE AS at,
              properties::VARCHAR AS properties
       FROM ${memberEvents(pairs, 'g.profile, e.seq, e.type, e.event, e.timestamp, e.properties')}
       WHERE type = 'track' AND event IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`,
      [pairs.origins, pairs.profiles, JSON.stringify(needs.events)],
    );
    for (const row of events.getRowObjects()) {
      views.get(Number(row.profile))?.events.push({
        seq: Number(row.seq),
        type: 'track',
        event: String(row.event),
        timestamp: Number(row.at),
        properties:
          row.properties === null ? null : (JSON.parse(String(row.properties)) as Record<string, unknown>),
      });
    }
  }
  const computedEvents = needs.computedEvents ?? [];
  if (computedEvents.length > 0) {
    const rollups = await connection.runAndReadAll(
      `WITH ${groupsTable}
       SELECT g.profile::DOUBLE AS profile, r.expression_key, epoch_ms(r.first_at)::DOUBLE AS first_at,
              epoch_ms(r.last_at)::DOUBLE AS last_at, r.events::DOUBLE AS events, r.numbers::DOUBLE AS numbers,
              r.value::VARCHAR AS value
       FROM computed_trait_rollups r JOIN g ON g.origin = r.profile_id
       WHERE r.event IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`,
      [pairs.origins, pairs.profiles, JSON.stringify(computedEvents)],
    );
    for (const row of rollups.getRowObjects()) {
      views.get(Number(row.profile))?.rollups.push({
        key: String(row.expression_key),
        firstAt: Number(row.first_at),
        lastAt: Number(row.last_at),
        events: Number(row.events),
        numbers: Number(row.numbers),
        value: row.value === null ? null : (JSON.parse(String(row.value)) as unknown),
      });
    }
  }
  if (needs.traits.length > 0) {
    for (const [profile, traits] of await readLatestTraits(connection, pairs, needs.traits)) {
      views.get(profile)?.traits.push(...traits);
    }
  }
  if (needs.consent.length > 0) {
    // In recording order: foldConsent breaks ties in time by it.
    const changes = await connection.runAndReadAll(
      `WITH ${groupsTable}
       SELECT g.profile::DOUBLE AS profile, c.purpose, c.state, c.double_opt_in, epoch_ms(c.expressed_at)::DOUBLE AS at,
              c.source_id, c.message_id, c.method, c.detail
       FROM consent_changes c JOIN g ON g.origin = c.profile_id
       WHERE c.purpose IN (SELECT unnest(from_json(?, '["VARCHAR"]')))
       ORDER BY g.profile, c.seq`,
      [pairs.origins, pairs.profiles, JSON.stringify(needs.consent)],
    );
    for (const row of changes.getRowObjects()) {
      views.get(Number(row.profile))?.changes.push({
        purpose: String(row.purpose),
        state: String(row.state) as ConsentState,
        // Absent rather than null: foldConsent takes any double opt-in present as said.
        ...(row.double_opt_in === null
          ? {}
          : { doubleOptIn: String(row.double_opt_in) as 'pending' | 'confirmed' }),
        at: Number(row.at),
        sourceId: String(row.source_id),
        messageId: String(row.message_id),
        method: String(row.method) as ConsentMethod,
        ...(row.detail === null ? {} : { detail: String(row.detail) }),
      });
    }
  }
  return new Map(
    [...views].map(([profile, { events, rollups, traits, changes }]) => [
      profile,
      { events, rollups, traits, consent: foldConsent(changes) },
    ]),
  );
}
