import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApiClient, errorFrom, type SourceInfo } from '../cli/api-client.ts';
import { importWithMapping, type ImportJob } from '../cli/import-job.ts';
import { CibleError } from '../errors.ts';
import type { RejectedItem } from '../ingestion/outcomes.ts';
import {
  demoPassword,
  type DemoData,
  type DemoEvent,
  type DemoSourceKey,
  type DemoUser,
} from './demo-data.ts';

export type DemoStep =
  'sources' | 'events' | 'crm import' | 'bad payloads' | 'computed traits' | 'segments' | 'users' | 'commit';

/** How far loading has gone: `done` of `total` units (an event, a CSV row, a segment... is one). */
export interface DemoProgress {
  readonly step: DemoStep;
  readonly done: number;
  readonly total: number;
}

export interface DemoLoadReport {
  readonly sources: readonly SourceInfo[];
  /** What the tracking API answered for the demo's events. */
  readonly events: { readonly accepted: number; readonly duplicates: number; readonly rejected: number };
  readonly crmImport: ImportJob;
  /** Bad payloads Cible refused, whole or in part. */
  readonly refused: number;
  readonly computedTraits: readonly string[];
  readonly segments: readonly { readonly name: string; readonly size: number }[];
  readonly users: readonly DemoUser[];
  readonly password: string;
  /** GET /api/stats once everything is committed. */
  readonly stats: {
    readonly events: number;
    readonly profiles: number;
    /** Quarantined records waiting to be replayed. */
    readonly quarantine: number;
  };
}

// Under the tracking API's 500 KB per request, with room for the envelope.
const maxBatchEvents = 500;
const maxBatchBytes = 480_000;
const concurrency = 4;

/**
 * Feeds the demo data to a running Cible through its public HTTP API, as real clients would:
 * creates the sources, sends each source's events with its write key (`/v1/batch`), imports the
 * CRM file as a job of the server, sends the bad payloads, defines computed traits and segments,
 * creates the console users, and returns once the store holds everything. Made for a fresh Cible:
 * segments, traits and users that exist already make it fail.
 */
export async function loadDemo(
  baseUrl: string,
  adminToken: string,
  data: DemoData,
  onProgress?: (progress: DemoProgress) => void,
): Promise<DemoLoadReport> {
  const url = baseUrl.replace(/\/+$/, '');
  const client = createApiClient(url, adminToken);
  const admin = adminCaller(url, adminToken);
  const total =
    data.sources.length +
    data.summary.events +
    data.crm.rows +
    data.badPayloads.length +
    data.computedTraits.length +
    data.segments.length +
    data.users.length +
    1;
  let done = 0;
  const advance = (step: DemoStep, units: number): void => {
    done += units;
    onProgress?.({ step, done, total });
  };
  onProgress?.({ step: 'sources', done, total });

  const sources = new Map<DemoSourceKey, SourceInfo>();
  for (const source of data.sources) {
    sources.set(source.key, await client.findOrCreateSource(source.name));
    advance('sources', 1);
  }
  const writeKey = (key: DemoSourceKey): string => sources.get(key)!.writeKey;

  const events = { accepted: 0, duplicates: 0, rejected: 0 };
  advance('events', 0);
  for (const source of data.sources) {
    await sendEvents(url, writeKey(source.key), source.events, (sent, answer) => {
      events.accepted += answer.accepted;
      events.duplicates += answer.duplicates;
      events.rejected += answer.rejected.length;
      advance('events', sent);
    });
  }

  advance('crm import', 0);
  const crmImport = await importCrm(url, adminToken, data, sources.get('crm')!.id);
  advance('crm import', data.crm.rows);

  let refused = 0;
  advance('bad payloads', 0);
  for (const payload of data.badPayloads) {
    if (await sendRaw(url, writeKey(payload.source), payload.path, payload.body)) refused++;
    advance('bad payloads', 1);
  }

  advance('computed traits', 0);
  for (const trait of data.computedTraits) {
    await admin('POST', '/api/computed-traits', trait);
    advance('computed traits', 1);
  }
  const segments: { name: string; size: number }[] = [];
  advance('segments', 0);
  for (const segment of data.segments) {
    const saved = await admin<{ size: number }>('POST', '/api/segments', segment);
    segments.push({ name: segment.name, size: saved.size });
    advance('segments', 1);
  }
  advance('users', 0);
  for (const user of data.users) {
    await client.createUser({ email: user.email, password: demoPassword, role: user.role });
    advance('users', 1);
  }

  advance('commit', 0);
  const stats = await committed(admin);
  advance('commit', 1);
  return {
    sources: [...sources.values()],
    events,
    crmImport,
    refused,
    computedTraits: data.computedTraits.map((trait) => trait.name),
    segments,
    users: data.users,
    password: demoPassword,
    stats,
  };
}

