import { share } from './quality.ts';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { timeZoneOffset } from '../domain/time-zone.ts';
import { mergedPairs } from '../domain/identity-graph.ts';
import type { TraitRules } from '../domain/traits.ts';
import { CibleError } from '../errors.ts';
import type { IdentityResolver } from '../ingestion/resolve-identity.ts';
import type { Rule } from '../segments/rule.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import type { EventCount, Store, UtcOffset } from '../store/store.ts';
import { defaultStaleDays } from './profiles.ts';

export interface OverviewApiOptions {
  readonly store: Store;
  readonly identity: IdentityResolver;
  readonly sources: SourceRegistry;
  readonly traitRules: TraitRules;
  readonly now: () => number;
}

const minute = 60_000;
const hour = 3_600_000;
const day = 86_400_000;
/** Ranges up to this many days are drawn hour by hour; longer ones day by day. */
const hourlyUpToDays = 2;
/** The live chart: events received in each of the last 60 minutes, the current one last. */
const liveMinutes = 60;
/** How long the figures read from the whole base are given again before being computed anew. */
const figuresMaxAgeMs = 60_000;
/** The Segment spec's types, in the order the console stacks them. */
const eventTypes = ['track', 'page', 'screen', 'identify', 'group', 'alias'];

/** A person is identified once they hold a userId or an e-mail address. */
const identifiedRule: Rule = {
  kind: 'or',
  rules: [
    { kind: 'identifier', type: 'userId' },
    { kind: 'identifier', type: 'email' },
  ],
};
/** Consented: e-mail may be used (granted, and confirmed when the rules ask for double opt-in). */
const consentedRule: Rule = { kind: 'consent', purpose: 'email', test: 'may-use' };

const Share = Type.Number({ minimum: 0, maximum: 1, description: 'Of all profiles, 0 to 1.' });
const Counts = Type.Array(Type.Number(), { description: 'One count per bucket, in the order of `buckets`.' });
const MinuteOutput = Type.Object({
  at: Type.String({ description: 'The start of the minute.' }),
  events: Type.Number(),
});
const LiveOutput = Type.Object({
  generatedAt: Type.String(),
  events: Type.Number({ description: 'Every event stored.' }),
  perMinute: Type.Array(MinuteOutput, {
    description: 'The last 60 minutes, the current (partial) one last.',
  }),
});

const OverviewOutput = Type.Object({
  generatedAt: Type.String(),
  figuresAt: Type.String({
    description:
      'When the profile counts and quality figures were computed: they read the whole base, so once a ' +
      'minute old they are computed again in the background for the next call (awaited when over ten ' +
      'minutes old).',
  }),
  totals: Type.Object({
    events: Type.Number({ description: 'Every event stored.' }),
    sources: Type.Number(),
    profiles: Type.Number({ description: 'People: profiles as they stand after merges.' }),
    identified: Type.Number({ description: 'Profiles holding a userId or an e-mail address.' }),
    identifiedShare: Share,
    consented: Type.Number({ description: 'Profiles whose e-mail consent lets them be e-mailed.' }),
    consentedShare: Share,
  }),
  quarantine: Type.Object({ pending: Type.Number(), replayed: Type.Number() }),
  perMinute: LiveOutput.properties.perMinute,
  series: Type.Object({
    days: Type.Number(),
    bucket: Type.Union([Type.Literal('hour'), Type.Literal('day')]),
    timeZone: Type.String(),
    from: Type.String(),
    to: Type.String(),
    buckets: Type.Array(Type.String(), { description: 'The start of each bucket, oldest first.' }),
    events: Type.Number({ description: 'Events received in the range.' }),
    bySource: Type.Array(
      Type.Object({ sourceId: Type.String(), name: Type.String(), events: Type.Number(), counts: Counts }),
      { description: 'Sources with events in the range, the busiest first.' },
    ),
    byType: Type.Array(Type.Object({ type: Type.String(), events: Type.Number(), counts: Counts }), {
      description: 'Event types with events in the range, in the order of the Segment spec.',
    }),
  }),
  quality: Type.Object({
    validEmailShare: Share,
    validPhoneShare: Share,
    staleDays: Type.Number(),
    staleShare: Share,
    duplicateGroups: Type.Number(),
    duplicateProfiles: Type.Number(),
    rejectedIdentifiers: Type.Number({ description: 'Identifier values refused at ingestion.' }),
  }),
});

