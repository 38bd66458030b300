import { Type, type Static } from 'typebox';
import { standardPurposes } from '../domain/consent.ts';
import { knownIdentifierTypes, type IdentifierRules } from '../domain/identifiers.ts';
import { compileDateFormat, isTimeZone, type DateParser } from './date-format.ts';
import { ValueError } from './value-error.ts';

/**
 * The mapping of an import file: what kind of records it holds, how to read it, and what each
 * column becomes. One schema gives the TypeScript type and the OpenAPI document; `compileMapping`
 * checks what a schema cannot say and turns the mapping into what the import runs.
 */
export const ValueType = Type.Union(
  [
    Type.Literal('string'),
    Type.Literal('number'),
    Type.Literal('integer'),
    Type.Literal('boolean'),
    Type.Literal('date'),
    Type.Literal('json'),
  ],
  {
    description: "How the cell is read. Default: string (number for the spec's amounts: revenue, price...).",
  },
);
export type ValueType = Static<typeof ValueType>;

export const ColumnMapping = Type.Object(
  {
    identifier: Type.Optional(
      Type.String({ description: 'An identifier type: userId, email, phone, loyaltyId, crmId...' }),
    ),
    trait: Type.Optional(Type.String({ description: 'customers: the trait this column sets.' })),
    property: Type.Optional(
      Type.String({
        description: 'transactions: the order property this column sets (revenue, currency...).',
      }),
    ),
    product: Type.Optional(
      Type.String({
        description: 'transactions: the line-item field this column sets (sku, name, price, quantity...).',
      }),
    ),
    products: Type.Optional(
      Type.Literal(true, { description: 'transactions: the column holds the line items as a JSON array.' }),
    ),
    timestamp: Type.Optional(
      Type.String({
        description:
          'The event time, in this format: iso, unix (seconds), unix_ms, or a pattern such as YYYYMMDD or DD/MM/YYYY HH:mm.',
      }),
    ),
    consent: Type.Optional(
      Type.String({
        description:
          'The consent purpose this column answers (email, sms, analytics...): yes/no, true/false, 1/0 or granted/denied; an empty cell says nothing.',
      }),
    ),
    ignore: Type.Optional(Type.Literal(true, { description: 'The column is read but not used.' })),
    type: Type.Optional(ValueType),
    format: Type.Optional(
      Type.String({ description: 'type date: the pattern of the cell, e.g. DD/MM/YYYY.' }),
    ),
    decimal: Type.Optional(
      Type.Union([Type.Literal('.'), Type.Literal(',')], {
        description: 'Decimal separator of numbers (default ".").',
      }),
    ),
    required: Type.Optional(Type.Boolean({ description: 'An empty cell rejects the row.' })),
  },
  { additionalProperties: false },
);
export type ColumnMapping = Static<typeof ColumnMapping>;

export const FileFormat = Type.Object(
  {
    type: Type.Optional(
      Type.Union([Type.Literal('csv'), Type.Literal('whitespace'), Type.Literal('ndjson')], {
        description:
          'csv (with a delimiter), whitespace (columns separated by spaces or tabs) or ndjson. Default: from the file name (.ndjson/.jsonl → ndjson, otherwise csv).',
      }),
    ),
    delimiter: Type.Optional(Type.String({ minLength: 1, maxLength: 1, description: 'csv: default ",".' })),
    quote: Type.Optional(Type.String({ minLength: 1, maxLength: 1, description: "csv: default '\"'." })),
    header: Type.Optional(
      Type.Boolean({ description: 'The first line names the columns (default true; ndjson has none).' }),
    ),
    columns: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description: "Column names, in order: for a file without a header, or to replace the header's names.",
      }),
    ),
  },
  { additionalProperties: false },
);
export type FileFormat = Static<typeof FileFormat>;