type AdminCall = <T = unknown>(method: string, path: string, body?: unknown) => Promise<T>;

function adminCaller(url: string, token: string): AdminCall {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await reach(url, `${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json: unknown = await response.json();
    if (!response.ok) throw errorFrom(json, response.status);
    return json as T;
  };
}

async function reach(url: string, target: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(target, init);
  } catch (error) {
    throw new CibleError('CIBLE_ERR_CLI_SERVER_UNREACHABLE', `No Cible answers at ${url}.`, { cause: error });
  }
}

interface BatchAnswer {
  readonly accepted: number;
  readonly duplicates: number;
  readonly rejected: readonly RejectedItem[];
}

/** A source's events in batches of at most 500 events and 480 KB, a few requests at a time. */
async function sendEvents(
  url: string,
  writeKey: string,
  events: readonly DemoEvent[],
  onAnswer: (sent: number, answer: BatchAnswer) => void,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  let failure: Error | undefined;
  const send = async (lines: string[]): Promise<void> => {
    const answer = await postBatch(url, writeKey, `{"batch":[${lines.join(',')}]}`);
    onAnswer(lines.length, answer);
  };
  const flush = async (lines: string[]): Promise<void> => {
    const promise = send(lines)
      .catch((error: unknown) => {
        failure ??= error instanceof Error ? error : new Error(String(error));
      })
      .finally(() => inFlight.delete(promise));
    inFlight.add(promise);
    if (inFlight.size >= concurrency) await Promise.race(inFlight);
  };

  let lines: string[] = [];
  let bytes = 0;
  for (const event of events) {
    if (failure !== undefined) break;
    const line = JSON.stringify(event);
    const size = Buffer.byteLength(line) + 1;
    if (lines.length >= maxBatchEvents || (lines.length > 0 && bytes + size > maxBatchBytes)) {
      await flush(lines);
      lines = [];
      bytes = 0;
    }
    lines.push(line);
    bytes += size;
  }
  if (lines.length > 0 && failure === undefined) await flush(lines);
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;
}

/** POST /v1/batch; waits and tries again while Cible is over capacity (429) or restarting. */
async function postBatch(url: string, writeKey: string, body: string): Promise<BatchAnswer> {
  for (let attempt = 0; ; attempt++) {
    const response = await reach(url, `${url}/v1/batch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(writeKey) },
      body,
    });
    const json: unknown = await response.json();
    if (response.ok) return json as BatchAnswer;
    if ((response.status === 429 || response.status >= 500) && attempt < 10) {
      const retryAfter = Number(response.headers.get('retry-after') ?? '1');
      await sleep(Math.min(30, Number.isFinite(retryAfter) ? retryAfter : 1) * 1000);
      continue;
    }
    throw errorFrom(json, response.status);
  }
}

/** Sends a request as is; true when Cible refused it or some of its events. */
async function sendRaw(url: string, writeKey: string, path: string, body: string): Promise<boolean> {
  const response = await reach(url, `${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: basic(writeKey) },
    body,
  });
  const json = (await response.json()) as Partial<BatchAnswer>;
  // A wrong write key would quarantine nothing: that is a bug of the demo, not of the payload.
  if (response.status === 401 || response.status === 403) throw errorFrom(json, response.status);
  return !response.ok || (json.rejected?.length ?? 0) > 0;
}

/**
 * The CRM export goes through `cible import`'s own client: the file and its mapping are written to
 * a temporary directory, uploaded, and the job followed until it ends.
 */
async function importCrm(url: string, token: string, data: DemoData, sourceId: string): Promise<ImportJob> {
  const dir = await mkdtemp(join(tmpdir(), 'cible-demo-'));
  const path = join(dir, data.crm.fileName);
  const mappingPath = join(dir, 'crm-customers.mapping.json');
  try {
    await writeFile(path, data.crm.csv);
    await writeFile(mappingPath, JSON.stringify(data.crm.mapping, null, 2));
    const report = await importWithMapping({
      path,
      mappingPath,
      serverUrl: url,
      token,
      sourceId,
      progress: 'none',
      pollMs: 100,
      // The console shows the rejected rows and offers them as a file.
      saveRejected: false,
    });
    return report.job;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Waits until every event Cible acknowledged is in the store, and returns the counts then. */
async function committed(admin: AdminCall): Promise<DemoLoadReport['stats']> {
  for (;;) {
    const stats = await admin<{
      events: number;
      profiles: number;
      quarantine: { pending: number };
      ingest: { pendingEvents: number };
    }>('GET', '/api/stats');
    if (stats.ingest.pendingEvents === 0) {
      return { events: stats.events, profiles: stats.profiles, quarantine: stats.quarantine.pending };
    }
    await sleep(100);
  }
}

function basic(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
