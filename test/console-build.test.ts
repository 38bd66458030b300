import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { buildConsoleInto } from '../src/cli/build-console.ts';

// The console's first download: what index.html loads before anything is clicked.
const initialBudgetBytes = 400 * 1024;

let outDir: string;

before(async () => {
  outDir = await mkdtemp(join(tmpdir(), 'cible-console-build-test-'));
  await buildConsoleInto(outDir);
});

after(async () => {
  await rm(outDir, { recursive: true, force: true });
});

/** The scripts index.html loads at once: its module entry and the modules it preloads. */
export function initialScripts(html: string): string[] {
  const scripts = [...html.matchAll(/<script[^>]*\bsrc="([^"]+\.js)"/g)].map((match) => match[1]!);
  const preloads = [...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="([^"]+\.js)"/g)].map(
    (match) => match[1]!,
  );
  return [...new Set([...scripts, ...preloads])];
}

test('the initial JavaScript of the production build stays under 400 KB gzipped', async () => {
  const html = await readFile(join(outDir, 'index.html'), 'utf8');
  const scripts = initialScripts(html);
  assert.ok(scripts.length >= 1, 'index.html loads at least its entry script');
  let total = 0;
  for (const script of scripts) {
    total += gzipSync(await readFile(join(outDir, script))).length;
  }
  console.log(`initial JavaScript: ${scripts.length} files, ${(total / 1024).toFixed(1)} KB gzipped`);
  assert.ok(total < initialBudgetBytes, `initial JavaScript is ${(total / 1024).toFixed(1)} KB gzipped`);
});

test('the chart library is not part of the first download', async () => {
  const html = await readFile(join(outDir, 'index.html'), 'utf8');
  const scripts = initialScripts(html);
  assert.equal(
    scripts.some((script) => /\/echarts-[\w-]+\.js$/.test(script)),
    false,
    `the chart chunk is loaded at once: ${scripts.join(', ')}`,
  );
});
