import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { errorCatalogue } from '../src/errors.ts';
import { repoRoot } from './helpers.ts';

test('docs/errors.md lists exactly the codes of the catalogue, with their status', async () => {
  const doc = await readFile(join(repoRoot, 'docs/errors.md'), 'utf8');
  const documented = new Map(
    [...doc.matchAll(/^\|\s*`(CIBLE_ERR_[A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((match) => [
      match[1]!,
      Number(match[2]),
    ]),
  );
  const catalogued = new Map(Object.entries(errorCatalogue).map(([code, entry]) => [code, entry.status]));
  assert.deepEqual(documented, catalogued);
});
