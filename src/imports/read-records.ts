import { createReadStream, type ReadStream } from 'node:fs';
import { parse, type CsvError, type Parser } from 'csv-parse';
import { CibleError } from '../errors.ts';
import type { CompiledMapping } from './mapping.ts';
import { rejectRow, type ImportRow, type RowRejection } from './row-to-event.ts';

/** One record of an import file. */
export interface FileRecord extends ImportRow {
  /** csv and whitespace: every field of the record, as read. */
  readonly fields: readonly string[] | undefined;
  /** whitespace and ndjson: the line as it stands in the file. */
  readonly text: string | undefined;
  /** A record that could not be read (bad quotes, wrong number of fields, invalid JSON). */
  readonly malformed: RowRejection | undefined;
}

export interface RecordReader {
  /** Batches of records, in file order (csv records whose syntax is broken may come a batch late). */
  batches(): AsyncGenerator<FileRecord[]>;
  /** Bytes of the file read so far. */
  readonly bytesRead: number;
  /** The header line (re-written for csv), once read; null for files without one. */
  readonly header: string | null;
}

const batchSize = 2000;

/**
 * Reads an import file as the mapping says: csv (csv-parse, any delimiter and quote),
 * whitespace-separated columns, or ndjson (columns are dotted paths). Each record comes with the
 * line it starts on and its cells in the order of the mapping's columns. A header naming no
 * column the mapping needs is an error of the whole file.
 */
export function readRecords(path: string, mapping: CompiledMapping): RecordReader {
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  let header: string | null = null;
  const reader: RecordReader = {
    async *batches() {
      switch (mapping.format) {
        case 'csv':
          // A file without a single quote character is a file of plain lines: splitting them is five
          // times cheaper than csv-parse's character by character reading, and gives the same fields.
          if (await holds(path, mapping.quote)) yield* csvBatches(stream, mapping, (line) => (header = line));
          else yield* lineBatches(stream, mapping, 'delimiter', (line) => (header = line));
          return;
        case 'whitespace':
          yield* lineBatches(stream, mapping, 'whitespace', (line) => (header = line));
          return;
        case 'ndjson':
          yield* lineBatches(stream, mapping, 'json', () => undefined);
          return;
      }
    },
    get bytesRead() {
      return stream.bytesRead;
    },
    get header() {
      return header;
    },
  };
  return reader;
}

/** For each mapped column, its index among the file's columns. */
function columnIndexes(mapping: CompiledMapping, fileColumns: readonly string[]): number[] {
  return mapping.columns.map((column) => {
    const index = fileColumns.indexOf(column.name);
    if (index === -1) {
      throw new CibleError(
        'CIBLE_ERR_IMPORT_INVALID_MAPPING',
        `Column "${column.name}" is not in the file; its columns are ${fileColumns.map((name) => JSON.stringify(name)).join(', ')}.`,
        { field: `columns.${column.name}` },
      );
    }
    return index;
  });
}

function namesFor(mapping: CompiledMapping, headerFields: readonly string[] | undefined): string[] {
  if (mapping.columnNames !== undefined) return [...mapping.columnNames];
  return (headerFields ?? []).map((name) => name.trim());
}

async function* csvBatches(
  stream: ReadStream,
  mapping: CompiledMapping,
  onHeader: (line: string) => void,
): AsyncGenerator<FileRecord[]> {
  const broken: FileRecord[] = [];
  const parser = parse({
    bom: true,
    delimiter: mapping.delimiter,
    quote: mapping.quote,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
  });
  // Each record leaves the parser with the number of lines read so far: the line it ends on.
  // (csv-parse's `info` option gives that too, inside an object of a dozen fields built for every
  // record, which costs a third of the parsing.)
  const push = parser.push.bind(parser);
  parser.push = (record: unknown): boolean =>
    push(record === null ? null : { record, lines: parser.info.lines });
  stream.pipe(parser);
  parser.on('skip', (error: CsvError & { lines?: number }) => {
    broken.push(malformedRecord(error.lines ?? 0, `The line is not valid CSV: ${error.message}.`));
  });
  stream.on('error', (error) => parser.destroy(error));
  let indexes: number[] | undefined;
  let width = 0;
  let previousEnd = 0;
  if (!mapping.header) {
    width = mapping.columnNames!.length;
    indexes = columnIndexes(mapping, mapping.columnNames!);
  }
  let batch: FileRecord[] = [];
  for await (const items of parsed(parser)) {
    for (const item of items) {
      const fields = item.record;
      const end = item.lines;
      const line = end - previousEnd === 1 ? end : end - newlines(fields);
      previousEnd = end;
      if (indexes === undefined) {
        const names = namesFor(mapping, fields);
        width = fields.length;
        indexes = columnIndexes(mapping, names);
        onHeader(csvLine(fields, mapping.delimiter, mapping.quote));
        continue;
      }
      if (fields.length !== width && !(fields.length === 1 && fields[0] === '')) {
        batch.push({
          ...malformedRecord(line, `The line has ${fields.length} fields where the header has ${width}.`),
          fields,
        });
      } else {
        batch.push({ line, cells: pick(fields, indexes), fields, text: undefined, malformed: undefined });
      }
    }
    if (broken.length > 0) batch.push(...broken.splice(0));
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (broken.length > 0) batch.push(...broken.splice(0));
  if (indexes === undefined && mapping.header) {
    throw new CibleError('CIBLE_ERR_IMPORT_FILE_UNREADABLE', 'The file is empty: not even a header line.');
  }
  if (batch.length > 0) yield batch;
}

/** Whether a file holds a character anywhere. */
async function holds(path: string, character: string): Promise<boolean> {
  const byte = Buffer.from(character)[0]!;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    if ((chunk as Buffer).includes(byte)) return true;
  }
  return false;
}

