import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import type { IdentifierRules } from '../domain/identifiers.ts';
import { CibleError, isCibleError } from '../errors.ts';
import type { IngestPipeline } from '../ingestion/pipeline.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import {
  newImportJob,
  type ImportJobRecord,
  type ImportQuery,
  type ImportRejection,
  type ImportRejectionQuery,
  type ImportStatus,
} from '../store/import-store.ts';
import type { Store } from '../store/store.ts';
import { compileMapping, type ImportMapping } from './mapping.ts';
import { createImportThread } from './import-thread.ts';
import { emptyImportProgress, runImport, type ImportProgress } from './run-import.ts';

/**
 * Import jobs: a file and its mapping become a job that runs in the background, one at a time,
 * through the ingest pipeline, with progress anyone can follow. Jobs and their rejected rows live
 * in the store; the uploaded file lives in `<data dir>/imports/` until the job ends (it holds
 * personal data: it is not kept). A job interrupted by a stop runs again from its start at the
 * next start: rows stored the first time count as duplicates the second.
 */
export interface ImportJobs {
  /** Checks the mapping and creates a job waiting for its file. */
  create(request: NewImport): Promise<ImportJobView>;
  /** Stores the job's file and queues the job. */
  /** Stores the file of an import, refused past `maxFileBytes` (checked first against `declaredBytes`). */
  receiveFile(id: string, body: Readable, declaredBytes?: number): Promise<ImportJobView>;
  get(id: string): Promise<ImportJobView | undefined>;
  list(query: ImportQuery): Promise<ImportJobView[]>;
  cancel(id: string): Promise<ImportJobView>;
  rejected(id: string, query: ImportRejectionQuery): Promise<ImportRejection[]>;
  /** Stops the running job without ending it (it resumes at the next start) and waits for it. */
  close(): Promise<void>;
}

export interface NewImport {
  readonly fileName: string;
  readonly mapping: ImportMapping;
  /** The source the events are stored under; default: the source named "import" (created if missing). */
  readonly sourceId?: string;
}

/** A job as the API shows it. */
export interface ImportJobView extends Omit<ImportJobRecord, 'mapping'> {
  readonly mapping: ImportMapping;
  /** Rows read per second of running time. */
  readonly rowsPerSecond: number;
}

export interface ImportJobsOptions {
  readonly store: Pick<Store, 'imports'>;
  readonly sources: SourceRegistry;
  readonly pipeline: IngestPipeline;
  readonly identifierRules: IdentifierRules;
  /** The purposes consent columns may answer (default: the standard ones). */
  readonly consentPurposes?: readonly string[];
  readonly dataDir: string;
  /** The largest event, in bytes of JSON (the pipeline's limit). */
  readonly maxEventBytes: number;
  /** The largest file accepted, in bytes. */
  readonly maxFileBytes: number;
  readonly now: () => number;
  /** Resolves once the store holds every batch already acknowledged (see GroupCommitWriter.caughtUp). */
  readonly caughtUp?: () => Promise<void>;
  /**
   * Files this large or larger are read on the import thread, which leaves the main thread only
   * identity and the commit (default 16 MB); smaller ones on the main thread, which is quicker
   * than starting the import thread (a second or two).
   */
  readonly workerFromBytes?: number;
  /** Where to report a job that failed for a reason that is not the file's. */
  readonly onError?: (error: unknown, importId: string) => void;
}

interface Running {
  readonly id: string;
  readonly progress: ImportProgress;
  readonly controller: AbortController;
  record: ImportJobRecord;
}

const defaultSourceName = 'import';
const finished: readonly ImportStatus[] = ['completed', 'failed', 'cancelled'];

