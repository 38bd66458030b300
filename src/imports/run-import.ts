import type { IdentifierRules } from '../domain/identifiers.ts';
import { CibleError, type ErrorCode } from '../errors.ts';
import type { IngestPipeline, PreparedEvent } from '../ingestion/pipeline.ts';
import type { ImportRejection, ImportStore } from '../store/import-store.ts';
import type { Source } from '../store/store.ts';
import { importRows, type RowsProgress, type RowsSink } from './import-rows.ts';
import { compileMapping, type CompiledMapping, type ImportMapping } from './mapping.ts';
import type { ImportThread } from './import-thread.ts';
import { FingerprintCounter, importMessageIdPrefix } from './row-keys.ts';

/** What a running import has done so far; the job manager reads it for progress. */
export interface ImportProgress {
  bytesRead: number;
  rowsRead: number;
  rowsRejected: number;
  eventsAccepted: number;
  eventsDuplicate: number;
  header: string | null;
}

export function emptyImportProgress(): ImportProgress {
  return { bytesRead: 0, rowsRead: 0, rowsRejected: 0, eventsAccepted: 0, eventsDuplicate: 0, header: null };
}

export interface RunImportOptions {
  readonly importId: string;
  readonly path: string;
  readonly fileName: string;
  readonly mapping: ImportMapping;
  readonly source: Source;
  readonly pipeline: Pick<IngestPipeline, 'ingestImported'>;
  readonly store: Pick<ImportStore, 'scanImportedFingerprints' | 'addImportRejections'>;
  readonly identifierRules: IdentifierRules;
  /** The purposes consent columns may answer (default: the standard ones). */
  readonly consentPurposes?: readonly string[];
  readonly maxEventBytes: number;
  /** Resolves once the store holds every batch already acknowledged, before it is asked what it holds. */
  readonly caughtUp?: () => Promise<void>;
  readonly progress: ImportProgress;
  readonly signal: AbortSignal;
  /** Events handed to the pipeline at once (default 5,000). */
  readonly chunkEvents?: number;
  /**
   * Where the rows are read and prepared: on the import thread, so that the main thread only
   * de-duplicates, resolves identities and commits; or `inline`, all here.
   */
  readonly thread: ImportThread | 'inline';
}

/**
 * Runs one import. The rows are read and prepared (`importRows`) on the import thread;
 * their events come here in chunks and go through the rest of the pipeline (de-duplication,
 * identity, the single writer's commit), two chunks at most in flight: one committing while the
 * next is prepared. Rejected rows are kept in the store as they come. Idempotent: rows whose events
 * the store already holds (however long ago) are counted, not stored again.
 */
export async function runImport(options: RunImportOptions): Promise<void> {
  const { progress } = options;
  // What the store already holds from earlier imports into this source.
  const stored = new FingerprintCounter();
  await options.caughtUp?.();
  await options.store.scanImportedFingerprints(options.source.id, importMessageIdPrefix, (chunk) => {
    for (let i = 0; i < chunk.length; i++) stored.add(chunk.hi[i]!, chunk.lo[i]!);
  });

  let alreadyStored = 0;
  let pipelineDuplicates = 0;
  const update = (rows: RowsProgress): void => {
    progress.bytesRead = rows.bytesRead;
    progress.rowsRead = rows.rowsRead;
    progress.rowsRejected = rows.rowsRejected;
    progress.header = rows.header;
    alreadyStored = rows.alreadyStored;
    progress.eventsDuplicate = alreadyStored + pipelineDuplicates;
  };
  const ingest = async (events: PreparedEvent[]): Promise<void> => {
    const outcome = await options.pipeline.ingestImported({ source: options.source, events });
    if (!outcome.ok) throw outcome.error;
    progress.eventsAccepted += outcome.accepted;
    pipelineDuplicates += outcome.duplicates;
    progress.eventsDuplicate = alreadyStored + pipelineDuplicates;
  };
  const keep = (rows: ImportRejection[]): Promise<void> => options.store.addImportRejections(rows);

  if (options.thread === 'inline') {
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const sink: RowsSink = {
      async events(events, rows) {
        update(rows);
        const promise = ingest(events).then(
          () => void inFlight.delete(promise),
          (error: unknown) => {
            inFlight.delete(promise);
            failure ??= error;
          },
        );
        inFlight.add(promise);
        if (inFlight.size >= 2) await Promise.race(inFlight);
        if (failure !== undefined) throw failure as Error;
      },
      rejected: keep,
      progress: update,
    };
    const rows = await importRows(
      {
        importId: options.importId,
        path: options.path,
        mapping: compiled(options),
        sourceId: options.source.id,
        identifierRules: options.identifierRules,
        maxEventBytes: options.maxEventBytes,
        stored,
        ...(options.chunkEvents === undefined ? {} : { chunkEvents: options.chunkEvents }),
        stopped: () => options.signal.aborted || failure !== undefined,
        now: Date.now,
      },
      sink,
    ).finally(() => Promise.all(inFlight));
    if (failure !== undefined) throw failure as Error;
    update(rows);
    return;
  }

  const thread = options.thread;
  const stop = (): void => thread.send({ kind: 'stop' });
  options.signal.addEventListener('abort', stop);
  // Messages are handled in order: a chunk's rows are kept and counted before the next one's.
  let work: Promise<void> = Promise.resolve();
  const pending = new Set<Promise<void>>();
  try {
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        stop();
        reject(error instanceof Error ? error : new Error(String(error)));
      };
      thread.start(
        {
          importId: options.importId,
          path: options.path,
          fileName: options.fileName,
          mapping: options.mapping,
          sourceId: options.source.id,
          identifierRules: options.identifierRules,
          consentPurposes: options.consentPurposes,
          maxEventBytes: options.maxEventBytes,
          stored: stored.state(),
          chunkEvents: options.chunkEvents,
        },
        {
          crashed: fail,
          message(message) {
            switch (message.kind) {
              case 'events': {
                update(message.progress);
                const committed = ingest(message.events).then(() => {
                  pending.delete(committed);
                  thread.send({ kind: 'ack' });
                }, fail);
                pending.add(committed);
                break;
              }
              case 'rejected':
                work = work.then(() => keep(message.rows)).catch(fail);
                break;
              case 'progress':
                update(message.progress);
                break;
              case 'done':
                work = work
                  .then(() => Promise.all(pending))
                  .then(() => {
                    update(message.progress);
                    settled = true;
                    resolve();
                  }, fail);
                break;
              case 'failed':
                fail(
                  message.error.code === undefined
                    ? new Error(message.error.message)
                    : new CibleError(message.error.code as ErrorCode, message.error.message, {
                        ...(message.error.field === undefined ? {} : { field: message.error.field }),
                      }),
                );
                break;
            }
          },
        },
      );
    });
  } finally {
    options.signal.removeEventListener('abort', stop);
    await Promise.allSettled([work, ...pending]);
    thread.release();
  }
}

function compiled(options: RunImportOptions): CompiledMapping {
  const result = compileMapping(options.mapping, {
    fileName: options.fileName,
    identifierRules: options.identifierRules,
    ...(options.consentPurposes === undefined ? {} : { consentPurposes: options.consentPurposes }),
  });
  if (!result.ok) {
    throw new CibleError(
      'CIBLE_ERR_IMPORT_INVALID_MAPPING',
      `The mapping of import ${options.importId} is not valid.`,
    );
  }
  return result.mapping;
}
