import { mkdir, open, readdir, readFile, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { WriteBatch } from './store.ts';

/**
 * The ingest log: where a micro-batch becomes durable before it is acknowledged. Appending a
 * record and syncing the file takes about a millisecond whatever the store is doing; the store
 * (DuckDB) loads the batches behind it and records the last sequence number it holds, in the same
 * transaction. At start, batches the store does not hold yet are loaded again from the log; files
 * whose batches the store holds are deleted. So an acknowledged batch survives a crash, and a
 * store that pauses (DuckDB checkpoints stop every writer for about half a second) does not hold
 * acknowledgements back.
 */
export interface IngestLog {
  /** Appends one batch; resolves with its sequence number once it is synced to disk. */
  append(batch: WriteBatch): Promise<number>;
  /** The store holds every batch up to `seq`: log files with nothing newer are deleted. */
  release(seq: number): Promise<void>;
  /**
   * Calls `apply` for each batch after `afterSeq`, oldest first (recovery at start); resolves
   * with the number of batches applied. A record cut short by a crash ends the log there.
   */
  replay(afterSeq: number, apply: (seq: number, batch: WriteBatch) => Promise<void>): Promise<number>;
  /**
   * Ends the file being written: the next batch starts a new one. The ended file can then go as
   * soon as the store holds its batches (`release`), instead of when it fills. Erasing a person
   * needs this: once the store holds (and has erased) every logged batch, rotating and releasing
   * leaves no file with the person's batches.
   */
  rotate(): Promise<void>;
  /** Bytes held in log files. */
  readonly bytes: number;
  close(): Promise<void>;
}

export interface FileLogOptions {
  readonly dir: string;
  /**
   * The last sequence number the store holds: numbering goes on after it even if the log files
   * were removed, so that a new batch is never taken for one the store already has.
   */
  readonly after: number;
  /** A new file is started once the current one holds this many bytes. */
  readonly segmentBytes?: number;
}

/** Each record: length of the payload (u32), crc32 of the payload (u32), sequence number (f64), payload (JSON). */
const headerBytes = 16;
const defaultSegmentBytes = 64 * 1024 * 1024;
const segmentPattern = /^(\d{16})\.log$/;

interface Segment {
  readonly firstSeq: number;
  readonly path: string;
  bytes: number;
}

export async function openFileLog(options: FileLogOptions): Promise<IngestLog> {
  const segmentBytes = options.segmentBytes ?? defaultSegmentBytes;
  await mkdir(options.dir, { recursive: true });
  const segments: Segment[] = [];
  for (const name of (await readdir(options.dir)).sort()) {
    const match = segmentPattern.exec(name);
    if (match === null) continue;
    segments.push({ firstSeq: Number(match[1]), path: join(options.dir, name), bytes: 0 });
  }
  for (const segment of segments) segment.bytes = (await stat(segment.path)).size;
  // Only the file written last can end in a record torn by a crash, or be empty (created just
  // before one): read it to find the last sequence number and cut the tear off; drop it if empty.
  let lastSeq = options.after;
  while (segments.length > 0) {
    const last = segments[segments.length - 1]!;
    let lastInFile = last.firstSeq - 1;
    await readSegment(last, (seq) => {
      lastInFile = seq;
    });
    if (last.bytes > 0) {
      lastSeq = Math.max(lastSeq, lastInFile);
      break;
    }
    await rm(last.path, { force: true });
    segments.pop();
  }

  let current: { segment: Segment; handle: FileHandle } | undefined;
  let appending: Promise<unknown> = Promise.resolve();
  let broken: Error | undefined;

  async function startSegment(firstSeq: number): Promise<{ segment: Segment; handle: FileHandle }> {
    const segment: Segment = {
      firstSeq,
      path: join(options.dir, `${String(firstSeq).padStart(16, '0')}.log`),
      bytes: 0,
    };
    const handle = await open(segment.path, 'w');
    segments.push(segment);
    return { segment, handle };
  }

  async function appendRecord(batch: WriteBatch): Promise<number> {
    if (broken !== undefined) throw broken;
    const seq = lastSeq + 1;
    if (current === undefined || current.segment.bytes >= segmentBytes) {
      await current?.handle.close();
      current = undefined;
      current = await startSegment(seq);
    }
    const record = encodeRecord(seq, batch);
    const { segment, handle } = current;
    try {
      await handle.write(record, 0, record.length, segment.bytes);
      await handle.datasync();
    } catch (error) {
      // Cut the partial record off, so that what follows does not sit behind garbage.
      try {
        await handle.truncate(segment.bytes);
      } catch (truncateError) {
        broken = new Error(`The ingest log ${segment.path} could not be repaired after a failed write`, {
          cause: truncateError,
        });
      }
      throw error;
    }
    segment.bytes += record.length;
    lastSeq = seq;
    return seq;
  }

  return {
    append(batch) {
      const result = appending.then(() => appendRecord(batch));
      appending = result.catch(() => undefined);
      return result;
    },
    rotate() {
      // In line with appends, so that none is half written into the file being ended.
      const result = appending.then(async () => {
        if (current === undefined) return;
        const { segment, handle } = current;
        current = undefined;
        await handle.close();
        // A file a failed write left empty would share its name with the next one: it goes.
        const index = segments.indexOf(segment);
        if (segment.bytes === 0 && index >= 0) {
          segments.splice(index, 1);
          await rm(segment.path, { force: true });
        }
      });
      appending = result.catch(() => undefined);
      return result;
    },
    async release(seq) {
      // A file can go when the next one starts at or before the first batch the store lacks.
      while (segments.length > 1 && segments[1]!.firstSeq <= seq + 1) {
        const [done] = segments.splice(0, 1);
        await rm(done!.path, { force: true });
      }
      if (segments.length === 1 && current === undefined && lastSeq <= seq) {
        const [done] = segments.splice(0, 1);
        await rm(done!.path, { force: true });
      }
    },
    async replay(afterSeq, apply) {
      let applied = 0;
      for (const segment of [...segments]) {
        const batches: { seq: number; batch: WriteBatch }[] = [];
        await readSegment(segment, (seq, payload) => {
          if (seq > afterSeq)
            batches.push({ seq, batch: JSON.parse(payload.toString('utf8')) as WriteBatch });
        });
        for (const { seq, batch } of batches) {
          await apply(seq, batch);
          applied++;
        }
      }
      return applied;
    },
    get bytes() {
      return segments.reduce((sum, segment) => sum + segment.bytes, 0);
    },
    async close() {
      await appending;
      await current?.handle.close();
      current = undefined;
    },
  };
}

function encodeRecord(seq: number, batch: WriteBatch): Buffer {
  const payload = Buffer.from(JSON.stringify(batch), 'utf8');
  const record = Buffer.allocUnsafe(headerBytes + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(crc32(payload), 4);
  record.writeDoubleLE(seq, 8);
  payload.copy(record, headerBytes);
  return record;
}

/**
 * Reads a segment's records in order. A record that is cut short or fails its checksum can only be
 * the last write before a crash (it was never acknowledged): the file is truncated there.
 */
async function readSegment(
  segment: Segment,
  onRecord: (seq: number, payload: Buffer) => void,
): Promise<void> {
  const data = await readFile(segment.path);
  let offset = 0;
  while (offset + headerBytes <= data.length) {
    const length = data.readUInt32LE(offset);
    const checksum = data.readUInt32LE(offset + 4);
    const seq = data.readDoubleLE(offset + 8);
    const end = offset + headerBytes + length;
    if (end > data.length) break;
    const payload = data.subarray(offset + headerBytes, end);
    if (crc32(payload) !== checksum) break;
    onRecord(seq, payload);
    offset = end;
  }
  if (offset < data.length) await truncate(segment.path, offset);
  segment.bytes = offset;
}

/** A log that keeps nothing: for stores that do not outlive the process (`:memory:`, tests). */
export function createMemoryLog(): IngestLog {
  let lastSeq = 0;
  return {
    append() {
      return Promise.resolve(++lastSeq);
    },
    release: () => Promise.resolve(),
    rotate: () => Promise.resolve(),
    replay: () => Promise.resolve(0),
    bytes: 0,
    close: () => Promise.resolve(),
  };
}
