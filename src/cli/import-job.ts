import { createReadStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { Presets, SingleBar } from 'cli-progress';
import { CibleError } from '../errors.ts';
import { errorFrom } from './api-client.ts';

export interface MappedImportOptions {
  readonly path: string;
  readonly mappingPath: string;
  readonly serverUrl: string;
  readonly token: string;
  /** Source id to import into; default: the server's "import" source. */
  readonly sourceId?: string;
  readonly progress: 'bar' | 'none';
  /** How often to ask for progress, ms. */
  readonly pollMs?: number;
  /** Writes the rejected rows beside the caller as `<name>.rejected.csv` (default true). */
  readonly saveRejected?: boolean;
}

/** An import job as GET /api/imports/{id} answers it. */
export interface ImportJob {
  readonly id: string;
  readonly status: 'awaiting_file' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';
  readonly progress: { readonly bytesTotal: number; readonly bytesRead: number; readonly percent: number };
  readonly rows: { readonly read: number; readonly rejected: number };
  readonly events: { readonly accepted: number; readonly duplicates: number };
  readonly rowsPerSecond: number;
  readonly error: { readonly code: string; readonly message: string } | null;
}

export interface RejectedRow {
  readonly line: number;
  readonly code: string;
  readonly reason: string;
  readonly field: string | null;
  readonly raw: string;
}

export interface MappedImportReport {
  readonly job: ImportJob;
  /** The first rejected rows, for the summary. */
  readonly rejected: readonly RejectedRow[];
  /** The rejected rows as a file in the original's format (with its header); null when none. */
  readonly rejectedFile: string | null;
}

const finished = new Set(['completed', 'failed', 'cancelled']);

/**
 * Imports a CRM or till file with a mapping, as a job of the server: creates the job
 * (`POST /api/imports`, the mapping is checked there), uploads the file, and follows the job's
 * progress until it ends. The rows it rejects come back as a file with the original's header,
 * ready to be fixed and imported again with the same mapping.
 */
export async function importWithMapping(options: MappedImportOptions): Promise<MappedImportReport> {
  const path = resolve(options.path);
  const size = (
    await stat(path).catch((error: unknown) => {
      throw new CibleError('CIBLE_ERR_CLI_USAGE', `Cannot read ${path}.`, { cause: error, field: 'file' });
    })
  ).size;
  const mapping = await readMapping(options.mappingPath);
  const api = apiOf(options.serverUrl, options.token);

  const created = await api<ImportJob>('POST', '/api/imports', {
    fileName: basename(path),
    mapping,
    ...(options.sourceId === undefined ? {} : { sourceId: options.sourceId }),
  });
  const bar =
    options.progress === 'bar'
      ? new SingleBar(
          {
            format: ' {phase} {bar} {percentage}% | {detail}',
            hideCursor: true,
          },
          Presets.shades_classic,
        )
      : undefined;
  bar?.start(Math.max(1, size), 0, { phase: 'upload', detail: `${size} bytes` });

  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      bar?.update(sent, { phase: 'upload', detail: `${sent}/${size} bytes` });
      callback(null, chunk);
    },
  });
  const body = Readable.toWeb(createReadStream(path).pipe(counter)) as ReadableStream<Uint8Array>;
  await api<ImportJob>('PUT', `/api/imports/${created.id}/file`, body);

  let job: ImportJob;
  for (;;) {
    job = await api<ImportJob>('GET', `/api/imports/${created.id}`);
    bar?.setTotal(Math.max(1, job.progress.bytesTotal));
    bar?.update(job.progress.bytesRead, {
      phase: 'import',
      detail:
        `${job.rows.read} rows, ${job.events.accepted} events stored, ${job.events.duplicates} already stored, ` +
        `${job.rows.rejected} rejected | ${job.rowsPerSecond} rows/s`,
    });
    if (finished.has(job.status)) break;
    await new Promise((done) => setTimeout(done, options.pollMs ?? 250));
  }
  bar?.stop();
  if (job.status === 'failed' && job.error !== null) {
    throw new CibleError(asCode(job.error.code), `Import ${job.id} failed: ${job.error.message}`);
  }

  let rejected: RejectedRow[] = [];
  let rejectedFile: string | null = null;
  if (job.rows.rejected > 0) {
    rejected = (await api<{ rejected: RejectedRow[] }>('GET', `/api/imports/${job.id}/rejected?limit=20`))
      .rejected;
  }
  if (job.rows.rejected > 0 && options.saveRejected !== false) {
    const extension = extname(path);
    rejectedFile = resolve(`${basename(path, extension)}.rejected${extension === '' ? '.csv' : extension}`);
    await writeFile(
      rejectedFile,
      await api<string>('GET', `/api/imports/${job.id}/rejected/file`, undefined, 'text'),
    );
  }
  return { job, rejected, rejectedFile };
}

async function readMapping(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(resolve(path), 'utf8');
  } catch (error) {
    throw new CibleError('CIBLE_ERR_CLI_USAGE', `Cannot read the mapping ${path}.`, {
      cause: error,
      field: '--mapping',
    });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CibleError(
      'CIBLE_ERR_IMPORT_INVALID_MAPPING',
      `The mapping ${path} is not valid JSON: ${(error as Error).message}.`,
      {
        cause: error,
        field: '--mapping',
      },
    );
  }
}

type Api = <T>(method: string, path: string, body?: unknown, as?: 'json' | 'text') => Promise<T>;

function apiOf(serverUrl: string, token: string): Api {
  return async <T>(
    method: string,
    path: string,
    body?: unknown,
    as: 'json' | 'text' = 'json',
  ): Promise<T> => {
    const streaming = body instanceof ReadableStream;
    let response: Response;
    try {
      response = await fetch(`${serverUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined
            ? {}
            : { 'content-type': streaming ? 'application/octet-stream' : 'application/json' }),
        },
        ...(body === undefined ? {} : streaming ? { body, duplex: 'half' } : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new CibleError('CIBLE_ERR_CLI_SERVER_UNREACHABLE', `No Cible answers at ${serverUrl}.`, {
        cause: error,
      });
    }
    if (!response.ok) throw errorFrom(await response.json(), response.status);
    return (as === 'text' ? await response.text() : await response.json()) as T;
  };
}

function asCode(code: string): ConstructorParameters<typeof CibleError>[0] {
  return (code.startsWith('CIBLE_ERR_') ? code : 'CIBLE_ERR_INTERNAL') as ConstructorParameters<
    typeof CibleError
  >[0];
}
