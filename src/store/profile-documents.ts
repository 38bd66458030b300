import type { ProfileFacts } from './store.ts';
import { createSwappable } from './swappable-store.ts';

/**
 * Profile documents: each profile's facts as last read from the store, kept by profile id so that
 * reading one profile is a key look-up instead of queries over the store's tables. They are a
 * cache the store can always rebuild: a document is deleted (durably) before the store commits
 * anything that changes it, and read only while its members are still the profile's members (see
 * src/profiles/profile-reader.ts).
 */
export interface ProfileDocuments {
  get(profileId: number): ProfileFacts | undefined;
  has(profileId: number): boolean;
  /** Stores documents; writes are applied in the order of the calls (puts and removes alike). */
  put(documents: ReadonlyMap<number, ProfileFacts>): Promise<void>;
  /** Deletes documents; resolves once the deletion is durable. */
  remove(profileIds: Iterable<number>): Promise<void>;
  /** Deletes every document; resolves once durable. */
  clear(): Promise<void>;
  /** How many documents are stored. */
  count(): number;
  close(): Promise<void>;
}

/** Documents in memory, for a store in memory. */
export function createMemoryProfileDocuments(): ProfileDocuments {
  const documents = new Map<number, ProfileFacts>();
  return {
    get: (id) => documents.get(id),
    has: (id) => documents.has(id),
    put(added) {
      for (const [id, facts] of added) documents.set(id, structuredClone(facts));
      return Promise.resolve();
    },
    remove(ids) {
      for (const id of ids) documents.delete(id);
      return Promise.resolve();
    },
    clear() {
      documents.clear();
      return Promise.resolve();
    },
    count: () => documents.size,
    close: () => Promise.resolve(),
  };
}

export interface SwappableDocuments {
  /** Stands for the documents opened last. */
  readonly documents: ProfileDocuments;
  /** Closes the documents, runs `work` (compacting their file, say), opens them again. */
  readonly swap: (work: () => Promise<void>) => Promise<void>;
}

/**
 * Profile documents that can be closed and opened again under the feet of those who hold them
 * (see createSwappable). Reads cannot wait, so during a swap a document may exist but cannot be
 * read: `get` finds none, `has` says there may be one (so that a write still removes it: the
 * removal waits for the swap and applies to the documents opened after), and `count` says 0.
 */
export async function createSwappableDocuments(
  open: () => Promise<ProfileDocuments>,
): Promise<SwappableDocuments> {
  const swappable = await createSwappable(open, {
    duringSwap: { get: () => undefined, has: () => true, count: () => 0 },
  });
  return { documents: swappable.delegate, swap: swappable.swap };
}
