/**
 * The physical limit the benchmarks compare the server with: the same DuckDB adapter, in the
 * benchmark's process, given ready-made StoredEvents (built by the pipeline's own functions from
 * the same JSON) in fixed batches. No HTTP, no JSON, no validation, no identity resolution.
 */
import type { StoredEvent } from '../src/domain/events.ts';
import { loadConfig } from '../src/config/config.ts';
import { isRejection } from '../src/ingestion/outcomes.ts';
import { toStoredEvent } from '../src/ingestion/to-stored-event.ts';
import { validateEvent } from '../src/ingestion/validate-event.ts';
import { createDuckdbStore } from '../src/store/duckdb/duckdb-store.ts';
import type { Workload } from './load-client.ts';
import { fmt, log } from './measure.ts';

export interface RawAppendsOptions {
  /** A fresh directory for the store. */
  readonly dataDir: string;
  readonly seconds: number;
  /** Events per writeBatch. */
  readonly batchSize: number;
  /** The events, as the load generator sends them. */
  readonly workload: Workload;
}

export interface RawResult {
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSec: number;
}

export async function rawAppends(options: RawAppendsOptions): Promise<RawResult> {
  const { seconds: rawSeconds, batchSize } = options;
  const config = loadConfig({ argv: [], env: process.env });
  const store = await createDuckdbStore({
    dataDir: options.dataDir,
    memoryLimit: config.store.memoryLimit,
    threads: config.store.threads,
  });
  try {
    // A pool of distinct events, built before the clock starts and cycled through.
    const poolBatches = Math.max(1, Math.ceil(50_000 / batchSize));
    const receivedAt = Date.now();
    const timestamp = new Date(receivedAt).toISOString();
    const batches: StoredEvent[][] = [];
    for (let b = 0, n = 0; b < poolBatches; b++) {
      const batch: StoredEvent[] = [];
      for (let i = 0; i < batchSize; i++, n++) {
        const valid = validateEvent(JSON.parse(options.workload.event(n, timestamp)));
        if (isRejection(valid)) throw new Error(`The benchmark's event is invalid: ${valid.message}`);
        const stored = toStoredEvent(
          { ...valid, sentAt: timestamp },
          { sourceId: 'src_bench', receivedAt, ip: '127.0.0.1', maxEventBytes: 32 * 1024 },
        );
        if (isRejection(stored)) throw new Error(`The benchmark's event is rejected: ${stored.message}`);
        batch.push(stored);
      }
      batches.push(batch);
    }
    log(`raw appends: writeBatch of ${batchSize} events for ${rawSeconds} s`);
    const started = performance.now();
    const deadline = started + rawSeconds * 1000;
    let events = 0;
    let nextReport = started + 5_000;
    for (let b = 0; performance.now() < deadline; b++) {
      const batch = batches[b % batches.length]!;
      await store.writeBatch({ events: batch, quarantine: [], replayedQuarantineIds: [] });
      events += batch.length;
      if (performance.now() >= nextReport) {
        log(`raw appends: ${((performance.now() - started) / 1000).toFixed(0)} s, ${fmt(events)} events`);
        nextReport += 5_000;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const stored = await store.countEvents();
    if (stored !== events)
      throw new Error(`Raw appends: wrote ${events} events but the store holds ${stored}.`);
    log(
      `raw appends: done, ${fmt(events)} events in ${seconds.toFixed(1)} s = ${fmt(events / seconds)} events/s`,
    );
    return { events, seconds, eventsPerSec: events / seconds };
  } finally {
    await store.close();
  }
}
