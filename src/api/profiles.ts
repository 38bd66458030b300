import { randomUUID } from 'node:crypto';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyReply } from 'fastify';
import {
  consentStatesFrom,
  foldConsent,
  type ConsentInputError,
  type ConsentObservation,
  type ConsentRules,
} from '../domain/consent.ts';
import {
  isIdentifierRejection,
  knownIdentifierTypes,
  normaliseIdentifier,
  parseIdentifierKey,
  type IdentifierRules,
} from '../domain/identifiers.ts';
import type { IdentityRules } from '../domain/identity-graph.ts';
import {
  identifierPrefixes,
  parseTraitFilter,
  traitMatches,
  type TraitFilter,
} from '../domain/profile-search.ts';
import { mergeTraits, withSourceIds, type TraitRules, type TraitValue } from '../domain/traits.ts';
import { CibleError } from '../errors.ts';
import type { IngestPipeline } from '../ingestion/pipeline.ts';
import type { ProfileReader } from '../profiles/profile-reader.ts';
import type { IdentityResolver } from '../ingestion/resolve-identity.ts';
import type { SegmentService } from '../segments/segment-service.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import { parsedTrait, type ConsentRow, type DuplicateGroup, type Store } from '../store/store.ts';
import { eventOutput } from './admin.ts';
import type { EventOutput } from '../domain/events.ts';
import { sendError } from './error-handler.ts';
import { nextCursor } from './pages.ts';
import { createProfileCards, type ProfileCard } from './profile-cards.ts';
import { exportArchive, type ExportTable } from '../privacy/export-archive.ts';

export interface ProfilesApiOptions {
  readonly store: Store;
  readonly pipeline: IngestPipeline;
  readonly identity: IdentityResolver;
  readonly identifierRules: IdentifierRules;
  readonly traitRules: TraitRules;
  readonly identityRules: IdentityRules;
  readonly sources: SourceRegistry;
  readonly reader: ProfileReader;
  /** Saved segments, to show the ones a profile is in. */
  readonly segments?: SegmentService | undefined;
}

/** Days without an event after which a profile is stale, unless the request says otherwise. */
export const defaultStaleDays = 180;

