import { consoleDist, consoleIsBuilt } from './api/console.ts';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createAccessService } from './access/access-service.ts';
import { createAuditLog } from './access/audit-log.ts';
import { createPseudonymiser, defaultPersonalTraits } from './access/pseudonymise.ts';
import { readOrCreateSecret } from './access/secret-file.ts';
import { knownIdentifierTypes } from './domain/identifiers.ts';
import { buildApp } from './app.ts';
import { redactingLogger } from './api/log-redaction.ts';
import type { Config } from './config/config.ts';
import { createIdentityGraph, type IdentityGraph } from './domain/identity-graph.ts';
import { backfillProfiles } from './ingestion/backfill-profiles.ts';
import { createImportJobs } from './imports/import-jobs.ts';
import { createSegmentService } from './segments/segment-service.ts';
import { createGroupCommitWriter } from './ingestion/group-commit.ts';
import { createMessageDedupe, hourOf } from './ingestion/message-dedupe.ts';
import { createIngestPipeline } from './ingestion/pipeline.ts';
import { createIdentityResolver } from './ingestion/resolve-identity.ts';
import { createConsentState, loadConsentState } from './ingestion/consent-state.ts';
import { createProfileReader } from './profiles/profile-reader.ts';
import { createSourceRegistry } from './sources/source-registry.ts';
import { createDuckdbStore, databaseFileName } from './store/duckdb/duckdb-store.ts';
import { openFileLog } from './store/ingest-log.ts';
import {
  compactLmdbProfileDocuments,
  openLmdbProfileDocuments,
  profileDocumentsDirName,
} from './store/lmdb/lmdb-profile-documents.ts';
import { createSwappableDocuments } from './store/profile-documents.ts';
import { createSwappableStore } from './store/swappable-store.ts';
import { compactDatabaseFile, removeCompactionLeftovers } from './store/duckdb/compact-database.ts';
import { purgeDatabaseFile, purgeLeftovers } from './store/duckdb/purge-database.ts';
import { createErasureService, type ErasureService, type PurgeMethod } from './privacy/erasure-service.ts';
import { createRetention } from './privacy/retention.ts';

export interface RunningCible {
  readonly app: FastifyInstance;
  readonly url: string;
  readonly adminToken: string;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Where to say what happens (the listening line, the generated token). */
  readonly print?: (line: string) => void;
  /** The time segments are judged at, ms (tests move it forward to see time-based exits). */
  readonly segmentClock?: () => number;
}

