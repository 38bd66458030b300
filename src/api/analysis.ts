import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { mergedPairs } from '../domain/identity-graph.ts';
import { isRfmGroupName, rfmGroup, rfmGroups, rfmScores } from '../domain/rfm.ts';
import { withSourceIds } from '../domain/traits.ts';
import { CibleError } from '../errors.ts';
import type { SegmentService } from '../segments/segment-service.ts';
import type { MergedOrigins, RfmBucket, RfmQuery } from '../store/analysis-store.ts';
import type { Store } from '../store/store.ts';
import { nextCursor } from './pages.ts';
import { createProfileCards, type ProfileCardsOptions } from './profile-cards.ts';

export interface AnalysisApiOptions extends ProfileCardsOptions {
  readonly store: Store;
  /** Saved segments; without them the distinguishing report is absent. */
  readonly segments?: SegmentService | undefined;
}

const day = 86_400_000;

/** What the distinguishing report compares, and how much it keeps. */
export const distinguishingRules = {
  /** Events are counted over this many days before now. */
  eventDays: 90,
  /** A trait value or an event must be shared by at least this many members... */
  minMembers: 3,
  /** ...and this share of them. */
  minShare: 0.01,
  /** Trait values and events given, each. */
  limit: 20,
} as const;

const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100 });
const Average = Type.Union([Type.Number(), Type.Null()], { description: 'Null when the group is empty.' });
const Bucket = Type.Object({
  score: Type.Integer({ minimum: 1, maximum: 5 }),
  customers: Type.Integer(),
  min: Type.Union([Type.Number(), Type.Null()], { description: 'Null when no customer has the score.' }),
  max: Type.Union([Type.Number(), Type.Null()]),
});
const RfmParams = {
  event: Type.String({
    minLength: 1,
    maxLength: 200,
    default: 'Order Completed',
    description: 'The track event that is a purchase.',
  }),
  property: Type.String({
    minLength: 1,
    maxLength: 200,
    default: 'revenue',
    description:
      'The property of the purchase event holding its amount; values that are not numbers count 0.',
  }),
};
const groupNames = rfmGroups.map((group) => group.name).join(', ');
const Share = Type.Number({ minimum: 0, maximum: 1 });