/** The 360° profile: identifiers, traits with their origin, summary, merge history, timeline. */
export async function profilesApi(fastify: FastifyInstance, options: ProfilesApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const security = [{ bearerAuth: [] }];
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  const graph = () => options.identity.graph;

  async function profile(id: number, staleDays = defaultStaleDays) {
    const found = await options.reader.facts(id);
    if (found === undefined) return undefined;
    const canonical = found.id;
    const { members, identities, traits, summary, merges } = found.facts;
    const duplicates = found.facts.hasDuplicateKey
      ? await options.store.findSuspectedDuplicates(members)
      : undefined;
    const consent = await consentOf(canonical, members);
    const merged = mergeTraits(
      traits.map(parsedTrait),
      withSourceIds(options.traitRules, options.sources.list()),
    );
    const staleBefore = Date.now() - staleDays * 86_400_000;
    return {
      id: canonical,
      ...(canonical === id ? {} : { requestedId: id }),
      members: [...members],
      identifiers: identities.map((row) => ({
        type: row.type,
        value: row.value,
        firstSeen: iso(row.firstSeen),
        lastSeen: iso(row.lastSeen),
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
        sessions: summary.sessions,
        sources: summary.sources,
        channels: summary.channels.map((channel) => ({ ...channel, lastSeen: iso(channel.lastSeen) })),
        purchases: summary.purchases,
        revenue: summary.revenue,
      },
      quality: {
        hasValidEmail: identities.some((row) => row.type === 'email'),
        hasValidPhone: identities.some((row) => row.type === 'phone'),
        stale: summary.lastSeen === null || summary.lastSeen < staleBefore,
        staleDays,
        suspectedDuplicates: duplicates === undefined ? null : duplicateOutput(duplicates, canonical),
      },
      consent,
      computedTraits: (await options.segments?.computedTraits.of(canonical)) ?? {},
      segments: (options.segments?.segmentsOf(canonical) ?? []).map((segment) => ({
        id: segment.id,
        name: segment.name,
      })),
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
      sourceNames: sourceNames([
        ...summary.sources,
        ...identities.map((row) => row.sourceId),
        ...[...merged.values()].map((trait) => trait.sourceId),
        ...consent.history.map((row) => row.sourceId),
        ...merges.map((merge) => merge.sourceId),
      ]),
    };
  }

  /**
   * The names of the sources a profile mentions by id, for every role: listing sources is for
   * staff, as it shows their write keys.
   */
  function sourceNames(ids: readonly (string | null)[]): Record<string, string> {
    const names: Record<string, string> = {};
    for (const id of new Set(ids)) {
      const source = id === null ? undefined : options.sources.byId(id);
      if (source !== undefined) names[source.id] = source.name;
    }
    return names;
  }

  const notFound = (what: string) => new CibleError('CIBLE_ERR_API_NOT_FOUND', `No profile ${what}.`);

  /** The consent of the profile made of these origin profiles: one small read of its changes. */
  async function consentOf(profileId: number, members: readonly number[]) {
    // Most people never said anything: no read for them.
    if (!options.identity.hasConsent(members)) return consentOutput([], options.identity.consentRules);
    const history = await options.store.readConsentHistory(new Map([[profileId, members]]));
    return consentOutput(history.get(profileId) ?? [], options.identity.consentRules);
  }

  const StaleDays = Type.Integer({
    minimum: 1,
    maximum: 36_500,
    default: defaultStaleDays,
    description: 'A profile with no event for this many days is stale.',
  });

  app.get(
    '/api/profiles',
    {
      schema: {
        tags: ['profiles'],
        summary: 'Find one profile by identifier, or search profiles by identifier prefix and traits',
        description:
          'With `identifier=<type>:<value>` (normalised as at ingestion: email:Jane@Example.com), the one ' +
          'profile holding it, whole, as GET /api/profiles/{id}. Otherwise a search, answered with a page of ' +
          'profile cards `{profiles: [{id, identifiers, traits, lastSeen, events}], nextCursor}` in profile id ' +
          'order: `q` matches identifiers starting with it (`email:jane`, `phone:06 12`, or any type: `jane`), ' +
          'the identifier it names whole, normalised (`email:Jane.Doe+news@gmail.com`), and, without a type, ' +
          'people whose name, first name, last name or first and last name start with it (`jane d`); ' +
          'each `trait.<name>=<value>` (or `trait.<name>.<key>=` for a field of an object trait, e.g. ' +
          '`trait.address.postal_code=75011`) keeps profiles whose current value of that trait equals it, ' +
          'ignoring case, or starts with it when it ends with `*`. Criteria combine with AND.',
        security,
        querystring: Type.Object(
          {
            identifier: Type.Optional(Type.String({ minLength: 3, description: 'type:value' })),
            q: Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 200,
                description:
                  'Identifier prefix: <type>:<prefix>, or, without a type, a prefix of any identifier or of a name.',
              }),
            ),
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
            cursor: Type.Optional(
              Type.Integer({ minimum: 0, description: 'nextCursor of the previous page.' }),
            ),
            staleDays: StaleDays,
            // Listed for the OpenAPI document, which has no parameter names by pattern; the
            // pattern below is what validates them.
            'trait.{name}': Type.Optional(
              Type.String({
                minLength: 1,
                maxLength: 200,
                description:
                  'Stands for any number of trait.<name>=<value> or trait.<name>.<key>=<value> parameters ' +
                  '(e.g. trait.city=Paris, trait.address.postal_code=750*): the current value equals it, ' +
                  'ignoring case, or starts with it when it ends with *.',
              }),
            ),
          },
          {
            patternProperties: {
              '^trait\\.(?!\\{name\\}$)': Type.String({
                minLength: 1,
                maxLength: 200,
                description: 'trait.<name>[.<key>]=<value>, or <prefix>* for a prefix; ignores case.',
              }),
            },
          },
        ),
      },
    },
    async (request, reply) => {
      const { identifier: key, q, limit, cursor, staleDays } = request.query;
      if (key === undefined) {
        const filters: TraitFilter[] = [];
        for (const [parameter, raw] of Object.entries(request.query as Record<string, unknown>)) {
          if (!parameter.startsWith('trait.')) continue;
          const filter = typeof raw === 'string' ? parseTraitFilter(parameter, raw) : undefined;
          if (filter === undefined) {
            return sendError(
              reply,
              invalidSearch(
                `${parameter} must name a trait and give a value: trait.city=Paris, trait.city=Par*, trait.address.postal_code=75011.`,
                `querystring.${parameter}`,
              ),
            );
          }
          filters.push(filter);
        }
        if (q === undefined && filters.length === 0) {
          return sendError(
            reply,
            invalidSearch(
              'Give identifier=<type>:<value> for one profile, or search with q=<identifier prefix> and/or trait.<name>=<value>.',
              'querystring',
            ),
          );
        }
        return search({ q, filters, limit, cursor: cursor ?? 0 }, reply);
      }
      const parsed = parseIdentifierKey(key);
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
      const id = graph().profileOf(identifier);
      const found = id === undefined ? undefined : await profile(id, staleDays);
      if (found === undefined)
        return sendError(reply, notFound(`with ${identifier.type} ${identifier.value}`));
      return found;
    },
  );

  /**
   * The store finds the origin profiles matching each criterion; they become people (merges
   * followed), the criteria intersect, and a page is built in id order. A trait criterion is
   * checked again on the person's merged traits, which may come from another origin profile; so
   * is a name, for people found by their name alone.
   */
  async function search(
    criteria: { q: string | undefined; filters: readonly TraitFilter[]; limit: number; cursor: number },
    reply: FastifyReply,
  ) {
    const candidates: Promise<number[]>[] = [];
    let byName: { readonly text: string; readonly people: Set<number> } | undefined;
    if (criteria.q !== undefined) {
      const prefixes = identifierPrefixes(criteria.q, options.identifierRules);
      if (prefixes.length === 0) {
        return sendError(
          reply,
          invalidSearch('q needs a prefix to search for after the type, e.g. q=email:jane.', 'querystring.q'),
        );
      }
      const q = criteria.q;
      const untyped = prefixes.some((prefix) => prefix.type === undefined);
      const text = untyped ? nameText(q) : undefined;
      const [origins, named] = await Promise.all([
        options.store.findProfilesByIdentifierPrefix(prefixes),
        text === undefined ? [] : findByName(text),
      ]);
      const identified = [...origins, ...wholeIdentifierProfiles(q, untyped)].map((origin) =>
        graph().canonical(origin),
      );
      const known = new Set(identified);
      const namedOnly = named.map((origin) => graph().canonical(origin)).filter((id) => !known.has(id));
      if (text !== undefined) byName = { text, people: new Set(namedOnly) };
      candidates.push(Promise.resolve([...identified, ...namedOnly]));
    }
    for (const filter of criteria.filters) candidates.push(options.store.findProfilesByTrait(filter));
    let people: Set<number> | undefined;
    for (const origins of await Promise.all(candidates)) {
      const found = new Set(origins.map((origin) => graph().canonical(origin)));
      people = people === undefined ? found : new Set([...people].filter((person) => found.has(person)));
    }
    const ordered = [...(people ?? [])].filter((id) => id > criteria.cursor).sort((a, b) => a - b);
    // The card builder reads each person's facts once; their event counts are kept on the way.
    const events = new Map<number, number>();
    const profileCards = createProfileCards({
      ...options,
      reader: {
        ...options.reader,
        factsOfMany: async (ids) => {
          const facts = await options.reader.factsOfMany(ids);
          for (const [id, fact] of facts) events.set(id, fact.summary.events);
          return facts;
        },
      },
    });
    const cards: ProfileCard[] = [];
    for (let index = 0; index < ordered.length && cards.length < criteria.limit;) {
      const next = ordered.slice(index, index + criteria.limit - cards.length);
      index += next.length;
      for (const card of await profileCards(
        next,
        criteria.filters.map((filter) => filter.name),
      )) {
        if (byName?.people.has(card.id) === true && !nameMatches(card.merged, byName.text)) continue;
        if (criteria.filters.every((filter) => traitMatches(card.merged.get(filter.name)?.value, filter))) {
          cards.push(card);
        }
      }
    }
    return {
      profiles: cards.map(({ merged: _merged, ...card }) => ({ ...card, events: events.get(card.id) ?? 0 })),
      nextCursor: nextCursor(cards, criteria.limit, (card) => card.id),
    };
  }

  /**
   * The profile holding the identifier the search text names whole, normalised as at ingestion:
   * a prefix misses `Jane.Doe+news@gmail.com`, stored as `janedoe@gmail.com`. Without a type, the
   * text is tried as an e-mail address and as a phone number.
   */
  function wholeIdentifierProfiles(q: string, untyped: boolean): number[] {
    const colon = q.indexOf(':');
    const tries: [string, string][] = untyped
      ? [
          ['email', q],
          ['phone', q],
        ]
      : [[q.slice(0, colon), q.slice(colon + 1)]];
    return tries.flatMap(([type, raw]) => {
      if (!knownIdentifierTypes(options.identifierRules).includes(type)) return [];
      const identifier = normaliseIdentifier(type, raw, options.identifierRules);
      if (isIdentifierRejection(identifier)) return [];
      const id = graph().profileOf(identifier);
      return id === undefined ? [] : [id];
    });
  }

  /** Origin profiles whose latest name, first name or last name starts with the text (or its first word). */
  async function findByName(text: string): Promise<number[]> {
    const [firstWord] = text.split(' ');
    const filters: TraitFilter[] = nameTraits.map((name) => ({
      name,
      path: [],
      value: text,
      match: 'prefix',
    }));
    // "jane doe": a name or first name starting with "jane", the rest checked on the card.
    if (firstWord !== undefined && firstWord !== text) {
      for (const name of ['name', 'firstName'])
        filters.push({ name, path: [], value: firstWord, match: 'prefix' });
    }
    const found = await Promise.all(filters.map((filter) => options.store.findProfilesByTrait(filter)));
    return [...new Set(found.flat())];
  }

  /** Suspected duplicates as people now (the store's merges may be a commit behind). */
  function duplicateOutput(group: DuplicateGroup, self: number) {
    const profiles = [...new Set(group.profiles.map((id) => graph().canonical(id)))].filter(
      (id) => id !== self,
    );
    return {
      name: group.name,
      birthDate: group.birthDate,
      postalCode: group.postalCode,
      profiles: profiles.sort((a, b) => a - b),
    };
  }

  app.get(
    '/api/profiles/:id',
    {
      schema: {
        tags: ['profiles'],
        summary:
          'One profile: identifiers (first and last seen), traits with source and time, summary, quality, consent, ' +
          'merge history, and the names of the sources it mentions (sourceNames)',
        security,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        querystring: Type.Object({ staleDays: StaleDays }),
      },
    },
    async (request, reply) => {
      const found = await profile(request.params.id, request.query.staleDays);
      if (found === undefined) return sendError(reply, notFound(String(request.params.id)));
      return found;
    },
  );

  app.get(
    '/api/profiles/:id/events',
    {
      schema: {
        tags: ['profiles'],
        summary: 'The timeline of a profile across channels, newest first by event time',
        description:
          'Events in the order they happened (the corrected `timestamp`), whatever the order they arrived in: ' +
          'a CRM history imported today takes its place in the past. Page with `cursor` = the `nextCursor` ' +
          'of the page before.',
        security,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          cursor: Type.Optional(
            Type.String({ pattern: '^[0-9]+\\.[0-9]+$', description: 'The nextCursor of the page before.' }),
          ),
        }),
      },
    },
    async (request, reply) => {
      const members = options.identity.graph.members(options.identity.graph.canonical(request.params.id));
      if (members.length === 0) return sendError(reply, notFound(String(request.params.id)));
      const [timestamp, seq] = (request.query.cursor ?? '').split('.').map(Number);
      const rows = await options.store.listEvents({
        profileIds: members,
        limit: request.query.limit,
        byEventTime: true,
        ...(timestamp === undefined || seq === undefined || request.query.cursor === undefined
          ? {}
          : { beforeEvent: { timestamp, seq } }),
      });
      const last = rows.at(-1);
      return {
        events: rows.map(eventOutput),
        nextCursor:
          rows.length === request.query.limit && last !== undefined ? `${last.timestamp}.${last.seq}` : null,
      };
    },
  );

  app.get(
    '/api/profiles/:id/export',
    {
      schema: {
        tags: ['profiles'],
        summary: 'Everything Cible holds about a person (access and portability)',
        description:
          'Identifiers, traits with their sources, consent with its history, every event, segment memberships ' +
          'and computed traits, as one JSON document, or (`format=zip`) as a zip of CSV files with that JSON beside them.',
        security,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        querystring: Type.Object({
          format: Type.Union([Type.Literal('json'), Type.Literal('zip')], { default: 'json' }),
        }),
      },
    },
    async (request, reply) => {
      const person = await profile(request.params.id);
      if (person === undefined) return sendError(reply, notFound(String(request.params.id)));
      const events = [];
      let cursor: number | undefined;
      for (;;) {
        const rows = await options.store.listEvents({
          profileIds: person.members,
          limit: 1000,
          ...(cursor === undefined ? {} : { beforeSeq: cursor }),
        });
        events.push(...rows.map(eventOutput));
        if (rows.length < 1000) break;
        cursor = rows[rows.length - 1]!.seq;
      }
      events.reverse();
      const document = { exportedAt: new Date().toISOString(), profile: person, events };
      if (request.query.format === 'json') {
        reply.header('content-disposition', `attachment; filename="profile-${person.id}.json"`);
        return document;
      }
      reply
        .header('content-type', 'application/zip')
        .header('content-disposition', `attachment; filename="profile-${person.id}.zip"`);
      return reply.send(Buffer.from(exportArchive(document, exportTables(person, events))));
    },
  );

  app.put(
    '/api/profiles/:id/consent',
    {
      schema: {
        tags: ['profiles'],
        summary: "Record a person's consent given outside events (a call centre, a signed form)",
        description:
          'Each purpose named is recorded as granted or denied (method `api`, source `api`), if it changes ' +
          "the person's consent; the answer is the profile's consent afterwards, as in GET /api/profiles/{id}. " +
          '`doubleOptIn` goes with `"email": "granted"`. docs/consent.md describes purposes and history.',
        security,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Object(
          {
            purposes: Type.Record(Type.String(), Type.Union([Type.Boolean(), Type.String()]), {
              minProperties: 1,
              description: 'Purpose → "granted" or "denied" (or true / false), e.g. {"email": "granted"}.',
            }),
            doubleOptIn: Type.Optional(
              Type.Union([Type.Literal('pending'), Type.Literal('confirmed')], {
                description: 'Email: confirmation asked (pending) or given (confirmed).',
              }),
            ),
            detail: Type.Optional(
              Type.String({ maxLength: 100, description: 'How it was given: "call centre", "paper form".' }),
            ),
            at: Type.Optional(
              Type.String({ description: 'When the person gave it, ISO 8601 (default: now).' }),
            ),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const body = request.body;
      const person = graph().canonical(id);
      const members = graph().members(person);
      if (members.length === 0) return sendError(reply, notFound(String(id)));
      const rules = options.identity.consentRules;
      const { states, errors } = consentStatesFrom(body.purposes, rules, 'purposes');
      const [first] = errors;
      if (first !== undefined) return sendError(reply, consentInputError(first));
      const now = Date.now();
      let at = now;
      if (body.at !== undefined) {
        at = /^\d{4}-\d{2}-\d{2}/.test(body.at) ? Date.parse(body.at) : NaN;
        if (Number.isNaN(at)) {
          return sendError(
            reply,
            invalidConsent(`at is "${body.at}": write an ISO 8601 time such as 2026-03-01T10:00:00Z.`, 'at'),
          );
        }
        // A time ahead would hold against every change sent before it comes.
        if (at > now + maxClockSkewMs) {
          return sendError(
            reply,
            invalidConsent(`at is "${body.at}", in the future: give the time the person gave consent.`, 'at'),
          );
        }
      }
      const email = states.find((entry) => entry.purpose === 'email');
      if (body.doubleOptIn !== undefined && email?.state !== 'granted') {
        return sendError(
          reply,
          invalidConsent(
            `doubleOptIn "${body.doubleOptIn}" goes with email consent granted: add "email": "granted" to purposes.`,
            'doubleOptIn',
          ),
        );
      }
      const detail = body.detail?.trim();
      const messageId = `api-${randomUUID()}`;
      const observations: ConsentObservation[] = states.map(({ purpose, state }) => ({
        purpose,
        state,
        ...(purpose === 'email' && body.doubleOptIn !== undefined ? { doubleOptIn: body.doubleOptIn } : {}),
        at,
        sourceId: 'api',
        messageId,
        method: 'api',
        ...(detail === undefined || detail === '' ? {} : { detail }),
      }));
      // Through the single writer, like events: durable once answered, and held for the next change.
      const result = await options.pipeline.changeIdentity((resolver, changes) =>
        resolver.recordConsent(person, observations, changes),
      );
      if (result === undefined) return sendError(reply, notFound(String(id)));
      request.auditNote = {
        detail: {
          messageId,
          purposes: Object.fromEntries(states.map(({ purpose, state }) => [purpose, state])),
          recorded: result.recorded.length,
        },
      };
      return consentOf(result.profileId, graph().members(result.profileId));
    },
  );

  app.patch(
    '/api/profiles/:id/traits',
    {
      schema: {
        tags: ['profiles'],
        summary: "Rectify a person's traits (the right to rectification)",
        description:
          'Each trait named takes the value given (null clears it), recorded with source `api` at the time of the ' +
          'request, so that it is the latest value. For a trait whose sources are ranked in the rules file, rank ' +
          '`api` first for corrections to win. The answer is the profile afterwards.',
        security,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        body: Type.Object({
          traits: Type.Record(Type.String({ minLength: 1, maxLength: 200 }), Type.Unknown(), {
            minProperties: 1,
            description: 'Trait name → new value, e.g. {"lastName": "Martin", "address": null}.',
          }),
        }),
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const messageId = `api-${randomUUID()}`;
      const at = Date.now();
      const names = Object.keys(request.body.traits);
      const rectified = await options.pipeline.changeIdentity((resolver, changes) => {
        const person = resolver.graph.members(resolver.graph.canonical(id));
        if (person.length === 0) return undefined;
        const origin = resolver.graph.canonical(id);
        for (const [name, value] of Object.entries(request.body.traits)) {
          changes.traits.push({
            originProfileId: origin,
            name,
            value: JSON.stringify(value ?? null),
            sourceId: 'api',
            at,
            messageId,
          });
        }
        return origin;
      });
      if (rectified === undefined) return sendError(reply, notFound(String(id)));
      request.auditNote = { detail: { messageId, traits: names } };
      return profile(rectified);
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

/** How far ahead of the server's clock a consent time may be. */
const maxClockSkewMs = 5 * 60_000;

const consentIso = (ms: number): string => new Date(ms).toISOString();

/**
 * A profile's consent as the API shows it: every purpose of the rules (`unknown` when the person
 * never answered), the email double opt-in, and every change, oldest first.
 */
export function consentOutput(history: readonly ConsentRow[], rules: ConsentRules) {
  const status = foldConsent(
    history.map((row) => ({
      purpose: row.purpose,
      state: row.state,
      ...(row.doubleOptIn === null ? {} : { doubleOptIn: row.doubleOptIn }),
      at: row.at,
      sourceId: row.sourceId,
      messageId: row.messageId,
      method: row.method,
      ...(row.detail === null ? {} : { detail: row.detail }),
    })),
  );
  const purposes = Object.fromEntries(
    rules.purposes.map((purpose) => {
      const held = Object.hasOwn(status.purposes, purpose) ? status.purposes[purpose] : undefined;
      const entry =
        held === undefined
          ? { state: 'unknown', at: null, sourceId: null, method: null, detail: null }
          : {
              state: held.state,
              at: consentIso(held.at),
              sourceId: held.sourceId,
              method: held.method,
              detail: held.detail ?? null,
            };
      if (purpose !== 'email') return [purpose, entry];
      const doubleOptIn = status.doubleOptIn;
      return [
        purpose,
        {
          ...entry,
          doubleOptIn: {
            state: doubleOptIn?.state ?? 'none',
            at: doubleOptIn === undefined ? null : consentIso(doubleOptIn.at),
          },
        },
      ];
    }),
  );
  // Oldest first by the time the person expressed it; the sort keeps recording order between equals.
  const changes = [...history].sort((a, b) => a.at - b.at);
  return {
    purposes,
    history: changes.map((row) => ({
      purpose: row.purpose,
      state: row.state,
      doubleOptIn: row.doubleOptIn,
      at: consentIso(row.at),
      sourceId: row.sourceId,
      method: row.method,
      detail: row.detail,
      messageId: row.messageId,
    })),
  };
}

function consentInputError(error: ConsentInputError): CibleError {
  return new CibleError(
    error.kind === 'unknown-purpose' ? 'CIBLE_ERR_CONSENT_UNKNOWN_PURPOSE' : 'CIBLE_ERR_CONSENT_INVALID',
    error.message,
    { field: error.field },
  );
}

function invalidConsent(message: string, field: string): CibleError {
  return new CibleError('CIBLE_ERR_CONSENT_INVALID', message, { field });
}

/** The traits that hold a person's name, searched by a `q` without a type. */
const nameTraits = ['name', 'firstName', 'lastName'] as const;

/** Search text for names: trimmed, lower-case, single spaces. */
function nameText(q: string): string | undefined {
  const text = q.trim().toLowerCase().replace(/\s+/g, ' ');
  return text === '' ? undefined : text;
}

/** Does the person's name, first name, last name, or first and last name, start with the text? */
function nameMatches(traits: ReadonlyMap<string, TraitValue>, text: string): boolean {
  const value = (name: string): string | undefined => {
    const raw = traits.get(name)?.value;
    return typeof raw === 'string' ? nameText(raw) : undefined;
  };
  const first = value('firstName');
  const last = value('lastName');
  const full = first !== undefined && last !== undefined ? `${first} ${last}` : undefined;
  return [value('name'), first, last, full].some((name) => name?.startsWith(text) === true);
}

function invalidSearch(message: string, field: string): CibleError {
  return new CibleError('CIBLE_ERR_PROFILES_INVALID_SEARCH', message, { field });
}

/** A person's export as tables, one CSV file each. */
function exportTables(
  person: {
    identifiers: readonly {
      type: string;
      value: string;
      firstSeen: string | null;
      lastSeen: string | null;
      sourceId: string;
    }[];
    traits: Readonly<
      Record<string, { value: unknown; sourceId: string; at: string | null; messageId: string }>
    >;
    consent: {
      purposes: Readonly<
        Record<string, { state: string; at: string | null; sourceId: string | null; method: string | null }>
      >;
      history: readonly Record<string, unknown>[];
    };
    segments: readonly { id: string; name: string }[];
    computedTraits: Readonly<Record<string, unknown>>;
    merges: readonly Record<string, unknown>[];
  },
  events: readonly EventOutput[],
): ExportTable[] {
  return [
    {
      name: 'identifiers',
      columns: ['type', 'value', 'firstSeen', 'lastSeen', 'sourceId'],
      rows: person.identifiers.map((row) => [row.type, row.value, row.firstSeen, row.lastSeen, row.sourceId]),
    },
    {
      name: 'traits',
      columns: ['name', 'value', 'sourceId', 'at', 'messageId'],
      rows: Object.entries(person.traits).map(([name, trait]) => [
        name,
        trait.value,
        trait.sourceId,
        trait.at,
        trait.messageId,
      ]),
    },
    {
      name: 'consent',
      columns: ['purpose', 'state', 'at', 'sourceId', 'method'],
      rows: Object.entries(person.consent.purposes).map(([purpose, entry]) => [
        purpose,
        entry.state,
        entry.at,
        entry.sourceId,
        entry.method,
      ]),
    },
    {
      name: 'consent_history',
      columns: ['purpose', 'state', 'doubleOptIn', 'at', 'sourceId', 'method', 'detail', 'messageId'],
      rows: person.consent.history.map((row) => [
        row.purpose,
        row.state,
        row.doubleOptIn,
        row.at,
        row.sourceId,
        row.method,
        row.detail,
        row.messageId,
      ]),
    },
    {
      name: 'events',
      columns: [
        'seq',
        'timestamp',
        'type',
        'event',
        'name',
        'userId',
        'anonymousId',
        'sourceId',
        'messageId',
        'properties',
        'traits',
        'context',
      ],
      rows: events.map((row) => [
        row.seq,
        row.timestamp,
        row.type,
        row.event,
        row.name,
        row.userId,
        row.anonymousId,
        row.sourceId,
        row.messageId,
        row.properties,
        row.traits,
        row.context,
      ]),
    },
    { name: 'segments', columns: ['id', 'name'], rows: person.segments.map((row) => [row.id, row.name]) },
    {
      name: 'computed_traits',
      columns: ['name', 'value'],
      rows: Object.entries(person.computedTraits).map(([name, value]) => [name, value]),
    },
    {
      name: 'merges',
      columns: ['id', 'at', 'survivor', 'absorbed', 'kind', 'identifier', 'undoneAt'],
      rows: person.merges.map((row) => [
        row.id,
        row.at,
        row.survivor,
        row.absorbed,
        row.kind,
        row.identifier,
        row.undoneAt,
      ]),
    },
  ];
}
