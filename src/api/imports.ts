import { Readable } from 'node:stream';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { CibleError } from '../errors.ts';
import type { ImportJobs, ImportJobView } from '../imports/import-jobs.ts';
import { ImportMapping, formatFromName } from '../imports/mapping.ts';
import { sendError } from './error-handler.ts';
import { nextCursor } from './pages.ts';

export interface ImportsApiOptions {
  readonly imports: ImportJobs;
}

const ErrorOutput = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    field: Type.Optional(Type.String()),
    hint: Type.String(),
  }),
});

const ImportStatus = Type.Union([
  Type.Literal('awaiting_file'),
  Type.Literal('queued'),
  Type.Literal('running'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);

const ImportOutput = Type.Object({
  id: Type.String(),
  sourceId: Type.String(),
  fileName: Type.String(),
  kind: Type.String({ description: 'customers or transactions' }),
  status: ImportStatus,
  createdAt: Type.String({ description: 'ISO-8601' }),
  startedAt: Type.Union([Type.String(), Type.Null()]),
  finishedAt: Type.Union([Type.String(), Type.Null()]),
  progress: Type.Object({
    bytesTotal: Type.Number(),
    bytesRead: Type.Number(),
    percent: Type.Number({ description: 'Share of the file read, 0 to 100.' }),
  }),
  rows: Type.Object({
    read: Type.Number(),
    rejected: Type.Number({ description: 'Rows not stored: GET /api/imports/{id}/rejected says why.' }),
  }),
  events: Type.Object({
    accepted: Type.Number({ description: 'Events stored.' }),
    duplicates: Type.Number({ description: 'Events already stored (an earlier import of the same rows).' }),
  }),
  rowsPerSecond: Type.Number(),
  attempts: Type.Number({
    description: 'More than 1 when a restart interrupted the import and it ran again.',
  }),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  mapping: ImportMapping,
});

const RejectedRow = Type.Object({
  line: Type.Number({ description: 'The line of the file the row starts on.' }),
  code: Type.String(),
  reason: Type.String(),
  field: Type.Union([Type.String(), Type.Null()], { description: 'The column at fault, when known.' }),
  raw: Type.String({ description: 'The row as it stood in the file (an order: all its lines).' }),
});

const IdParams = Type.Object({ id: Type.String({ pattern: '^imp_[0-9a-f]+$' }) });

/**
 * Imports of CRM and till files: `POST /api/imports` (the mapping), `PUT /api/imports/{id}/file`
 * (the file, as the raw body), then `GET /api/imports/{id}` for progress and
 * `GET /api/imports/{id}/rejected` for the rows that were not stored.
 */
export async function importsApi(fastify: FastifyInstance, options: ImportsApiOptions): Promise<void> {
  const app = fastify.withTypeProvider<TypeBoxTypeProvider>();
  const security = [{ bearerAuth: [] }];
  const notFound = (id: string): CibleError =>
    new CibleError('CIBLE_ERR_IMPORT_NOT_FOUND', `No import ${id}.`, { field: 'id' });

  app.post(
    '/api/imports',
    {
      schema: {
        tags: ['imports'],
        summary:
          'Create an import: its mapping is checked, then it waits for its file (PUT /api/imports/{id}/file)',
        security,
        body: Type.Object({
          fileName: Type.String({
            minLength: 1,
            maxLength: 500,
            description: 'Name of the file (its extension chooses the format when the mapping does not).',
          }),
          mapping: ImportMapping,
          sourceId: Type.Optional(
            Type.String({ description: 'Default: the source named "import" (created if missing).' }),
          ),
        }),
        response: { 201: ImportOutput, 400: ErrorOutput },
      },
    },
    async (request, reply) => {
      const job = await options.imports.create({
        fileName: request.body.fileName,
        mapping: request.body.mapping,
        ...(request.body.sourceId === undefined ? {} : { sourceId: request.body.sourceId }),
      });
      return reply.code(201).send(importOutput(job));
    },
  );

  // The file is the raw body, streamed to disk whatever its type: no parser reads it.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
    scope.withTypeProvider<TypeBoxTypeProvider>().put(
      '/api/imports/:id/file',
      {
        schema: {
          tags: ['imports'],
          summary:
            'Send the file of an import as the raw body (text/csv, application/x-ndjson...); the import then runs in the background',
          security,
          params: IdParams,
          response: { 202: ImportOutput, 404: ErrorOutput, 409: ErrorOutput, 413: ErrorOutput },
        },
      },
      async (request, reply) => {
        const body = (request.body ?? request.raw) as Readable;
        const declared = Number(request.headers['content-length']);
        const job = await options.imports.receiveFile(
          request.params.id,
          body,
          Number.isSafeInteger(declared) ? declared : undefined,
        );
        return reply.code(202).send(importOutput(job));
      },
    );
  });

  app.get(
    '/api/imports',
    {
      schema: {
        tags: ['imports'],
        summary: 'List imports, newest first',
        security,
        querystring: Type.Object({
          status: Type.Optional(ImportStatus),
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 50 }),
          cursor: Type.Optional(
            Type.Integer({ minimum: 1, description: 'nextCursor of the previous page.' }),
          ),
        }),
        response: {
          200: Type.Object({
            imports: Type.Array(ImportOutput),
            nextCursor: Type.Union([Type.Number(), Type.Null()]),
          }),
        },
      },
    },
    async (request) => {
      const { status, limit, cursor } = request.query;
      const jobs = await options.imports.list({
        ...(status === undefined ? {} : { status }),
        ...(cursor === undefined ? {} : { before: cursor }),
        limit,
      });
      return {
        imports: jobs.map(importOutput),
        nextCursor: nextCursor(jobs, limit, (job) => job.createdAt),
      };
    },
  );

  app.get(
    '/api/imports/:id',
    {
      schema: {
        tags: ['imports'],
        summary: 'One import: status, progress, counts, rows per second',
        security,
        params: IdParams,
        response: { 200: ImportOutput, 404: ErrorOutput },
      },
    },
    async (request, reply) => {
      const job = await options.imports.get(request.params.id);
      if (job === undefined) return sendError(reply, notFound(request.params.id));
      return importOutput(job);
    },
  );

  app.post(
    '/api/imports/:id/cancel',
    {
      schema: {
        tags: ['imports'],
        summary: 'Stop an import; what it stored stays stored',
        security,
        params: IdParams,
        response: { 200: ImportOutput, 404: ErrorOutput, 409: ErrorOutput },
      },
    },
    async (request) => importOutput(await options.imports.cancel(request.params.id)),
  );

  app.get(
    '/api/imports/:id/rejected',
    {
      schema: {
        tags: ['imports'],
        summary: 'The rows an import did not store, in line order, with the reason and the column',
        security,
        params: IdParams,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
          cursor: Type.Optional(
            Type.Integer({ minimum: 0, description: 'nextCursor of the previous page (a line number).' }),
          ),
        }),
        response: {
          200: Type.Object({
            rejected: Type.Array(RejectedRow),
            nextCursor: Type.Union([Type.Number(), Type.Null()]),
          }),
          404: ErrorOutput,
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const rows = await options.imports.rejected(request.params.id, {
        limit,
        ...(cursor === undefined ? {} : { afterLine: cursor }),
      });
      return {
        rejected: rows.map(({ line, code, reason, field, raw }) => ({ line, code, reason, field, raw })),
        nextCursor: nextCursor(rows, limit, (row) => row.line),
      };
    },
  );

  app.get(
    '/api/imports/:id/rejected/file',
    {
      schema: {
        tags: ['imports'],
        summary:
          'The rejected rows as a file in the format of the original (with its header): fix it and import it with the same mapping',
        security,
        params: IdParams,
        produces: ['text/csv', 'application/x-ndjson', 'text/plain'],
      },
    },
    async (request, reply) => {
      const job = await options.imports.get(request.params.id);
      if (job === undefined) return sendError(reply, notFound(request.params.id));
      const format = job.mapping.format?.type ?? formatFromName(job.fileName);
      const header = job.header === null || job.mapping.format?.header === false ? null : job.header;
      const { imports } = options;
      const { id } = job;
      // Streamed a page at a time: an import can reject many rows.
      async function* lines(): AsyncGenerator<string> {
        if (header !== null) yield `${header}\n`;
        for (let after = 0; ;) {
          const rows = await imports.rejected(id, { limit: 1000, afterLine: after });
          if (rows.length > 0) yield rows.map((row) => `${row.raw}\n`).join('');
          if (rows.length < 1000) return;
          after = rows.at(-1)!.line;
        }
      }
      const base = job.fileName.replace(/\.[^.]*$/, '');
      const extension = /\.[^.]+$/.exec(job.fileName)?.[0] ?? (format === 'ndjson' ? '.ndjson' : '.csv');
      return reply
        .header(
          'content-type',
          format === 'ndjson' ? 'application/x-ndjson' : format === 'csv' ? 'text/csv' : 'text/plain',
        )
        .header('content-disposition', `attachment; filename="${base}.rejected${extension}"`)
        .send(Readable.from(lines()));
    },
  );
}

function importOutput(job: ImportJobView) {
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: job.id,
    sourceId: job.sourceId,
    fileName: job.fileName,
    kind: job.mapping.kind,
    status: job.status,
    createdAt: new Date(job.createdAt).toISOString(),
    startedAt: iso(job.startedAt),
    finishedAt: iso(job.finishedAt),
    progress: {
      bytesTotal: job.bytesTotal,
      bytesRead: job.bytesRead,
      percent:
        job.bytesTotal === 0 ? 0 : Math.min(100, Math.round((job.bytesRead / job.bytesTotal) * 1000) / 10),
    },
    rows: { read: job.rowsRead, rejected: job.rowsRejected },
    events: { accepted: job.eventsAccepted, duplicates: job.eventsDuplicate },
    rowsPerSecond: job.rowsPerSecond,
    attempts: job.attempts,
    error: job.errorCode === null ? null : { code: job.errorCode, message: job.errorMessage ?? '' },
    mapping: job.mapping,
  };
}
