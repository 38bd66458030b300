import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { IdentifierRules } from '../domain/identifiers.ts';
import { CibleError } from '../errors.ts';
import { messageFingerprint } from '../ingestion/message-dedupe.ts';
import type { IngestPipeline } from '../ingestion/pipeline.ts';
import type { ImportRejection, ImportStore } from '../store/import-store.ts';
import type { Source } from '../store/store.ts';
import type { CompiledMapping } from './mapping.ts';
import { readRecords, recordText, type FileRecord } from './read-records.ts';
import { FingerprintCounter, importMessageIdPrefix, keyMaterial, messageIdOf, rowKey } from './row-keys.ts';
import {
  createIdentifierCheck,
  customerEvent,
  disagreement,
  isRowRejection,
  orderEvent,
  orderLevelColumns,
  readRow,
  rejectRow,
  type RowRejection,
  type RowValues,
} from './row-to-event.ts';

/** What a running import has done so far; the job manager reads it for progress. */
export interface ImportProgress {
  bytesRead: number;
  rowsRead: number;
  rowsRejected: number;
  eventsAccepted: number;
  eventsDuplicate: number;
  header: string | null;
}

export interface RunImportOptions {
  readonly importId: string;
  readonly path: string;
  readonly mapping: CompiledMapping;
  readonly source: Source;
  readonly pipeline: IngestPipeline;
  readonly store: ImportStore;
  readonly identifierRules: IdentifierRules;
  readonly progress: ImportProgress;
  readonly signal: AbortSignal;
  /** Events handed to the pipeline at once (default 5,000). */
  readonly chunkEvents?: number;
}

/** The rows an event was built from, to report them if the pipeline refuses it. */
interface Origin {
  readonly records: readonly FileRecord[];
}

interface Chunk {
  events: unknown[];
  origins: Origin[];
}

/** An order being assembled from consecutive rows that share its id. */
interface OpenOrder {
  readonly orderId: string;
  readonly records: FileRecord[];
  readonly values: RowValues[];
  rejection: RowRejection | undefined;
}

/**
 * Runs one import: reads the file, turns its rows into events as the mapping says, hands them to
 * the pipeline in chunks (the same steps as live events, in-process), and keeps every rejected row
 * with its line and reason. Two chunks are in flight at most: one committing while the next is
 * built. Idempotent: rows already stored (however long ago) are counted as duplicates, not stored.
 */
