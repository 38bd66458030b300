import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { IdentifierRules } from '../domain/identifiers.ts';
import { CibleError, isCibleError } from '../errors.ts';
import { messageFingerprint, type Fingerprint } from '../ingestion/message-dedupe.ts';
import { isRejection } from '../ingestion/outcomes.ts';
import { prepareImportedEvent, type PreparedEvent } from '../ingestion/pipeline.ts';
import type { ImportRejection } from '../store/import-store.ts';
import type { CompiledMapping } from './mapping.ts';
import { readRecords, recordText, type FileRecord } from './read-records.ts';
import { FingerprintCounter, keyMaterial, messageIdOf, rowKey, type RowKey } from './row-keys.ts';
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

/** What the rows of a file have given so far. */
export interface RowsProgress {
  bytesRead: number;
  rowsRead: number;
  rowsRejected: number;
  /** Events the store already held (an earlier import of the same rows). */
  alreadyStored: number;
  header: string | null;
}

/** Where the prepared events and the rejected rows go. */
export interface RowsSink {
  /** Takes a chunk of prepared events; resolves when it is ready for another. */
  events(events: PreparedEvent[], progress: RowsProgress): Promise<void>;
  rejected(rows: ImportRejection[]): Promise<void>;
  /** Told now and then while rows are read (rows already stored make no events to carry it). */
  progress(progress: RowsProgress): void;
}

export interface ImportRowsOptions {
  readonly importId: string;
  readonly path: string;
  readonly mapping: CompiledMapping;
  readonly sourceId: string;
  readonly identifierRules: IdentifierRules;
  readonly maxEventBytes: number;
  /** Fingerprints of the events earlier imports stored in the source (see `ImportStore`). */
  readonly stored: FingerprintCounter;
  /** Events per chunk (default 5,000). */
  readonly chunkEvents?: number;
  readonly stopped: () => boolean;
  readonly now: () => number;
}

interface Fingerprinted {
  readonly messageId: string;
  readonly fingerprint: Fingerprint;
}

/** An order being assembled from consecutive rows that share its id. */
interface OpenOrder {
  readonly orderId: string;
  /** The order id's fingerprint, to catch the order appearing again later. */
  readonly orderKey: RowKey;
  readonly records: FileRecord[];
  readonly values: RowValues[];
  rejection: RowRejection | undefined;
}

/**
 * The rows of an import file become prepared events: read the file, read each row as the mapping
 * says, give it its idempotent key, drop what the store already holds, assemble orders from their
 * lines, build the Segment event, and run the pipeline's first steps on it (validate, build the
 * stored event). Everything a row can be rejected for is found here, with its line. Runs on the
 * import's own thread; the pipeline's single writer does the rest.
 */
