import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { databaseFileName } from '../src/store/duckdb/duckdb-store.ts';
import { adminGet, basic, createSourceOver, removeTestDir, spawnCible, testDataDir } from './helpers.ts';

// A 200 means committed: kill -9 the real server in the middle of a load, and every event it
// acknowledged must be in the store once it is back.
test('kill -9 under load loses no acknowledged event', async () => {
  const dataDir = await testDataDir();
  try {
    const cible = await spawnCible(dataDir);
    const writeKey = await createSourceOver(cible.url, 'durability');
    const acknowledged = new Set<string>();
    let sent = 0;
    let stop = false;

    const client = async (clientId: number): Promise<void> => {
      for (let request = 0; !stop; request++) {
        const ids = Array.from({ length: 50 }, (_, i) => `c${clientId}-r${request}-e${i}`);
        sent += ids.length;
        try {
          const response = await fetch(`${cible.url}/v1/batch`, {
            method: 'POST',
            headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
            body: JSON.stringify({
              batch: ids.map((messageId) => ({
                type: 'track',
                event: 'Durable',
                userId: `u${clientId}`,
                messageId,
                properties: { request },
              })),
            }),
          });
          if (response.status === 200) {
            const body = (await response.json()) as { accepted: number; duplicates: number };
            assert.equal(body.accepted + body.duplicates, ids.length);
            for (const id of ids) acknowledged.add(id);
          }
        } catch {
          return; // the server is gone
        }
      }
    };

    const clients = Array.from({ length: 8 }, (_, i) => client(i));
    // Let the load run, then kill the process without warning once enough has been acknowledged.
    while (acknowledged.size < 20_000) await new Promise((resolve) => setTimeout(resolve, 20));
    cible.child.kill('SIGKILL');
    await cible.exited;
    stop = true;
    await Promise.all(clients);
    assert.ok(sent > acknowledged.size, 'some requests were in flight when the server died');

    // Start again on the same data: acknowledged batches the store lacked come back from the ingest log.
    const restarted = await spawnCible(dataDir);
    const stats = await adminGet<{ events: number }>(restarted.url, '/api/stats');
    await restarted.stop();

    // Read the store file directly: what survived?
    const instance = await DuckDBInstance.create(join(dataDir, databaseFileName));
    const connection = await instance.connect();
    const rows = (await connection.runAndReadAll('SELECT message_id FROM events')).getRows();
    connection.closeSync();
    instance.closeSync();
    const stored = new Set(rows.map((row) => String(row[0])));
    assert.equal(stored.size, rows.length, 'no event stored twice');
    const lost = [...acknowledged].filter((id) => !stored.has(id));
    assert.deepEqual(lost.slice(0, 10), [], `${lost.length} acknowledged events lost`);
    assert.equal(stats.events, stored.size);
  } finally {
    await removeTestDir(dataDir);
  }
});