export const ImportMapping = Type.Object(
  {
    kind: Type.Union([Type.Literal('customers'), Type.Literal('transactions')], {
      description:
        'customers: each row is a person (an identify). transactions: each row, or each group of rows sharing an order id, is an order (an "Order Completed" track).',
    }),
    format: Type.Optional(FileFormat),
    columns: Type.Record(Type.String(), ColumnMapping, {
      description: 'File column (ndjson: a dotted path) → what it becomes. Columns not named are ignored.',
    }),
    orderId: Type.Optional(
      Type.String({
        description:
          'transactions: the column holding the order id. Consecutive rows with the same id are the line items of one order; it also fills the order_id property and is the row key.',
      }),
    ),
    event: Type.Optional(
      Type.String({ minLength: 1, description: 'transactions: the event name (default "Order Completed").' }),
    ),
    rowKey: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), {
        description:
          'Columns whose values identify a row (an order), so that importing it again stores nothing. Default: the order id, else the whole row.',
      }),
    ),
    timezone: Type.Optional(
      Type.String({ description: 'IANA time zone of dates and times written without one (default UTC).' }),
    ),
  },
  { additionalProperties: false },
);
export type ImportMapping = Static<typeof ImportMapping>;

export type ImportKind = ImportMapping['kind'];
export type ImportFormat = NonNullable<FileFormat['type']>;

/** What a column becomes, checked and ready to run. */
export type ColumnRole =
  | { readonly role: 'identifier'; readonly identifierType: string }
  | { readonly role: 'trait'; readonly name: string; readonly read: ValueReader }
  | { readonly role: 'property'; readonly name: string; readonly read: ValueReader }
  | { readonly role: 'product'; readonly name: string; readonly read: ValueReader }
  | { readonly role: 'products' }
  | { readonly role: 'timestamp'; readonly parse: DateParser }
  | { readonly role: 'consent'; readonly purpose: string }
  | { readonly role: 'orderId' };

export interface CompiledColumn {
  /** The column's name in the file (ndjson: a dotted path). */
  readonly name: string;
  /** ndjson: the path's parts. */
  readonly path: readonly string[];
  readonly required: boolean;
  readonly roles: readonly ColumnRole[];
}

export interface CompiledMapping {
  readonly kind: ImportKind;
  readonly format: ImportFormat;
  readonly delimiter: string;
  readonly quote: string;
  readonly header: boolean;
  /** Names replacing the header's, or naming the columns of a file without one. */
  readonly columnNames: readonly string[] | undefined;
  readonly columns: readonly CompiledColumn[];
  readonly event: string;
  /** The column holding the order id (transactions), if any. */
  readonly orderId: string | undefined;
  /** Columns whose values identify a row; empty: the row's whole content. */
  readonly rowKey: readonly string[];
  readonly hasTimestamp: boolean;
}

/** A problem with the mapping itself: where (`columns.Email.type`) and what. */
export interface MappingProblem {
  readonly field: string;
  readonly message: string;
}

/** Reads one cell as a value of its type, or says why it cannot. */
export type ValueReader = (raw: unknown) => unknown;

const roleKeys = [
  'identifier',
  'trait',
  'property',
  'product',
  'products',
  'timestamp',
  'consent',
  'ignore',
] as const;

/** The Segment spec's numeric properties of orders and products: read as numbers unless told otherwise. */
const numericNames = new Set([
  'revenue',
  'total',
  'subtotal',
  'tax',
  'shipping',
  'discount',
  'price',
  'quantity',
  'value',
]);

export interface CompileOptions {
  /** The name of the file, to choose the format when the mapping does not say. */
  readonly fileName?: string;
  readonly identifierRules: IdentifierRules;
  /** The purposes consent columns may answer (the rules' `consent.purposes`; default: the standard ones). */
  readonly consentPurposes?: readonly string[];
}