/**
 * GET /api/overview: what the console's first screen shows, in one call. GET /api/overview/live:
 * the events of the last 60 minutes alone, cheap enough to ask for every few seconds.
 */
export async function overviewApi(fastify: FastifyInstance, options: OverviewApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const { store, now } = options;
  const security = [{ bearerAuth: [] }];

  async function live(at: number) {
    const range = lastMinutes(at);
    const [events, counts] = await Promise.all([
      store.countEvents(),
      store.countEventsOverTime({ ...range, time: 'received', bucketMs: minute, bySourceAndType: false }),
    ]);
    return { events, perMinute: perMinute(range.from, counts) };
  }

  // People and quality read the whole base, about a second for a million people: kept a minute.
  const wholeBase = keptFresh(figuresMaxAgeMs, now, async (at) => {
    const graph = options.identity.graph;
    // Counted with the merges of the same moment as the people they are a share of.
    const profiles = graph.personCount;
    const context = {
      now: at,
      traitRules: options.traitRules,
      segmentRule: () => undefined,
      merged: mergedPairs(graph),
      consentRules: options.identity.consentRules,
    };
    const [[identified = 0, consented = 0], quality] = await Promise.all([
      store.countProfilesMeeting([identifiedRule, consentedRule], context),
      store.qualityReport({ staleBefore: at - defaultStaleDays * day, sample: 0 }),
    ]);
    return {
      people: {
        profiles,
        identified,
        identifiedShare: share(identified, profiles),
        consented,
        consentedShare: share(consented, profiles),
      },
      quality: {
        validEmailShare: share(quality.withValidEmail, quality.profiles),
        validPhoneShare: share(quality.withValidPhone, quality.profiles),
        staleDays: defaultStaleDays,
        staleShare: share(quality.stale, quality.profiles),
        duplicateGroups: quality.duplicateGroups,
        duplicateProfiles: quality.duplicateProfiles,
        rejectedIdentifiers: quality.rejectedIdentifiers.reduce((sum, row) => sum + row.count, 0),
      },
    };
  });

  app.get(
    '/api/overview/live',
    {
      schema: {
        tags: ['overview'],
        summary: 'Events received in each of the last 60 minutes',
        security,
        response: { 200: LiveOutput },
      },
    },
    async () => {
      const at = now();
      return { generatedAt: new Date(at).toISOString(), ...(await live(at)) };
    },
  );

  app.get(
    '/api/overview',
    {
      schema: {
        tags: ['overview'],
        summary:
          'The overview: counts, events over time by source and type, identified and consented shares, quality',
        description:
          'Events are counted by time of reception. Ranges of up to 2 days are cut into hours, longer ' +
          'ones into days, both beginning at midnight in `timeZone`; the last bucket is the current one. ' +
          'Identified: holding a userId or an e-mail address (`has userId or has email`); consented: ' +
          'e-mail may be used (`consent email`). The profile counts and the quality figures (those of ' +
          'GET /api/quality) read the whole base: they are kept up to a minute (see `figuresAt`).',
        security,
        querystring: Type.Object({
          days: Type.Integer({ minimum: 1, maximum: 366, default: 7, description: 'The range, up to now.' }),
          timeZone: Type.String({
            default: 'UTC',
            maxLength: 64,
            description: 'An IANA time zone (Europe/Paris) where days begin.',
          }),
        }),
        response: { 200: OverviewOutput },
      },
    },
    async (request) => {
      const at = now();
      const { days } = request.query;
      const timeZone = checkedTimeZone(request.query.timeZone);
      const range = bucketRange(at, days, timeZone);
      const [current, counts, quarantine] = await Promise.all([
        live(at),
        // When events happened: an imported history falls on its own days, not on the import's.
        store.countEventsOverTime({
          time: 'event',
          from: range.from,
          to: range.to,
          bucketMs: range.bucketMs,
          offsets: range.offsets,
          bySourceAndType: true,
        }),
        store.countQuarantine(),
      ]);
      // Only after this request's own reads: DuckDB's threads are shared, and the figures computed
      // again in the background would hold those reads up.
      const base = await wholeBase();
      return {
        generatedAt: new Date(at).toISOString(),
        figuresAt: new Date(base.at).toISOString(),
        totals: { events: current.events, sources: options.sources.list().length, ...base.value.people },
        quarantine,
        perMinute: current.perMinute,
        series: {
          days,
          bucket: range.bucketMs === hour ? ('hour' as const) : ('day' as const),
          timeZone,
          from: new Date(range.from).toISOString(),
          to: new Date(range.to).toISOString(),
          ...seriesOf(range, counts, (id) => options.sources.byId(id)?.name ?? id),
        },
        quality: base.value.quality,
      };
    },
  );
}

