/**
 * The load generator the benchmarks share: batches of events sent to `POST /v1/batch` by
 * concurrent keep-alive clients, each sending its next batch as soon as the previous one is
 * acknowledged (closed loop). What the events are is the benchmark's: a `Workload`.
 */
import { Agent, request } from 'node:http';
import { fmt, log, sleep } from './measure.ts';
import type { ProcessSampler } from './server.ts';

/** The events a benchmark sends. */
export interface Workload {
  /** The JSON of the run's n-th event (n counts up from 0, each n asked for once). */
  event(n: number, timestamp: string): string;
  /** The events n = first ... first + size - 1 are committed (answered 200). */
  acknowledged?(first: number, size: number): void;
}

export interface Batch {
  readonly body: string;
  /** n of the batch's first event, and how many it holds. */
  readonly first: number;
  readonly size: number;
}

export interface Answer {
  readonly status: number;
  readonly text: string;
}

export class LoadClient {
  /** Events acknowledged with 200 and counted in `accepted`. */
  acknowledged = 0;
  /** 429 answers, each followed by a retry of the same body. */
  overloaded = 0;
  /** 200 answers that did not accept every event (duplicates or rejections): none are expected. */
  anomalies = 0;
  private next = 0;
  private eventChars = 0;
  private readonly host: string;
  private readonly port: number;
  private readonly authorization: string;

  constructor(
    url: string,
    writeKey: string,
    private readonly workload: Workload,
  ) {
    const parsed = new URL(url);
    this.host = parsed.hostname;
    this.port = Number(parsed.port);
    this.authorization = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  }

  /** Average size of the events built so far, in bytes (they are ASCII). */
  get eventBytes(): number {
    return this.next === 0 ? 0 : Math.round(this.eventChars / this.next);
  }

  /** A batch body of `size` events, each with a messageId never sent before. */
  batchBody(size: number): Batch {
    const timestamp = new Date().toISOString();
    const first = this.next;
    let body = '{"batch":[';
    for (let i = 0; i < size; i++) {
      if (i > 0) body += ',';
      const event = this.workload.event(this.next++, timestamp);
      this.eventChars += event.length;
      body += event;
    }
    return { body: `${body}],"sentAt":"${timestamp}"}`, first, size };
  }

  /** Sends a batch until it is acknowledged; 429 is retried after a short pause. Returns the events accepted. */
  async sendBatch(agent: Agent, batch: Batch): Promise<number> {
    for (;;) {
      const answer = await this.post(agent, '/v1/batch', batch.body);
      if (answer.status === 429) {
        this.overloaded++;
        await sleep(20);
        continue;
      }
      if (answer.status !== 200)
        throw new Error(`POST /v1/batch answered ${answer.status}: ${answer.text.slice(0, 500)}`);
      const parsed = JSON.parse(answer.text) as { accepted: number; duplicates: number; rejected: unknown[] };
      if (parsed.accepted !== batch.size || parsed.duplicates !== 0 || parsed.rejected.length !== 0) {
        this.anomalies++;
        log(`!!! unexpected answer: ${answer.text.slice(0, 500)}`);
      }
      this.acknowledged += parsed.accepted;
      this.workload.acknowledged?.(batch.first, batch.size);
      return parsed.accepted;
    }
  }

  private post(agent: Agent, path: string, body: string): Promise<Answer> {
    return httpRequest(agent, {
      host: this.host,
      port: this.port,
      path,
      method: 'POST',
      headers: {
        authorization: this.authorization,
        'content-type': 'application/json',
        // The bodies are ASCII: one byte a character.
        'content-length': body.length,
      },
      body,
    });
  }
}

export interface HttpRequest {
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Readonly<Record<string, string | number>>;
  readonly body?: string;
}

/** One request on a keep-alive agent; resolves with the whole answer. */
export function httpRequest(agent: Agent, options: HttpRequest): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: options.host,
        port: options.port,
        path: options.path,
        method: options.method,
        headers: options.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface SaturationPhase {
  readonly label: string;
  readonly seconds: number;
  readonly concurrency: number;
  readonly batchSize: number;
  /** Stops the phase early once it returns true. */
  readonly until?: () => boolean;
}

export interface SaturationResult {
  readonly events: number;
  readonly requests: number;
  readonly seconds: number;
  readonly eventsPerSec: number;
  readonly avgAckMs: number;
}

/** Closed loop: each client sends its next batch as soon as the previous one is acknowledged. */
export async function saturate(
  client: LoadClient,
  sampler: ProcessSampler,
  phase: SaturationPhase,
): Promise<SaturationResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: phase.concurrency });
  const started = performance.now();
  const deadline = started + phase.seconds * 1000;
  let events = 0;
  let requests = 0;
  let ackMs = 0;
  let last = { at: started, events: 0 };
  const progress = setInterval(
    () => {
      const now = performance.now();
      const rate = ((events - last.events) * 1000) / (now - last.at);
      last = { at: now, events };
      log(
        `${phase.label}: ${((now - started) / 1000).toFixed(0)} s, ${fmt(events)} events (${fmt(rate)}/s), ` +
          `${fmt(client.acknowledged)} in all, server RSS ${sampler.currentMb().toFixed(0)} MB`,
      );
    },
    phase.label === 'soak' ? 10_000 : 5_000,
  );
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline && phase.until?.() !== true) {
      const batch = client.batchBody(phase.batchSize);
      const sent = performance.now();
      // Not `events += await ...`: that would read `events` before the await and lose other clients' counts.
      const accepted = await client.sendBatch(agent, batch);
      events += accepted;
      ackMs += performance.now() - sent;
      requests++;
    }
  };
  try {
    await Promise.all(Array.from({ length: phase.concurrency }, worker));
  } finally {
    clearInterval(progress);
    agent.destroy();
  }
  const seconds = (performance.now() - started) / 1000;
  log(
    `${phase.label}: done, ${fmt(events)} events in ${seconds.toFixed(1)} s = ${fmt(events / seconds)} events/s`,
  );
  return {
    events,
    requests,
    seconds,
    eventsPerSec: events / seconds,
    avgAckMs: ackMs / Math.max(1, requests),
  };
}
