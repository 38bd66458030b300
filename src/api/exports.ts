import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { stringify } from 'csv-stringify/sync';
import type { FastifyInstance } from 'fastify';
import type { Pseudonymiser } from '../access/pseudonymise.ts';
import { analyticsAllowed, mayUse } from '../domain/consent.ts';
import { CibleError } from '../errors.ts';
import type { IdentityResolver } from '../ingestion/resolve-identity.ts';
import type { SegmentService } from '../segments/segment-service.ts';
import type { Store } from '../store/store.ts';
import { eventOutput } from './admin.ts';
import { sendError } from './error-handler.ts';
import { nextCursor } from './pages.ts';

export interface ExportsApiOptions {
  readonly store: Store;
  readonly identity: IdentityResolver;
  readonly pseudonymiser: Pseudonymiser;
  readonly segments?: SegmentService | undefined;
}

/**
 * Data leaving Cible, with consent enforced on the way out: analytics exports leave out people
 * who denied `analytics` and carry pseudonyms in place of identifiers; audience exports keep only
 * the people who may be reached for the purpose named.
 */
export async function exportsApi(fastify: FastifyInstance, options: ExportsApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const security = [{ bearerAuth: [] }];
  const { identity, pseudonymiser } = options;

  // The person an event belongs to now, and whether their analytics consent lets it out.
  const allowedForAnalytics = (profileId: number | null): boolean => {
    if (profileId === null) return true;
    const graph = identity.graph;
    const members = graph.members(graph.canonical(profileId));
    if (members.length === 0 || !identity.hasConsent(members))
      return analyticsAllowed(undefined, identity.consentRules);
    return analyticsAllowed(identity.consentOf(members), identity.consentRules);
  };

  app.get(
    '/api/exports/events',
    {
      schema: {
        tags: ['exports'],
        summary: 'Events for analysis: pseudonymised, without the people who denied analytics',
        description:
          'userId, anonymousId, every identifier and personal trait become keyed pseudonyms (the same for the same ' +
          'value in every export), context.ip is left out, and events of people whose `analytics` consent is denied ' +
          '(or unknown, when the rules exclude unknown) are not exported; `excluded` counts them. Oldest first.',
        security,
        querystring: Type.Object({
          from: Type.Optional(Type.String({ format: 'date-time' })),
          to: Type.Optional(Type.String({ format: 'date-time' })),
          event: Type.Optional(Type.String()),
          limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }),
          cursor: Type.Optional(Type.Integer({ minimum: 0 })),
        }),
      },
    },
    async (request) => {
      const { from, to, event, limit, cursor } = request.query;
      const rows = await options.store.listEvents({
        ...(from === undefined ? {} : { from: Date.parse(from) }),
        ...(to === undefined ? {} : { to: Date.parse(to) }),
        ...(event === undefined ? {} : { event }),
        ...(cursor === undefined ? {} : { afterSeq: cursor }),
        oldestFirst: true,
        limit,
      });
      let excluded = 0;
      const events: unknown[] = [];
      for (const row of rows) {
        if (!allowedForAnalytics(row.profileId)) {
          excluded++;
          continue;
        }
        events.push(pseudonymousEvent(eventOutput(row), pseudonymiser));
      }
      return { events, excluded, nextCursor: nextCursor(rows, limit, (row) => row.seq) };
    },
  );

  app.get(
    '/api/segments/:id/audience',
    {
      schema: {
        tags: ['exports'],
        summary: 'The members of a segment who may be reached for a purpose, with their identifiers',
        description:
          'For a campaign or an ad platform: each member whose consent allows the purpose (`email` needs the ' +
          'double opt-in when the rules ask for it), with their identifiers of the types asked for; `excluded` ' +
          'counts the members left out for consent. CSV with format=csv.',
        security,
        params: Type.Object({ id: Type.String() }),
        querystring: Type.Object({
          purpose: Type.String({
            description: 'email, sms, push, postal, phone, advertising, or a custom purpose.',
          }),
          identifiers: Type.String({
            default: 'email,phone,userId',
            description: 'Identifier types, comma-separated.',
          }),
          format: Type.Union([Type.Literal('json'), Type.Literal('csv')], { default: 'json' }),
        }),
      },
    },
    async (request, reply) => {
      const segments = options.segments;
      const { purpose, format } = request.query;
      if (!identity.consentRules.purposes.includes(purpose)) {
        return sendError(
          reply,
          new CibleError(
            'CIBLE_ERR_CONSENT_UNKNOWN_PURPOSE',
            `Purpose "${purpose}" is not one of ${identity.consentRules.purposes.join(', ')}.`,
            { field: 'querystring.purpose' },
          ),
        );
      }
      if (segments === undefined)
        return sendError(reply, new CibleError('CIBLE_ERR_SEGMENT_NOT_FOUND', 'No segments.'));
      const types = request.query.identifiers
        .split(',')
        .map((type) => type.trim())
        .filter(Boolean);
      const graph = identity.graph;
      const people: { profileId: number; identifiers: Record<string, string[]> }[] = [];
      let excluded = 0;
      let after: number | undefined;
      for (;;) {
        const page = await segments.members(request.params.id, {
          ...(after === undefined ? {} : { after }),
          limit: 10_000,
        });
        for (const profileId of page) {
          const members = graph.members(graph.canonical(profileId));
          const status = identity.hasConsent(members) ? identity.consentOf(members) : undefined;
          if (!mayUse(status, purpose, identity.consentRules)) {
            excluded++;
            continue;
          }
          const identifiers: Record<string, string[]> = {};
          for (const { identifier } of graph.identifiersOf(profileId)) {
            if (types.includes(identifier.type)) (identifiers[identifier.type] ??= []).push(identifier.value);
          }
          people.push({ profileId, identifiers });
        }
        if (page.length < 10_000) break;
        after = page[page.length - 1];
      }
      request.auditNote = {
        targetType: 'segments',
        targetId: request.params.id,
        detail: { purpose, people: people.length, excluded },
      };
      if (format === 'json') return { purpose, people, excluded };
      reply.header('content-type', 'text/csv; charset=utf-8');
      return stringify(
        people.map((person) => [
          person.profileId,
          ...types.map((type) => (person.identifiers[type] ?? []).join(' ')),
        ]),
        { header: true, columns: ['profileId', ...types] },
      );
    },
  );
}

/** An event with every identifier and personal value replaced by its pseudonym, and no IP address. */
function pseudonymousEvent(event: Readonly<Record<string, unknown>>, pseudonymiser: Pseudonymiser): unknown {
  const copy: Record<string, unknown> = { ...event };
  for (const field of ['userId', 'anonymousId', 'previousId'] as const) {
    const value = copy[field];
    if (typeof value === 'string') copy[field] = pseudonymiser.pseudonym(field, value);
  }
  if (isObject(copy.context)) {
    const { ip: _ip, ...context } = copy.context;
    copy.context = pseudonymiser.answer(context);
  }
  // Free-form properties may hold personal values under trait-like names ("email"), like traits.
  if (copy.traits !== undefined) copy.traits = pseudonymiser.hideTraits(copy.traits);
  if (copy.properties !== undefined) copy.properties = pseudonymiser.hideTraits(copy.properties);
  return copy;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
