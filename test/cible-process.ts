import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { serverNodeFlags } from '../src/cli/node-flags.ts';

export const repoRoot = join(import.meta.dirname, '..');

export interface CibleProcess {
  readonly url: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<number | null>;
  /** SIGTERM lets the server commit what it holds and close the store (SIGKILL after a minute). */
  stop(): Promise<void>;
}

export interface SpawnCibleOptions {
  readonly dataDir: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Flags for node itself, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
  /** Lines the server prints besides the listening line (default: dropped). */
  readonly onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
}

/** Cible as a real server process (`cible serve --port 0`), as users run it; resolves once it listens. */
export async function spawnCibleProcess(options: SpawnCibleOptions): Promise<CibleProcess> {
  const child = spawn(
    process.execPath,
    [
      ...serverNodeFlags,
      ...(options.nodeFlags ?? []),
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
      '--port',
      '0',
      '--data-dir',
      options.dataDir,
      '--log-level',
      'warn',
    ],
    { cwd: repoRoot, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  createInterface({ input: child.stderr }).on('line', (line) => {
    stderr += `${line}\n`;
    options.onOutput?.(line, 'stderr');
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error('Cible did not start within 60 s.')), 60_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('Cible listening on ')) {
        clearTimeout(timeout);
        resolve(line.slice('Cible listening on '.length).trim());
      } else {
        options.onOutput?.(line, 'stdout');
      }
    });
    void exited.then((code) => {
      clearTimeout(timeout);
      reject(new Error(`Cible exited with code ${code} before listening:\n${stderr}`));
    });
  });
  if (child.pid === undefined) throw new Error('The Cible process has no pid.');
  return {
    url,
    child,
    pid: child.pid,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