export async function importRows(options: ImportRowsOptions, sink: RowsSink): Promise<RowsProgress> {
  const { mapping, stored } = options;
  const chunkEvents = options.chunkEvents ?? 5000;
  const progress: RowsProgress = {
    bytesRead: 0,
    rowsRead: 0,
    rowsRejected: 0,
    alreadyStored: 0,
    header: null,
  };
  const occurrences = new FingerprintCounter();
  const closedOrders = new FingerprintCounter();
  const orderColumns = orderLevelColumns(mapping);
  const checkIdentifier = createIdentifierCheck(options.identifierRules);
  const keyIndexes = mapping.rowKey.map((name) =>
    mapping.columns.findIndex((column) => column.name === name),
  );
  const orderIdIndex = mapping.columns.findIndex((column) => column.name === mapping.orderId);
  const rejections: ImportRejection[] = [];
  /** Malformed csv records come without their text: it is read from the file at the end. */
  const textless = new Set<number>();
  let chunk: PreparedEvent[] = [];
  let receivedAt = options.now();

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

  /** The messageId of a row (or order) from its key; undefined when the store already holds it. */
  const keyOf = (record: FileRecord): Fingerprinted | undefined => {
    const material =
      keyIndexes.length > 0
        ? keyMaterial(keyIndexes.map((index) => record.cells[index]))
        : keyMaterial(record.cells);
    const key = rowKey(mapping.kind, material);
    // An explicit key names one row: its repeats are duplicates. Content keys count identical rows apart.
    const occurrence = keyIndexes.length > 0 ? 1 : occurrences.add(key.hi, key.lo);
    const messageId = messageIdOf(key, occurrence);
    // The pipeline de-duplicates on this fingerprint: computed here, off the main thread.
    const fingerprint = messageFingerprint(options.sourceId, messageId);
    if (stored.size > 0 && stored.has(fingerprint)) {
      progress.alreadyStored++;
      return undefined;
    }
    return { messageId, fingerprint };
  };

  const emit = (event: unknown, records: readonly FileRecord[], fingerprint: Fingerprint): void => {
    const prepared = prepareImportedEvent(event, {
      sourceId: options.sourceId,
      receivedAt,
      ip: null,
      maxEventBytes: options.maxEventBytes,
    });
    if (isRejection(prepared)) {
      reject(records, rejectRow(prepared.code, prepared.message, prepared.field));
      return;
    }
    chunk.push({ ...prepared, fingerprint });
  };

  const orderKeyOf = (orderId: string): RowKey => rowKey(mapping.kind, `order\u0000${orderId}`);
  let order: OpenOrder | undefined;
  const closeOrder = (): void => {
    if (order === undefined) return;
    const closing = order;
    order = undefined;
    closedOrders.add(closing.orderKey.hi, closing.orderKey.lo);
    if (closing.rejection !== undefined) return reject(closing.records, closing.rejection);
    const key = keyOf(closing.records[0]!);
    if (key === undefined) return;
    const origin = { messageId: key.messageId, importId: options.importId, line: closing.records[0]!.line };
    emit(orderEvent(closing.values, mapping.event, origin), closing.records, key.fingerprint);
  };

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
      order = { orderId, orderKey: orderKeyOf(orderId), records: [record], values: [], rejection: values };
      return;
    }
    if (mapping.kind === 'customers') {
      const key = keyOf(record);
      if (key === undefined) return;
      const origin = { messageId: key.messageId, importId: options.importId, line: record.line };
      return emit(customerEvent(values, origin), [record], key.fingerprint);
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
      const key = keyOf(record);
      if (key === undefined) return;
      const origin = { messageId: key.messageId, importId: options.importId, line: record.line };
      return emit(orderEvent([values], mapping.event, origin), [record], key.fingerprint);
    }
    const orderId = values.orderId!;
    if (order !== undefined && order.orderId === orderId) {
      order.records.push(record);
      order.values.push(values);
      order.rejection ??= disagreement(mapping, orderColumns, order.records[0]!, record);
      return;
    }
    closeOrder();
    order = {
      orderId,
      orderKey: orderKeyOf(orderId),
      records: [record],
      values: [values],
      rejection: undefined,
    };
    if (closedOrders.has(order.orderKey)) {
      order.rejection = rejectRow(
        'CIBLE_ERR_IMPORT_ORDER_INCONSISTENT',
        `Order ${JSON.stringify(orderId)} appears again after other orders: the lines of one order must be consecutive (sort the file by order id). These lines were not imported.`,
        mapping.orderId,
      );
    }
  };

  const flush = async (): Promise<void> => {
    if (chunk.length === 0) return;
    const sending = chunk;
    chunk = [];
    await sink.events(sending, { ...progress });
    receivedAt = options.now();
  };

  /** Rejected rows go out in batches; malformed csv records wait for their text until the end. */
  const flushRejections = async (final: boolean): Promise<void> => {
    if (final && textless.size > 0) {
      const texts = await linesOf(options.path, textless);
      for (let i = 0; i < rejections.length; i++) {
        const row = rejections[i]!;
        if (textless.has(row.line)) rejections[i] = { ...row, raw: texts.get(row.line) ?? '' };
      }
      textless.clear();
    }
    const ready = rejections.filter((row) => !textless.has(row.line));
    const waiting = rejections.filter((row) => textless.has(row.line));
    rejections.length = 0;
    rejections.push(...waiting);
    if (ready.length > 0) await sink.rejected(ready);
  };

  const reader = readRecords(options.path, mapping);
  let reported = options.now();
  try {
    for await (const batch of reader.batches()) {
      if (options.stopped()) break;
      for (const record of batch) {
        take(record);
        if (chunk.length >= chunkEvents) await flush();
      }
      progress.bytesRead = reader.bytesRead;
      progress.header = reader.header;
      if (rejections.length >= 1000) await flushRejections(false);
      if (options.now() - reported >= 200) {
        reported = options.now();
        sink.progress({ ...progress });
      }
    }
    if (!options.stopped()) closeOrder();
    progress.bytesRead = reader.bytesRead;
    progress.header = reader.header;
    await flush();
  } catch (error) {
    await flushRejections(true).catch(() => undefined);
    if (isCibleError(error)) throw error;
    throw new CibleError(
      'CIBLE_ERR_IMPORT_FILE_UNREADABLE',
      `The file could not be read: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  await flushRejections(true);
  return progress;
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
