import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { serverNodeFlags } from './node-flags.ts';

test('npm start, npm run demo, npm run cible and the cible command run with the server flags', async () => {
  const root = new URL('../../', import.meta.url);
  const scripts = (
    JSON.parse(await readFile(new URL('package.json', root), 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts;
  const flags = serverNodeFlags.join(' ');
  for (const name of ['start', 'demo', 'cible']) {
    assert.ok(scripts[name]?.startsWith(`tsx ${flags} src/cli/main.ts`), `${name}: ${scripts[name]}`);
  }
  const bin = await readFile(new URL('bin/cible.js', root), 'utf8');
  assert.equal(bin.split('\n')[0], `#!/usr/bin/env -S node ${flags}`);
});
