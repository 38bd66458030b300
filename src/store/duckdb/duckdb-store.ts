import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BIGINT,
  DuckDBInstance,
  type DuckDBTimestampTZValue,
  TIMESTAMPTZ,
  VARCHAR,
  type DuckDBConnection,
  type DuckDBValue,
} from '@duckdb/node-api';
import type { EventType, StoredEvent } from '../../domain/events.ts';
import type {
  EventQuery,
  EventRow,
  FingerprintChunk,
  QuarantineQuery,
  QuarantineRecord,
  QuarantineStatus,
  Source,
  Store,
  WriteBatch,
} from '../store.ts';
import { loadIdentity, writeIdentityChanges } from './duckdb-identity.ts';
import {
  appendChunks,
  appendNullableVarchar,
  appendRows,
  idList,
  timestampValue,
  type ChunkColumn,
} from './append-rows.ts';
import {
  assignEventProfiles,
  findProfilesByIdentifierPrefix,
  findProfilesByTrait,
} from './duckdb-profiles.ts';
import { findSuspectedDuplicates, qualityReport } from './duckdb-quality.ts';
import { countEventsOverTime, countProfilesMeeting } from './duckdb-overview.ts';
import { createDuckdbImportStore } from './duckdb-imports.ts';
import { createDuckdbSegmentStore } from './duckdb-segments.ts';
import { createDuckdbAnalysisStore } from './duckdb-analysis.ts';
import { createDuckdbAccessStore } from './duckdb-access.ts';
import { eraseRows, expireEvents, listErasures, purgePlan } from './duckdb-erasure.ts';
import { readProfileFacts } from './duckdb-profile-facts.ts';
import { appendConsentChanges, loadConsent, readConsentHistory } from './duckdb-consent.ts';
import { migrations } from './migrations.ts';
import {
  eventPartitionCount,
  eventPartitionOf,
  eventPartitionsOf,
  eventPartitionTable,
  eventPartitionTables,
} from './event-partitions.ts';

export interface DuckdbStoreOptions {
  /** Directory holding `cible.duckdb`; `:memory:` for a throw-away store. */
  readonly dataDir: string;
  readonly memoryLimit?: string;
  readonly threads?: number;
  /** WAL size that triggers a checkpoint, e.g. "64MB". */
  readonly checkpointThreshold?: string;
}

export const databaseFileName = 'cible.duckdb';

/**
 * DuckDB checkpoints (moves the WAL into the database file) inside the COMMIT that takes the WAL
 * past this size, and every writer waits meanwhile. A small checkpoint costs much more per row:
 * with typical track events (about 600 bytes of WAL each), DuckDB's default of 16 MB spends about
 * 10 µs an event checkpointing and 64 MB about 4 µs, next to about 5 µs for the commit itself.
 * The price of a larger WAL is longer pauses (about half a second at 64 MB), more memory (rows not
 * yet checkpointed stay in memory) and a longer replay after a crash. See docs/benchmarks.md.
 */
const defaultCheckpointThreshold = '64MB';

