import type { RetentionRule } from '../config/rules-file.ts';
import type { EventExpression } from '../segments/rule.ts';
import type { ErasureStore, ExpiryRule, RetentionRun } from '../store/erasure-store.ts';

export interface RetentionOptions {
  readonly store: Pick<ErasureStore, 'applyRetention' | 'lastRetentionRun'>;
  readonly rules: readonly RetentionRule[];
  /** Sources by id and name, to resolve the rules' `source`. */
  readonly sources: () => readonly { readonly id: string; readonly name: string }[];
  /** How often the job runs, ms. */
  readonly intervalMs: number;
  /** The computed traits' expressions: retention keeps what they read of the events it deletes. */
  readonly expressions: () => readonly EventExpression[];
  /** What must forget the deleted events: profile documents, segments. */
  readonly afterRun: (originProfiles: readonly number[]) => Promise<void>;
  readonly now: () => number;
  readonly onError?: (error: unknown) => void;
}

export interface Retention {
  /** Deletes the raw events past their retention now. */
  run(): Promise<RetentionRun>;
  status(): Promise<{
    rules: readonly RetentionRule[];
    lastRun: RetentionRun | null;
    nextRunAt: number | null;
  }>;
  start(): void;
  close(): Promise<void>;
}

const day = 86_400_000;

/** The retention job: raw events older than their rule's days are deleted, on a schedule. */
export function createRetention(options: RetentionOptions): Retention {
  let timer: NodeJS.Timeout | undefined;
  let nextRunAt: number | null = null;
  let running: Promise<RetentionRun> | undefined;

  function expiryRules(at: number): ExpiryRule[] {
    return options.rules.map((rule) => {
      const sourceIds =
        rule.source === undefined
          ? undefined
          : options
              .sources()
              .filter((source) => source.id === rule.source || source.name === rule.source)
              .map((source) => source.id);
      return {
        before: at - rule.days * day,
        ...(rule.type === undefined ? {} : { type: rule.type }),
        ...(rule.event === undefined ? {} : { event: rule.event }),
        ...(sourceIds === undefined ? {} : { sourceIds }),
      };
    });
  }

  function run(): Promise<RetentionRun> {
    running ??= (async () => {
      try {
        const at = options.now();
        const result = await options.store.applyRetention(expiryRules(at), at, options.expressions());
        if (result.profiles.length > 0) await options.afterRun(result.profiles);
        return { at: result.at, deleted: result.deleted };
      } finally {
        running = undefined;
      }
    })();
    return running;
  }

  function schedule(): void {
    nextRunAt = options.now() + options.intervalMs;
    timer = setTimeout(() => {
      run()
        .catch((error: unknown) => options.onError?.(error))
        .finally(schedule);
    }, options.intervalMs);
    timer.unref();
  }

  return {
    run,
    async status() {
      return {
        rules: options.rules,
        lastRun: (await options.store.lastRetentionRun()) ?? null,
        nextRunAt: options.rules.length === 0 ? null : nextRunAt,
      };
    },
    start() {
      if (options.rules.length > 0) schedule();
    },
    async close() {
      if (timer !== undefined) clearTimeout(timer);
      await running?.catch(() => undefined);
    },
  };
}
