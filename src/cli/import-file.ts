import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { basename, extname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { SingleBar, Presets } from 'cli-progress';
import { parse } from 'csv-parse';
import { scalarEventFields } from '../domain/events.ts';
import { CibleError } from '../errors.ts';
import type { RejectedItem } from '../ingestion/outcomes.ts';
import { errorFrom } from './api-client.ts';

export interface ImportOptions {
  readonly path: string;
  readonly serverUrl: string;
  readonly writeKey: string;
  readonly batchSize: number;
  /** For CSV rows without a "type" column. */
  readonly defaultType?: string;
  readonly progress: 'bar' | 'none';
  /** Requests in flight at once. */
  readonly concurrency?: number;
}

export interface ImportReport {
  readonly lines: number;
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: RejectedLine[];
  /** Where the rejected lines were written, with their reasons; null when none were rejected. */
  readonly rejectedFile: string | null;
}

export interface RejectedLine {
  readonly line: number;
  readonly code: string;
  readonly reason: string;
  readonly field: string | null;
  readonly record: string;
}

interface Row {
  readonly line: number;
  readonly event: unknown;
  readonly text: string;
}

/**
 * Sends a file of events through the tracking API (the same pipeline as live events), in batches.
 * NDJSON: one Segment event per line. CSV: a header row; columns named after Segment fields
 * (`type`, `event`, `userId`, `anonymousId`, `timestamp`, `messageId`, ...) fill them, dotted
 * columns (`properties.price`, `traits.email`, `context.ip`) fill nested fields, and any other
 * column becomes a property (track, page, screen) or a trait (identify, group). Lines without a
 * messageId get one derived from their content and line number, so importing a file twice stores
 * its events once.
 */
export async function importFile(options: ImportOptions): Promise<ImportReport> {
  const path = resolve(options.path);
  const size = (
    await stat(path).catch((error: unknown) => {
      throw new CibleError('CIBLE_ERR_CLI_USAGE', `Cannot read ${path}.`, { cause: error, field: 'file' });
    })
  ).size;
  const format = formatOf(path);
  const stream = createReadStream(path);
  const bar =
    options.progress === 'bar'
      ? new SingleBar(
          { format: ' {bar} {percentage}% | {value}/{total} bytes | {events} events' },
          Presets.shades_classic,
        )
      : undefined;
  bar?.start(size, 0, { events: 0 });

  const rejected: RejectedLine[] = [];
  let accepted = 0;
  let duplicates = 0;
  let lines = 0;
  const inFlight = new Set<Promise<void>>();
  const concurrency = options.concurrency ?? 4;
  let batch: Row[] = [];
  let batchBytes = 0;

  const send = async (rows: Row[]): Promise<void> => {
    const result = await postBatch(
      options,
      rows.map((row) => row.event),
    );
    accepted += result.accepted;
    duplicates += result.duplicates;
    for (const item of result.rejected) {
      const row = rows[item.index];
      if (row !== undefined) {
        rejected.push({
          line: row.line,
          code: item.code,
          reason: item.reason,
          field: item.field,
          record: row.text,
        });
      }
    }
    bar?.update(stream.bytesRead, { events: accepted });
  };
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const rows = batch;
    batch = [];
    batchBytes = 0;
    const promise = send(rows).finally(() => inFlight.delete(promise));
    inFlight.add(promise);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  };

  for await (const row of readRows(stream, format, options.defaultType)) {
    lines = row.line;
    if (row.event instanceof CibleError) {
      rejected.push({
        line: row.line,
        code: row.event.code,
        reason: row.event.message,
        field: row.event.field ?? null,
        record: row.text,
      });
      continue;
    }
    batch.push(row);
    batchBytes += row.text.length + 64;
    // Stay well under the 500 KB a batch request may weigh.
    if (batch.length >= options.batchSize || batchBytes >= 400_000) await flush();
  }
  await flush();
  await Promise.all(inFlight);
  bar?.update(size, { events: accepted });
  bar?.stop();

  rejected.sort((a, b) => a.line - b.line);
  let rejectedFile: string | null = null;
  if (rejected.length > 0) {
    rejectedFile = resolve(`${basename(path, extname(path))}.rejected.ndjson`);
    await writeFile(rejectedFile, rejected.map((line) => JSON.stringify(line)).join('\n') + '\n');
  }
  return { lines, accepted, duplicates, rejected, rejectedFile };
}

