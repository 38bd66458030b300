import { parentPort, workerData } from 'node:worker_threads';
import { isCibleError } from '../errors.ts';
import type { PreparedEvent } from '../ingestion/pipeline.ts';
import { importRows, type RowsProgress } from './import-rows.ts';
import { compileMapping } from './mapping.ts';
import type { ImportWorkerData, ToImport, FromImport } from './run-import.ts';
import { FingerprintCounter } from './row-keys.ts';

/**
 * The thread of one import: reads the file and prepares its events (`importRows`), posting them
 * to the main thread in chunks, two at most awaiting their commit.
 */
const data = workerData as ImportWorkerData;
const port = parentPort!;
let stopped = false;
let unacknowledged = 0;
let wake: (() => void) | undefined;

port.on('message', (message: ToImport) => {
  if (message.kind === 'stop') stopped = true;
  else unacknowledged--;
  wake?.();
  wake = undefined;
});

function post(message: FromImport): void {
  port.postMessage(message);
}

async function run(): Promise<RowsProgress> {
  const compiled = compileMapping(data.mapping, {
    fileName: data.fileName,
    identifierRules: data.identifierRules,
  });
  if (!compiled.ok) throw new Error(`The mapping of import ${data.importId} is not valid.`);
  return importRows(
    {
      importId: data.importId,
      path: data.path,
      mapping: compiled.mapping,
      sourceId: data.sourceId,
      identifierRules: data.identifierRules,
      maxEventBytes: data.maxEventBytes,
      stored: FingerprintCounter.from(data.stored),
      ...(data.chunkEvents === undefined ? {} : { chunkEvents: data.chunkEvents }),
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
}

/** What identity resolution reads of the event besides the stored row: the rest need not cross threads. */
function slim({ stored, valid, fingerprint }: PreparedEvent): PreparedEvent {
  const kept: PreparedEvent['valid'] = { type: valid.type };
  if (valid.traits !== undefined) kept.traits = valid.traits;
  if (valid.context !== undefined) kept.context = valid.context;
  return fingerprint === undefined ? { stored, valid: kept } : { stored, valid: kept, fingerprint };
}

run().then(
  (progress) => post({ kind: 'done', progress }),
  (error: unknown) =>
    post({
      kind: 'failed',
      error: isCibleError(error)
        ? {
            code: error.code,
            message: error.message,
            ...(error.field === undefined ? {} : { field: error.field }),
          }
        : { message: error instanceof Error ? (error.stack ?? error.message) : String(error) },
    }),
);
