import { stringify } from 'csv-stringify/sync';
import { strToU8, zipSync } from 'fflate';

/** One table of a person's export: a CSV file of the archive. */
export interface ExportTable {
  readonly name: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly unknown[])[];
}

/**
 * A person's data as a zip of CSV files, one per table, with `export.json` (the same data as one
 * JSON document) beside them: open formats a spreadsheet or a program reads without Cible.
 */
export function exportArchive(document: unknown, tables: readonly ExportTable[]): Uint8Array {
  const files: Record<string, Uint8Array> = {
    'export.json': strToU8(`${JSON.stringify(document, null, 2)}\n`),
  };
  for (const table of tables) {
    const csv = stringify(
      table.rows.map((row) => row.map(cell)),
      { header: true, columns: [...table.columns], bom: true },
    );
    files[`${table.name}.csv`] = strToU8(csv);
  }
  return zipSync(files, { level: 6 });
}

/** A CSV cell: text as is, numbers and booleans as written, objects and lists as JSON, nothing empty. */
function cell(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}
