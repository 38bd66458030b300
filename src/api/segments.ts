import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { Segment, SegmentService } from '../segments/segment-service.ts';
import type { SegmentChange } from '../store/segment-store.ts';
import { nextCursor } from './pages.ts';
import { createProfileCards, type ProfileCardsOptions } from './profile-cards.ts';

export interface SegmentsApiOptions extends ProfileCardsOptions {
  readonly segments: SegmentService;
}

const day = 86_400_000;

const RuleInput = Type.Unknown({
  description:
    'The rule, as text (`trait city = "Paris" and count(event "Order Completed" in last 30 days) >= 3`) ' +
    'or as the JSON tree the text parses to (see docs/segments.md).',
});
const Id = Type.Object({ id: Type.String() });
const Limit = Type.Integer({ minimum: 1, maximum: 1000, default: 100 });

/** Saved segments: their rules, members, entries and exits, sizes over time, overlaps; previews. */
export async function segmentsApi(fastify: FastifyInstance, options: SegmentsApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const security = [{ bearerAuth: [] }];
  const tags = ['segments'];
  const profileCards = createProfileCards(options);
  const segments = options.segments;

  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const output = (segment: Segment) => ({
    id: segment.id,
    name: segment.name,
    description: segment.description,
    text: segment.text,
    rule: segment.rule,
    size: segment.size,
    createdAt: iso(segment.createdAt),
    updatedAt: iso(segment.updatedAt),
    refreshedAt: iso(segment.refreshedAt),
  });
  const cards = async (ids: readonly number[]) =>
    (await profileCards(ids)).map(({ merged: _merged, ...card }) => card);

  app.post(
    '/api/segments',
    {
      schema: {
        tags,
        security,
        summary: 'Save a segment',
        description: 'Saves the segment and evaluates it over every profile before answering.',
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 200 }),
          description: Type.Optional(Type.String({ maxLength: 2000 })),
          rule: RuleInput,
        }),
      },
    },
    async (request, reply) => {
      const segment = await segments.create(request.body);
      return reply.code(201).send(output(segment));
    },
  );

  app.get('/api/segments', { schema: { tags, security, summary: 'List the segments' } }, async () => ({
    segments: segments.list().map(output),
  }));

  app.post(
    '/api/segments/preview',
    {
      schema: {
        tags,
        security,
        summary: 'How many profiles a rule selects now, with a sample of 20, without saving it',
        body: Type.Object({ rule: RuleInput }),
      },
    },
    async (request) => {
      const preview = await segments.preview(request.body.rule);
      return { size: preview.size, sample: await cards(preview.sample), rule: preview.rule };
    },
  );

  app.post(
    '/api/segments/refresh',
    {
      schema: {
        tags,
        security,
        summary: 'Evaluate every segment again over every profile now',
        description: 'Segments are evaluated again on a schedule anyway (CIBLE_SEGMENT_REFRESH_SECONDS).',
      },
    },
    async () => {
      const changes = await segments.refreshAll();
      return {
        entered: changes.filter((change) => change.change === 'entered').length,
        exited: changes.filter((change) => change.change === 'exited').length,
      };
    },
  );

  app.get(
    '/api/segments/:id',
    { schema: { tags, security, summary: 'One segment', params: Id } },
    async (request) => output(segments.get(request.params.id)),
  );

  app.put(
    '/api/segments/:id',
    {
      schema: {
        tags,
        security,
        summary: 'Change a segment',
        description:
          'Renaming a segment renames it in the rules of the segments that name it. ' +
          'The segment is evaluated again before the answer.',
        params: Id,
        body: Type.Object({
          name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          description: Type.Optional(Type.String({ maxLength: 2000 })),
          rule: Type.Optional(RuleInput),
        }),
      },
    },
    async (request) => output(await segments.update(request.params.id, request.body)),
  );

  app.delete(
    '/api/segments/:id',
    {
      schema: {
        tags,
        security,
        summary: 'Delete a segment',
        description: 'Its members exit it (recorded as Segment Exited); its history stays.',
        params: Id,
      },
    },
    async (request, reply) => {
      await segments.remove(request.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/segments/:id/members',
    {
      schema: {
        tags,
        security,
        summary: 'The members now, as profile cards, in profile id order',
        params: Id,
        querystring: Type.Object({ cursor: Type.Optional(Type.Integer({ minimum: 0 })), limit: Limit }),
      },
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const ids = await segments.members(request.params.id, { after: cursor, limit });
      return { profiles: await cards(ids), nextCursor: nextCursor(ids, limit, (id) => id) };
    },
  );

  app.get(
    '/api/segments/:id/changes',
    {
      schema: {
        tags,
        security,
        summary: 'Segment Entered and Segment Exited events, oldest first',
        description: 'Each time a profile entered or left the segment. Pass nextCursor as cursor to read on.',
        params: Id,
        querystring: Type.Object({ cursor: Type.Optional(Type.Integer({ minimum: 0 })), limit: Limit }),
      },
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const changes = await segments.changes(request.params.id, { after: cursor, limit });
      return {
        events: changes.map(changeEvent),
        nextCursor: nextCursor(changes, limit, (change) => change.seq),
      };
    },
  );

  app.get(
    '/api/segments/:id/sizes',
    {
      schema: {
        tags,
        security,
        summary: 'The number of members at the end of each day (UTC)',
        params: Id,
        querystring: Type.Object({
          from: Type.Optional(
            Type.String({ format: 'date', description: 'First day; 30 days ago by default.' }),
          ),
          to: Type.Optional(Type.String({ format: 'date', description: 'Last day; today by default.' })),
        }),
      },
    },
    async (request) => {
      const to = request.query.to === undefined ? Date.now() : Date.parse(request.query.to);
      const from = request.query.from === undefined ? to - 30 * day : Date.parse(request.query.from);
      return { sizes: await segments.sizes(request.params.id, { from: Math.min(from, to), to }) };
    },
  );

  app.get(
    '/api/segments/:id/overlap/:other',
    {
      schema: {
        tags,
        security,
        summary: 'How two segments overlap now',
        params: Type.Object({ id: Type.String(), other: Type.String() }),
      },
    },
    async (request) => {
      const { id, other } = request.params;
      const overlap = segments.overlap(id, other);
      const union = overlap.both + overlap.onlyA + overlap.onlyB;
      return {
        segments: [id, other].map((segmentId) => {
          const segment = segments.get(segmentId);
          return { id: segment.id, name: segment.name, size: segment.size };
        }),
        both: overlap.both,
        onlyFirst: overlap.onlyA,
        onlySecond: overlap.onlyB,
        jaccard: union === 0 ? 0 : overlap.both / union,
      };
    },
  );
}

/** A change as the event it stands for. */
export function changeEvent(change: SegmentChange) {
  return {
    seq: change.seq,
    type: 'track',
    event: change.change === 'entered' ? 'Segment Entered' : 'Segment Exited',
    profileId: change.profileId,
    properties: { segmentId: change.segmentId },
    timestamp: new Date(change.at).toISOString(),
  };
}
