import type { FingerprintChunk } from './store.ts';

/** The part of the store port that keeps import jobs and the rows they rejected. */
export interface ImportStore {
  /** Inserts the job, or replaces the stored one with the same id. */
  saveImport(job: ImportJobRecord): Promise<void>;
  getImport(id: string): Promise<ImportJobRecord | undefined>;
  /** Newest first. */
  listImports(query: ImportQuery): Promise<ImportJobRecord[]>;
  addImportRejections(rows: readonly ImportRejection[]): Promise<void>;
  /** In line order. */
  listImportRejections(importId: string, query: ImportRejectionQuery): Promise<ImportRejection[]>;
  /** Forgets a job's rejected rows (before the job runs again from its start). */
  deleteImportRejections(importId: string): Promise<void>;
  /**
   * Streams the fingerprints (as `Store.scanMessageFingerprints` computes them) of every stored
   * event of a source whose messageId starts with `prefix`, however old: what an import already
   * stored, so that importing the same rows again stores nothing, even after the de-duplication
   * window. Resolves with how many there were.
   */
  scanImportedFingerprints(
    sourceId: string,
    prefix: string,
    onChunk: (chunk: FingerprintChunk) => void,
  ): Promise<number>;
}

export type ImportStatus = 'awaiting_file' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface ImportJobRecord {
  readonly id: string;
  readonly sourceId: string;
  readonly fileName: string;
  /** The mapping, as JSON text. */
  readonly mapping: string;
  readonly status: ImportStatus;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** Size of the uploaded file; 0 until it is uploaded. */
  readonly bytesTotal: number;
  readonly bytesRead: number;
  readonly rowsRead: number;
  readonly rowsRejected: number;
  readonly eventsAccepted: number;
  readonly eventsDuplicate: number;
  /** The file's header line, as read: the first line of the rejected rows' file. */
  readonly header: string | null;
  readonly errorCode: string | null;
  readonly errorMessage: string | null;
  /** How many times the job started (more than one after a restart interrupted it). */
  readonly attempts: number;
}

/** A job just created: waiting for its file, nothing read yet. */
export function newImportJob(fields: {
  readonly id: string;
  readonly sourceId: string;
  readonly fileName: string;
  /** JSON text. */
  readonly mapping: string;
  readonly createdAt: number;
}): ImportJobRecord {
  return {
    ...fields,
    status: 'awaiting_file',
    startedAt: null,
    finishedAt: null,
    bytesTotal: 0,
    bytesRead: 0,
    rowsRead: 0,
    rowsRejected: 0,
    eventsAccepted: 0,
    eventsDuplicate: 0,
    header: null,
    errorCode: null,
    errorMessage: null,
    attempts: 0,
  };
}

export interface ImportQuery {
  readonly status?: ImportStatus;
  /** Jobs created before this time (paging). */
  readonly before?: number;
  readonly limit: number;
}

/** One row (or one order's rows) an import did not store, with why. */
export interface ImportRejection {
  readonly importId: string;
  /** The line of the file the row starts on (1-based). */
  readonly line: number;
  readonly code: string;
  readonly reason: string;
  /** The column (or event field) at fault, when known. */
  readonly field: string | null;
  /** The row as it stood in the file (an order: all its lines). */
  readonly raw: string;
}

export interface ImportRejectionQuery {
  /** Rows starting after this line (paging). */
  readonly afterLine?: number;
  readonly limit: number;
}