/**
 * A value worth keeping for a while: the first call waits for it; later calls get the kept one at
 * once and, when it is older than `maxAgeMs`, have it computed again in the background for the
 * calls after them. A value ten times older than that (nobody asked for a while) is not given:
 * the call waits for a new one. One computation at a time; a failed one leaves the kept value.
 */
export function keptFresh<T>(
  maxAgeMs: number,
  now: () => number,
  compute: (at: number) => Promise<T>,
): () => Promise<{ readonly at: number; readonly value: T }> {
  let kept: { at: number; value: T } | undefined;
  let running: Promise<{ at: number; value: T }> | undefined;
  const run = (): Promise<{ at: number; value: T }> => {
    if (running !== undefined) return running;
    const at = now();
    running = compute(at).then(
      (value) => {
        running = undefined;
        kept = { at, value };
        return kept;
      },
      (error: unknown) => {
        running = undefined;
        throw error;
      },
    );
    return running;
  };
  return async () => {
    if (kept === undefined || now() - kept.at >= 10 * maxAgeMs) return run();
    // Started once this call has answered: its first steps may take the thread a while.
    if (now() - kept.at >= maxAgeMs) setImmediate(() => void run().catch(() => undefined));
    return kept;
  };
}

function checkedTimeZone(timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en', { timeZone }).resolvedOptions().timeZone;
  } catch {
    throw new CibleError(
      'CIBLE_ERR_API_INVALID_REQUEST',
      `timeZone "${timeZone}" is not a time zone: give an IANA name such as Europe/Paris, or UTC.`,
      { field: 'querystring.timeZone' },
    );
  }
}

function lastMinutes(at: number): { from: number; to: number } {
  const current = Math.floor(at / minute);
  return { from: (current - liveMinutes + 1) * minute, to: (current + 1) * minute };
}

function perMinute(from: number, counts: readonly EventCount[]): { at: string; events: number }[] {
  const byBucket = new Map(counts.map((row) => [row.bucket, row.count]));
  const first = from / minute;
  return Array.from({ length: liveMinutes }, (_, index) => ({
    at: new Date((first + index) * minute).toISOString(),
    events: byBucket.get(first + index) ?? 0,
  }));
}

export interface BucketRange {
  /** The start of the first bucket and the end of the last, ms. */
  readonly from: number;
  readonly to: number;
  readonly bucketMs: number;
  readonly offsets: readonly UtcOffset[];
  /** The local bucket numbers (see EventCount.bucket), oldest first, and where each starts, ms. */
  readonly buckets: readonly number[];
  readonly starts: readonly number[];
}

/**
 * The buckets of the last `days` days up to `at` in a time zone: hours up to two days, days beyond,
 * the current one last, each starting on the hour or at midnight, local time.
 */
