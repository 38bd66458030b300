import type { ConsentState } from '../domain/consent.ts';
import {
  isIdentifierRejection,
  isPlaceholderIdentifier,
  normaliseIdentifier,
  type IdentifierRules,
} from '../domain/identifiers.ts';
import type { ErrorCode } from '../errors.ts';
import type { CompiledColumn, CompiledMapping } from './mapping.ts';
import { ValueError } from './value-error.ts';

/**
 * From rows to events, as the mapping says. Pure: the reader hands over each row's cells, in the
 * order of the mapping's columns; this reads them, checks them, and builds the Segment event the
 * pipeline ingests (an identify per customer, an "Order Completed" track per order).
 */

/** One record of the file: its first line and its cells, aligned with `CompiledMapping.columns`. */
export interface ImportRow {
  readonly line: number;
  readonly cells: readonly unknown[];
}

/** Why a row was not imported: a value, with the column it is about. */
export interface RowRejection {
  readonly rejected: true;
  readonly code: ErrorCode;
  readonly reason: string;
  readonly field: string | null;
}

export function isRowRejection(value: unknown): value is RowRejection {
  return typeof value === 'object' && value !== null && (value as { rejected?: unknown }).rejected === true;
}

/** The values of one row, read and checked. */
export interface RowValues {
  /** Identifiers as written (trimmed): the pipeline normalises them, the row was checked to hold valid ones. */
  readonly identifiers: readonly { readonly type: string; readonly value: string }[];
  readonly traits: Record<string, unknown> | undefined;
  readonly properties: Record<string, unknown> | undefined;
  /** This row's line item (product columns). */
  readonly product: Record<string, unknown> | undefined;
  /** Line items from a JSON products column. */
  readonly products: Record<string, unknown>[] | undefined;
  /** Event time, ms. */
  readonly timestamp: number | undefined;
  readonly orderId: string | undefined;
  /** Consent columns: purpose → the answer (empty cells say nothing). */
  readonly consent?: Readonly<Record<string, ConsentState>> | undefined;
}

export function rejectRow(code: ErrorCode, reason: string, field: string | null): RowRejection {
  return { rejected: true, code, reason, field };
}

export function isEmptyCell(cell: unknown): boolean {
  return cell === undefined || cell === null || (typeof cell === 'string' && cell.trim() === '');
}

/**
 * Checks identifiers as written: valid (the pipeline will normalise them the same way), a
 * placeholder that identifies nobody ("n/a", "0": treated as empty), or invalid with the reason.
 * Files repeat identifiers (a card on every receipt), and checking a phone number costs tens of
 * microseconds: outcomes are remembered, up to a bound.
 */
export type IdentifierCheck = (type: string, written: string) => IdentifierOutcome;

type IdentifierOutcome = 'valid' | 'placeholder' | { reason: string };

export function createIdentifierCheck(rules: IdentifierRules, remember = 50_000): IdentifierCheck {
  const byType = new Map<string, Map<string, IdentifierOutcome>>();
  // Placeholders are told apart from invalid values after normalisation ("+33 0 00 00 00 00").
  const unblocked: IdentifierRules = { ...rules, blockedValues: {} };
  return (type, written) => {
    let seen = byType.get(type);
    if (seen === undefined) byType.set(type, (seen = new Map<string, IdentifierOutcome>()));
    const known = seen.get(written);
    if (known !== undefined) return known;
    let outcome: IdentifierOutcome;
    if (isPlaceholderIdentifier(type, written, rules)) outcome = 'placeholder';
    else {
      const normalised = normaliseIdentifier(type, written, unblocked);
      if (isIdentifierRejection(normalised)) outcome = { reason: normalised.reason };
      else outcome = isPlaceholderIdentifier(type, normalised.value, rules) ? 'placeholder' : 'valid';
    }
    if (seen.size >= remember) seen.clear();
    seen.set(written, outcome);
    return outcome;
  };
}