/** Opens (creating if needed) the embedded DuckDB store and brings its schema up to date. */
export async function createDuckdbStore(options: DuckdbStoreOptions): Promise<Store> {
  const path = options.dataDir === ':memory:' ? ':memory:' : join(options.dataDir, databaseFileName);
  if (path !== ':memory:') await mkdir(options.dataDir, { recursive: true });
  const instance = await DuckDBInstance.create(path, {
    memory_limit: options.memoryLimit ?? '256MB',
    threads: String(options.threads ?? 2),
    checkpoint_threshold: options.checkpointThreshold ?? defaultCheckpointThreshold,
    // DuckDB's allocator otherwise keeps up to 128 MB of freed memory after each task, which the
    // process's RSS shows; a background thread returns it to the system.
    allocator_background_threads: 'true',
    allocator_flush_threshold: '16MB',
  });
  // One connection writes (the single writer of the pipeline); the other serves reads and admin writes.
  const writer = await instance.connect();
  const reader = await instance.connect();
  const importer = await instance.connect();
  // Long reads of many profiles' documents, away from the requests on `reader`.
  const background = await instance.connect();
  // Segments evaluated over the whole base, away from both.
  const segmentConnection = await instance.connect();
  const liveSegmentConnection = await instance.connect();
  // Analyses read the whole base too, away from all of them.
  const analysisConnection = await instance.connect();
  const accessConnection = await instance.connect();
  await migrate(writer);
  const access = await createDuckdbAccessStore(accessConnection);
  const segments = await createDuckdbSegmentStore(segmentConnection, liveSegmentConnection);

  let nextSeq = await maxPlusOne(reader, 'SELECT max(seq) FROM events');
  let nextQuarantineId = await maxPlusOne(reader, 'SELECT max(id) FROM quarantine');
  let nextConsentSeq = await maxPlusOne(reader, 'SELECT max(seq) FROM consent_changes');
  let writing: Promise<unknown> = Promise.resolve();

  async function writeBatch(batch: WriteBatch): Promise<void> {
    // The pipeline already writes one batch at a time; this keeps the store safe on its own.
    const previous = writing;
    let done!: () => void;
    writing = new Promise<void>((resolve) => (done = resolve));
    await previous;
    const firstSeq = nextSeq;
    const firstQuarantineId = nextQuarantineId;
    const firstConsentSeq = nextConsentSeq;
    try {
      await writer.run('BEGIN TRANSACTION');
      if (batch.events.length > 0) {
        await appendEvents(writer, batch.events, nextSeq);
        nextSeq += batch.events.length;
      }
      if (batch.quarantine.length > 0) {
        await appendRows(writer, 'quarantine', (appender) => {
          for (const record of batch.quarantine) {
            appender.appendBigInt(BigInt(nextQuarantineId++));
            appender.appendVarchar(record.sourceId);
            appender.appendTimestampTZ(timestampValue(record.receivedAt));
            appender.appendVarchar(record.code);
            appender.appendVarchar(record.reason);
            appendNullableVarchar(appender, record.field);
            appender.appendVarchar(record.payload);
            appender.appendVarchar(record.kind);
            if (record.batchIndex === null) appender.appendNull();
            else appender.appendInteger(record.batchIndex);
            appendNullableVarchar(appender, record.messageId);
            appendNullableVarchar(appender, record.ip);
            appender.appendVarchar('pending');
            appender.appendNull();
            appender.endRow();
          }
        });
      }
      if (batch.identity !== undefined) await writeIdentityChanges(writer, batch.identity);
      const consent = batch.identity?.consent ?? [];
      if (consent.length > 0) {
        await appendConsentChanges(writer, consent, nextConsentSeq);
        nextConsentSeq += consent.length;
      }
      if (batch.replayedQuarantineIds.length > 0) {
        await writer.run(
          `UPDATE quarantine SET status = 'replayed', replayed_at = now()
           WHERE id IN (SELECT unnest(?::BIGINT[]))`,
          [idList(batch.replayedQuarantineIds)],
        );
      }
      if (batch.logSeq !== undefined) {
        await writer.run('UPDATE ingest_log SET applied_seq = ?', [batch.logSeq]);
      }
      await writer.run('COMMIT');
    } catch (error) {
      nextSeq = firstSeq;
      nextQuarantineId = firstQuarantineId;
      nextConsentSeq = firstConsentSeq;
      await writer.run('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      done();
    }
  }

  /** Runs a write on the writer connection, after the writes before it, in one transaction. */
  async function writeAlone(work: () => Promise<void>): Promise<void> {
    const previous = writing;
    let done!: () => void;
    writing = new Promise<void>((resolve) => (done = resolve));
    await previous;
    try {
      await writer.run('BEGIN TRANSACTION');
      await work();
      await writer.run('COMMIT');
    } catch (error) {
      await writer.run('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      done();
    }
  }

  async function rows(sql: string, values: DuckDBValue[] = []): Promise<Record<string, DuckDBValue>[]> {
    const reader_ = await reader.runAndReadAll(sql, values);
    return reader_.getRowObjects();
  }

  return {
    writeBatch,

    async appliedLogSeq() {
      const [row] = (await reader.runAndReadAll('SELECT max(applied_seq) FROM ingest_log')).getRows();
      return Number(row?.[0] ?? 0);
    },

    async createSource(source) {
      await reader.run(
        'INSERT INTO sources (id, name, write_key, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)',
        [
          source.id,
          source.name,
          source.writeKey,
          timestampValue(source.createdAt),
          source.revokedAt === null ? null : timestampValue(source.revokedAt),
        ],
      );
    },

    async updateSource(source) {
      await reader.run('UPDATE sources SET name = ?, write_key = ?, revoked_at = ? WHERE id = ?', [
        source.name,
        source.writeKey,
        source.revokedAt === null ? null : timestampValue(source.revokedAt),
        source.id,
      ]);
    },

    async listSources() {
      const found = await rows(
        `SELECT id, name, write_key, epoch_ms(created_at)::DOUBLE AS created_at,
                epoch_ms(revoked_at)::DOUBLE AS revoked_at
         FROM sources ORDER BY created_at, id`,
      );
      return found.map((row): Source => ({
        id: String(row.id),
        name: String(row.name),
        writeKey: String(row.write_key),
        createdAt: Number(row.created_at),
        revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
      }));
    },

    async listEvents(query: EventQuery) {
      const where: string[] = [];
      const values: DuckDBValue[] = [];
      const filter = (sql: string, value: DuckDBValue): void => {
        where.push(sql);
        values.push(value);
      };
      if (query.type !== undefined) filter('type = ?', query.type);
      if (query.event !== undefined) filter('event = ?', query.event);
      if (query.userId !== undefined) filter('user_id = ?', query.userId);
      if (query.anonymousId !== undefined) filter('anonymous_id = ?', query.anonymousId);
      if (query.sourceId !== undefined) filter('source_id = ?', query.sourceId);
      if (query.profileIds !== undefined)
        filter('profile_id IN (SELECT unnest(?::BIGINT[]))', idList(query.profileIds));
      if (query.from !== undefined) filter('timestamp >= ?', timestampValue(query.from));
      if (query.to !== undefined) filter('timestamp < ?', timestampValue(query.to));
      if (query.beforeSeq !== undefined) filter('seq < ?', BigInt(query.beforeSeq));
      if (query.afterSeq !== undefined) filter('seq > ?', BigInt(query.afterSeq));
      if (query.withoutProfile === true) where.push('profile_id IS NULL');
      if (query.beforeEvent !== undefined) {
        where.push('(timestamp < ? OR (timestamp = ? AND seq < ?))');
        const at = timestampValue(query.beforeEvent.timestamp);
        values.push(at, at, BigInt(query.beforeEvent.seq));
      }
      const order =
        query.byEventTime === true
          ? 'timestamp DESC, seq DESC'
          : `seq ${query.oldestFirst === true ? 'ASC' : 'DESC'}`;
      // The first rows of each partition that can hold them, then the first of those: DuckDB finds
      // the top rows of one table from its row groups' statistics, not of a union.
      const limit = Math.max(0, Math.floor(query.limit));
      const partitions =
        query.profileIds !== undefined
          ? eventPartitionsOf(query.profileIds, query.withoutProfile === true)
          : query.withoutProfile === true
            ? [0]
            : eventPartitionTables.map((_, partition) => partition);
      const whereSql = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
      const tops =
        partitions.length === 0
          ? `SELECT * FROM events WHERE false`
          : partitions
              .map(
                (partition) =>
                  `(SELECT * FROM ${eventPartitionTable(partition)} ${whereSql} ORDER BY ${order} LIMIT ${limit})`,
              )
              .join(' UNION ALL ');
      const found = await rows(
        `SELECT seq::DOUBLE AS seq, source_id, message_id, type, event, name, user_id, anonymous_id,
                group_id, previous_id,
                epoch_ms(timestamp)::DOUBLE AS timestamp,
                epoch_ms(original_timestamp)::DOUBLE AS original_timestamp,
                epoch_ms(sent_at)::DOUBLE AS sent_at,
                epoch_ms(received_at)::DOUBLE AS received_at,
                properties::VARCHAR AS properties, traits::VARCHAR AS traits,
                context::VARCHAR AS context, integrations::VARCHAR AS integrations, extra::VARCHAR AS extra,
                profile_id::DOUBLE AS profile_id
         FROM (${tops})
         ORDER BY ${order} LIMIT ${limit}`,
        partitions.flatMap(() => values),
      );
      return found.map((row): EventRow => ({
        seq: Number(row.seq),
        sourceId: String(row.source_id),
        messageId: String(row.message_id),
        type: String(row.type) as EventType,
        event: nullableString(row.event),
        name: nullableString(row.name),
        userId: nullableString(row.user_id),
        anonymousId: nullableString(row.anonymous_id),
        groupId: nullableString(row.group_id),
        previousId: nullableString(row.previous_id),
        timestamp: Number(row.timestamp),
        originalTimestamp: nullableNumber(row.original_timestamp),
        sentAt: nullableNumber(row.sent_at),
        receivedAt: Number(row.received_at),
        properties: nullableString(row.properties),
        traits: nullableString(row.traits),
        context: nullableString(row.context),
        integrations: nullableString(row.integrations),
        extra: nullableString(row.extra),
        profileId: nullableNumber(row.profile_id),
      }));
    },

    assignEventProfiles: (assignments, identity) =>
      writeAlone(async () => {
        await writeIdentityChanges(writer, identity);
        await assignEventProfiles(writer, assignments);
        // Old events resolved now may carry consent, which ingestion already holds as recorded.
        const consent = identity.consent ?? [];
        if (consent.length > 0) {
          await appendConsentChanges(writer, consent, nextConsentSeq);
          nextConsentSeq += consent.length;
        }
      }),

    async memoryUsage() {
      const tags = await rows(
        'SELECT tag, memory_usage_bytes::DOUBLE AS used FROM duckdb_memory() WHERE memory_usage_bytes > 0',
      );
      const [limit] = await rows(
        "SELECT coalesce(try_cast(current_setting('memory_limit') AS VARCHAR), '') AS text",
      );
      const byTag: Record<string, number> = {};
      let usedBytes = 0;
      for (const row of tags) {
        byTag[String(row.tag)] = Number(row.used);
        usedBytes += Number(row.used);
      }
      return { usedBytes, limitBytes: parseByteSize(String(limit?.text ?? '')), byTag };
    },

    async countEvents() {
      const [row] = await rows('SELECT count(*)::DOUBLE AS n FROM events');
      return Number(row?.n ?? 0);
    },

    async listQuarantine(query: QuarantineQuery) {
      const where: string[] = [];
      const values: DuckDBValue[] = [];
      if (query.status !== undefined) {
        where.push('status = ?');
        values.push(query.status);
      }
      if (query.sourceId !== undefined) {
        where.push('source_id = ?');
        values.push(query.sourceId);
      }
      if (query.code !== undefined) {
        where.push('code = ?');
        values.push(query.code);
      }
      if (query.beforeId !== undefined) {
        where.push('id < ?');
        values.push(BigInt(query.beforeId));
      }
      const found = await rows(
        `${quarantineSelect} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY id DESC LIMIT ${Math.max(0, Math.floor(query.limit))}`,
        values,
      );
      return found.map(toQuarantineRecord);
    },

    async getQuarantine(id: number) {
      const [row] = await rows(`${quarantineSelect} WHERE id = ?`, [BigInt(id)]);
      return row === undefined ? undefined : toQuarantineRecord(row);
    },

    async countQuarantine() {
      const [row] = await rows(
        `SELECT count(*) FILTER (WHERE status = 'pending')::DOUBLE AS pending,
                count(*) FILTER (WHERE status = 'replayed')::DOUBLE AS replayed FROM quarantine`,
      );
      return { pending: Number(row?.pending ?? 0), replayed: Number(row?.replayed ?? 0) };
    },

    async scanMessageFingerprints(sinceMs, onChunk) {
      const result = await reader.stream(
        `SELECT (fp >> 32)::UINTEGER AS hi, (fp & 4294967295)::UINTEGER AS lo, hour
         FROM (SELECT md5_number_upper(source_id || chr(0) || message_id) AS fp,
                      (epoch_ms(received_at) // 3600000)::INTEGER AS hour
               FROM events WHERE received_at >= ?)`,
        [timestampValue(sinceMs)],
      );
      let total = 0;
      for (;;) {
        const chunk = await result.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) break;
        const fingerprintChunk: FingerprintChunk = {
          hi: chunk.getColumnValues(0) as number[],
          lo: chunk.getColumnValues(1) as number[],
          hour: chunk.getColumnValues(2) as number[],
          length: chunk.rowCount,
        };
        onChunk(fingerprintChunk);
        total += chunk.rowCount;
      }
      return total;
    },

    loadIdentity: (loader) => loadIdentity(reader, loader),
    readProfileFacts: (groups, options) =>
      readProfileFacts(options?.background === true ? background : reader, groups),
    readConsentHistory: (groups) => readConsentHistory(reader, groups),
    loadConsent: (onChange) => loadConsent(reader, onChange),
    findProfilesByIdentifierPrefix: (prefixes) => findProfilesByIdentifierPrefix(reader, prefixes),
    findProfilesByTrait: (filter) => findProfilesByTrait(reader, filter),
    findSuspectedDuplicates: (origins) => findSuspectedDuplicates(reader, origins),
    qualityReport: (options) => qualityReport(reader, options),
    countEventsOverTime: (query) => countEventsOverTime(reader, query),
    // Counting people reads the whole base: on the connection of long reads, not the requests'.
    countProfilesMeeting: (rules, context) => countProfilesMeeting(background, rules, context),
    imports: createDuckdbImportStore(importer),
    segments,
    analysis: createDuckdbAnalysisStore(analysisConnection),
    access,
    erasure: {
      async erase(request) {
        let removed: Record<string, number> = {};
        await writeAlone(async () => {
          removed = await eraseRows(writer, request);
        });
        return {
          id: request.id,
          profileId: request.profileId,
          requestedBy: request.requestedBy,
          erasedAt: request.at,
          removed,
          purgedAt: null,
        };
      },
      listErasures: (limit) => listErasures(reader, 'all', limit),
      pendingPurges: () => listErasures(reader, 'pending', 100_000),
      purgePlan: (ids) => purgePlan(reader, ids),
      async markPurged(ids, at) {
        await reader.run(
          `UPDATE erasures SET purged_at = ? WHERE id IN (SELECT unnest(from_json(?, '["VARCHAR"]')))`,
          [timestampValue(at), JSON.stringify(ids)],
        );
      },
      async suppressedHashes() {
        return (await rows('SELECT hash FROM suppressed_identifiers')).map((row) => String(row.hash));
      },
      async droppedEvents() {
        const [row] = await rows('SELECT dropped_events::DOUBLE AS dropped FROM privacy_counters');
        return Number(row?.dropped ?? 0);
      },
      async addDroppedEvents(count) {
        await reader.run('UPDATE privacy_counters SET dropped_events = dropped_events + ?', [count]);
      },
      async applyRetention(rules, at, expressions) {
        let result: { deleted: number[]; profiles: number[] } = { deleted: [], profiles: [] };
        await writeAlone(async () => {
          result = await expireEvents(writer, rules, at, expressions);
        });
        return { at, ...result };
      },
      async lastRetentionRun() {
        const [row] = await rows(
          `SELECT epoch_ms(ran_at)::DOUBLE AS at, deleted::VARCHAR AS deleted FROM retention_runs
           ORDER BY ran_at DESC LIMIT 1`,
        );
        return row === undefined
          ? undefined
          : { at: Number(row.at), deleted: JSON.parse(String(row.deleted)) as number[] };
      },
    },

    async close() {
      await writing;
      writer.closeSync();
      reader.closeSync();
      importer.closeSync();
      background.closeSync();
      segmentConnection.closeSync();
      liveSegmentConnection.closeSync();
      analysisConnection.closeSync();
      accessConnection.closeSync();
      instance.closeSync();
    },
  };
}

/** Applies the migrations this database lacks, in order. */
export async function migrate(connection: DuckDBConnection): Promise<void> {
  await connection.run(`CREATE TABLE IF NOT EXISTS cible_migrations (
    version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`);
  const applied = new Set(
    (await connection.runAndReadAll('SELECT version FROM cible_migrations'))
      .getRowObjects()
      .map((row) => Number(row.version)),
  );
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(migration.version)) continue;
    await connection.run('BEGIN TRANSACTION');
    try {
      for (const statement of migration.statements) await connection.run(statement);
      await connection.run('INSERT INTO cible_migrations VALUES (?, ?, now())', [
        migration.version,
        migration.name,
      ]);
      await connection.run('COMMIT');
    } catch (error) {
      await connection.run('ROLLBACK');
      throw new Error(`Migration ${migration.version} (${migration.name}) failed`, { cause: error });
    }
  }
}

