import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../config/config.ts';
import { defaultIdentifierRules } from '../domain/identifiers.ts';
import { createIdentityGraph } from '../domain/identity-graph.ts';
import { createMemoryLog } from '../store/ingest-log.ts';
import { createGroupCommitWriter } from '../ingestion/group-commit.ts';
import { createMessageDedupe } from '../ingestion/message-dedupe.ts';
import { createIngestPipeline } from '../ingestion/pipeline.ts';
import { createIdentityResolver } from '../ingestion/resolve-identity.ts';
import { createSourceRegistry } from '../sources/source-registry.ts';
import { createDuckdbStore } from '../store/duckdb/duckdb-store.ts';
import type { Source, Store } from '../store/store.ts';
import type { ImportMapping } from './mapping.ts';
import { createImportThread, type ImportThread } from './import-thread.ts';
import { emptyImportProgress, runImport, type ImportProgress } from './run-import.ts';

let dir: string;
let store: Store;
let source: Source;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cible-test-run-import-'));
  store = await createDuckdbStore({ dataDir: join(dir, 'store'), threads: 1 });
  source = await (await createSourceRegistry(store, Date.now)).create('crm');
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** A pipeline as the server builds one, with a de-duplication window of its own (as after a long pause). */
async function importOnce(
  path: string,
  mapping: ImportMapping,
  thread: ImportThread | 'inline',
): Promise<ImportProgress> {
  const sources = await createSourceRegistry(store, Date.now);
  const writer = createGroupCommitWriter({ store, log: createMemoryLog(), maxEvents: 10_000, maxDelayMs: 1 });
  const graph = createIdentityGraph();
  await store.loadIdentity({
    profile: (id, createdAt) => graph.load.profile({ id, createdAt }),
    identifier: (type, value, origin) => graph.load.identifier({ type, value }, origin),
    merge: (survivor, absorbed) => graph.load.merge(survivor, absorbed),
    split: (a, b) => graph.load.split(a, b),
    shared: (type, value) => graph.load.shared({ type, value }),
  });
  const pipeline = createIngestPipeline({
    sources,
    writer,
    dedupe: createMessageDedupe(24),
    limits: loadConfig({ argv: [], env: {} }).ingest,
    now: Date.now,
    identity: createIdentityResolver({
      graph,
      lastMergeId: 0,
      activeMerges: new Map(),
      identifierRules: defaultIdentifierRules,
    }),
  });
  const progress = emptyImportProgress();
  await runImport({
    importId: 'imp_0123',
    path,
    fileName: 'purchases.txt',
    mapping,
    source,
    pipeline,
    store: store.imports,
    identifierRules: defaultIdentifierRules,
    maxEventBytes: 32 * 1024,
    progress,
    signal: new AbortController().signal,
    chunkEvents: 3,
    thread,
  });
  await writer.drain();
  return progress;
}

test('re-importing stores nothing even when the de-duplication window has forgotten the first import', async () => {
  const path = join(dir, 'purchases.txt');
  // Whitespace-separated like CDNOW, two identical purchases on one day, no header.
  await writeFile(
    path,
    [
      '00001 19970101  1   11.77',
      '00002 19970112  1   12.00',
      '00002 19970112  1   12.00',
      '00003 19970102  2   20.76',
    ].join('\r\n'),
  );
  const mapping: ImportMapping = {
    kind: 'transactions',
    format: { type: 'whitespace', header: false, columns: ['customer', 'date', 'cds', 'dollars'] },
    columns: {
      customer: { identifier: 'crmId' },
      date: { timestamp: 'YYYYMMDD' },
      cds: { property: 'quantity', type: 'integer' },
      dollars: { property: 'revenue' },
    },
  };
  const first = await importOnce(path, mapping, 'inline');
  assert.deepEqual(
    { rows: first.rowsRead, accepted: first.eventsAccepted, duplicates: first.eventsDuplicate },
    { rows: 4, accepted: 4, duplicates: 0 },
    'identical rows are distinct purchases',
  );
  const thread = createImportThread();
  const second = await importOnce(path, mapping, thread).finally(() => thread.close());
  assert.deepEqual(
    { rows: second.rowsRead, accepted: second.eventsAccepted, duplicates: second.eventsDuplicate },
    { rows: 4, accepted: 0, duplicates: 4 },
  );
  assert.equal(await store.countEvents(), 4);
  const events = await store.listEvents({ limit: 10 });
  assert.deepEqual(
    events
      .map((event): [number, unknown] => [event.timestamp, JSON.parse(event.properties ?? '{}')])
      .reverse(),
    [
      [Date.UTC(1997, 0, 1), { quantity: 1, revenue: 11.77 }],
      [Date.UTC(1997, 0, 12), { quantity: 1, revenue: 12 }],
      [Date.UTC(1997, 0, 12), { quantity: 1, revenue: 12 }],
      [Date.UTC(1997, 0, 2), { quantity: 2, revenue: 20.76 }],
    ],
  );
});
