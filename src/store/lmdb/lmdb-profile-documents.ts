import { mkdir } from 'node:fs/promises';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { ProfileDocuments } from '../profile-documents.ts';
import type { ProfileFacts } from '../store.ts';

export const profileDocumentsDirName = 'profile-documents';

/** The shape of the documents; stored documents of another shape are dropped at open. */
const format = 2;

/**
 * Address space reserved for the map (not memory: pages count only once touched). LMDB otherwise
 * maps the file again each time it outgrows the map, and every older mapping stays counted.
 */
const mapSize = 2 ** 40;
const formatKey = 'format';

/**
 * Profile documents in LMDB (a memory-mapped B+tree, in its own directory beside the DuckDB file):
 * reads are synchronous look-ups of a few microseconds, from the OS page cache rather than the
 * JavaScript heap; writes are committed (and synced) in the background, in call order.
 */
export async function openLmdbProfileDocuments(path: string): Promise<ProfileDocuments> {
  await mkdir(path, { recursive: true });
  const root: RootDatabase = open({ path, encoding: 'msgpack', mapSize });
  const meta: Database<number, string> = root.openDB({ name: 'meta', encoding: 'msgpack' });
  // Compressed (LZ4), most documents fit in a page they share with others instead of filling
  // a page of overflow of their own.
  const documents: Database<ProfileFacts, number> = root.openDB({
    name: 'documents',
    encoding: 'msgpack',
    compression: true,
  });
  if (meta.get(formatKey) !== format) {
    await documents.clearAsync();
    await meta.put(formatKey, format);
  }
  let last: Promise<unknown> = Promise.resolve();
  return {
    get: (id) => documents.get(id),
    has: (id) => documents.doesExist(id),
    put(added) {
      for (const [id, facts] of added) last = documents.put(id, facts);
      return last.then(() => undefined);
    },
    remove(ids) {
      for (const id of ids) last = documents.remove(id);
      return last.then(() => undefined);
    },
    async clear() {
      await last;
      await documents.clearAsync();
    },
    count: () => documents.getCount(),
    async close() {
      await last;
      await root.close();
    },
  };
}
