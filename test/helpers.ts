import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, spawnCibleProcess, type CibleProcess } from './cible-process.ts';
import { loadConfig } from '../src/config/config.ts';
import { startCible, type RunningCible } from '../src/main.ts';

export const adminToken = 'test-admin-token-0123456789abcdef';
export { repoRoot, type CibleProcess };

/** A fresh directory for one test's data; the name says "test" so helpers never wipe anything else. */
export async function testDataDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'cible-test-'));
}

export async function removeTestDir(dir: string): Promise<void> {
  if (!dir.includes('cible-test-')) throw new Error(`Refusing to remove ${dir}: not a test directory`);
  await rm(dir, { recursive: true, force: true });
}

export interface TestCible extends RunningCible {
  readonly dataDir: string;
  /** Creates a source and returns its write key. */
  createSource(name?: string): Promise<string>;
  /** POST /v1/batch with the write key; throws unless it answers 200. */
  sendBatch(
    writeKey: string,
    batch: Record<string, unknown>[],
  ): Promise<{ accepted: number; rejected: unknown[] }>;
  /** GET on the admin API, with the token. */
  admin<T = unknown>(path: string): Promise<T>;
  close(): Promise<void>;
}

/** Cible in this process, on a free port and a temp data dir, with a known admin token. */
export async function startTestCible(
  env: Record<string, string> = {},
  dataDir?: string,
  options: { segmentClock?: () => number } = {},
): Promise<TestCible> {
  const dir = dataDir ?? (await testDataDir());
  const config = loadConfig({
    argv: ['--port', '0', '--data-dir', dir, '--log-level', 'silent'],
    env: { CIBLE_ADMIN_TOKEN: adminToken, ...env },
  });
  const cible = await startCible(config, { print: () => undefined, ...options });
  return {
    ...cible,
    dataDir: dir,
    async createSource(name = 'test') {
      const response = await cible.app.inject({
        method: 'POST',
        url: '/api/sources',
        headers: { authorization: `Bearer ${adminToken}` },
        payload: { name },
      });
      return response.json<{ writeKey: string }>().writeKey;
    },
    async sendBatch(writeKey, batch) {
      const response = await cible.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
        payload: JSON.stringify({ batch }),
      });
      if (response.statusCode !== 200)
        throw new Error(`POST /v1/batch: ${response.statusCode} ${response.body}`);
      return response.json<{ accepted: number; rejected: unknown[] }>();
    },
    async admin<T>(path: string) {
      const response = await cible.app.inject({
        method: 'GET',
        url: path,
        headers: { authorization: `Bearer ${adminToken}` },
      });
      if (response.statusCode !== 200)
        throw new Error(`GET ${path}: ${response.statusCode} ${response.body}`);
      return response.json<T>();
    },
    async close() {
      await cible.stop();
      if (dataDir === undefined) await removeTestDir(dir);
    },
  };
}

export function basic(writeKey: string): string {
  return `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
}

/** Cible as a real server process (`cible serve`), with the test admin token. */
export function spawnCible(dataDir: string, env: Record<string, string> = {}): Promise<CibleProcess> {
  return spawnCibleProcess({ dataDir, env: { CIBLE_ADMIN_TOKEN: adminToken, ...env } });
}

export async function adminGet<T>(url: string, path: string): Promise<T> {
  const response = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${adminToken}` } });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

export async function createSourceOver(url: string, name = 'test'): Promise<string> {
  const response = await fetch(`${url}/api/sources`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  if (response.status !== 201)
    throw new Error(`POST /api/sources: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { writeKey: string }).writeKey;
}
