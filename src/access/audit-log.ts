import type { AccessStore, AuditEntry } from '../store/access-store.ts';

export interface AuditLog {
  /**
   * Appends an entry. Entries are written together every `flushMs`; `durable` resolves only once
   * this entry is in the store (for erasures, exports, changes of rights), otherwise at once.
   */
  record(entry: AuditEntry, options?: { durable?: boolean }): Promise<void>;
  /** Writes what is waiting. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The audit log, written in groups: one profile view costs a push to an array, not a write, which
 * keeps auditing the read path cheap (see the access benchmark). An entry not yet flushed when the
 * process dies is lost: at most `flushMs` of reads; every change of rights waits for its entry.
 */
export function createAuditLog(
  store: Pick<AccessStore, 'appendAudit'>,
  options: { flushMs?: number; onError?: (error: unknown) => void } = {},
): AuditLog {
  const flushMs = options.flushMs ?? 200;
  let waiting: AuditEntry[] = [];
  let writing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;

  function flush(): Promise<void> {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const entries = waiting;
    waiting = [];
    writing = writing.then(async () => {
      if (entries.length === 0) return;
      try {
        await store.appendAudit(entries);
      } catch (error) {
        // Kept for the next flush rather than dropped.
        waiting = [...entries, ...waiting];
        options.onError?.(error);
        throw error;
      }
    });
    const written = writing;
    writing = writing.catch(() => undefined);
    return written;
  }

  return {
    record(entry, { durable = false } = {}) {
      waiting.push(entry);
      if (durable) return flush();
      timer ??= setTimeout(() => void flush().catch(() => undefined), flushMs);
      return Promise.resolve();
    },
    flush,
    async close() {
      await flush().catch(() => undefined);
    },
  };
}
