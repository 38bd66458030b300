/** An import as GET /api/imports/{id} answers it. */
export interface ImportJob {
  readonly id: string;
  readonly sourceId: string;
  readonly fileName: string;
  readonly kind: 'customers' | 'transactions';
  readonly status: ImportStatus;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  readonly progress: { readonly bytesTotal: number; readonly bytesRead: number; readonly percent: number };
  readonly rows: { readonly read: number; readonly rejected: number };
  readonly events: { readonly accepted: number; readonly duplicates: number };
  readonly rowsPerSecond: number;
  readonly attempts: number;
  readonly error: { readonly code: string; readonly message: string } | null;
  readonly mapping: unknown;
}

export type ImportStatus = 'awaiting_file' | 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface RejectedRow {
  readonly line: number;
  readonly code: string;
  readonly reason: string;
  readonly field: string | null;
  readonly raw: string;
}

/** An import still moving: its screen keeps asking for progress. */
export function isActive(status: ImportStatus | undefined): boolean {
  return status === 'awaiting_file' || status === 'queued' || status === 'running';
}

export function statusTone(status: ImportStatus): string {
  switch (status) {
    case 'completed':
      return 'badge ok';
    case 'failed':
      return 'badge danger';
    case 'cancelled':
      return 'badge warn';
    default:
      return 'badge imports-active';
  }
}
