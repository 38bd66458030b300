import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import {
  isIdentifierRejection,
  normaliseIdentifier,
  parseIdentifierKey,
  type IdentifierRules,
} from '../domain/identifiers.ts';
import { mergeTraits, withSourceIds, type TraitRules } from '../domain/traits.ts';
import { CibleError } from '../errors.ts';
import type { IngestPipeline } from '../ingestion/pipeline.ts';
import type { IdentityResolver } from '../ingestion/resolve-identity.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import type { Store } from '../store/store.ts';
import { eventOutput } from './admin.ts';
import { sendError } from './error-handler.ts';

export interface ProfilesApiOptions {
  readonly store: Store;
  readonly pipeline: IngestPipeline;
  readonly identity: IdentityResolver;
  readonly identifierRules: IdentifierRules;
  readonly traitRules: TraitRules;
  readonly sources: SourceRegistry;
}

/** The 360° profile: identifiers, traits with their origin, summary, merge history, timeline. */
export async function profilesApi(fastify: FastifyInstance, options: ProfilesApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const security = [{ bearerAuth: [] }];
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

  async function profile(id: number) {
    const graph = options.identity.graph;
    const canonical = graph.canonical(id);
    const members = graph.members(canonical);
    if (members.length === 0) return undefined;
    const [identities, traits, summary, merges] = await Promise.all([
      options.store.listIdentities(members),
      options.store.listProfileTraits(members),
      options.store.summarizeProfile(members),
      options.store.listMerges(members),
    ]);
    const merged = mergeTraits(
      traits.map((trait) => ({ ...trait, value: JSON.parse(trait.value) as unknown })),
      withSourceIds(options.traitRules, options.sources.list()),
    );
    return {
      id: canonical,
      ...(canonical === id ? {} : { requestedId: id }),
      members,
      identifiers: identities.map((row) => ({
        type: row.type,
        value: row.value,
        firstSeen: iso(row.firstSeen),
        sourceId: row.sourceId,
        originProfileId: row.originProfileId,
      })),
      traits: Object.fromEntries(
        [...merged.values()].map((trait) => [
          trait.name,
          { value: trait.value, sourceId: trait.sourceId, at: iso(trait.at), messageId: trait.messageId },
        ]),
      ),
      firstSeen: iso(summary.firstSeen),
      lastSeen: iso(summary.lastSeen),
      summary: {
        events: summary.events,
        sources: summary.sources,
        purchases: summary.purchases,
        revenue: summary.revenue,
      },
      merges: merges.map((merge) => ({
        id: merge.id,
        at: iso(merge.at),
        survivor: merge.survivor,
        absorbed: merge.absorbed,
        kind: merge.kind,
        identifier:
          merge.identifierType === null ? null : { type: merge.identifierType, value: merge.identifierValue },
        sourceId: merge.sourceId,
        messageId: merge.messageId,
        undoneAt: iso(merge.undoneAt),
      })),
    };
  }

  const notFound = (what: string) => new CibleError('CIBLE_ERR_API_NOT_FOUND', `No profile ${what}.`);

  app.get(
    '/api/profiles',
    {
      schema: {
        tags: ['profiles'],
        summary: 'Find the profile of an identifier, normalised as at ingestion (email:Jane@Example.com)',
        security,
        querystring: Type.Object({ identifier: Type.String({ minLength: 3, description: 'type:value' }) }),
      },
    },
    async (request, reply) => {
      const parsed = parseIdentifierKey(request.query.identifier);
      if (parsed === undefined) {
        return sendError(
          reply,
          new CibleError(
            'CIBLE_ERR_API_INVALID_REQUEST',
            'identifier must be type:value, e.g. email:jane@example.com.',
            {
              field: 'querystring.identifier',
            },
          ),
        );
      }
      const identifier = normaliseIdentifier(parsed.type, parsed.raw, options.identifierRules);
      if (isIdentifierRejection(identifier)) {
        return sendError(
          reply,
          new CibleError('CIBLE_ERR_API_INVALID_REQUEST', identifier.reason, {
            field: 'querystring.identifier',
          }),
        );
      }
      const id = options.identity.graph.profileOf(identifier);
      const found = id === undefined ? undefined : await profile(id);
      if (found === undefined)
        return sendError(reply, notFound(`with ${identifier.type} ${identifier.value}`));
      return found;
    },
  );

  app.get(
    '/api/profiles/:id',
    {
      schema: {
        tags: ['profiles'],
        summary: 'One profile: identifiers, traits with source and time, summary, merge history',
        security,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
      },
    },
    async (request, reply) => {
      const found = await profile(request.params.id);
      if (found === undefined) return sendError(reply, notFound(String(request.params.id)));
      return found;
    },
  );

  app.get(
    '/api/profiles/:id/events',
    {
      schema: {
        tags: ['profiles'],
        summary: 'The timeline of a profile across channels, newest first',
        security,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          cursor: Type.Optional(Type.Integer({ minimum: 1 })),
        }),
      },
    },
    async (request, reply) => {
      const members = options.identity.graph.members(options.identity.graph.canonical(request.params.id));
      if (members.length === 0) return sendError(reply, notFound(String(request.params.id)));
      const rows = await options.store.listEvents({
        profileIds: members,
        limit: request.query.limit,
        ...(request.query.cursor === undefined ? {} : { beforeSeq: request.query.cursor }),
      });
      const last = rows.at(-1);
      return {
        events: rows.map(eventOutput),
        nextCursor: rows.length === request.query.limit && last !== undefined ? last.seq : null,
      };
    },
  );

  app.post(
    '/api/profiles/:id/unmerge',
    {
      schema: {
        tags: ['profiles'],
        summary:
          'Undo the merge that absorbed this profile: both profiles come back with their own identifiers, traits and events',
        security,
        params: Type.Object({
          id: Type.Integer({
            minimum: 1,
            description: 'The absorbed profile (a member of a merged profile).',
          }),
        }),
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const result = await options.pipeline.changeIdentity((resolver, changes) =>
        resolver.unmerge(id, Date.now(), changes),
      );
      if (result === undefined) {
        return sendError(
          reply,
          new CibleError('CIBLE_ERR_API_INVALID_REQUEST', `Profile ${id} was not merged into another one.`, {
            field: 'id',
          }),
        );
      }
      return { survivor: await profile(result.survivor), restored: await profile(id) };
    },
  );

  app.post(
    '/api/profiles/merge',
    {
      schema: {
        tags: ['profiles'],
        summary: "Merge two profiles on a person's word (within the identity rules)",
        security,
        body: Type.Object({ survivor: Type.Integer({ minimum: 1 }), absorbed: Type.Integer({ minimum: 1 }) }),
      },
    },
    async (request, reply) => {
      const { survivor, absorbed } = request.body;
      const graph = options.identity.graph;
      if (graph.members(survivor).length === 0 || graph.members(absorbed).length === 0) {
        return sendError(reply, notFound(`${graph.members(survivor).length === 0 ? survivor : absorbed}`));
      }
      const result = await options.pipeline.changeIdentity((resolver, changes) =>
        resolver.merge(survivor, absorbed, Date.now(), changes),
      );
      if (!result.merged) {
        return sendError(
          reply,
          new CibleError('CIBLE_ERR_API_INVALID_REQUEST', `Not merged: ${result.reason}.`),
        );
      }
      return profile(result.survivor);
    },
  );
}