/** Appends events to their partitions, numbered from `firstSeq` in the order given. */
async function appendEvents(
  connection: DuckDBConnection,
  events: readonly StoredEvent[],
  firstSeq: number,
): Promise<void> {
  const rows: StoredEvent[][] = Array.from({ length: eventPartitionCount }, () => []);
  const seqs: number[][] = Array.from({ length: eventPartitionCount }, () => []);
  events.forEach((event, index) => {
    const partition = eventPartitionOf(event.profileId ?? null);
    rows[partition]!.push(event);
    seqs[partition]!.push(firstSeq + index);
  });
  for (let partition = 0; partition < eventPartitionCount; partition++) {
    const partitionRows = rows[partition]!;
    if (partitionRows.length === 0) continue;
    // Lets requests through between partitions, as appendChunks does between chunks.
    if (partition > 0) await new Promise((resolve) => setImmediate(resolve));
    await appendRows(connection, eventPartitionTable(partition), (appender) =>
      appendChunks(appender, eventColumns, partitionRows, seqs[partition]),
    );
  }
}

// JSON columns are VARCHAR to the appender: DuckDB's JSON type is an alias that checks nothing on append.
const eventColumns: readonly ChunkColumn<StoredEvent>[] = [
  { type: BIGINT, value: (_, seq) => BigInt(seq) },
  { type: VARCHAR, value: (event) => event.sourceId },
  { type: VARCHAR, value: (event) => event.messageId },
  { type: VARCHAR, value: (event) => event.type },
  { type: VARCHAR, value: (event) => event.event },
  { type: VARCHAR, value: (event) => event.name },
  { type: VARCHAR, value: (event) => event.userId },
  { type: VARCHAR, value: (event) => event.anonymousId },
  { type: VARCHAR, value: (event) => event.groupId },
  { type: VARCHAR, value: (event) => event.previousId },
  { type: TIMESTAMPTZ, value: (event) => timestampValue(event.timestamp) },
  { type: TIMESTAMPTZ, value: (event) => nullableTimestampValue(event.originalTimestamp) },
  { type: TIMESTAMPTZ, value: (event) => nullableTimestampValue(event.sentAt) },
  { type: TIMESTAMPTZ, value: (event) => timestampValue(event.receivedAt) },
  { type: VARCHAR, value: (event) => event.properties },
  { type: VARCHAR, value: (event) => event.traits },
  { type: VARCHAR, value: (event) => event.context },
  { type: VARCHAR, value: (event) => event.integrations },
  { type: VARCHAR, value: (event) => event.extra },
  { type: BIGINT, value: (event) => (event.profileId === null ? null : BigInt(event.profileId)) },
];