/** Checks a mapping and prepares it, or lists every problem with where it is. */
export function compileMapping(
  mapping: ImportMapping,
  options: CompileOptions,
): { ok: true; mapping: CompiledMapping } | { ok: false; problems: MappingProblem[] } {
  const problems: MappingProblem[] = [];
  const problem = (field: string, message: string): void => {
    problems.push({ field, message });
  };
  const kind = mapping.kind;
  const formatSpec = mapping.format ?? {};
  const format = formatSpec.type ?? formatFromName(options.fileName);
  if (format === 'ndjson') {
    if (formatSpec.header === true) problem('format.header', 'An ndjson file has no header line.');
    if (formatSpec.columns !== undefined)
      problem('format.columns', 'An ndjson file names its fields itself: map them by (dotted) path.');
  }
  if (format !== 'csv' && (formatSpec.delimiter !== undefined || formatSpec.quote !== undefined)) {
    problem('format.delimiter', `Only csv files take a delimiter and a quote (this one is ${format}).`);
  }
  const header = format === 'ndjson' ? false : (formatSpec.header ?? true);
  if (format !== 'ndjson' && !header && formatSpec.columns === undefined) {
    problem('format.columns', 'A file without a header needs its column names in format.columns.');
  }
  if (formatSpec.columns !== undefined && new Set(formatSpec.columns).size !== formatSpec.columns.length) {
    problem('format.columns', 'Column names must be distinct.');
  }
  let dateTimezone = 'UTC';
  if (mapping.timezone !== undefined) {
    if (isTimeZone(mapping.timezone)) dateTimezone = mapping.timezone;
    else problem('timezone', `"${mapping.timezone}" is not an IANA time zone (e.g. Europe/Paris, UTC).`);
  }

  const identifierTypes = knownIdentifierTypes(options.identifierRules);
  const columns: CompiledColumn[] = [];
  const counts = { identifier: 0, timestamp: 0, products: 0, product: 0 };
  const singletons = new Map<string, string>();
  const consentColumns = new Map<string, string>();
  const entries = Object.entries(mapping.columns);
  for (const [name, spec] of entries) {
    const at = `columns.${name}`;
    if (name.trim() === '') {
      problem(at, 'A column name cannot be empty.');
      continue;
    }
    const present = roleKeys.filter((key) => spec[key] !== undefined);
    if (present.length !== 1) {
      problem(
        at,
        present.length === 0
          ? `Say what the column becomes: one of ${roleKeys.join(', ')}.`
          : `A column becomes one thing; this one says ${present.join(' and ')}.`,
      );
      continue;
    }
    const role = present[0]!;
    if (role !== 'trait' && role !== 'property' && role !== 'product') {
      for (const option of ['type', 'format', 'decimal'] as const) {
        if (spec[option] !== undefined)
          problem(`${at}.${option}`, `"${option}" applies to trait, property and product columns only.`);
      }
    }
    const roles: ColumnRole[] = [];
    switch (role) {
      case 'identifier': {
        const type = spec.identifier!;
        if (!identifierTypes.includes(type)) {
          problem(
            `${at}.identifier`,
            `"${type}" is not an identifier type (known: ${identifierTypes.join(', ')}).`,
          );
          break;
        }
        if (type === 'userId' || type === 'anonymousId') {
          const other = singletons.get(type);
          if (other !== undefined)
            problem(`${at}.identifier`, `Only one column can be the ${type}; "${other}" already is.`);
          singletons.set(type, name);
        }
        counts.identifier++;
        roles.push({ role: 'identifier', identifierType: type });
        break;
      }
      case 'trait':
      case 'property':
      case 'product': {
        const target = spec[role]!;
        if (target.trim() === '') {
          problem(`${at}.${role}`, `Name the ${role}.`);
          break;
        }
        if (role === 'trait' && kind !== 'customers')
          problem(
            `${at}.trait`,
            'Traits come from customers files; in transactions use property or product.',
          );
        if (role !== 'trait' && kind !== 'transactions')
          problem(
            `${at}.${role}`,
            `A ${role} belongs to an order: use it in transactions files (customers files set traits).`,
          );
        if (role === 'product') counts.product++;
        const read = valueReader(spec, target, `${at}`, dateTimezone, problem);
        if (read !== undefined) roles.push({ role, name: target, read });
        break;
      }
      case 'products':
        if (kind !== 'transactions') problem(`${at}.products`, 'Line items belong to transactions files.');
        counts.products++;
        roles.push({ role: 'products' });
        break;
      case 'timestamp': {
        counts.timestamp++;
        const parse = compileDateFormat(spec.timestamp!, dateTimezone);
        if (typeof parse === 'string') problem(`${at}.timestamp`, parse);
        else roles.push({ role: 'timestamp', parse });
        break;
      }
      case 'consent': {
        const purpose = spec.consent!;
        const purposes = options.consentPurposes ?? standardPurposes;
        if (!purposes.includes(purpose)) {
          problem(
            `${at}.consent`,
            `"${purpose}" is not a consent purpose (known: ${purposes.join(', ')}); add your own to the rules file under consent.purposes.`,
          );
          break;
        }
        const other = consentColumns.get(purpose);
        if (other !== undefined)
          problem(`${at}.consent`, `Only one column can answer for ${purpose}; "${other}" already does.`);
        consentColumns.set(purpose, name);
        roles.push({ role: 'consent', purpose });
        break;
      }
      case 'ignore':
        break;
    }
    columns.push({ name, path: name.split('.'), required: spec.required === true, roles });
  }

  if (counts.identifier === 0) {
    problem(
      'columns',
      'Map at least one column to an identifier (userId, email, phone, loyaltyId, crmId...), or nobody can be recognised.',
    );
  }
  if (counts.timestamp > 1) problem('columns', 'Only one column can be the timestamp.');
  if (kind === 'transactions' && counts.timestamp === 0) {
    problem('columns', 'A transactions file needs a timestamp column: when each order took place.');
  }
  if (counts.products > 1) problem('columns', 'Only one column can hold the line items as JSON.');
  if (counts.products > 0 && counts.product > 0) {
    problem(
      'columns',
      'Line items come either from product columns or from one JSON products column, not both.',
    );
  }
  if (kind !== 'transactions') {
    if (mapping.orderId !== undefined) problem('orderId', 'Only transactions files have an order id.');
    if (mapping.event !== undefined)
      problem('event', 'Only transactions files name their event; customers rows are identify calls.');
  }
  let orderId: string | undefined;
  if (mapping.orderId !== undefined && kind === 'transactions') {
    orderId = mapping.orderId;
    const column = columns.find((candidate) => candidate.name === orderId);
    if (column === undefined) {
      columns.push({ name: orderId, path: orderId.split('.'), required: true, roles: [{ role: 'orderId' }] });
    } else if (column.roles.length > 0) {
      problem(
        `columns.${orderId}`,
        `"${orderId}" is the orderId column: it fills order_id itself, leave it out of columns (or mark it ignore).`,
      );
    } else {
      columns[columns.indexOf(column)] = { ...column, required: true, roles: [{ role: 'orderId' }] };
    }
  }
  const rowKey = mapping.rowKey ?? (orderId === undefined ? [] : [orderId]);
  mapping.rowKey?.forEach((name, index) => {
    if (name.trim() === '') problem(`rowKey.${index}`, 'A row key column needs a name.');
    if (formatSpec.columns !== undefined && format !== 'ndjson' && !formatSpec.columns.includes(name)) {
      problem(
        `rowKey.${index}`,
        `"${name}" is not one of format.columns (${formatSpec.columns.join(', ')}).`,
      );
    }
    const column = columns.find((candidate) => candidate.name === name);
    if (column === undefined) columns.push({ name, path: name.split('.'), required: true, roles: [] });
    else columns[columns.indexOf(column)] = { ...column, required: true };
  });
  if (formatSpec.columns !== undefined && format !== 'ndjson') {
    for (const column of columns.filter((candidate) => !rowKey.includes(candidate.name))) {
      if (!formatSpec.columns.includes(column.name)) {
        problem(
          `columns.${column.name}`,
          `"${column.name}" is not one of format.columns (${formatSpec.columns.join(', ')}).`,
        );
      }
    }
  }

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    mapping: {
      kind,
      format,
      delimiter: formatSpec.delimiter ?? ',',
      quote: formatSpec.quote ?? '"',
      header,
      columnNames: formatSpec.columns,
      columns,
      event: mapping.event ?? 'Order Completed',
      orderId,
      rowKey,
      hasTimestamp: counts.timestamp > 0,
    },
  };
}

