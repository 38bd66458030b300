import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeContract } from '../store.contract.ts';
import { createDuckdbStore } from './duckdb-store.ts';

storeContract('DuckDB on disk', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cible-test-store-'));
  const store = await createDuckdbStore({ dataDir, memoryLimit: '256MB', threads: 1 });
  return {
    store,
    dispose: async () => {
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});

storeContract('DuckDB in memory', async () => {
  const store = await createDuckdbStore({ dataDir: ':memory:', threads: 1 });
  return { store, dispose: () => store.close() };
});
