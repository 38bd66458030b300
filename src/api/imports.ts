import { Readable } from 'node:stream';
import { Type, type TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { parse as parseCsv } from 'csv-parse/sync';
import type { FastifyInstance } from 'fastify';
import { CibleError } from '../errors.ts';
import type { ImportJobs, ImportJobView } from '../imports/import-jobs.ts';
import { FileFormat, ImportMapping, formatFromName, type ImportFormat } from '../imports/mapping.ts';
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

const previewRowLimit = 20;

const PreviewOutput = Type.Object({
  format: Type.Object({
    type: Type.Union([Type.Literal('csv'), Type.Literal('whitespace'), Type.Literal('ndjson')]),
    delimiter: Type.Union([Type.String(), Type.Null()], {
      description: 'csv: the delimiter used (the one asked for, else the likeliest of , ; tab |).',
    }),
  }),
  columns: Type.Array(Type.String(), {
    description: 'The names a mapping uses: the header (csv, whitespace) or the dotted paths (ndjson).',
  }),
  rows: Type.Array(Type.Array(Type.String()), {
    description: `The first rows (${previewRowLimit} at most), one cell per column; empty where a row lacks it.`,
  }),
});

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

  app.post(
    '/api/imports/preview',
    {
      schema: {
        tags: ['imports'],
        summary:
          'Read the start of a file as an import would: its columns and first rows, to write the mapping before sending the file',
        security,
        body: Type.Object({
          fileName: Type.String({ minLength: 1, maxLength: 500 }),
          sample: Type.String({
            maxLength: 256 * 1024,
            description: 'The start of the file, as text (64 KB is plenty).',
          }),
          complete: Type.Optional(
            Type.Boolean({
              description: 'The sample is the whole file (otherwise its last, maybe cut, line is dropped).',
            }),
          ),
          format: Type.Optional(FileFormat),
        }),
        response: { 200: PreviewOutput, 422: ErrorOutput },
      },
    },
    async (request) => {
      const { fileName, sample, complete, format } = request.body;
      return previewImportFile(sample, {
        fileName,
        complete: complete ?? false,
        ...(format === undefined ? {} : { format }),
      });
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

export interface ImportPreview {
  readonly format: { readonly type: ImportFormat; readonly delimiter: string | null };
  readonly columns: string[];
  readonly rows: string[][];
}

export interface ImportPreviewOptions {
  readonly fileName: string;
  /** The sample is the whole file; otherwise its last line may be cut and is dropped. */
  readonly complete: boolean;
  readonly format?: FileFormat;
}

/**
 * The columns and first rows of the start of a file, read the way an import reads it (csv-parse
 * for csv, runs of spaces for whitespace, dotted paths for ndjson), so that the console can show a
 * preview and offer each column a role before the file is sent.
 */
export function previewImportFile(sample: string, options: ImportPreviewOptions): ImportPreview {
  const type = options.format?.type ?? formatFromName(options.fileName);
  const cut = options.complete ? sample : sample.slice(0, sample.lastIndexOf('\n') + 1);
  const text = cut.charCodeAt(0) === 0xfeff ? cut.slice(1) : cut;
  if (type === 'ndjson') return ndjsonPreview(text);
  const header = options.format?.header ?? true;
  const delimiter = type === 'csv' ? (options.format?.delimiter ?? likelyDelimiter(text)) : null;
  let records: string[][];
  if (type === 'whitespace') {
    records = text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .slice(0, previewRowLimit + 1)
      .map((line) => line.split(/\s+/));
  } else {
    try {
      records = parseCsv(text, {
        delimiter: delimiter ?? ',',
        quote: options.format?.quote ?? '"',
        relax_column_count: true,
        skip_empty_lines: true,
        to: previewRowLimit + 1,
      });
    } catch (error) {
      const line = (error as { lines?: number }).lines;
      throw new CibleError(
        'CIBLE_ERR_IMPORT_FILE_UNREADABLE',
        `The start of the file is not valid CSV${line === undefined ? '' : ` at line ${line}`}: ${(error as Error).message}`,
        { cause: error, field: 'sample' },
      );
    }
  }
  const first = records[0];
  if (first === undefined) {
    throw new CibleError('CIBLE_ERR_IMPORT_FILE_UNREADABLE', 'The file is empty: not even a header line.', {
      field: 'sample',
    });
  }
  const width = Math.max(...records.map((record) => record.length));
  const named = options.format?.columns ?? (header ? first.map((name) => name.trim()) : []);
  const columns = Array.from({ length: Math.max(width, named.length) }, (_, index) => {
    const name = named[index];
    return name === undefined || name === '' ? `Column ${index + 1}` : name;
  });
  const body = header ? records.slice(1) : records.slice(0, previewRowLimit);
  return {
    format: { type, delimiter },
    columns,
    rows: body.map((record) => columns.map((_, index) => record[index] ?? '')),
  };
}

/** The delimiter that splits the first line the most, outside quotes (a comma when none does). */
function likelyDelimiter(text: string): string {
  const newline = text.indexOf('\n');
  const line = newline === -1 ? text : text.slice(0, newline);
  const counts = new Map<string, number>();
  let quoted = false;
  for (const character of line) {
    if (character === '"') quoted = !quoted;
    else if (!quoted && (character === ',' || character === ';' || character === '\t' || character === '|')) {
      counts.set(character, (counts.get(character) ?? 0) + 1);
    }
  }
  let best = ',';
  for (const [character, count] of counts) if (count > (counts.get(best) ?? 0)) best = character;
  return best;
}

function ndjsonPreview(text: string): ImportPreview {
  const columns: string[] = [];
  const objects: Map<string, string>[] = [];
  for (const [index, line] of text.split('\n').entries()) {
    if (objects.length === previewRowLimit) break;
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new CibleError(
        'CIBLE_ERR_IMPORT_FILE_UNREADABLE',
        `Line ${index + 1} is not valid JSON: ${(error as Error).message}.`,
        { cause: error, field: 'sample' },
      );
    }
    const cells = new Map<string, string>();
    flatten(value, [], cells);
    for (const path of cells.keys()) if (!columns.includes(path)) columns.push(path);
    objects.push(cells);
  }
  if (objects.length === 0) {
    throw new CibleError(
      'CIBLE_ERR_IMPORT_FILE_UNREADABLE',
      'The file is empty: not even one line of JSON.',
      {
        field: 'sample',
      },
    );
  }
  return {
    format: { type: 'ndjson', delimiter: null },
    columns,
    rows: objects.map((cells) => columns.map((path) => cells.get(path) ?? '')),
  };
}

/** Objects become dotted paths (what a mapping of an ndjson file names); arrays stay whole cells. */
function flatten(value: unknown, path: readonly string[], cells: Map<string, string>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, [...path, key], cells);
    return;
  }
  if (path.length === 0) return;
  cells.set(
    path.join('.'),
    typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value),
  );
}
