import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importStoreContract } from '../import-store.contract.ts';
import { storeContract } from '../store.contract.ts';
import { createDuckdbStore } from './duckdb-store.ts';

async function onDisk() {
  const dataDir = await mkdtemp(join(tmpdir(), 'cible-test-store-'));
  const store = await createDuckdbStore({ dataDir, memoryLimit: '256MB', threads: 1 });
  return {
    store,
    dispose: async () => {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

async function inMemory() {
  const store = await createDuckdbStore({ dataDir: ':memory:', threads: 1 });
  return { store, dispose: () => store.close() };
}

storeContract('DuckDB on disk', onDisk);
storeContract('DuckDB in memory', inMemory);
importStoreContract('DuckDB on disk', onDisk);