export async function runImport(options: RunImportOptions): Promise<void> {
  const { mapping, progress, source } = options;
  const chunkEvents = options.chunkEvents ?? 5000;

  // What the store already holds from earlier imports into this source.
  const stored = new FingerprintCounter();
  await options.store.scanImportedFingerprints(source.id, importMessageIdPrefix, (chunk) => {
    for (let i = 0; i < chunk.length; i++) stored.add(chunk.hi[i]!, chunk.lo[i]!);
  });

  const occurrences = new FingerprintCounter();
  const closedOrders = new FingerprintCounter();
  const orderColumns = orderLevelColumns(mapping);
  const checkIdentifier = createIdentifierCheck(options.identifierRules);
  const keyIndexes = mapping.rowKey.map((name) =>
    mapping.columns.findIndex((column) => column.name === name),
  );
  const rejections: ImportRejection[] = [];
  /** Malformed csv records come without their text: read from the file at the end. */
  const textless = new Set<number>();
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  let chunk: Chunk = { events: [], origins: [] };

  const reject = (records: readonly FileRecord[], rejection: RowRejection): void => {
    progress.rowsRejected += records.length;
    const first = records[0]!;
    const row: ImportRejection = {
      importId: options.importId,
      line: first.line,
      code: rejection.code,
      reason:
        records.length > 1
          ? `Order of lines ${first.line}–${records.at(-1)!.line}: ${rejection.reason}`
          : rejection.reason,
      field: rejection.field,
      raw: records.map((record) => recordText(record, mapping)).join('\n'),
    };
    if (row.raw === '' && first.fields === undefined && first.text === undefined) textless.add(first.line);
    rejections.push(row);
  };

  /** The messageId of a row (or order) from its key; undefined if the store already holds it. */
  const keyOf = (record: FileRecord): string | undefined => {
    const material =
      keyIndexes.length > 0
        ? keyMaterial(keyIndexes.map((index) => record.cells[index]))
        : keyMaterial(record.cells);
    const key = rowKey(mapping.kind, material);
    // An explicit key names one row: its repeats are duplicates. Content keys count identical rows apart.
    const occurrence = keyIndexes.length > 0 ? 1 : occurrences.add(key.hi, key.lo);
    const messageId = messageIdOf(key, occurrence);
    if (stored.size > 0 && stored.has(messageFingerprint(source.id, messageId))) {
      progress.eventsDuplicate++;
      return undefined;
    }
    return messageId;
  };

  const emit = (event: unknown, records: readonly FileRecord[]): void => {
    chunk.events.push(event);
    chunk.origins.push({ records });
  };

  let order: OpenOrder | undefined;
  const closeOrder = (): void => {
    if (order === undefined) return;
    const closing = order;
    order = undefined;
    const key = rowKey(mapping.kind, `order\u0000${closing.orderId}`);
    closedOrders.add(key.hi, key.lo);
    if (closing.rejection !== undefined) return reject(closing.records, closing.rejection);
    const messageId = keyOf(closing.records[0]!);
    if (messageId === undefined) return;
    emit(
      orderEvent(closing.values, mapping.event, {
        messageId,
        importId: options.importId,
        line: closing.records[0]!.line,
      }),
      closing.records,
    );
  };

  const orderIdIndex = mapping.columns.findIndex((column) => column.name === mapping.orderId);
  const take = (record: FileRecord): void => {
    progress.rowsRead++;
    if (record.malformed !== undefined) return reject([record], record.malformed);
    const values = readRow(mapping, record, checkIdentifier);
    if (isRowRejection(values)) {
      // A bad line spoils its whole order: the order would be stored without that line item.
      const cell = orderIdIndex === -1 ? undefined : record.cells[orderIdIndex];
      const orderId = typeof cell === 'string' ? cell.trim() : undefined;
      if (orderId === undefined || orderId === '') return reject([record], values);
      if (order?.orderId === orderId) {
        order.records.push(record);
        order.rejection ??= values;
        return;
      }
      closeOrder();
      order = { orderId, records: [record], values: [], rejection: values };
      return;
    }
    if (mapping.kind === 'customers') {
      const messageId = keyOf(record);
      if (messageId !== undefined)
        emit(customerEvent(values, { messageId, importId: options.importId, line: record.line }), [record]);
      return;
    }
    if (values.timestamp === undefined) {
      return reject(
        [record],
        rejectRow(
          'CIBLE_ERR_IMPORT_ROW_MISSING_VALUE',
          'The row has no timestamp; an order needs one.',
          null,
        ),
      );
    }
    if (mapping.orderId === undefined) {
      const messageId = keyOf(record);
      if (messageId !== undefined)
        emit(
          orderEvent([values], mapping.event, { messageId, importId: options.importId, line: record.line }),
          [record],
        );
      return;
    }
    const orderId = values.orderId!;
    if (order !== undefined && order.orderId === orderId) {
      order.records.push(record);
      order.values.push(values);
      order.rejection ??= disagreement(mapping, orderColumns, order.records[0]!, record);
      return;
    }
    closeOrder();
    order = { orderId, records: [record], values: [values], rejection: undefined };
    if (closedOrders.has(rowKey(mapping.kind, `order\u0000${orderId}`))) {
      order.rejection = rejectRow(
        'CIBLE_ERR_IMPORT_ORDER_INCONSISTENT',
        `Order ${JSON.stringify(orderId)} appears again after other orders: the lines of one order must be consecutive (sort the file by order id). These lines were not imported.`,
        mapping.orderId,
      );
    }
  };

  const send = async (sending: Chunk): Promise<void> => {
    const outcome = await options.pipeline.ingestImported({ source, events: sending.events });
    if (!outcome.ok) throw outcome.error;
    progress.eventsAccepted += outcome.accepted;
    progress.eventsDuplicate += outcome.duplicates;
    for (const item of outcome.rejected) {
      const origin = sending.origins[item.index];
      if (origin !== undefined)
        reject(origin.records, { rejected: true, code: item.code, reason: item.reason, field: item.field });
    }
  };

  const flush = async (): Promise<void> => {
    if (chunk.events.length === 0) return;
    const sending = chunk;
    chunk = { events: [], origins: [] };
    const promise = send(sending).then(
      () => {
        inFlight.delete(promise);
      },
      (error: unknown) => {
        inFlight.delete(promise);
        failure ??= error instanceof Error ? error : new Error(String(error));
      },
    );
    inFlight.add(promise);
    if (inFlight.size >= 2) await Promise.race(inFlight);
  };

  const saveRejections = async (final: boolean): Promise<void> => {
    if (final && textless.size > 0) {
      const texts = await linesOf(options.path, new Set(textless.keys()));
      for (let i = 0; i < rejections.length; i++) {
        const row = rejections[i]!;
        if (textless.has(row.line)) rejections[i] = { ...row, raw: texts.get(row.line) ?? '' };
      }
      textless.clear();
    }
    // Malformed csv records wait for their text until the end.
    const ready = rejections.filter((row) => !textless.has(row.line));
    const waiting = rejections.filter((row) => textless.has(row.line));
    rejections.length = 0;
    rejections.push(...waiting);
    await options.store.addImportRejections(ready);
  };

  const reader = readRecords(options.path, mapping);
  try {
    for await (const batch of reader.batches()) {
      if (options.signal.aborted) break;
      if (failure !== undefined) throw failure;
      for (const record of batch) {
        take(record);
        if (chunk.events.length >= chunkEvents) await flush();
      }
      progress.bytesRead = reader.bytesRead;
      progress.header = reader.header;
      if (rejections.length >= 1000) await saveRejections(false);
    }
    if (!options.signal.aborted) closeOrder();
    await flush();
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    progress.bytesRead = reader.bytesRead;
    progress.header = reader.header;
  } catch (error) {
    await Promise.all(inFlight);
    await saveRejections(true).catch(() => undefined);
    if (error instanceof CibleError) throw error;
    throw new CibleError(
      'CIBLE_ERR_IMPORT_FILE_UNREADABLE',
      `The file could not be read: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  await saveRejections(true);
}

/** The text of some lines of a file, by number (1-based). */
async function linesOf(path: string, wanted: ReadonlySet<number>): Promise<Map<number, string>> {
  const texts = new Map<number, string>();
  const last = Math.max(...wanted);
  let line = 0;
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  for await (const text of lines) {
    line++;
    if (wanted.has(line)) texts.set(line, text);
    if (line >= last) break;
  }
  lines.close();
  return texts;
}