function formatOf(path: string): 'ndjson' | 'csv' {
  const extension = extname(path).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.ndjson' || extension === '.jsonl' || extension === '.json') return 'ndjson';
  throw new CibleError(
    'CIBLE_ERR_CLI_USAGE',
    `Cannot tell the format of ${path}: name it .ndjson, .jsonl or .csv.`,
    {
      field: 'file',
    },
  );
}

async function* readRows(
  stream: NodeJS.ReadableStream,
  format: 'ndjson' | 'csv',
  defaultType: string | undefined,
): AsyncGenerator<{ line: number; event: unknown; text: string }> {
  if (format === 'ndjson') {
    let line = 0;
    for await (const text of createInterface({ input: stream, crlfDelay: Infinity })) {
      line++;
      if (text.trim() === '') continue;
      let event: unknown;
      try {
        event = JSON.parse(text);
      } catch (error) {
        yield {
          line,
          event: new CibleError(
            'CIBLE_ERR_TRACKING_INVALID_JSON',
            `Line is not valid JSON: ${(error as Error).message}.`,
          ),
          text,
        };
        continue;
      }
      yield { line, event: withMessageId(event, line, text), text };
    }
    return;
  }
  const parser = stream.pipe(
    parse({ columns: true, skip_empty_lines: true, trim: true, info: true, bom: true }),
  );
  for await (const record of parser as AsyncIterable<{
    record: Record<string, string>;
    info: { lines: number; raw?: string };
  }>) {
    const text = JSON.stringify(record.record);
    yield {
      line: record.info.lines,
      event: withMessageId(fromCsv(record.record, defaultType), record.info.lines, text),
      text,
    };
  }
}

/** One CSV row as a Segment event. */
export function fromCsv(
  row: Record<string, string>,
  defaultType: string | undefined,
): Record<string, unknown> {
  const type =
    row.type !== undefined && row.type !== ''
      ? row.type
      : (defaultType ?? ('event' in row ? 'track' : 'identify'));
  const event: Record<string, unknown> = { type };
  const bag = type === 'identify' || type === 'group' ? 'traits' : 'properties';
  for (const [column, raw] of Object.entries(row)) {
    if (raw === '' || column === 'type') continue;
    if (scalarEventFields.has(column)) {
      event[column] = raw;
      continue;
    }
    const path = column.includes('.') ? column.split('.') : [bag, column];
    let target = event;
    for (const key of path.slice(0, -1)) {
      const next = target[key];
      target = (typeof next === 'object' && next !== null ? next : (target[key] = {})) as Record<
        string,
        unknown
      >;
    }
    target[path.at(-1)!] = cast(raw);
  }
  return event;
}

/** Numbers become numbers, except those a leading zero marks as codes (postcodes, phone numbers). */
function cast(raw: string): unknown {
  if (/^-?(0|[1-9]\d{0,14})(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  return raw;
}

function withMessageId(event: unknown, line: number, text: string): unknown {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return event;
  const record = event as Record<string, unknown>;
  if (record.messageId !== undefined) return record;
  const digest = createHash('sha256').update(`${line}\n${text}`).digest('base64url').slice(0, 32);
  return { ...record, messageId: `import-${digest}` };
}

async function postBatch(
  options: ImportOptions,
  events: unknown[],
): Promise<{ accepted: number; duplicates: number; rejected: RejectedItem[] }> {
  // No sentAt: the file's timestamps are history, not a client clock to correct.
  const body = JSON.stringify({ batch: events });
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await fetch(`${options.serverUrl}/v1/batch`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from(`${options.writeKey}:`).toString('base64')}`,
        },
        body,
      });
    } catch (error) {
      if (attempt < 5) {
        await sleep(200 * 2 ** attempt);
        continue;
      }
      throw new CibleError('CIBLE_ERR_CLI_SERVER_UNREACHABLE', `No Cible answers at ${options.serverUrl}.`, {
        cause: error,
      });
    }
    const json = await response.json();
    if (response.ok) return json as { accepted: number; duplicates: number; rejected: RejectedItem[] };
    if ((response.status === 429 || response.status >= 500) && attempt < 10) {
      const retryAfter = Number(response.headers.get('retry-after') ?? '1');
      await sleep(Math.min(30, Number.isFinite(retryAfter) ? retryAfter : 1) * 1000);
      continue;
    }
    throw errorFrom(json, response.status);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