const quarantineSelect = `SELECT id::DOUBLE AS id, source_id, epoch_ms(received_at)::DOUBLE AS received_at, code,
  reason, field, payload, kind, batch_index, message_id, ip, status,
  epoch_ms(replayed_at)::DOUBLE AS replayed_at FROM quarantine`;

function toQuarantineRecord(row: Record<string, DuckDBValue>): QuarantineRecord {
  return {
    id: Number(row.id),
    sourceId: String(row.source_id),
    receivedAt: Number(row.received_at),
    code: String(row.code),
    reason: String(row.reason),
    field: nullableString(row.field),
    payload: String(row.payload),
    kind: String(row.kind),
    batchIndex: nullableNumber(row.batch_index),
    messageId: nullableString(row.message_id),
    ip: nullableString(row.ip),
    status: String(row.status) as QuarantineStatus,
    replayedAt: nullableNumber(row.replayed_at),
  };
}

async function maxPlusOne(connection: DuckDBConnection, sql: string): Promise<number> {
  const [row] = (await connection.runAndReadAll(sql)).getRows();
  const max = row?.[0];
  return max === null || max === undefined ? 1 : Number(max) + 1;
}

function nullableTimestampValue(ms: number | null): DuckDBTimestampTZValue | null {
  return ms === null ? null : timestampValue(ms);
}

function nullableString(value: DuckDBValue | undefined): string | null {
  return value === null || value === undefined ? null : String(value);
}

function nullableNumber(value: DuckDBValue | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

/** DuckDB's way of writing a size ("256.0 MiB", "1.2 GiB", "512.0 KiB"), in bytes; 0 if unreadable. */
function parseByteSize(text: string): number {
  const match = /^([\d.]+)\s*([KMGT]?i?B)$/i.exec(text.trim());
  if (match === null) return 0;
  const units: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    TB: 1e12,
    KIB: 2 ** 10,
    MIB: 2 ** 20,
    GIB: 2 ** 30,
    TIB: 2 ** 40,
  };
  return Math.round(Number(match[1]) * (units[match[2]!.toUpperCase()] ?? 0));
}
