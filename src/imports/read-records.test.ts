import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { defaultIdentifierRules } from '../domain/identifiers.ts';
import { compileMapping, type ImportMapping } from './mapping.ts';
import { readRecords, recordText } from './read-records.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cible-test-read-records-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function read(name: string, content: string, mapping: ImportMapping) {
  const path = join(dir, name);
  await writeFile(path, content);
  const compiled = compileMapping(mapping, { fileName: name, identifierRules: defaultIdentifierRules });
  assert.ok(compiled.ok);
  const reader = readRecords(path, compiled.mapping);
  const records: { line: number; cells: readonly unknown[]; problem: string | undefined; text: string }[] =
    [];
  for await (const batch of reader.batches()) {
    for (const record of batch) {
      records.push({
        line: record.line,
        cells: record.cells,
        problem: record.malformed?.reason,
        text: recordText(record, compiled.mapping),
      });
    }
  }
  return { records: records.sort((a, b) => a.line - b.line), header: reader.header };
}

const mapping: ImportMapping = {
  kind: 'customers',
  columns: { mail: { identifier: 'email' }, name: { trait: 'name' } },
};

test('csv without quotes and csv with them give the same records, lines and header', async () => {
  const lines = ['\ufeffid,name,mail', '1,Ann,ann@example.com', '', '2,Bob', '3,Cid,cid@example.com', ''];
  const plain = await read('plain.csv', lines.join('\r\n'), mapping);
  assert.equal(plain.header, 'id,name,mail');
  assert.deepEqual(plain.records, [
    { line: 2, cells: ['ann@example.com', 'Ann'], problem: undefined, text: '1,Ann,ann@example.com' },
    { line: 4, cells: [], problem: 'The line has 2 fields where the header has 3.', text: '2,Bob' },
    { line: 5, cells: ['cid@example.com', 'Cid'], problem: undefined, text: '3,Cid,cid@example.com' },
  ]);
  const quoted = await read(
    'quoted.csv',
    [...lines.slice(0, 5), '4,"Dee, the ""one""",dee@example.com'].join('\r\n'),
    mapping,
  );
  assert.deepEqual(quoted.records.slice(0, 3), plain.records);
  assert.deepEqual(quoted.records[3], {
    line: 6,
    cells: ['dee@example.com', 'Dee, the "one"'],
    problem: undefined,
    text: '4,"Dee, the ""one""",dee@example.com',
  });
});

test('ndjson records are read by dotted path', async () => {
  const { records } = await read(
    'people.ndjson',
    ['{"customer": {"mail": "a@example.com"}, "name": "Ann"}', 'not json', ''].join('\n'),
    { kind: 'customers', columns: { 'customer.mail': { identifier: 'email' }, name: { trait: 'name' } } },
  );
  assert.deepEqual(
    records.map(({ line, cells, problem }) => ({ line, cells, problem: problem?.slice(0, 27) })),
    [
      { line: 1, cells: ['a@example.com', 'Ann'], problem: undefined },
      { line: 2, cells: [], problem: 'The line is not valid JSON:' },
    ],
  );
});