export function bucketRange(at: number, days: number, timeZone: string): BucketRange {
  const bucketMs = days <= hourlyUpToDays ? hour : day;
  const count = bucketMs === hour ? days * 24 : days;
  // A day more on each side: the first bucket starts before at - days in UTC terms when east of it.
  const offsets = utcOffsets(timeZone, at - (days + 1) * day, at + day);
  const offsetAt = (instant: number): number =>
    offsets.findLast((offset) => offset.from <= instant)?.offsetMs ?? offsets[0]!.offsetMs;
  // Local time back to an instant: the offset in force at that instant is the one that round-trips.
  const startOf = (bucket: number): number => {
    const local = bucket * bucketMs;
    const fits = offsets.find((offset) => offsetAt(local - offset.offsetMs) === offset.offsetMs);
    return local - (fits ?? offsets[0]!).offsetMs;
  };
  const last = Math.floor((at + offsetAt(at)) / bucketMs);
  const buckets = Array.from({ length: count }, (_, index) => last - count + 1 + index);
  return {
    from: startOf(buckets[0]!),
    to: startOf(last + 1),
    bucketMs,
    offsets,
    buckets,
    starts: buckets.map(startOf),
  };
}

/**
 * The offset from UTC of a time zone over a range, as the changes within it (daylight saving time):
 * sampled every six hours, each change then found to the millisecond.
 */
export function utcOffsets(timeZone: string, from: number, to: number): UtcOffset[] {
  const offsetAt = (instant: number): number => timeZoneOffset(timeZone, instant);
  const step = 6 * hour;
  const offsets: UtcOffset[] = [{ from, offsetMs: offsetAt(from) }];
  let previous = from;
  for (let instant = Math.min(from + step, to); previous < to; instant = Math.min(instant + step, to)) {
    const offsetMs = offsetAt(instant);
    if (offsetMs !== offsets.at(-1)!.offsetMs) {
      let before = previous;
      let after = instant;
      while (after - before > 1) {
        const middle = Math.floor((before + after) / 2);
        if (offsetAt(middle) === offsetMs) after = middle;
        else before = middle;
      }
      offsets.push({ from: after, offsetMs });
    }
    previous = instant;
  }
  return offsets;
}

/** Counts by bucket, source and type as one dense row per source and per type. */
function seriesOf(range: BucketRange, counts: readonly EventCount[], nameOf: (sourceId: string) => string) {
  const index = new Map(range.buckets.map((bucket, position) => [bucket, position]));
  const bySource = new Map<string, number[]>();
  const byType = new Map<string, number[]>();
  const add = (map: Map<string, number[]>, key: string, position: number, count: number): void => {
    let row = map.get(key);
    if (row === undefined) map.set(key, (row = range.buckets.map(() => 0)));
    row[position]! += count;
  };
  let events = 0;
  for (const row of counts) {
    const position = index.get(row.bucket);
    if (position === undefined || row.sourceId === null || row.type === null) continue;
    events += row.count;
    add(bySource, row.sourceId, position, row.count);
    add(byType, row.type, position, row.count);
  }
  const total = (row: readonly number[]): number => row.reduce((sum, count) => sum + count, 0);
  const typeRank = (type: string): number => {
    const rank = eventTypes.indexOf(type);
    return rank === -1 ? eventTypes.length : rank;
  };
  return {
    buckets: range.starts.map((start) => new Date(start).toISOString()),
    events,
    bySource: [...bySource]
      .map(([sourceId, row]) => ({ sourceId, name: nameOf(sourceId), events: total(row), counts: row }))
      .sort((a, b) => b.events - a.events || a.name.localeCompare(b.name)),
    byType: [...byType]
      .map(([type, row]) => ({ type, events: total(row), counts: row }))
      .sort((a, b) => typeRank(a.type) - typeRank(b.type) || a.type.localeCompare(b.type)),
  };
}