/** Reads a row's cells as the mapping says. */
export function readRow(
  mapping: CompiledMapping,
  row: ImportRow,
  checkIdentifier: IdentifierCheck,
): RowValues | RowRejection {
  const identifiers: { type: string; value: string }[] = [];
  let traits: Record<string, unknown> | undefined;
  let properties: Record<string, unknown> | undefined;
  let product: Record<string, unknown> | undefined;
  let products: Record<string, unknown>[] | undefined;
  let timestamp: number | undefined;
  let orderId: string | undefined;
  let consent: Record<string, ConsentState> | undefined;
  const { columns } = mapping;
  for (let index = 0; index < columns.length; index++) {
    const column = columns[index]!;
    const cell = row.cells[index];
    if (isEmptyCell(cell)) {
      if (column.required) {
        return rejectRow(
          'CIBLE_ERR_IMPORT_ROW_MISSING_VALUE',
          `Column ${column.name} is empty; the mapping requires it.`,
          column.name,
        );
      }
      continue;
    }
    for (const role of column.roles) {
      switch (role.role) {
        case 'identifier': {
          const written =
            typeof cell === 'string' ? cell.trim() : typeof cell === 'number' ? String(cell) : undefined;
          if (written === undefined) {
            return rejectRow(
              'CIBLE_ERR_IMPORT_ROW_BAD_IDENTIFIER',
              `Column ${column.name}: a ${role.identifierType} must be a string or a number.`,
              column.name,
            );
          }
          const checked = checkIdentifier(role.identifierType, written);
          if (checked === 'placeholder') break;
          if (checked !== 'valid') {
            return rejectRow(
              'CIBLE_ERR_IMPORT_ROW_BAD_IDENTIFIER',
              `Column ${column.name}: ${checked.reason}`,
              column.name,
            );
          }
          identifiers.push({ type: role.identifierType, value: written });
          break;
        }
        case 'trait':
        case 'property':
        case 'product': {
          const value = role.read(cell);
          if (value instanceof ValueError) {
            return rejectRow(
              'CIBLE_ERR_IMPORT_ROW_INVALID_VALUE',
              `Column ${column.name}: ${value.reason}`,
              column.name,
            );
          }
          if (role.role === 'trait') (traits ??= {})[role.name] = value;
          else if (role.role === 'property') (properties ??= {})[role.name] = value;
          else (product ??= {})[role.name] = value;
          break;
        }
        case 'products': {
          const items = readProducts(cell);
          if (items instanceof ValueError) {
            return rejectRow(
              'CIBLE_ERR_IMPORT_ROW_INVALID_VALUE',
              `Column ${column.name}: ${items.reason}`,
              column.name,
            );
          }
          products = items;
          break;
        }
        case 'timestamp': {
          const ms = role.parse(cell);
          if (ms instanceof ValueError) {
            return rejectRow(
              'CIBLE_ERR_IMPORT_ROW_INVALID_VALUE',
              `Column ${column.name}: ${ms.reason}`,
              column.name,
            );
          }
          timestamp = ms;
          break;
        }
        case 'orderId':
          orderId = typeof cell === 'string' ? cell.trim() : String(cell);
          break;
        case 'consent': {
          const state = readConsentAnswer(cell);
          if (state === undefined) {
            return rejectRow(
              'CIBLE_ERR_IMPORT_ROW_INVALID_VALUE',
              `Column ${column.name}: ${JSON.stringify(cell)} is not a consent answer for ${role.purpose}: write yes or no, true or false, 1 or 0, granted or denied (an empty cell says nothing).`,
              column.name,
            );
          }
          (consent ??= {})[role.purpose] = state;
          break;
        }
      }
    }
  }
  if (identifiers.length === 0) {
    const names = columns
      .filter((column) => column.roles.some((role) => role.role === 'identifier'))
      .map((column) => column.name);
    return rejectRow(
      'CIBLE_ERR_IMPORT_ROW_NO_IDENTIFIER',
      `The row identifies nobody: ${names.length === 1 ? `column ${names[0]} is` : `columns ${names.join(', ')} are all`} empty (or placeholders such as "n/a").`,
      names[0] ?? null,
    );
  }
  return { identifiers, traits, properties, product, products, timestamp, orderId, consent };
}

const consentGranted = new Set(['yes', 'y', 'true', '1', 'granted']);
const consentDenied = new Set(['no', 'n', 'false', '0', 'denied']);

function readConsentAnswer(cell: unknown): ConsentState | undefined {
  if (cell === true || cell === 1) return 'granted';
  if (cell === false || cell === 0) return 'denied';
  if (typeof cell !== 'string') return undefined;
  const text = cell.trim().toLowerCase();
  return consentGranted.has(text) ? 'granted' : consentDenied.has(text) ? 'denied' : undefined;
}

function readProducts(cell: unknown): Record<string, unknown>[] | ValueError {
  let value = cell;
  if (typeof cell === 'string') {
    try {
      value = JSON.parse(cell);
    } catch (error) {
      return new ValueError(`the line items are not valid JSON: ${(error as Error).message}.`);
    }
  }
  if (
    !Array.isArray(value) ||
    !value.every((item) => item !== null && typeof item === 'object' && !Array.isArray(item))
  ) {
    return new ValueError(
      'the line items must be a JSON array of objects, e.g. [{"sku": "A1", "price": 9.5, "quantity": 2}].',
    );
  }
  return value as Record<string, unknown>[];
}

/** Where an event came from, kept in its context. */
export interface EventOrigin {
  readonly messageId: string;
  readonly importId: string;
  readonly line: number;
}

/** A customers row as a Segment identify call. */
export function customerEvent(values: RowValues, origin: EventOrigin): Record<string, unknown> {
  const event: Record<string, unknown> = { type: 'identify', messageId: origin.messageId };
  const traits: Record<string, unknown> = values.traits === undefined ? {} : { ...values.traits };
  const context = identifierPlaces(values, event, traits, origin);
  if (values.timestamp !== undefined) event.timestamp = isoTime(values.timestamp);
  event.traits = traits;
  event.context = context;
  return event;
}

