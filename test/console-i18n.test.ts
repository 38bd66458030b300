import assert from 'node:assert/strict';
import { test } from 'node:test';
import { namespaces } from '../web/src/namespaces.ts';

const placeholders = (text: string) =>
  [...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((match) => match[1]).sort();

test('every string of the console is translated, with the same placeholders', () => {
  for (const [namespace, messages] of Object.entries(namespaces)) {
    const en = messages.en as Record<string, string>;
    const fr = messages.fr as Record<string, string>;
    assert.deepEqual(Object.keys(fr).sort(), Object.keys(en).sort(), `${namespace}: the same keys`);
    for (const [key, english] of Object.entries(en)) {
      const french = fr[key]!;
      assert.notEqual(french.trim(), '', `${namespace}.${key} is empty in French`);
      assert.deepEqual(
        placeholders(french),
        placeholders(english),
        `${namespace}.${key}: placeholders differ`,
      );
    }
  }
});

test('plural forms come in pairs', () => {
  for (const [namespace, messages] of Object.entries(namespaces)) {
    const keys = new Set(Object.keys(messages.en));
    for (const key of keys) {
      if (key.endsWith('_one'))
        assert.ok(keys.has(`${key.slice(0, -4)}_other`), `${namespace}.${key} has no _other`);
    }
  }
});