export async function createImportJobs(options: ImportJobsOptions): Promise<ImportJobs> {
  const store = options.store.imports;
  const directory = join(options.dataDir, 'imports');
  await mkdir(directory, { recursive: true });
  const queue: string[] = [];
  const thread = createImportThread();
  let running: Running | undefined;
  let worker: Promise<void> | undefined;
  let closing = false;

  const fileOf = (id: string): string => join(directory, `${id}.upload`);
  const consentPurposes =
    options.consentPurposes === undefined ? {} : { consentPurposes: options.consentPurposes };

  async function load(id: string): Promise<ImportJobRecord> {
    const record = await store.getImport(id);
    if (record === undefined)
      throw new CibleError('CIBLE_ERR_IMPORT_NOT_FOUND', `No import ${id}.`, { field: 'id' });
    return record;
  }

  function view(record: ImportJobRecord): ImportJobView {
    const live = running?.id === record.id ? running : undefined;
    const current: ImportJobRecord = live === undefined ? record : { ...live.record, ...live.progress };
    const end = current.finishedAt ?? options.now();
    const seconds = current.startedAt === null ? 0 : (end - current.startedAt) / 1000;
    return {
      ...current,
      mapping: JSON.parse(current.mapping) as ImportMapping,
      rowsPerSecond: seconds > 0 ? Math.round(current.rowsRead / seconds) : 0,
    };
  }

  function compile(record: ImportJobRecord): void {
    const compiled = compileMapping(JSON.parse(record.mapping) as ImportMapping, {
      fileName: record.fileName,
      identifierRules: options.identifierRules,
      ...consentPurposes,
    });
    if (!compiled.ok) throw mappingError(compiled.problems);
  }

  async function source(sourceId: string | undefined): Promise<string> {
    if (sourceId !== undefined) {
      if (options.sources.byId(sourceId) === undefined) {
        throw new CibleError('CIBLE_ERR_API_INVALID_REQUEST', `No source ${sourceId}.`, {
          field: 'sourceId',
        });
      }
      return sourceId;
    }
    const existing = options.sources.list().find((candidate) => candidate.name === defaultSourceName);
    return (existing ?? (await options.sources.create(defaultSourceName))).id;
  }

  function start(): void {
    if (worker !== undefined || closing) return;
    worker = (async () => {
      for (let id = queue.shift(); id !== undefined && !closing; id = queue.shift()) await run(id);
    })().finally(() => {
      worker = undefined;
      if (queue.length > 0 && !closing) start();
    });
  }

  async function run(id: string): Promise<void> {
    let record = await store.getImport(id);
    if (record === undefined || record.status !== 'queued') return;
    const progress = emptyImportProgress();
    record = {
      ...record,
      ...progress,
      status: 'running',
      startedAt: options.now(),
      finishedAt: null,
      attempts: record.attempts + 1,
    };
    await store.deleteImportRejections(id);
    await store.saveImport(record);
    const job: Running = { id, progress, controller: new AbortController(), record };
    running = job;
    const saver = setInterval(() => {
      void store.saveImport({ ...job.record, ...progress }).catch(() => undefined);
    }, 2000);
    let outcome: Pick<ImportJobRecord, 'status' | 'errorCode' | 'errorMessage'> = {
      status: 'completed',
      errorCode: null,
      errorMessage: null,
    };
    try {
      compile(record);
      const target = options.sources.byId(record.sourceId);
      if (target === undefined)
        throw new CibleError(
          'CIBLE_ERR_IMPORT_FILE_UNREADABLE',
          `Source ${record.sourceId} no longer exists.`,
        );
      await runImport({
        importId: id,
        path: fileOf(id),
        fileName: record.fileName,
        mapping: JSON.parse(record.mapping) as ImportMapping,
        source: target,
        pipeline: options.pipeline,
        store,
        identifierRules: options.identifierRules,
        ...consentPurposes,
        maxEventBytes: options.maxEventBytes,
        ...(options.caughtUp === undefined ? {} : { caughtUp: options.caughtUp }),
        progress,
        signal: job.controller.signal,
        thread: record.bytesTotal >= (options.workerFromBytes ?? 16 * 1024 * 1024) ? thread : 'inline',
      });
      if (job.controller.signal.aborted) outcome = { ...outcome, status: 'cancelled' };
    } catch (error) {
      if (!isCibleError(error)) options.onError?.(error, id);
      const known = isCibleError(error) ? error : undefined;
      outcome = {
        status: 'failed',
        errorCode: known?.code ?? 'CIBLE_ERR_INTERNAL',
        errorMessage:
          known === undefined
            ? (error as Error).message
            : `${known.message}${known.field === undefined ? '' : ` (${known.field})`}`,
      };
    } finally {
      clearInterval(saver);
    }
    running = undefined;
    // Stopping for a shutdown leaves the job running in the store: it resumes at the next start.
    if (closing && outcome.status !== 'failed') {
      await store.saveImport({ ...job.record, ...progress });
      return;
    }
    await store.saveImport({ ...job.record, ...progress, ...outcome, finishedAt: options.now() });
    await rm(fileOf(id), { force: true });
  }

  // Jobs a stop interrupted run again from their start; their file is still there.
  for (const status of ['running', 'queued'] as const) {
    for (const record of (await store.listImports({ status, limit: 1000 })).reverse()) {
      const present = await stat(fileOf(record.id)).then(
        () => true,
        () => false,
      );
      if (present) {
        await store.saveImport({ ...record, status: 'queued' });
        queue.push(record.id);
      } else {
        await store.saveImport({
          ...record,
          status: 'failed',
          finishedAt: options.now(),
          errorCode: 'CIBLE_ERR_IMPORT_FILE_UNREADABLE',
          errorMessage: 'The import was interrupted and its file is gone; import the file again.',
        });
      }
    }
  }
  start();

  return {
    async create(request) {
      const compiled = compileMapping(request.mapping, {
        fileName: request.fileName,
        identifierRules: options.identifierRules,
        ...consentPurposes,
      });
      if (!compiled.ok) throw mappingError(compiled.problems);
      const record = newImportJob({
        id: `imp_${randomBytes(10).toString('hex')}`,
        sourceId: await source(request.sourceId),
        fileName: request.fileName,
        mapping: JSON.stringify(request.mapping),
        createdAt: options.now(),
      });
      await store.saveImport(record);
      return view(record);
    },

    async receiveFile(id, body, declaredBytes) {
      const record = await load(id);
      if (record.status !== 'awaiting_file') {
        body.resume();
        throw new CibleError(
          'CIBLE_ERR_IMPORT_FILE_ALREADY_SENT',
          `Import ${id} already has its file (it is ${record.status}).`,
        );
      }
      const path = fileOf(id);
      const tooLarge = new CibleError(
        'CIBLE_ERR_IMPORT_FILE_TOO_LARGE',
        `The file is larger than ${options.maxFileBytes} bytes, the largest an import accepts.`,
      );
      if (declaredBytes !== undefined && declaredBytes > options.maxFileBytes) {
        body.resume();
        throw tooLarge;
      }
      // Past the limit the rest is read and dropped, so that the client gets the answer.
      let received = 0;
      const limit = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          received += chunk.length;
          done(null, received > options.maxFileBytes ? undefined : chunk);
        },
      });
      try {
        await pipe(body, limit, createWriteStream(path, { flags: 'wx' }));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new CibleError(
            'CIBLE_ERR_IMPORT_FILE_ALREADY_SENT',
            `Import ${id} is already receiving its file.`,
          );
        }
        await rm(path, { force: true });
        throw error;
      }
      if (received > options.maxFileBytes) {
        await rm(path, { force: true });
        throw tooLarge;
      }
      const { size } = await stat(path);
      const queued: ImportJobRecord = { ...record, status: 'queued', bytesTotal: size };
      await store.saveImport(queued);
      queue.push(id);
      start();
      return view(queued);
    },

    async get(id) {
      const record = await store.getImport(id);
      return record === undefined ? undefined : view(record);
    },

    async list(query) {
      return (await store.listImports(query)).map(view);
    },

    async cancel(id) {
      const record = await load(id);
      if (finished.includes(record.status)) {
        throw new CibleError(
          'CIBLE_ERR_IMPORT_FINISHED',
          `Import ${id} has already finished (${record.status}).`,
        );
      }
      if (running?.id === id) {
        const job = running;
        job.controller.abort();
        while (running?.id === id) await new Promise((resolve) => setTimeout(resolve, 20));
        return view(await load(id));
      }
      const index = queue.indexOf(id);
      if (index !== -1) queue.splice(index, 1);
      const cancelled: ImportJobRecord = { ...record, status: 'cancelled', finishedAt: options.now() };
      await store.saveImport(cancelled);
      await rm(fileOf(id), { force: true });
      return view(cancelled);
    },

    async rejected(id, query) {
      await load(id);
      return store.listImportRejections(id, query);
    },

    async close() {
      closing = true;
      running?.controller.abort();
      await worker;
      await thread.close();
    },
  };
}

function mappingError(problems: readonly { field: string; message: string }[]): CibleError {
  const first = problems[0];
  const more = problems.slice(1).map((problem) => ` ${problem.field}: ${problem.message}`);
  return new CibleError(
    'CIBLE_ERR_IMPORT_INVALID_MAPPING',
    `The mapping is not valid. ${first === undefined ? '' : `${first.field}: ${first.message}`}${more.length > 0 ? ` Also:${more.join(';')}` : ''}`,
    first === undefined ? {} : { field: first.field },
  );
}
