import { parentPort } from 'node:worker_threads';
import { isCibleError } from '../errors.ts';
import type { PreparedEvent } from '../ingestion/pipeline.ts';
import { importRows } from './import-rows.ts';
import type { FromImportThread, ThreadImport, ToImportThread } from './import-thread.ts';
import { compileMapping } from './mapping.ts';
import { FingerprintCounter } from './row-keys.ts';

/**
 * The import thread: reads the file of each import it is given (`importRows`) and posts its
 * prepared events to the main thread in chunks, two at most awaiting their commit.
 */
const port = parentPort!;
let stopped = false;
let unacknowledged = 0;
let wake: (() => void) | undefined;

port.on('message', (message: ToImportThread) => {
  switch (message.kind) {
    case 'start':
      stopped = false;
      unacknowledged = 0;
      void read(message.job);
      return;
    case 'ack':
      unacknowledged--;
      break;
    case 'stop':
      stopped = true;
      break;
  }
  wake?.();
  wake = undefined;
});

function post(message: FromImportThread): void {
  port.postMessage(message);
}

async function read(job: ThreadImport): Promise<void> {
  try {
    const compiled = compileMapping(job.mapping, {
      fileName: job.fileName,
      identifierRules: job.identifierRules,
      ...(job.consentPurposes === undefined ? {} : { consentPurposes: job.consentPurposes }),
    });
    if (!compiled.ok) throw new Error(`The mapping of import ${job.importId} is not valid.`);
    const progress = await importRows(
      {
        importId: job.importId,
        path: job.path,
        mapping: compiled.mapping,
        sourceId: job.sourceId,
        identifierRules: job.identifierRules,
        maxEventBytes: job.maxEventBytes,
        stored: FingerprintCounter.from(job.stored),
        ...(job.chunkEvents === undefined ? {} : { chunkEvents: job.chunkEvents }),
        stopped: () => stopped,
        now: Date.now,
      },
      {
        async events(events, progress) {
          post({ kind: 'events', events: events.map(slim), progress });
          unacknowledged++;
          while (unacknowledged >= 2 && !stopped) await new Promise<void>((resolve) => (wake = resolve));
        },
        async rejected(rows) {
          post({ kind: 'rejected', rows });
        },
        progress(progress) {
          post({ kind: 'progress', progress });
        },
      },
    );
    post({ kind: 'done', progress });
  } catch (error) {
    post({
      kind: 'failed',
      error: isCibleError(error)
        ? {
            code: error.code,
            message: error.message,
            ...(error.field === undefined ? {} : { field: error.field }),
          }
        : { message: error instanceof Error ? (error.stack ?? error.message) : String(error) },
    });
  }
}

/** What identity resolution reads of the event besides the stored row: the rest need not cross threads. */
function slim({ stored, valid, fingerprint }: PreparedEvent): PreparedEvent {
  const kept: PreparedEvent['valid'] = { type: valid.type };
  if (valid.traits !== undefined) kept.traits = valid.traits;
  if (valid.context !== undefined) kept.context = valid.context;
  return fingerprint === undefined ? { stored, valid: kept } : { stored, valid: kept, fingerprint };
}
