import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { CibleError } from '../errors.ts';
import type { ErasureService } from '../privacy/erasure-service.ts';
import type { Retention } from '../privacy/retention.ts';
import type { ErasureRecord } from '../store/erasure-store.ts';
import { sendError } from './error-handler.ts';

export interface PrivacyApiOptions {
  readonly erasure: ErasureService;
  readonly retention?: Retention | undefined;
}

const ErasureOutput = Type.Object({
  id: Type.String(),
  profileId: Type.Number(),
  requestedBy: Type.String(),
  erasedAt: Type.String(),
  removed: Type.Record(Type.String(), Type.Number(), { description: 'Rows removed, per table.' }),
  purgedAt: Type.Union([Type.String(), Type.Null()], {
    description: 'When the files were rewritten without the freed bytes; null while pending.',
  }),
});

/** Erasure (the right to be forgotten) and the physical purge that completes it. */
export async function privacyApi(fastify: FastifyInstance, options: PrivacyApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const security = [{ bearerAuth: [] }];
  const { erasure } = options;

  app.delete(
    '/api/profiles/:id',
    {
      schema: {
        tags: ['privacy'],
        summary: 'Erase a person: every row about them, at once; their identifiers are suppressed',
        description:
          'Gone from every query and export when answered. Their bytes leave the files at the next purge ' +
          '(within CIBLE_PURGE_DEADLINE_HOURS, or POST /api/privacy/purge). Later events carrying one of ' +
          'their identifiers are dropped and counted.',
        security,
        params: Type.Object({ id: Type.Integer({ minimum: 1 }) }),
        response: { 200: ErasureOutput },
      },
    },
    async (request, reply) => {
      const record = await erasure.erase(request.params.id, request.actor?.id ?? 'unknown');
      if (record === undefined) {
        return sendError(
          reply,
          new CibleError('CIBLE_ERR_API_NOT_FOUND', `No profile ${request.params.id}.`, { field: 'id' }),
        );
      }
      request.auditNote = { detail: { erasureId: record.id, removed: record.removed } };
      return erasureOutput(record);
    },
  );

  app.post(
    '/api/privacy/purge',
    {
      schema: {
        tags: ['privacy'],
        summary: 'Rewrite the files now without the bytes of erased people; answers once they are gone',
        security,
        response: {
          200: Type.Object({
            purged: Type.Number(),
            ms: Type.Number(),
            method: Type.Optional(Type.Union([Type.Literal('in-place'), Type.Literal('whole-file')])),
          }),
        },
      },
    },
    async () => erasure.purge(),
  );

  app.post(
    '/api/privacy/retention',
    {
      schema: {
        tags: ['privacy'],
        summary: 'Run the retention job now: delete the raw events past their retention',
        security,
        response: { 200: Type.Object({ at: Type.String(), deleted: Type.Array(Type.Number()) }) },
      },
    },
    async (request) => {
      const run =
        options.retention === undefined ? { at: Date.now(), deleted: [] } : await options.retention.run();
      request.auditNote = { detail: { deleted: run.deleted } };
      return { at: new Date(run.at).toISOString(), deleted: [...run.deleted] };
    },
  );

  app.get(
    '/api/privacy',
    {
      schema: {
        tags: ['privacy'],
        summary: 'Erasures, purges pending and done, the suppression list and the events it dropped',
        security,
      },
    },
    async () => {
      const status = await erasure.status();
      const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
      const retention = await options.retention?.status();
      return {
        retention: {
          rules: retention?.rules ?? [],
          lastRun:
            retention?.lastRun == null
              ? null
              : { at: iso(retention.lastRun.at), deleted: retention.lastRun.deleted },
          nextRunAt: iso(retention?.nextRunAt ?? null),
        },
        pendingPurges: status.pendingPurges,
        purgeDueAt: iso(status.purgeDueAt),
        lastPurge:
          status.lastPurge === null
            ? null
            : {
                at: iso(status.lastPurge.at),
                ms: status.lastPurge.ms,
                purged: status.lastPurge.purged,
                method: status.lastPurge.method,
              },
        suppressedIdentifiers: status.suppressedIdentifiers,
        droppedEvents: status.droppedEvents,
        erasures: status.erasures.map(erasureOutput),
      };
    },
  );
}

function erasureOutput(record: ErasureRecord) {
  return {
    id: record.id,
    profileId: record.profileId,
    requestedBy: record.requestedBy,
    erasedAt: new Date(record.erasedAt).toISOString(),
    removed: record.removed,
    purgedAt: record.purgedAt === null ? null : new Date(record.purgedAt).toISOString(),
  };
}