/** The composition root: config → store → pipeline → app → listen. */
export async function startCible(config: Config, options: StartOptions = {}): Promise<RunningCible> {
  const print = options.print ?? ((line: string) => console.log(line));
  await mkdir(config.dataDir, { recursive: true });
  const adminToken = await resolveAdminToken(config, print);
  if (config.rulesFile !== null) print(`Identity and trait rules from ${config.rulesFile}`);

  // A copy left by a purge that a crash interrupted may hold erased data: it goes first.
  const databasePath = join(config.dataDir, databaseFileName);
  await removeCompactionLeftovers(databasePath);
  for (const leftover of purgeLeftovers(databasePath)) await rm(leftover, { recursive: true, force: true });
  // The store and the documents can be closed and opened again under the feet of those who hold
  // them: the physical purge of erased people rewrites their files.
  const { store: storage, swap: swapStore } = await createSwappableStore(() =>
    createDuckdbStore({
      dataDir: config.dataDir,
      memoryLimit: config.store.memoryLimit,
      threads: config.store.threads,
    }),
  );
  // Batches acknowledged before a crash that the store does not hold yet are in the ingest log.
  const appliedLogSeq = await storage.appliedLogSeq();
  const log = await openFileLog({ dir: join(config.dataDir, 'ingest-log'), after: appliedLogSeq });
  const recoveryStarted = performance.now();
  const recovered = await log.replay(appliedLogSeq, (seq, batch) =>
    storage.writeBatch({ ...batch, logSeq: seq }),
  );
  // Profile documents (a cache of each profile's facts) may predate what was just loaded: all go.
  const documentsPath = join(config.dataDir, profileDocumentsDirName);
  const { documents, swap: swapDocuments } = await createSwappableDocuments(() =>
    openLmdbProfileDocuments(documentsPath),
  );
  if (recovered > 0) {
    await documents.clear();
    print(
      `Loaded ${recovered} acknowledged batches from the ingest log into the store` +
        ` (${Math.round(performance.now() - recoveryStarted)} ms)`,
    );
  }
  await log.release(await storage.appliedLogSeq());
  const now = (): number => Date.now();
  const sources = await createSourceRegistry(storage, now);

  // Rebuild the de-duplication window from what the store already holds, so retries after a restart are caught.
  const dedupe = createMessageDedupe(config.ingest.dedupeWindowHours);
  const windowStart = (hourOf(now()) - config.ingest.dedupeWindowHours) * 3_600_000;
  const warmupStarted = performance.now();
  const remembered = await storage.scanMessageFingerprints(windowStart, (chunk) => {
    for (let i = 0; i < chunk.length; i++) {
      dedupe.checkAndAdd({ hi: chunk.hi[i]!, lo: chunk.lo[i]! }, chunk.hour[i]!);
    }
  });
  if (remembered > 0) {
    print(
      `Remembering ${remembered} messageIds from the last ${config.ingest.dedupeWindowHours} h for de-duplication` +
        ` (${Math.round(performance.now() - warmupStarted)} ms)`,
    );
  }
  const expiry = setInterval(() => dedupe.expire(hourOf(now())), 60_000);
  expiry.unref();

  // The identity graph lives in memory, rebuilt from the store at start (and after a failed commit).
  const loadGraph = async (): Promise<{
    graph: IdentityGraph;
    lastMergeId: number;
    activeMerges: Map<number, number>;
  }> => {
    const graph = createIdentityGraph(config.rules.identity);
    const activeMerges = new Map<number, number>();
    const { lastMergeId } = await storage.loadIdentity({
      profile: (id, createdAt) => graph.load.profile({ id, createdAt }),
      identifier: (type, value, origin) => graph.load.identifier({ type, value }, origin),
      merge: (survivor, absorbed, mergeId) => {
        graph.load.merge(survivor, absorbed);
        activeMerges.set(absorbed, mergeId);
      },
      split: (a, b) => graph.load.split(a, b),
      shared: (type, value) => graph.load.shared({ type, value }),
    });
    return { graph, lastMergeId, activeMerges };
  };
  const graphStarted = performance.now();
  const loaded = await loadGraph();
  if (loaded.graph.profileCount > 0) {
    print(
      `Identity graph: ${loaded.graph.profileCount} profiles and ${loaded.graph.identifierCount} identifiers` +
        ` loaded (${Math.round(performance.now() - graphStarted)} ms)`,
    );
  }
  // Consent too, so that ingestion records changes and not the repetitions of every event.
  const consent = createConsentState();
  const consentStarted = performance.now();
  if ((await loadConsentState(consent, storage)) > 0) {
    print(
      `Consent: ${consent.changes} changes of ${consent.profiles} profiles loaded` +
        ` (${Math.round(performance.now() - consentStarted)} ms)`,
    );
  }
  // Erased people's identifiers: the service needs the pipeline's writer, the resolver needs it.
  let erasure: ErasureService | undefined = undefined;
  const identity = createIdentityResolver({
    graph: loaded.graph,
    lastMergeId: loaded.lastMergeId,
    activeMerges: loaded.activeMerges,
    identifierRules: config.rules.identifiers,
    consent,
    consentRules: config.rules.consent,
    // Set once the erasure service exists, before any event is taken.
    suppression: {
      active: () => erasure?.active() === true,
      suppresses: (identifiers) => erasure?.suppresses(identifiers) ?? false,
    },
  });
  // Every write goes through the profile reader, which deletes the documents it changes first.
  const reader = createProfileReader({
    store: storage,
    documents,
    graph: () => identity.graph,
    onError: (error) => app.log.error({ err: error }, 'building profile documents failed'),
  });
  // Segments are evaluated again, in memory, for the profiles each write touches.
  let appReady = false;
  // The schedule may run before the app (and its logger) exists.
  const segmentError = (error: unknown): void => {
    if (appReady) app.log.error({ err: error }, 'evaluating segments failed');
    else print(`Evaluating segments failed: ${String(error)}`);
  };
  const segments = createSegmentService({
    store: reader.store.segments,
    graph: () => identity.graph,
    traitRules: config.rules.traits,
    sources,
    refreshIntervalMs: config.segments.refreshIntervalMs,
    consentRules: config.rules.consent,
    clock: options.segmentClock,
    onError: (error) => segmentError(error),
  });
  await segments.start();
  // Batches loaded from the ingest log were not judged against the segments: every segment is, now.
  if (recovered > 0) segments.refreshAll().catch(segmentError);
  const store = segments.watch(reader.store);
  const writer = createGroupCommitWriter({
    store,
    log,
    maxEvents: config.ingest.commitMaxEvents,
    maxDelayMs: config.ingest.commitMaxDelayMs,
    storeIntervalMs: config.ingest.storeWriteIntervalMs,
    onCommitError: (error) => app.log.error({ err: error }, 'commit failed'),
    onStoreError: (error, retryMs) =>
      app.log.error(
        { err: error },
        `writing committed events to the store failed; retrying in ${retryMs} ms`,
      ),
  });
  // Events stored before profiles existed (or with no usable identifier then) get one now.
  const backfillStarted = performance.now();
  const backfill = await backfillProfiles({ store, identity });
  if (backfill.resolved > 0) {
    print(
      `Gave a profile to ${backfill.resolved} of ${backfill.scanned} events stored without one` +
        ` (${Math.round(performance.now() - backfillStarted)} ms)`,
    );
  }
  reader.start();
  const pipeline = createIngestPipeline({
    sources,
    writer,
    dedupe,
    limits: config.ingest,
    now,
    identity,
    reloadIdentity: async () => {
      // The store must first hold every batch committed before the failed one.
      await writer.caughtUp();
      const reloaded = await loadGraph();
      identity.replace(reloaded.graph, reloaded.lastMergeId, reloaded.activeMerges);
      await loadConsentState(consent, storage);
    },
  });
  // Imports run in the background through the same pipeline; one a stop interrupted resumes here.
  const imports = await createImportJobs({
    store,
    sources,
    pipeline,
    identifierRules: config.rules.identifiers,
    consentPurposes: config.rules.consent.purposes,
    dataDir: config.dataDir,
    maxEventBytes: config.ingest.maxEventBytes,
    maxFileBytes: config.imports.maxFileBytes,
    now,
    caughtUp: () => writer.caughtUp(),
    onError: (error, importId) => app.log.error({ err: error, importId }, 'import failed'),
  });
  const access = await createAccessService({
    store: storage.access,
    bootstrapToken: adminToken,
    settings: config.access,
    now,
  });
  const pseudonymiser = createPseudonymiser({
    key: Buffer.from(
      (await readOrCreateSecret(join(config.dataDir, 'pseudonym-key'), 32)).value,
      'base64url',
    ),
    identifierTypes: knownIdentifierTypes(config.rules.identifiers),
    personalTraits: [...defaultPersonalTraits, ...config.rules.personalTraits],
  });
  const audit = createAuditLog(storage.access, {
    onError: (error) => app.log.error({ err: error }, 'writing the audit log failed'),
  });
  erasure = await createErasureService({
    store: storage.erasure,
    graph: () => identity.graph,
    caughtUp: () => writer.caughtUp(),
    hash: (identifier) => pseudonymiser.pseudonym(`suppressed ${identifier.type}`, identifier.value),
    async forget(members) {
      consent.forget(members);
      await documents.remove(members);
      await segments.forget(members);
    },
    async rewriteFiles(erasureIds) {
      // Raw batches of the ingest log: a new file, and those the store holds are deleted.
      await log.rotate();
      await log.release(await storage.appliedLogSeq());
      const plan = await storage.erasure.purgePlan(erasureIds);
      const settings = { memoryLimit: config.store.memoryLimit, threads: config.store.threads };
      let method: PurgeMethod = 'in-place';
      await swapStore(async () => {
        try {
          const report = await purgeDatabaseFile(databasePath, { ...settings, rewrite: plan.rewrite });
          if (!report.inPlace) method = 'whole-file';
        } catch (error) {
          app.log.warn(
            { err: error },
            'purging the database file in place failed; rewriting the whole file instead',
          );
          method = 'whole-file';
        }
        if (method === 'whole-file') await compactDatabaseFile(databasePath, settings);
      });
      await swapDocuments(async () => {
        await compactLmdbProfileDocuments(documentsPath);
      });
      return method;
    },
    purgeDeadlineMs: config.privacy.purgeDeadlineMs,
    now,
    onError: (error) => app.log.error({ err: error }, 'purging erased data failed'),
  });
  await erasure.start();
  const retention = createRetention({
    store: storage.erasure,
    rules: config.rules.retention,
    sources: () => sources.list(),
    expressions: () => segments.computedTraits.list().map((trait) => trait.expression),
    intervalMs: 86_400_000,
    async afterRun(origins) {
      // Profile summaries and event conditions read the events: both are computed again.
      await documents.remove(new Set(origins.map((origin) => identity.graph.canonical(origin))));
      await segments.refreshAll();
    },
    now,
    onError: (error) => app.log.error({ err: error }, 'the retention job failed'),
  });
  retention.start();
  const app = await buildApp({
    config,
    store,
    sources,
    pipeline,
    writer,
    dedupe,
    access,
    audit,
    pseudonymiser,
    erasure,
    retention,
    identity,
    reader,
    identifierRules: config.rules.identifiers,
    traitRules: config.rules.traits,
    identityRules: config.rules.identity,
    imports,
    segments,
    ...(consoleIsBuilt(config.consoleDir ?? consoleDist)
      ? { consoleRoot: config.consoleDir ?? consoleDist }
      : {}),
    logger: config.logLevel === 'silent' ? false : redactingLogger(config.logLevel),
  });
  appReady = true;

  const address = await app.listen({ port: config.port, host: config.host });
  const url = address.replace('[::1]', 'localhost');
  print(`Cible listening on ${url}`);

  let stopping: Promise<void> | undefined;
  return {
    app,
    url,
    adminToken,
    stop() {
      stopping ??= (async () => {
        clearInterval(expiry);
        await app.close();
        await retention.close();
        await erasure?.close();
        await audit.close();
        await access.close();
        await imports.close();
        await segments.close();
        await writer.drain();
        await log.close();
        await reader.close();
        await documents.close();
        await store.close();
      })();
      return stopping;
    },
  };
}

/** CIBLE_ADMIN_TOKEN if set; otherwise the token stored in the data dir, created and printed once. */
async function resolveAdminToken(config: Config, print: (line: string) => void): Promise<string> {
  if (config.adminToken !== undefined) return config.adminToken;
  const path = join(config.dataDir, 'admin-token');
  const { value, created } = await readOrCreateSecret(path, 32);
  if (created) print(`Admin token (shown once; also in ${path}): ${value}`);
  return value;
}
