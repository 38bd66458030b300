import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { strFromU8, unzipSync } from 'fflate';
import { exportArchive } from './export-archive.ts';

test('the archive holds export.json and one CSV per table, readable back', () => {
  const archive = exportArchive({ id: 7, traits: { city: 'Zürich' } }, [
    {
      name: 'events',
      columns: ['timestamp', 'event', 'properties'],
      rows: [
        ['2026-01-02T03:04:05.000Z', 'Order Completed', { revenue: 12.5, note: 'a, "b"\nc' }],
        ['2026-01-03T00:00:00.000Z', null, null],
      ],
    },
    { name: 'identifiers', columns: ['type', 'value'], rows: [] },
  ]);
  const files = unzipSync(archive);
  assert.deepEqual(Object.keys(files).sort(), ['events.csv', 'export.json', 'identifiers.csv']);
  assert.deepEqual(JSON.parse(strFromU8(files['export.json']!)), { id: 7, traits: { city: 'Zürich' } });
  const events = parse<Record<string, string>>(strFromU8(files['events.csv']!), { columns: true, bom: true });
  assert.deepEqual(events, [
    {
      timestamp: '2026-01-02T03:04:05.000Z',
      event: 'Order Completed',
      properties: '{"revenue":12.5,"note":"a, \\"b\\"\\nc"}',
    },
    { timestamp: '2026-01-03T00:00:00.000Z', event: '', properties: '' },
  ]);
  assert.equal(strFromU8(files['identifiers.csv']!).replace('\ufeff', ''), 'type,value\n');
});
