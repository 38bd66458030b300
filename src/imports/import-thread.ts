import { Worker } from 'node:worker_threads';
import type { IdentifierRules } from '../domain/identifiers.ts';
import type { PreparedEvent } from '../ingestion/pipeline.ts';
import type { ImportRejection } from '../store/import-store.ts';
import type { RowsProgress } from './import-rows.ts';
import type { ImportMapping } from './mapping.ts';
import type { FingerprintCounterState } from './row-keys.ts';

/** One import for the thread to read. */
export interface ThreadImport {
  readonly importId: string;
  readonly path: string;
  readonly fileName: string;
  readonly mapping: ImportMapping;
  readonly sourceId: string;
  readonly identifierRules: IdentifierRules;
  readonly consentPurposes: readonly string[] | undefined;
  readonly maxEventBytes: number;
  readonly stored: FingerprintCounterState;
  readonly chunkEvents: number | undefined;
}

/** Messages to the import thread. */
export type ToImportThread =
  | { readonly kind: 'start'; readonly job: ThreadImport }
  /** A chunk of events was committed. */
  | { readonly kind: 'ack' }
  | { readonly kind: 'stop' };

/** Messages from the import thread, about the import it reads. */
export type FromImportThread =
  | { readonly kind: 'events'; readonly events: PreparedEvent[]; readonly progress: RowsProgress }
  | { readonly kind: 'rejected'; readonly rows: ImportRejection[] }
  | { readonly kind: 'progress'; readonly progress: RowsProgress }
  | { readonly kind: 'done'; readonly progress: RowsProgress }
  | { readonly kind: 'failed'; readonly error: { code?: string; message: string; field?: string } };

/** What a reader of the thread's messages does with them. */
export interface ThreadListener {
  message(message: FromImportThread): void;
  /** The thread died (a bug, or memory): the import cannot go on. */
  crashed(error: Error): void;
}

/**
 * The thread that reads and prepares import files, started on the first import that needs it and
 * kept for the next ones while it is in use: starting one (loading the modules it runs) takes a
 * second or two. It reads one import at a time; it stops after a minute without work.
 */
export interface ImportThread {
  /** Starts reading an import; messages go to the listener until `release`. */
  start(job: ThreadImport, listener: ThreadListener): void;
  send(message: ToImportThread): void;
  /** The import is over: the thread waits for the next one. */
  release(): void;
  close(): Promise<void>;
}

const idleMs = 60_000;

export function createImportThread(): ImportThread {
  let worker: Worker | undefined;
  let listener: ThreadListener | undefined;
  let idle: NodeJS.Timeout | undefined;

  function spawn(): Worker {
    const entry = new URL('./import-worker.ts', import.meta.url).href;
    // Worker threads do not inherit the TypeScript loader (tsx) of the main thread: when Cible runs
    // from its TypeScript sources, the thread registers it before loading its entry.
    const loader = entry.endsWith('.ts') ? import.meta.resolve('tsx/esm/api') : null;
    const bootstrap = `
      const { workerData } = require('node:worker_threads');
      (async () => {
        if (workerData.loader !== null) (await import(workerData.loader)).register();
        await import(workerData.entry);
      })().catch((error) => { setImmediate(() => { throw error; }); });
    `;
    const started = new Worker(bootstrap, {
      eval: true,
      workerData: { loader, entry },
      // Reading rows makes many short-lived objects: a young generation of 192 MB (64 MB semi-spaces)
      // collects them for a third less CPU than V8's default (16 MB semi-spaces).
      resourceLimits: { maxYoungGenerationSizeMb: 192 },
    });
    started.on('message', (message: FromImportThread) => listener?.message(message));
    const died = (error: Error): void => {
      if (worker === started) worker = undefined;
      listener?.crashed(error);
    };
    started.on('error', died);
    started.on('exit', (code) => died(new Error(`The import thread stopped (exit code ${code}).`)));
    return started;
  }

  return {
    start(job, next) {
      if (idle !== undefined) clearTimeout(idle);
      listener = next;
      worker ??= spawn();
      worker.postMessage({ kind: 'start', job } satisfies ToImportThread);
    },
    send(message) {
      worker?.postMessage(message);
    },
    release() {
      listener = undefined;
      idle = setTimeout(() => {
        const stopping = worker;
        worker = undefined;
        void stopping?.terminate();
      }, idleMs);
      idle.unref();
    },
    async close() {
      if (idle !== undefined) clearTimeout(idle);
      listener = undefined;
      const stopping = worker;
      worker = undefined;
      await stopping?.terminate();
    },
  };
}
