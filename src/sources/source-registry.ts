import { randomBytes, randomUUID } from 'node:crypto';
import type { Source, Store } from '../store/store.ts';

/** The sources of events, kept in memory for the write-key check on every tracking request. */
export interface SourceRegistry {
  byWriteKey(writeKey: string): Source | undefined;
  byId(id: string): Source | undefined;
  list(): Source[];
  create(name: string): Promise<Source>;
}

export async function createSourceRegistry(
  store: Pick<Store, 'listSources' | 'createSource'>,
  now: () => number,
): Promise<SourceRegistry> {
  const byKey = new Map<string, Source>();
  const byId = new Map<string, Source>();
  const remember = (source: Source): void => {
    byKey.set(source.writeKey, source);
    byId.set(source.id, source);
  };
  for (const source of await store.listSources()) remember(source);

  return {
    byWriteKey: (writeKey) => byKey.get(writeKey),
    byId: (id) => byId.get(id),
    list: () => [...byId.values()],
    async create(name) {
      const source: Source = {
        id: `src_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
        name,
        writeKey: randomBytes(24).toString('base64url'),
        createdAt: now(),
      };
      await store.createSource(source);
      remember(source);
      return source;
    },
  };
}
