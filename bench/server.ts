/** A real Cible process for the benchmarks, the admin calls they make, and its memory and CPU. */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawnCibleProcess } from '../test/cible-process.ts';

export interface BenchServer {
  readonly pid: number;
  readonly url: string;
  readonly token: string;
  stop(): Promise<void>;
}

export interface StartServerOptions {
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  /** Sees every line the server prints besides the listening line (they are echoed too). */
  readonly onLine?: (line: string) => void;
}

/** `cible serve` on the data directory, with a fresh admin token; resolves once it listens. */
export async function startServer(dataDir: string, options: StartServerOptions = {}): Promise<BenchServer> {
  const token = process.env.CIBLE_BENCH_ADMIN_TOKEN ?? randomBytes(16).toString('hex');
  const cible = await spawnCibleProcess({
    dataDir,
    nodeFlags: options.nodeFlags ?? [],
    env: { CIBLE_ADMIN_TOKEN: token },
    onOutput: (line, stream) => {
      options.onLine?.(line);
      (stream === 'stderr' ? console.error : console.log)(`[server] ${line}`);
    },
  });
  return { pid: cible.pid, url: cible.url, token, stop: () => cible.stop() };
}

/** Creates a source; resolves with its write key. */
export async function createSource(server: BenchServer, name = 'bench'): Promise<string> {
  const response = await fetch(`${server.url}/api/sources`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (response.status !== 201)
    throw new Error(`POST /api/sources answered ${response.status}: ${await response.text()}`);
  return ((await response.json()) as { writeKey: string }).writeKey;
}

/** The write key of the first source the server knows. */
export async function firstWriteKey(server: BenchServer): Promise<string> {
  const response = await fetch(`${server.url}/api/sources`, {
    headers: { authorization: `Bearer ${server.token}` },
  });
  if (response.status !== 200)
    throw new Error(`GET /api/sources answered ${response.status}: ${await response.text()}`);
  const { sources } = (await response.json()) as { sources: { writeKey: string }[] };
  if (sources[0] === undefined) throw new Error('The server has no source.');
  return sources[0].writeKey;
}

export interface Stats {
  readonly events: number;
  /** People (profiles not merged into another) and identifiers in the identity graph. */
  readonly profiles: number;
  readonly identifiers: number;
  /** Commits and events accepted so far, from the pipeline's counters. */
  readonly commits: number;
  /** Writes of committed batches to the store (several batches each when the store is behind). */
  readonly storeWrites: number;
  readonly accepted: number;
  /** Profile documents stored, and whether some people may still lack one. */
  readonly documents: number;
  readonly buildingDocuments: boolean;
  /** The server's memory by owner, in MB (what `/api/stats` reports), when it reports it. */
  readonly memoryMb?: MemoryMb;
}

export interface MemoryMb {
  readonly rss: number;
  readonly heapUsed: number;
  /** The V8 heap as committed: what it uses and its free room (the young generation's above all). */
  readonly heapTotal: number;
  /** Buffers and typed arrays outside the JavaScript heap (the de-duplication set...). */
  readonly arrayBuffers: number;
  /** What DuckDB's buffer manager holds, and its limit. */
  readonly store: number;
  readonly storeLimit: number;
  readonly dedupeMessages: number;
}

export async function stats(server: BenchServer): Promise<Stats> {
  const get = () =>
    fetch(`${server.url}/api/stats`, { headers: { authorization: `Bearer ${server.token}` } });
  let response = await get();
  // 503: the store has not loaded every acknowledged event within the server's 10 s; it will.
  while (response.status === 503) {
    await response.body?.cancel();
    response = await get();
  }
  if (response.status !== 200)
    throw new Error(`GET /api/stats answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as {
    events: number;
    profiles?: number;
    identifiers?: number;
    ingest?: { commits?: number; storeWrites?: number; accepted?: number; dedupeWindowMessages?: number };
    profileDocuments?: { documents: number; building: boolean };
    memory?: {
      rssBytes: number;
      heapUsedBytes: number;
      heapTotalBytes: number;
      arrayBuffersBytes: number;
      store: { usedBytes: number; limitBytes: number };
    };
  };
  const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
  return {
    events: body.events,
    profiles: body.profiles ?? 0,
    identifiers: body.identifiers ?? 0,
    commits: body.ingest?.commits ?? 0,
    storeWrites: body.ingest?.storeWrites ?? 0,
    accepted: body.ingest?.accepted ?? 0,
    documents: body.profileDocuments?.documents ?? 0,
    buildingDocuments: body.profileDocuments?.building ?? false,
    ...(body.memory === undefined
      ? {}
      : {
          memoryMb: {
            rss: mb(body.memory.rssBytes),
            heapUsed: mb(body.memory.heapUsedBytes),
            heapTotal: mb(body.memory.heapTotalBytes),
            arrayBuffers: mb(body.memory.arrayBuffersBytes),
            store: mb(body.memory.store.usedBytes),
            storeLimit: mb(body.memory.store.limitBytes),
            dedupeMessages: body.ingest?.dedupeWindowMessages ?? 0,
          },
        }),
  };
}

/** Samples a process's memory (VmRSS, and the kernel's high-water mark VmHWM) and CPU time from /proc. */
export class ProcessSampler {
  private peakKb = 0;
  private currentKb = 0;
  private readonly timer: NodeJS.Timeout;
  /** USER_HZ: the unit of the CPU times in /proc/<pid>/stat, 100 on Linux. */
  private readonly ticksPerSecond = 100;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), 200);
  }

  peakMb(): number {
    this.sample();
    return this.peakKb / 1024;
  }

  currentMb(): number {
    return this.currentKb / 1024;
  }

  /** Of the resident memory now, what maps files (LMDB's documents, code), in MB; the rest is anonymous. */
  fileBackedMb(): number {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = (field: string): number =>
        Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
      return (kb('RssFile') + kb('RssShmem')) / 1024;
    } catch {
      return 0;
    }
  }

  /** User plus system CPU time the process has used, in seconds. */
  cpuSeconds(): number {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // Fields after "pid (comm) ": state is the first, utime the 12th, stime the 13th.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / this.ticksPerSecond;
    } catch {
      return 0;
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    let status: string;
    try {
      status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return;
    }
    const kb = (field: string): number =>
      Number(new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    this.currentKb = kb('VmRSS');
    this.peakKb = Math.max(this.peakKb, kb('VmHWM'), this.currentKb);
  }
}
