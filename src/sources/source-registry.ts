import { randomBytes, randomUUID } from 'node:crypto';
import type { Source, Store } from '../store/store.ts';

/** The sources of events, kept in memory for the write-key check on every tracking request. */
export interface SourceRegistry {
  /** The source this key writes to; undefined for an unknown, replaced or revoked key. */
  byWriteKey(writeKey: string): Source | undefined;
  byId(id: string): Source | undefined;
  list(): Source[];
  create(name: string): Promise<Source>;
  /** Gives the source a new write key; the old one is refused from now on. */
  rotateWriteKey(id: string): Promise<Source | undefined>;
  /** Refuses the source's write key from now on (rotating gives it a working one again). */
  revokeWriteKey(id: string): Promise<Source | undefined>;
}

export async function createSourceRegistry(
  store: Pick<Store, 'listSources' | 'createSource' | 'updateSource'>,
  now: () => number,
): Promise<SourceRegistry> {
  const byKey = new Map<string, Source>();
  const byId = new Map<string, Source>();
  const remember = (source: Source): void => {
    const previous = byId.get(source.id);
    if (previous !== undefined) byKey.delete(previous.writeKey);
    if (source.revokedAt === null) byKey.set(source.writeKey, source);
    byId.set(source.id, source);
  };
  for (const source of await store.listSources()) remember(source);

  async function update(id: string, change: (source: Source) => Source): Promise<Source | undefined> {
    const source = byId.get(id);
    if (source === undefined) return undefined;
    const updated = change(source);
    await store.updateSource(updated);
    remember(updated);
    return updated;
  }

  return {
    byWriteKey: (writeKey) => byKey.get(writeKey),
    byId: (id) => byId.get(id),
    list: () => [...byId.values()],
    async create(name) {
      const source: Source = {
        id: `src_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
        name,
        writeKey: newWriteKey(),
        createdAt: now(),
        revokedAt: null,
      };
      await store.createSource(source);
      remember(source);
      return source;
    },
    rotateWriteKey: (id) => update(id, (source) => ({ ...source, writeKey: newWriteKey(), revokedAt: null })),
    revokeWriteKey: (id) => update(id, (source) => ({ ...source, revokedAt: source.revokedAt ?? now() })),
  };
}

function newWriteKey(): string {
  return randomBytes(24).toString('base64url');
}
