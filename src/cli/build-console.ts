import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import react from '@vitejs/plugin-react';
import type { InlineConfig } from 'vite';

import { consoleDist } from '../api/console.ts';

export const webRoot = join(import.meta.dirname, '../../web');
const stampFile = join(consoleDist, '.source-hash');

/** The one Vite configuration of the console, for the production build and the development server. */
export function consoleViteConfig(
  options: { readonly apiUrl?: string; readonly outDir?: string } = {},
): InlineConfig {
  return {
    configFile: false,
    root: webRoot,
    base: '/',
    logLevel: 'warn',
    plugins: [react()],
    build: {
      outDir: options.outDir ?? consoleDist,
      emptyOutDir: true,
      sourcemap: false,
      chunkSizeWarningLimit: 1200,
    },
    ...(options.apiUrl === undefined
      ? {}
      : {
          server: {
            proxy: { '/api': { target: options.apiUrl, changeOrigin: false } },
          },
        }),
  };
}

/** A hash of everything the build reads, so a start after a pull rebuilds and a plain restart does not. */
export function consoleSourceHash(): string {
  const hash = createHash('sha256');
  // Modules the console shares with the server (e.g. the segment language's words) count too.
  const shared = new Set<string>();
  const visit = (path: string): void => {
    const entries = readdirSync(path).sort();
    for (const entry of entries) {
      const full = join(path, entry);
      if (full === consoleDist) continue;
      if (statSync(full).isDirectory()) {
        visit(full);
        continue;
      }
      const content = readFileSync(full);
      hash.update(relative(webRoot, full)).update('\0').update(content).update('\0');
      if (!/\.tsx?$/.test(entry)) continue;
      for (const [, target] of content.toString('utf8').matchAll(/from '(\.\.\/[^']+)'/g)) {
        const resolved = resolve(dirname(full), target!);
        if (relative(webRoot, resolved).startsWith('..')) shared.add(resolved);
      }
    }
  };
  visit(webRoot);
  for (const file of [...shared].sort())
    hash.update(file).update('\0').update(readFileSync(file)).update('\0');
  hash.update(readFileSync(import.meta.filename));
  return hash.digest('hex');
}

export function consoleBuildIsCurrent(): boolean {
  return existsSync(stampFile) && readFileSync(stampFile, 'utf8') === consoleSourceHash();
}

/** Builds the console into web/dist unless the build there is of the current sources. */
export async function buildConsole(options: { readonly force?: boolean } = {}): Promise<'built' | 'current'> {
  if (options.force !== true && consoleBuildIsCurrent()) return 'current';
  const { build } = await import('vite');
  await build(consoleViteConfig());
  writeFileSync(stampFile, consoleSourceHash());
  return 'built';
}

/** A production build of the current sources into a directory of its own (tests serve it with CIBLE_CONSOLE_DIR). */
export async function buildConsoleInto(outDir: string): Promise<void> {
  const { build } = await import('vite');
  await build(consoleViteConfig({ outDir }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  if (args.includes('--dev')) {
    const { createServer } = await import('vite');
    const apiUrl = args[args.indexOf('--dev') + 1] ?? 'http://localhost:3000';
    const server = await createServer(consoleViteConfig({ apiUrl }));
    await server.listen();
    server.printUrls();
  } else {
    const started = performance.now();
    const outcome = await buildConsole({ force: args.includes('--force') });
    console.log(
      outcome === 'built'
        ? `Console built into web/dist in ${((performance.now() - started) / 1000).toFixed(1)} s.`
        : 'Console build is current.',
    );
  }
}