export function formatFromName(fileName: string | undefined): ImportFormat {
  const lower = (fileName ?? '').toLowerCase();
  return lower.endsWith('.ndjson') || lower.endsWith('.jsonl') ? 'ndjson' : 'csv';
}

function valueReader(
  spec: ColumnMapping,
  target: string,
  at: string,
  timezone: string,
  problem: (field: string, message: string) => void,
): ValueReader | undefined {
  const type: ValueType = spec.type ?? (numericNames.has(target) ? 'number' : 'string');
  if (spec.format !== undefined && type !== 'date')
    problem(`${at}.format`, 'A format applies to type date only.');
  if (spec.decimal !== undefined && type !== 'number')
    problem(`${at}.decimal`, 'A decimal separator applies to type number only.');
  switch (type) {
    case 'string':
      return readString;
    case 'number':
      return spec.decimal === ',' ? readDecimalComma : readNumber;
    case 'integer':
      return readInteger;
    case 'boolean':
      return readBoolean;
    case 'json':
      return readJson;
    case 'date': {
      if (spec.format === undefined) {
        problem(`${at}.format`, 'A date column needs its format, e.g. "YYYY-MM-DD", "DD/MM/YYYY" or "iso".');
        return undefined;
      }
      const parse = compileDateFormat(spec.format, timezone);
      if (typeof parse === 'string') {
        problem(`${at}.format`, parse);
        return undefined;
      }
      const dateOnly =
        !/[Hhms]/.test(spec.format) && spec.format !== 'iso' && !spec.format.startsWith('unix');
      return (raw) => {
        const ms = parse(raw);
        if (typeof ms !== 'number') return ms;
        const iso = new Date(ms).toISOString();
        return dateOnly ? iso.slice(0, 10) : iso;
      };
    }
  }
}

