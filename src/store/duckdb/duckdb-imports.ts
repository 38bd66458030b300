import { createSerialQueue } from '../../serial-queue.ts';
import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { ImportJobRecord, ImportRejection, ImportStatus, ImportStore } from '../import-store.ts';
import type { FingerprintChunk } from '../store.ts';
import { appendRows, timestampValue } from './append-rows.ts';

/**
 * Import jobs and their rejected rows, on a connection of their own: a job's bookkeeping never
 * waits for (or joins) the pipeline's micro-batch transactions.
 */
export function createDuckdbImportStore(connection: DuckDBConnection): ImportStore {
  // One statement at a time on this connection: DuckDB runs a connection's statements in order anyway,
  // and an appender must not interleave with a query.
  const serial = createSerialQueue();

  async function rows(sql: string, values: DuckDBValue[] = []): Promise<Record<string, DuckDBValue>[]> {
    return (await connection.runAndReadAll(sql, values)).getRowObjects();
  }

  return {
    saveImport: (job) =>
      serial(async () => {
        await connection.run(
          `INSERT OR REPLACE INTO import_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            job.id,
            job.sourceId,
            job.fileName,
            job.mapping,
            job.status,
            timestampValue(job.createdAt),
            nullableTimestamp(job.startedAt),
            nullableTimestamp(job.finishedAt),
            BigInt(job.bytesTotal),
            BigInt(job.bytesRead),
            BigInt(job.rowsRead),
            BigInt(job.rowsRejected),
            BigInt(job.eventsAccepted),
            BigInt(job.eventsDuplicate),
            job.header,
            job.errorCode,
            job.errorMessage,
            job.attempts,
          ],
        );
      }),

    getImport: (id) =>
      serial(async () => {
        const [row] = await rows(`${jobSelect} WHERE id = ?`, [id]);
        return row === undefined ? undefined : toJob(row);
      }),

    listImports: (query) =>
      serial(async () => {
        const where: string[] = [];
        const values: DuckDBValue[] = [];
        if (query.status !== undefined) {
          where.push('status = ?');
          values.push(query.status);
        }
        if (query.before !== undefined) {
          where.push('created_at < ?');
          values.push(timestampValue(query.before));
        }
        const found = await rows(
          `${jobSelect} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY created_at DESC, id DESC LIMIT ${Math.max(0, Math.floor(query.limit))}`,
          values,
        );
        return found.map(toJob);
      }),

    addImportRejections: (rejections) =>
      serial(async () => {
        if (rejections.length === 0) return;
        await appendRows(connection, 'import_rejections', (appender) => {
          for (const rejection of rejections) {
            appender.appendVarchar(rejection.importId);
            appender.appendBigInt(BigInt(rejection.line));
            appender.appendVarchar(rejection.code);
            appender.appendVarchar(rejection.reason);
            if (rejection.field === null) appender.appendNull();
            else appender.appendVarchar(rejection.field);
            appender.appendVarchar(rejection.raw);
            appender.endRow();
          }
        });
      }),

    listImportRejections: (importId, query) =>
      serial(async () => {
        const found = await rows(
          `SELECT import_id, line::DOUBLE AS line, code, reason, field, raw FROM import_rejections
           WHERE import_id = ? AND line > ? ORDER BY line LIMIT ${Math.max(0, Math.floor(query.limit))}`,
          [importId, BigInt(Math.floor(query.afterLine ?? 0))],
        );
        return found.map((row): ImportRejection => ({
          importId: String(row.import_id),
          line: Number(row.line),
          code: String(row.code),
          reason: String(row.reason),
          field: row.field === null || row.field === undefined ? null : String(row.field),
          raw: String(row.raw),
        }));
      }),

    deleteImportRejections: (importId) =>
      serial(async () => {
        await connection.run('DELETE FROM import_rejections WHERE import_id = ?', [importId]);
      }),

    scanImportedFingerprints: (sourceId, prefix, onChunk) =>
      serial(async () => {
        const result = await connection.stream(
          `SELECT (fp >> 32)::UINTEGER AS hi, (fp & 4294967295)::UINTEGER AS lo, hour
           FROM (SELECT md5_number_upper(source_id || chr(0) || message_id) AS fp,
                        (epoch_ms(received_at) // 3600000)::INTEGER AS hour
                 FROM events WHERE source_id = ? AND starts_with(message_id, ?))`,
          [sourceId, prefix],
        );
        let total = 0;
        for (;;) {
          const chunk = await result.fetchChunk();
          if (chunk === null || chunk.rowCount === 0) break;
          const fingerprints: FingerprintChunk = {
            hi: chunk.getColumnValues(0) as number[],
            lo: chunk.getColumnValues(1) as number[],
            hour: chunk.getColumnValues(2) as number[],
            length: chunk.rowCount,
          };
          onChunk(fingerprints);
          total += chunk.rowCount;
        }
        return total;
      }),
  };
}

const jobSelect = `SELECT id, source_id, file_name, mapping::VARCHAR AS mapping, status,
  epoch_ms(created_at)::DOUBLE AS created_at, epoch_ms(started_at)::DOUBLE AS started_at,
  epoch_ms(finished_at)::DOUBLE AS finished_at, bytes_total::DOUBLE AS bytes_total,
  bytes_read::DOUBLE AS bytes_read, rows_read::DOUBLE AS rows_read,
  rows_rejected::DOUBLE AS rows_rejected, events_accepted::DOUBLE AS events_accepted,
  events_duplicate::DOUBLE AS events_duplicate, header, error_code, error_message, attempts
  FROM import_jobs`;

function toJob(row: Record<string, DuckDBValue>): ImportJobRecord {
  return {
    id: String(row.id),
    sourceId: String(row.source_id),
    fileName: String(row.file_name),
    mapping: String(row.mapping),
    status: String(row.status) as ImportStatus,
    createdAt: Number(row.created_at),
    startedAt: nullableNumber(row.started_at),
    finishedAt: nullableNumber(row.finished_at),
    bytesTotal: Number(row.bytes_total),
    bytesRead: Number(row.bytes_read),
    rowsRead: Number(row.rows_read),
    rowsRejected: Number(row.rows_rejected),
    eventsAccepted: Number(row.events_accepted),
    eventsDuplicate: Number(row.events_duplicate),
    header: nullableString(row.header),
    errorCode: nullableString(row.error_code),
    errorMessage: nullableString(row.error_message),
    attempts: Number(row.attempts),
  };
}

function nullableTimestamp(ms: number | null): DuckDBValue {
  return ms === null ? null : timestampValue(ms);
}

function nullableNumber(value: DuckDBValue | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}

function nullableString(value: DuckDBValue | undefined): string | null {
  return value === null || value === undefined ? null : String(value);
}
