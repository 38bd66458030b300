import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { ComputedTrait, SegmentService } from '../segments/segment-service.ts';
import { nextCursor } from './pages.ts';

export interface ComputedTraitsApiOptions {
  readonly segments: SegmentService;
}

const Expression = Type.String({
  minLength: 1,
  description:
    'The aggregate, as text: `sum(event "Order Completed".revenue in last 90 days)`, ' +
    '`mode(event "Order Completed".category)`, `last(event "Order Completed")` (see docs/segments.md).',
});
const Id = Type.Object({ id: Type.String() });

/** Computed traits: named per-profile aggregates of events, shown on profiles and read by segments. */
export async function computedTraitsApi(
  fastify: FastifyInstance,
  options: ComputedTraitsApiOptions,
): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const security = [{ bearerAuth: [] }];
  const tags = ['computed traits'];
  const traits = options.segments.computedTraits;
  const iso = (ms: number): string => new Date(ms).toISOString();
  const output = (trait: ComputedTrait) => ({
    id: trait.id,
    name: trait.name,
    description: trait.description,
    expression: trait.text,
    tree: trait.expression,
    createdAt: iso(trait.createdAt),
    updatedAt: iso(trait.updatedAt),
  });

  app.post(
    '/api/computed-traits',
    {
      schema: {
        tags,
        security,
        summary: 'Define a computed trait',
        description: 'Segments read it as `trait <name>`; a stored trait of the same name is hidden by it.',
        body: Type.Object({
          name: Type.String({ minLength: 1, maxLength: 200 }),
          description: Type.Optional(Type.String({ maxLength: 2000 })),
          expression: Expression,
        }),
      },
    },
    async (request, reply) => reply.code(201).send(output(await traits.create(request.body))),
  );

  app.get(
    '/api/computed-traits',
    { schema: { tags, security, summary: 'List the computed traits' } },
    async () => ({
      computedTraits: traits.list().map(output),
    }),
  );

  app.get(
    '/api/computed-traits/:id',
    { schema: { tags, security, summary: 'One computed trait', params: Id } },
    async (request) => output(traits.get(request.params.id)),
  );

  app.put(
    '/api/computed-traits/:id',
    {
      schema: {
        tags,
        security,
        summary: 'Change a computed trait',
        description: 'Renaming it renames it in the segments that read it.',
        params: Id,
        body: Type.Object({
          name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          description: Type.Optional(Type.String({ maxLength: 2000 })),
          expression: Type.Optional(Expression),
        }),
      },
    },
    async (request) => output(await traits.update(request.params.id, request.body)),
  );

  app.delete(
    '/api/computed-traits/:id',
    { schema: { tags, security, summary: 'Delete a computed trait no segment reads', params: Id } },
    async (request, reply) => {
      await traits.remove(request.params.id);
      return reply.code(204).send();
    },
  );

  app.get(
    '/api/computed-traits/:id/values',
    {
      schema: {
        tags,
        security,
        summary: "Every person's value now, in profile id order",
        params: Id,
        querystring: Type.Object({
          cursor: Type.Optional(Type.Integer({ minimum: 0 })),
          limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }),
        }),
      },
    },
    async (request) => {
      const { cursor, limit } = request.query;
      const values = await traits.values(request.params.id, { after: cursor, limit });
      return { values, nextCursor: nextCursor(values, limit, (value) => value.profileId) };
    },
  );
}