const numberShape = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function readString(raw: unknown): unknown {
  if (typeof raw === 'string') return raw;
  return typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : JSON.stringify(raw);
}

function readNumber(raw: unknown): unknown {
  if (typeof raw === 'number') return raw;
  const text = String(raw).trim();
  return numberShape.test(text) ? Number(text) : new ValueError(`${JSON.stringify(text)} is not a number.`);
}

function readDecimalComma(raw: unknown): unknown {
  if (typeof raw === 'number') return raw;
  const text = String(raw)
    .trim()
    .replace(/[\s\u00a0\u202f]/g, '');
  const dotted = text.replaceAll('.', '').replace(',', '.');
  return numberShape.test(dotted)
    ? Number(dotted)
    : new ValueError(`${JSON.stringify(text)} is not a number.`);
}

function readInteger(raw: unknown): unknown {
  const value = readNumber(raw);
  if (value instanceof ValueError) return new ValueError(`${JSON.stringify(raw)} is not an integer.`);
  return Number.isSafeInteger(value) ? value : new ValueError(`${JSON.stringify(raw)} is not an integer.`);
}

const truthy = new Set(['true', '1', 'yes', 'y']);
const falsy = new Set(['false', '0', 'no', 'n']);

function readBoolean(raw: unknown): unknown {
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim().toLowerCase();
  if (truthy.has(text)) return true;
  if (falsy.has(text)) return false;
  return new ValueError(`${JSON.stringify(raw)} is not a boolean (true/false, yes/no, 1/0).`);
}

function readJson(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch (error) {
    return new ValueError(`Not valid JSON: ${(error as Error).message}.`);
  }
}
