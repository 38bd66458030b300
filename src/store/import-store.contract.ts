import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { StoredEvent } from '../domain/events.ts';
import { storedEventFixture } from '../domain/events.fixture.ts';
import { messageFingerprint } from '../ingestion/message-dedupe.ts';
import { newImportJob, type ImportJobRecord } from './import-store.ts';
import type { Store } from './store.ts';

/** What every store adapter must do for import jobs (run by each adapter's test file). */
export function importStoreContract(
  name: string,
  openStore: () => Promise<{ store: Store; dispose: () => Promise<void> }>,
) {
  describe(`import store contract: ${name}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    const t0 = Date.UTC(2026, 5, 1, 12);
    const job = (overrides: Partial<ImportJobRecord> = {}): ImportJobRecord => ({
      ...newImportJob({
        id: 'imp_01',
        sourceId: 'src_a',
        fileName: 'customers.csv',
        mapping: '{"kind":"customers","columns":{"Email":{"identifier":"email"}}}',
        createdAt: t0,
      }),
      ...overrides,
    });

    before(async () => {
      ({ store, dispose } = await openStore());
    });
    after(() => dispose());

    test('import jobs are saved, replaced by id and listed newest first', async () => {
      await store.imports.saveImport(job());
      await store.imports.saveImport(job({ id: 'imp_02', createdAt: t0 + 1000 }));
      const running = job({
        status: 'completed',
        startedAt: t0 + 10,
        finishedAt: t0 + 20,
        bytesTotal: 3_000_000_000,
        bytesRead: 3_000_000_000,
        rowsRead: 69_659,
        rowsRejected: 2,
        eventsAccepted: 69_000,
        eventsDuplicate: 657,
        header: 'Email;Phone',
        errorCode: 'CIBLE_ERR_IMPORT_FILE_UNREADABLE',
        errorMessage: 'gone',
        attempts: 2,
      });
      await store.imports.saveImport(running);
      assert.deepEqual(await store.imports.getImport('imp_01'), running);
      assert.equal(await store.imports.getImport('imp_none'), undefined);
      assert.deepEqual(
        (await store.imports.listImports({ limit: 10 })).map((found) => found.id),
        ['imp_02', 'imp_01'],
      );
      assert.deepEqual(
        (await store.imports.listImports({ limit: 10, status: 'completed' })).map((found) => found.id),
        ['imp_01'],
      );
      assert.deepEqual(
        (await store.imports.listImports({ limit: 10, before: t0 + 1000 })).map((found) => found.id),
        ['imp_01'],
      );
    });

    test('rejected rows are kept per job, in line order, and can be forgotten', async () => {
      const row = { importId: 'imp_01', code: 'CIBLE_ERR_IMPORT_ROW_MALFORMED', field: null };
      await store.imports.addImportRejections([
        { ...row, line: 7, reason: 'seven', raw: 'a;b' },
        { ...row, line: 3, reason: 'three', raw: 'é;"q"\nnext line', field: 'Email' },
      ]);
      await store.imports.addImportRejections([
        { ...row, importId: 'imp_02', line: 1, reason: 'one', raw: '' },
      ]);
      assert.deepEqual(await store.imports.listImportRejections('imp_01', { limit: 10 }), [
        { ...row, line: 3, reason: 'three', raw: 'é;"q"\nnext line', field: 'Email' },
        { ...row, line: 7, reason: 'seven', raw: 'a;b' },
      ]);
      assert.deepEqual(
        (await store.imports.listImportRejections('imp_01', { limit: 10, afterLine: 3 })).map(
          (found) => found.line,
        ),
        [7],
      );
      await store.imports.deleteImportRejections('imp_01');
      assert.deepEqual(await store.imports.listImportRejections('imp_01', { limit: 10 }), []);
      assert.equal((await store.imports.listImportRejections('imp_02', { limit: 10 })).length, 1);
    });

    test('the fingerprints of what imports stored are found however old, per source and prefix', async () => {
      const event = (sourceId: string, messageId: string, receivedAt: number): StoredEvent =>
        storedEventFixture({ sourceId, messageId, userId: null, timestamp: receivedAt, receivedAt });
      await store.writeBatch({
        events: [
          event('src_a', 'imp_old', Date.UTC(2001, 0, 1)),
          event('src_a', 'imp_new', t0),
          event('src_a', 'live-1', t0),
          event('src_b', 'imp_other', t0),
        ],
        quarantine: [],
        replayedQuarantineIds: [],
      });
      const found: string[] = [];
      const count = await store.imports.scanImportedFingerprints('src_a', 'imp_', (chunk) => {
        for (let i = 0; i < chunk.length; i++) found.push(`${chunk.hi[i]}:${chunk.lo[i]}`);
      });
      assert.equal(count, 2);
      const expected = ['imp_old', 'imp_new'].map((id) => {
        const fingerprint = messageFingerprint('src_a', id);
        return `${fingerprint.hi}:${fingerprint.lo}`;
      });
      assert.deepEqual(found.sort(), expected.sort());
    });
  });
}
