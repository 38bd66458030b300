import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { sizeOf, syncPath } from '../file-sync.ts';
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

export interface DocumentsCompaction {
  /** The data file before and after, in bytes. */
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  /** Time taken, ms. */
  readonly ms: number;
}

const dataFileName = 'data.mdb';

/**
 * Rewrites the closed documents' data file so that it holds only live documents. LMDB keeps a
 * deleted document's bytes in the page that held it (until the page is reused); a compacting
 * copy writes only the live entries of live pages into a zeroed buffer, so they are gone from it.
 * The copy replaces the file by a rename once complete and synced; a copy left by a crash is
 * removed by the next call. (The documents are a cache: deleting the directory would do too, at
 * the price of reading every profile from the store again.)
 */
export async function compactLmdbProfileDocuments(path: string): Promise<DocumentsCompaction> {
  const started = performance.now();
  const copyDir = `${path}.compact`;
  const dataFile = join(path, dataFileName);
  await rm(copyDir, { recursive: true, force: true });
  const bytesBefore = await sizeOf(dataFile);
  if (bytesBefore === undefined) return { bytesBefore: 0, bytesAfter: 0, ms: performance.now() - started };
  try {
    await mkdir(copyDir);
    const root = open({ path, mapSize });
    try {
      await root.backup(copyDir, true);
    } finally {
      await root.close();
    }
    const copy = join(copyDir, dataFileName);
    await syncPath(copy);
    await rename(copy, dataFile);
    await syncPath(path);
  } catch (error) {
    throw new Error(
      `Compacting the profile documents in ${path} failed; their file is left as it was. ` +
        'Check the free disk space and try again, or delete the directory (the documents are rebuilt).',
      { cause: error },
    );
  } finally {
    await rm(copyDir, { recursive: true, force: true });
  }
  return { bytesBefore, bytesAfter: (await sizeOf(dataFile)) ?? 0, ms: performance.now() - started };
}
