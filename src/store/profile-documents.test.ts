import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { compactLmdbProfileDocuments, openLmdbProfileDocuments } from './lmdb/lmdb-profile-documents.ts';
import { createMemoryProfileDocuments, createSwappableDocuments } from './profile-documents.ts';
import type { ProfileFacts } from './store.ts';

const marker = 'erase-me-8d2e61';

/** Profile `id`'s document; the erased person's carries the marker. */
function facts(id: number, erased = false): ProfileFacts {
  const email = erased ? `${marker}-${id}@example.org` : `person-${id}@example.org`;
  return {
    members: [id],
    identities: [
      {
        type: 'email',
        value: email,
        originProfileId: id,
        firstSeen: 1_700_000_000_000,
        sourceId: 'src_web',
        messageId: `m-${id}`,
        lastSeen: 1_700_000_100_000,
      },
    ],
    traits: [
      {
        originProfileId: id,
        name: 'email',
        value: JSON.stringify(email),
        sourceId: 'src_web',
        at: 1_700_000_000_000,
        messageId: `m-${id}`,
      },
    ],
    summary: {
      events: 3,
      firstSeen: 1_700_000_000_000,
      lastSeen: 1_700_000_100_000,
      sources: ['src_web'],
      sessions: 1,
      channels: [],
      purchases: 0,
      revenue: 0,
    },
    merges: [],
    hasDuplicateKey: false,
  };
}

const erased = (id: number): boolean => id % 500 === 3;

async function markerHits(dir: string): Promise<Record<string, number>> {
  const hits: Record<string, number> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const data = await readFile(join(entry.parentPath, entry.name));
    let count = 0;
    for (let at = data.indexOf(marker); at >= 0; at = data.indexOf(marker, at + 1)) count++;
    if (count > 0) hits[entry.name] = count;
  }
  return hits;
}

describe('compactLmdbProfileDocuments', () => {
  let dataDir: string;
  let path: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cible-test-documents-'));
    path = join(dataDir, 'profile-documents');
  });
  afterEach(() => rm(dataDir, { recursive: true, force: true }));

  it('leaves removed documents in no file, and the others as they were', async () => {
    const documents = await openLmdbProfileDocuments(path);
    const all = new Map<number, ProfileFacts>();
    for (let id = 1; id <= 10_000; id++) all.set(id, facts(id, erased(id)));
    await documents.put(all);
    const removed = [...all.keys()].filter(erased);
    await documents.remove(removed);
    await documents.close();
    // Why it is needed: LMDB keeps the bytes of removed documents in its file.
    assert.ok((await markerHits(dataDir))['data.mdb']! > 0);

    // A copy left by an interrupted compaction goes too.
    await mkdir(`${path}.compact`);
    await writeFile(join(`${path}.compact`, 'data.mdb'), marker);
    const report = await compactLmdbProfileDocuments(path);
    assert.deepEqual(await markerHits(dataDir), {});
    assert.deepEqual(await readdir(dataDir), ['profile-documents']);
    assert.ok(report.bytesAfter > 0 && report.bytesAfter <= report.bytesBefore, JSON.stringify(report));

    const reopened = await openLmdbProfileDocuments(path);
    try {
      assert.equal(reopened.count(), 10_000 - removed.length);
      assert.deepEqual(reopened.get(1), facts(1));
      assert.deepEqual(reopened.get(9_999), facts(9_999));
      assert.equal(reopened.get(3), undefined);
    } finally {
      await reopened.close();
    }
  });

  it('has nothing to do without documents', async () => {
    assert.deepEqual(
      { ...(await compactLmdbProfileDocuments(path)), ms: 0 },
      { bytesBefore: 0, bytesAfter: 0, ms: 0 },
    );
  });
});

describe('createSwappableDocuments', () => {
  it('finds no document during a swap but removes them, and writes to those opened after', async () => {
    const opened = [createMemoryProfileDocuments(), createMemoryProfileDocuments()];
    await opened[0]!.put(new Map([[1, facts(1)]]));
    // The second keeps what the first held, as a compacted copy would.
    await opened[1]!.put(new Map([[1, facts(1)]]));
    let next = 0;
    const { documents, swap } = await createSwappableDocuments(() => Promise.resolve(opened[next++]!));
    assert.deepEqual(documents.get(1), facts(1));

    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const swapped = swap(() => finished);
    assert.equal(documents.get(1), undefined, 'nothing is read during a swap');
    assert.equal(documents.has(1), true, 'a document may exist: a write must remove it');
    assert.equal(documents.count(), 0);
    const removal = documents.remove([1]);
    const put = documents.put(new Map([[2, facts(2)]]));
    finish();
    await swapped;
    await Promise.all([removal, put]);
    assert.equal(documents.get(1), undefined, 'the removal reached the documents opened after');
    assert.deepEqual(documents.get(2), facts(2));
    assert.equal(opened[1]!.count(), 1);
    assert.equal(opened[0]!.count(), 1, 'the closed documents were not written to');
  });

  it('compacts LMDB documents under the feet of their readers', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'cible-test-documents-swap-'));
    const path = join(dataDir, 'profile-documents');
    try {
      const { documents, swap } = await createSwappableDocuments(() => openLmdbProfileDocuments(path));
      await documents.put(new Map([1, 2, 3, 4].map((id) => [id, facts(id, id === 3)])));
      await documents.remove([3]);
      await swap(async () => {
        await compactLmdbProfileDocuments(path);
      });
      assert.deepEqual(await markerHits(dataDir), {});
      assert.deepEqual(documents.get(4), facts(4));
      assert.equal(documents.count(), 3);
      await documents.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
