import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import type { IdentityResolver } from '../ingestion/resolve-identity.ts';
import type { Store } from '../store/store.ts';
import { defaultStaleDays } from './profiles.ts';

export interface QualityApiOptions {
  readonly store: Store;
  readonly identity: IdentityResolver;
}

const Share = Type.Number({ description: 'Of all profiles, 0 to 1.' });

const DuplicateGroupOutput = Type.Object({
  name: Type.String({ description: 'Lower-case, without accents or punctuation.' }),
  birthDate: Type.String({ description: 'YYYY-MM-DD' }),
  postalCode: Type.String({ description: 'Upper-case letters and digits.' }),
  profiles: Type.Array(Type.Number()),
});

const QualityOutput = Type.Object({
  generatedAt: Type.String(),
  totals: Type.Object({
    profiles: Type.Number({ description: 'People: profiles as they stand after merges.' }),
    originProfiles: Type.Number(),
    identifiers: Type.Number(),
    events: Type.Number(),
  }),
  email: Type.Object({
    valid: Type.Number({ description: 'Profiles with at least one valid e-mail address.' }),
    validShare: Share,
    invalidOnly: Type.Number({ description: 'Profiles whose email trait is set but not a valid address.' }),
  }),
  phone: Type.Object({
    valid: Type.Number({ description: 'Profiles with at least one valid phone number.' }),
    validShare: Share,
    invalidOnly: Type.Number({ description: 'Profiles whose phone trait is set but not a valid number.' }),
  }),
  stale: Type.Object({
    days: Type.Number(),
    before: Type.String({ description: 'Profiles with no event since this time are stale.' }),
    profiles: Type.Number(),
    share: Share,
  }),
  duplicates: Type.Object({
    groups: Type.Number(),
    profiles: Type.Number({ description: 'Profiles in a group.' }),
    sample: Type.Array(DuplicateGroupOutput, { description: 'The largest groups first.' }),
  }),
  rejected: Type.Object({
    quarantine: Type.Array(
      Type.Object({
        code: Type.String(),
        field: Type.Union([Type.String(), Type.Null()]),
        pending: Type.Number(),
        replayed: Type.Number(),
      }),
    ),
    identifiers: Type.Array(
      Type.Object({
        type: Type.String(),
        reason: Type.String({ description: 'invalid, placeholder, empty, not-text or unknown-type' }),
        count: Type.Number(),
        lastSeen: Type.String(),
        example: Type.Object({
          value: Type.Union([Type.String(), Type.Null()]),
          reason: Type.String(),
          sourceId: Type.String(),
          messageId: Type.String(),
        }),
      }),
    ),
  }),
});

/** GET /api/quality: how complete, valid, fresh and unique the profiles are, and what was refused. */
export async function qualityApi(fastify: FastifyInstance, options: QualityApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();

  app.get(
    '/api/quality',
    {
      schema: {
        tags: ['quality'],
        summary:
          'Data quality over every profile: valid contacts, staleness, suspected duplicates, rejections',
        description:
          'Duplicates are suspected between profiles with the same name (firstName + lastName, or name), ' +
          'birth date (birthday or birthDate) and postal code (postalCode or address.postal_code), once ' +
          'normalised (case, accents, punctuation and spaces ignored). Each profile shows the same checks ' +
          'for itself in GET /api/profiles/{id} under "quality".',
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({
          staleDays: Type.Integer({
            minimum: 1,
            maximum: 36_500,
            default: defaultStaleDays,
            description: 'A profile with no event for this many days is stale.',
          }),
          sample: Type.Integer({
            minimum: 0,
            maximum: 100,
            default: 10,
            description: 'How many duplicate groups to list.',
          }),
        }),
        response: { 200: QualityOutput },
      },
    },
    async (request) => {
      const now = Date.now();
      const staleBefore = now - request.query.staleDays * 86_400_000;
      const report = await options.store.qualityReport({ staleBefore, sample: request.query.sample });
      const shareOfProfiles = (count: number): number => share(count, report.profiles);
      const graph = options.identity.graph;
      return {
        generatedAt: new Date(now).toISOString(),
        totals: {
          profiles: report.profiles,
          originProfiles: report.originProfiles,
          identifiers: report.identifiers,
          events: report.events,
        },
        email: {
          valid: report.withValidEmail,
          validShare: shareOfProfiles(report.withValidEmail),
          invalidOnly: report.withInvalidEmailOnly,
        },
        phone: {
          valid: report.withValidPhone,
          validShare: shareOfProfiles(report.withValidPhone),
          invalidOnly: report.withInvalidPhoneOnly,
        },
        stale: {
          days: request.query.staleDays,
          before: new Date(staleBefore).toISOString(),
          profiles: report.stale,
          share: shareOfProfiles(report.stale),
        },
        duplicates: {
          groups: report.duplicateGroups,
          profiles: report.duplicateProfiles,
          // As people now: the store's merges may be a commit behind the graph.
          sample: report.duplicateSample.map((group) => ({
            ...group,
            profiles: [...new Set(group.profiles.map((id) => graph.canonical(id)))].sort((a, b) => a - b),
          })),
        },
        rejected: {
          quarantine: [...report.quarantine],
          identifiers: report.rejectedIdentifiers.map(({ kind, lastSeen, ...rest }) => ({
            ...rest,
            reason: kind,
            lastSeen: new Date(lastSeen).toISOString(),
          })),
        },
      };
    },
  );
}

/** count / of, to four decimals: the shares of the quality report and of the overview. */
export function share(count: number, of: number): number {
  return of === 0 ? 0 : Math.min(1, Math.round((count / of) * 10_000) / 10_000);
}