/** The rows of one order (one row, or consecutive rows sharing the order id) as an "Order Completed" track. */
export function orderEvent(
  rows: readonly RowValues[],
  eventName: string,
  origin: EventOrigin,
): Record<string, unknown> {
  const first = rows[0]!;
  const event: Record<string, unknown> = { type: 'track', event: eventName, messageId: origin.messageId };
  const context = identifierPlaces(first, event, undefined, origin);
  const properties: Record<string, unknown> = {};
  if (first.orderId !== undefined) properties.order_id = first.orderId;
  let products: Record<string, unknown>[] | undefined = first.products;
  for (const row of rows) {
    if (row.properties !== undefined) Object.assign(properties, row.properties);
    if (first.products === undefined && row.product !== undefined) (products ??= []).push(row.product);
  }
  if (products !== undefined && products.length > 0) {
    properties.products = products;
    if (properties.revenue === undefined && properties.total === undefined) {
      const revenue = revenueOf(products);
      if (revenue !== undefined) properties.revenue = revenue;
    }
  }
  event.timestamp = isoTime(first.timestamp!);
  event.properties = properties;
  event.context = context;
  return event;
}

let lastTime = NaN;
let lastIso = '';

/** ISO-8601 text of a time; the rows of a file often come in runs of one time. */
function isoTime(ms: number): string {
  if (ms !== lastTime) {
    lastTime = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
}

/** Σ price × quantity (1 when absent), when every line item has a price. */
function revenueOf(products: readonly Record<string, unknown>[]): number | undefined {
  let sum = 0;
  for (const item of products) {
    if (typeof item.price !== 'number') return undefined;
    sum += item.price * (typeof item.quantity === 'number' ? item.quantity : 1);
  }
  return Math.round(sum * 1e6) / 1e6;
}

/**
 * Puts each identifier where the Segment spec carries it, so that the pipeline finds it:
 * userId and anonymousId at the top, the first e-mail and phone in the traits (a track call's in
 * `context.traits`), the first device and advertising ids in `context.device`, every other one in
 * `context.externalIds`.
 */
function identifierPlaces(
  values: RowValues,
  event: Record<string, unknown>,
  traits: Record<string, unknown> | undefined,
  origin: EventOrigin,
): Record<string, unknown> {
  const context: Record<string, unknown> = {};
  let contextTraits: Record<string, unknown> | undefined;
  let externalIds: { id: string; type: string; collection: string; encoding: string }[] | undefined;
  let device: Record<string, unknown> | undefined;
  for (const { type, value } of values.identifiers) {
    if (type === 'userId' || type === 'anonymousId') {
      if (event[type] === undefined) {
        event[type] = value;
        continue;
      }
    } else if (type === 'email' || type === 'phone') {
      const target = traits ?? (contextTraits ??= {});
      if (target[type] === undefined) {
        target[type] = value;
        continue;
      }
    } else if (type === 'deviceId' || type === 'advertisingId') {
      const key = type === 'deviceId' ? 'id' : 'advertisingId';
      if (device?.[key] === undefined) {
        (device ??= {})[key] = value;
        continue;
      }
    }
    (externalIds ??= []).push({ id: value, type, collection: 'users', encoding: 'none' });
  }
  if (contextTraits !== undefined) context.traits = contextTraits;
  if (externalIds !== undefined) context.externalIds = externalIds;
  if (device !== undefined) context.device = device;
  // Consent goes with the import's own mark: the pipeline reads it there from imports only.
  context.import =
    values.consent === undefined
      ? { id: origin.importId, line: origin.line }
      : { id: origin.importId, line: origin.line, consent: values.consent };
  return context;
}

/**
 * The columns whose cells must agree across the lines of one order: everything about the order
 * (who, when, its properties), as opposed to the line items.
 */
export function orderLevelColumns(mapping: CompiledMapping): number[] {
  const indexes: number[] = [];
  mapping.columns.forEach((column: CompiledColumn, index) => {
    if (
      column.roles.some(
        (role) =>
          role.role === 'identifier' ||
          role.role === 'timestamp' ||
          role.role === 'property' ||
          role.role === 'consent',
      )
    ) {
      indexes.push(index);
    }
  });
  return indexes;
}

/** A later line of an order that contradicts its first line, or undefined when it agrees (or leaves cells empty). */
export function disagreement(
  mapping: CompiledMapping,
  orderColumns: readonly number[],
  first: ImportRow,
  later: ImportRow,
): RowRejection | undefined {
  for (const index of orderColumns) {
    const cell = later.cells[index];
    if (isEmptyCell(cell)) continue;
    const expected = first.cells[index];
    if (cellText(cell) !== cellText(expected)) {
      const column = mapping.columns[index]!;
      return rejectRow(
        'CIBLE_ERR_IMPORT_ORDER_INCONSISTENT',
        `Line ${later.line} gives ${column.name} ${JSON.stringify(cell)} where line ${first.line}, the order's first, gives ${JSON.stringify(cellText(expected))}: the lines of one order must agree (or leave it empty).`,
        column.name,
      );
    }
  }
  return undefined;
}

function cellText(cell: unknown): string {
  if (cell === undefined || cell === null) return '';
  return typeof cell === 'string' ? cell.trim() : JSON.stringify(cell);
}
