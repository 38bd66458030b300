import { randomUUID } from 'node:crypto';
import type { Identifier } from '../domain/identifiers.ts';
import { identifierKey } from '../domain/identifiers.ts';
import type { IdentityGraph } from '../domain/identity-graph.ts';
import type { ErasureRecord, ErasureStore } from '../store/erasure-store.ts';

export interface ErasureServiceOptions {
  readonly store: ErasureStore;
  /** The identity graph as it is now. */
  readonly graph: () => IdentityGraph;
  /** Resolves once the store holds every batch acknowledged so far. */
  readonly caughtUp: () => Promise<void>;
  /** Keyed hash of an identifier for the suppression list (never the value itself). */
  readonly hash: (identifier: Identifier) => string;
  /** Forgets whatever is kept in memory or in caches about these origin profiles. */
  readonly forget: (members: readonly number[]) => Promise<void>;
  /** Rewrites every file of the data dir without the bytes freed by erasures (see purge). */
  /** Rewrites the files without the erased bytes; answers how. */
  readonly rewriteFiles: (erasureIds: readonly string[]) => Promise<PurgeMethod>;
  /** Physical purge runs by itself this long after the oldest pending erasure, ms. */
  readonly purgeDeadlineMs: number;
  readonly now: () => number;
  readonly onError?: (error: unknown) => void;
}

export interface ErasureService {
  /**
   * Erases a person: gone from every query and export when this resolves; their identifiers are
   * suppressed from the moment it is called. Undefined for an unknown profile.
   */
  erase(profileId: number, requestedBy: string): Promise<ErasureRecord | undefined>;
  /**
   * Whether an event carrying these identifiers (unknown to the identity graph) must be dropped,
   * because one belongs to an erased person; such events are counted.
   */
  suppresses(identifiers: readonly Identifier[]): boolean;
  /** Whether anyone was ever erased (the suppression list holds something). */
  active(): boolean;
  /** Rewrites the files now if erasures are pending; resolves once the bytes are gone. */
  purge(): Promise<PurgeOutcome>;
  status(): Promise<PrivacyStatus>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How the database file lost the erased bytes: its affected tables written again in place and its
 * free blocks overwritten, or (if that failed) the whole file copied.
 */
export type PurgeMethod = 'in-place' | 'whole-file';

export interface PurgeOutcome {
  readonly purged: number;
  readonly ms: number;
  /** Absent when nothing was pending. */
  readonly method?: PurgeMethod;
}

export interface PrivacyStatus {
  readonly pendingPurges: number;
  /** When the oldest pending erasure must be purged by, ms; null with none pending. */
  readonly purgeDueAt: number | null;
  readonly lastPurge: {
    readonly at: number;
    readonly ms: number;
    readonly purged: number;
    readonly method: PurgeMethod;
  } | null;
  readonly suppressedIdentifiers: number;
  readonly droppedEvents: number;
  readonly erasures: readonly ErasureRecord[];
}

/**
 * Erasure, in two steps. Logical: the person leaves the identity graph and the suppression list
 * takes their identifiers at once (no later event can rebuild them), then every row about them is
 * deleted in one transaction queued after the batches acknowledged before. Physical: deleted rows
 * leave their bytes in free blocks of the database file (and of the documents cache, and in the
 * ingest log), so the files are rewritten without them, by a job that batches pending erasures
 * within a deadline, or at once on request.
 */
export async function createErasureService(options: ErasureServiceOptions): Promise<ErasureService> {
  const suppressed = new Set<string>();
  // Identifier keys already checked: a new identifier costs one keyed hash, then a set look-up.
  const checked = new Map<string, boolean>();
  let lastPurge: PrivacyStatus['lastPurge'] = null;
  let purging: Promise<PurgeOutcome> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  // Dropped events are counted here and added to the store's count every few seconds.
  let dropped = 0;
  const flushDropped = async (): Promise<void> => {
    const count = dropped;
    if (count === 0) return;
    dropped = 0;
    await options.store.addDroppedEvents(count).catch((error: unknown) => {
      dropped += count;
      options.onError?.(error);
    });
  };
  const dropTimer = setInterval(() => void flushDropped(), 5_000);
  dropTimer.unref();

  async function schedule(): Promise<void> {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    const pending = await options.store.pendingPurges();
    const oldest = pending.reduce((min, erasure) => Math.min(min, erasure.erasedAt), Infinity);
    if (!Number.isFinite(oldest)) return;
    const wait = Math.max(0, oldest + options.purgeDeadlineMs - options.now());
    timer = setTimeout(
      () => {
        timer = undefined;
        purge().catch((error: unknown) => options.onError?.(error));
      },
      Math.min(wait, 2 ** 31 - 1),
    );
    timer.unref();
  }

  function purge(): Promise<PurgeOutcome> {
    purging ??= (async () => {
      try {
        const pending = await options.store.pendingPurges();
        if (pending.length === 0) return { purged: 0, ms: 0 };
        const started = performance.now();
        await options.caughtUp();
        const method = await options.rewriteFiles(pending.map((erasure) => erasure.id));
        await options.store.markPurged(
          pending.map((erasure) => erasure.id),
          options.now(),
        );
        const ms = Math.round(performance.now() - started);
        lastPurge = { at: options.now(), ms, purged: pending.length, method };
        return { purged: pending.length, ms, method };
      } finally {
        purging = undefined;
        void schedule().catch((error: unknown) => options.onError?.(error));
      }
    })();
    return purging;
  }

  return {
    async erase(profileId, requestedBy) {
      const graph = options.graph();
      // Synchronous up to the first await: no event resolves between reading the person and
      // suppressing them, so none can attach to them again.
      const canonical = graph.canonical(profileId);
      const forgotten = graph.erase(canonical);
      if (forgotten === undefined) return undefined;
      const hashes = forgotten.identifiers.map((identifier) => ({
        hash: options.hash(identifier),
        type: identifier.type,
      }));
      for (const { hash } of hashes) suppressed.add(hash);
      checked.clear();
      await options.caughtUp();
      const record = await options.store.erase({
        id: `era_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
        at: options.now(),
        requestedBy,
        profileId: canonical,
        members: forgotten.members,
        identifiers: forgotten.identifiers,
        suppressed: hashes,
      });
      await options.forget(forgotten.members);
      void schedule().catch((error: unknown) => options.onError?.(error));
      return record;
    },

    active: () => suppressed.size > 0,

    suppresses(identifiers) {
      for (const identifier of identifiers) {
        const key = identifierKey(identifier);
        let found = checked.get(key);
        if (found === undefined) {
          found = suppressed.has(options.hash(identifier));
          if (checked.size >= 100_000) checked.clear();
          checked.set(key, found);
        }
        if (found) {
          dropped++;
          return true;
        }
      }
      return false;
    },

    purge,

    async status() {
      const pending = await options.store.pendingPurges();
      const oldest = pending.reduce((min, erasure) => Math.min(min, erasure.erasedAt), Infinity);
      return {
        pendingPurges: pending.length,
        purgeDueAt: Number.isFinite(oldest) ? oldest + options.purgeDeadlineMs : null,
        lastPurge,
        suppressedIdentifiers: suppressed.size,
        droppedEvents: (await options.store.droppedEvents()) + dropped,
        erasures: await options.store.listErasures(20),
      };
    },

    async start() {
      for (const hash of await options.store.suppressedHashes()) suppressed.add(hash);
      await schedule();
    },

    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      clearInterval(dropTimer);
      await purging?.catch(() => undefined);
      await flushDropped();
    },
  };
}