/** RFM segmentation, and what sets the members of a segment apart from everyone else. */
export async function analysisApi(fastify: FastifyInstance, options: AnalysisApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const security = [{ bearerAuth: [] }];
  const tags = ['analysis'];
  const profileCards = createProfileCards(options);
  const analysis = options.store.analysis;
  const clock = Date.now;

  /** Origins merged into another profile, and that profile, from the identity graph now. */
  const merged = (): MergedOrigins => mergedPairs(options.identity.graph);

  const rfmQuery = (query: { event: string; property: string }): RfmQuery => ({
    merged: merged(),
    now: clock(),
    event: query.event,
    property: query.property,
  });

  app.get(
    '/api/analysis/rfm',
    {
      schema: {
        tags,
        security,
        summary: 'RFM segmentation of the customers, in named groups',
        description:
          'Customers are the people with at least one purchase event. Each is scored 1 to 5 on recency ' +
          '(days since the latest purchase; 5 for the most recent), frequency (purchases) and monetary ' +
          '(the sum of the amount property), each score a fifth of the customers ranked by the value ' +
          '(ties share a score), and placed in one of 11 groups by its recency and frequency scores. ' +
          'Every group is listed, with its averages; `grid[r-1][f-1]` counts the customers per cell; ' +
          '`scores` gives the range of values each score covers.',
        querystring: Type.Object(RfmParams),
        response: {
          200: Type.Object({
            asOf: Type.String({ description: 'ISO-8601: the time the scores are computed at.' }),
            event: Type.String(),
            property: Type.String(),
            customers: Type.Integer(),
            groups: Type.Array(
              Type.Object({
                name: Type.String(),
                description: Type.String(),
                customers: Type.Integer(),
                share: Type.Number({ description: 'Of all customers, 0 to 1.' }),
                recencyDays: Average,
                frequency: Average,
                monetary: Average,
              }),
            ),
            grid: Type.Array(Type.Array(Type.Integer()), {
              description: 'Customers per cell: grid[r-1][f-1], recency score by frequency score.',
            }),
            scores: Type.Object({
              recency: Type.Array(Bucket),
              frequency: Type.Array(Bucket),
              monetary: Type.Array(Bucket),
            }),
          }),
        },
      },
    },
    async (request) => {
      const query = rfmQuery(request.query);
      const summary = await analysis.rfmSummary(query);
      const grid = rfmScores.map(() => rfmScores.map(() => 0));
      const totals = new Map(
        rfmGroups.map((group) => [group.name, { customers: 0, recencyDays: 0, frequency: 0, monetary: 0 }]),
      );
      for (const cell of summary.cells) {
        grid[cell.r - 1]![cell.f - 1] = cell.customers;
        const total = totals.get(rfmGroup(cell.r, cell.f))!;
        total.customers += cell.customers;
        total.recencyDays += cell.recencyDays;
        total.frequency += cell.frequency;
        total.monetary += cell.monetary;
      }
      const average = (sum: number, count: number) => (count === 0 ? null : sum / count);
      const buckets = (found: readonly RfmBucket[]) =>
        rfmScores.map((score) => {
          const bucket = found.find((candidate) => candidate.score === score);
          return {
            score,
            customers: bucket?.customers ?? 0,
            min: bucket?.min ?? null,
            max: bucket?.max ?? null,
          };
        });
      return {
        asOf: new Date(query.now).toISOString(),
        event: query.event,
        property: query.property,
        customers: summary.customers,
        groups: rfmGroups.map((group) => {
          const total = totals.get(group.name)!;
          return {
            name: group.name,
            description: group.description,
            customers: total.customers,
            share: summary.customers === 0 ? 0 : total.customers / summary.customers,
            recencyDays: average(total.recencyDays, total.customers),
            frequency: average(total.frequency, total.customers),
            monetary: average(total.monetary, total.customers),
          };
        }),
        grid,
        scores: {
          recency: buckets(summary.scores.recency),
          frequency: buckets(summary.scores.frequency),
          monetary: buckets(summary.scores.monetary),
        },
      };
    },
  );

  app.get(
    '/api/analysis/rfm/members',
    {
      schema: {
        tags,
        security,
        summary:
          'The customers of an RFM group or of cells of the grid, as profile cards with their scores, ' +
          'in profile id order',
        description:
          'Give a group, or the recency score r and the frequency score f of a cell of the grid (r alone: a ' +
          'row; f alone: a column); given together, a customer must meet each. Scores are computed again ' +
          'for each page, as of the request. Pass nextCursor as cursor to read on.',
        querystring: Type.Object({
          group: Type.Optional(Type.String({ description: `One of: ${groupNames}.` })),
          r: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'Recency score.' })),
          f: Type.Optional(Type.Integer({ minimum: 1, maximum: 5, description: 'Frequency score.' })),
          ...RfmParams,
          cursor: Type.Optional(Type.Integer({ minimum: 0 })),
          limit: Limit,
        }),
      },
    },
    async (request) => {
      const { group, r, f, cursor, limit } = request.query;
      if (group !== undefined && !isRfmGroupName(group)) {
        throw new CibleError(
          'CIBLE_ERR_API_INVALID_REQUEST',
          `group: there is no RFM group "${group}"; use one of ${groupNames}.`,
          { field: 'querystring.group' },
        );
      }
      if (group === undefined && r === undefined && f === undefined) {
        throw new CibleError(
          'CIBLE_ERR_API_INVALID_REQUEST',
          `querystring: say whose customers to list: a group (one of ${groupNames}), or the scores r and f of a cell.`,
          { field: 'querystring.group' },
        );
      }
      const cells = rfmScores.flatMap((cellR) =>
        rfmScores
          .filter(
            (cellF) =>
              (r === undefined || r === cellR) &&
              (f === undefined || f === cellF) &&
              (group === undefined || rfmGroup(cellR, cellF) === group),
          )
          .map((cellF) => ({ r: cellR, f: cellF })),
      );
      const customers =
        cells.length === 0
          ? []
          : await analysis.rfmMembers(rfmQuery(request.query), {
              cells,
              ...(cursor === undefined ? {} : { after: cursor }),
              limit,
            });
      const scores = new Map(customers.map((customer) => [customer.profileId, customer]));
      const cards = await profileCards(customers.map((customer) => customer.profileId));
      return {
        group: group ?? (r !== undefined && f !== undefined ? rfmGroup(r, f) : null),
        ...(r === undefined ? {} : { r }),
        ...(f === undefined ? {} : { f }),
        profiles: cards.map(({ merged: _merged, ...card }) => {
          const { r, f, m, recencyDays, frequency, monetary } = scores.get(card.id)!;
          return { ...card, r, f, m, recencyDays, frequency, monetary };
        }),
        nextCursor: nextCursor(customers, limit, (customer) => customer.profileId),
      };
    },
  );

  const segments = options.segments;
  if (segments === undefined) return;
  const { minMembers, minShare, limit } = distinguishingRules;
  const support = `${minMembers} members and ${minShare * 100}% of them`;

  app.get(
    '/api/analysis/segments/:id/distinguishing',
    {
      schema: {
        tags,
        security,
        summary: 'What sets the members of a segment apart from every other person',
        description:
          'Compares the members now with the whole base (every person). Traits: each string or boolean ' +
          `value of each trait (the value a profile shows), held by at least ${support}, with the share ` +
          'of members and of the base holding it and lift = memberShare / baseShare; the ' +
          `${limit} with the highest lift above 1. Events: each track event name (and \`page\` for page ` +
          `views) over the last ${distinguishingRules.eventDays} days, done by at least ${support}, ` +
          'with the shares of members and of the base who did it, lift, and events per member and per ' +
          `person; the ${limit} with the highest lift.`,
        params: Type.Object({ id: Type.String() }),
        response: {
          200: Type.Object({
            segment: Type.Object({ id: Type.String(), name: Type.String() }),
            members: Type.Integer({ description: 'Members now.' }),
            base: Type.Integer({ description: 'Every person.' }),
            since: Type.String({ description: 'ISO-8601: the start of the window events are counted over.' }),
            traits: Type.Array(
              Type.Object({
                name: Type.String(),
                value: Type.Union([Type.String(), Type.Boolean()]),
                members: Type.Integer({ description: 'Members holding the value.' }),
                memberShare: Share,
                baseShare: Share,
                lift: Type.Number(),
              }),
            ),
            events: Type.Array(
              Type.Object({
                type: Type.Union([Type.Literal('track'), Type.Literal('page')]),
                event: Type.String({ description: 'The event name; `page` for page views.' }),
                members: Type.Integer({ description: 'Members who did it.' }),
                memberShare: Share,
                baseShare: Share,
                lift: Type.Number(),
                perMember: Type.Number({ description: 'Events per member.' }),
                perPerson: Type.Number({ description: 'Events per person of the base.' }),
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const segment = segments.get(request.params.id);
      const now = clock();
      const since = now - distinguishingRules.eventDays * day;
      const query = {
        segmentId: segment.id,
        merged: merged(),
        traitRules: withSourceIds(options.traitRules, options.sources.list()),
        minMembers,
        minShare,
        limit,
      };
      const traits = await analysis.distinguishingTraits(query);
      const events = await analysis.distinguishingEvents({ ...query, since });
      return {
        segment: { id: segment.id, name: segment.name },
        members: traits.members,
        base: traits.base,
        since: new Date(since).toISOString(),
        traits: [...traits.found],
        events: [...events.found],
      };
    },
  );
}