/**
 * Files of one record a line: whitespace-separated columns, csv without quotes (split on the
 * delimiter), or ndjson.
 */
async function* lineBatches(
  stream: ReadStream,
  mapping: CompiledMapping,
  split: 'whitespace' | 'delimiter' | 'json',
  onHeader: (line: string) => void,
): AsyncGenerator<FileRecord[]> {
  const paths = mapping.columns.map((column) => column.path);
  let indexes: number[] | undefined;
  let width = 0;
  if (split !== 'json' && !mapping.header) {
    width = mapping.columnNames!.length;
    indexes = columnIndexes(mapping, mapping.columnNames!);
  }
  let line = 0;
  let rest = '';
  let batch: FileRecord[] = [];
  const take = (raw: string): void => {
    line++;
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const trimmed = line === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    if (split === 'delimiter' ? trimmed === '' : trimmed.trim() === '') return;
    if (split === 'json') {
      batch.push(ndjsonRecord(line, trimmed, paths));
      return;
    }
    const fields = split === 'delimiter' ? trimmed.split(mapping.delimiter) : trimmed.trim().split(/\s+/);
    if (indexes === undefined) {
      width = fields.length;
      indexes = columnIndexes(mapping, namesFor(mapping, fields));
      onHeader(trimmed);
      return;
    }
    if (fields.length !== width) {
      batch.push({
        ...malformedRecord(
          line,
          `The line has ${fields.length} ${split === 'delimiter' ? 'fields' : 'columns'} where the header has ${width}.`,
        ),
        fields,
        text: trimmed,
      });
      return;
    }
    batch.push({ line, cells: pick(fields, indexes), fields, text: trimmed, malformed: undefined });
  };
  for await (const chunk of stream) {
    const text = rest + (chunk as Buffer).toString('utf8');
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      take(text.slice(start, end));
      start = end + 1;
    }
    rest = text.slice(start);
    if (batch.length >= batchSize) {
      yield batch;
      batch = [];
    }
  }
  if (rest !== '') take(rest);
  if (indexes === undefined && split !== 'json' && mapping.header) {
    throw new CibleError('CIBLE_ERR_IMPORT_FILE_UNREADABLE', 'The file is empty: not even a header line.');
  }
  if (batch.length > 0) yield batch;
}

/**
 * The parser's records, as many at a time as it holds: reading them one by one through the
 * stream's async iterator costs a promise each, a fifth of the parsing.
 */
async function* parsed(parser: Parser): AsyncGenerator<{ record: string[]; lines: number }[]> {
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const signal = (): void => {
    wake?.();
    wake = undefined;
  };
  parser.on('readable', signal);
  parser.on('end', () => {
    ended = true;
    signal();
  });
  parser.on('error', (error: Error) => {
    failure = error;
    signal();
  });
  for (;;) {
    const items: { record: string[]; lines: number }[] = [];
    for (let item = parser.read() as unknown; item !== null; item = parser.read() as unknown) {
      items.push(item as { record: string[]; lines: number });
    }
    if (items.length > 0) {
      yield items;
      continue;
    }
    if (failure !== undefined) throw failure;
    if (ended || parser.readableEnded) return;
    await new Promise<void>((resolve) => (wake = resolve));
  }
}

function ndjsonRecord(line: number, text: string, paths: readonly (readonly string[])[]): FileRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ...malformedRecord(line, `The line is not valid JSON: ${(error as Error).message}.`), text };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ...malformedRecord(line, 'The line is not a JSON object.'), text };
  }
  const cells = paths.map((path) => {
    let at: unknown = value;
    for (const key of path) {
      if (at === null || typeof at !== 'object') return undefined;
      at = (at as Record<string, unknown>)[key];
    }
    return at;
  });
  return { line, cells, fields: undefined, text, malformed: undefined };
}

function malformedRecord(line: number, reason: string): FileRecord {
  return {
    line,
    cells: [],
    fields: undefined,
    text: undefined,
    malformed: rejectRow('CIBLE_ERR_IMPORT_ROW_MALFORMED', reason, null),
  };
}

function pick(fields: readonly string[], indexes: readonly number[]): string[] {
  const cells = new Array<string>(indexes.length);
  for (let i = 0; i < indexes.length; i++) cells[i] = fields[indexes[i]!]!;
  return cells;
}

function newlines(fields: readonly string[]): number {
  let count = 0;
  for (const field of fields) {
    for (let at = field.indexOf('\n'); at !== -1; at = field.indexOf('\n', at + 1)) count++;
  }
  return count;
}

/** A record as a line of csv again, quoting the fields that need it. */
export function csvLine(fields: readonly string[], delimiter: string, quote: string): string {
  return fields
    .map((field) =>
      field.includes(delimiter) ||
      field.includes(quote) ||
      field.includes('\n') ||
      field.includes('\r') ||
      field !== field.trim()
        ? `${quote}${field.replaceAll(quote, quote + quote)}${quote}`
        : field,
    )
    .join(delimiter);
}

/** The text of a record as it stood in the file (csv: re-written from its fields). */
export function recordText(record: FileRecord, mapping: CompiledMapping): string {
  if (record.text !== undefined) return record.text;
  if (record.fields !== undefined) return csvLine(record.fields, mapping.delimiter, mapping.quote);
  return '';
}
