import { timeZoneOffset } from '../domain/time-zone.ts';
import { ValueError } from './value-error.ts';

/** Reads one cell as a time in ms since the epoch, or says why it cannot. */
export type DateParser = (raw: unknown) => number | ValueError;

const isoShape = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?$/i;
const zoned = /(Z|[+-]\d{2}(:?\d{2})?)$/i;

const tokens: Readonly<Record<string, { readonly pattern: string; readonly field: Field }>> = {
  YYYY: { pattern: '(\\d{4})', field: 'year' },
  MM: { pattern: '(\\d{2})', field: 'month' },
  M: { pattern: '(\\d{1,2})', field: 'month' },
  DD: { pattern: '(\\d{2})', field: 'day' },
  D: { pattern: '(\\d{1,2})', field: 'day' },
  HH: { pattern: '(\\d{2})', field: 'hour' },
  H: { pattern: '(\\d{1,2})', field: 'hour' },
  mm: { pattern: '(\\d{2})', field: 'minute' },
  ss: { pattern: '(\\d{2})', field: 'second' },
  SSS: { pattern: '(\\d{3})', field: 'millisecond' },
};
type Field = 'year' | 'month' | 'day' | 'hour' | 'minute' | 'second' | 'millisecond';
const tokenPattern = /YYYY|SSS|MM|DD|HH|mm|ss|M|D|H/g;

/**
 * Compiles a date format: `iso` (ISO-8601; without a zone, in the time zone given), `unix`
 * (seconds), `unix_ms`, or a pattern of YYYY, MM/M, DD/D, HH/H, mm, ss, SSS and literal
 * characters (`YYYYMMDD`, `DD/MM/YYYY HH:mm`). Returns the reason when the format is not one.
 */
export function compileDateFormat(format: string, timezone: string): DateParser | string {
  if (format === 'iso') {
    return (raw) => {
      const text = String(raw).trim();
      if (!isoShape.test(text)) return new ValueError(`${JSON.stringify(text)} is not an ISO-8601 date.`);
      const hasZone = text.length > 10 && zoned.test(text);
      const ms = Date.parse(
        text.length === 10 ? `${text}T00:00:00Z` : `${text.replace(' ', 'T')}${hasZone ? '' : 'Z'}`,
      );
      if (Number.isNaN(ms)) return new ValueError(`${JSON.stringify(text)} is not a valid date.`);
      return hasZone ? ms : fromZoned(ms, timezone);
    };
  }
  if (format === 'unix' || format === 'unix_ms') {
    const scale = format === 'unix' ? 1000 : 1;
    return (raw) => {
      const value = typeof raw === 'number' ? raw : Number(String(raw).trim());
      if (!Number.isFinite(value) || String(raw).trim() === '') {
        return new ValueError(
          `${JSON.stringify(raw)} is not a ${format === 'unix' ? 'Unix time in seconds' : 'Unix time in milliseconds'}.`,
        );
      }
      return Math.round(value * scale);
    };
  }
  const fields: Field[] = [];
  let source = '';
  let last = 0;
  for (const match of format.matchAll(tokenPattern)) {
    source += escape(format.slice(last, match.index)) + tokens[match[0]]!.pattern;
    fields.push(tokens[match[0]]!.field);
    last = match.index + match[0].length;
  }
  source += escape(format.slice(last));
  for (const required of ['year', 'month', 'day'] as const) {
    if (!fields.includes(required)) {
      return `The format "${format}" has no ${required} (use YYYY, MM, DD; or iso, unix, unix_ms).`;
    }
  }
  if (new Set(fields).size !== fields.length) return `The format "${format}" names a part twice.`;
  const shape = new RegExp(`^${source}$`);
  const at = (field: Field): number => fields.indexOf(field) + 1;
  const year = at('year');
  const month = at('month');
  const day = at('day');
  const hour = at('hour');
  const minute = at('minute');
  const second = at('second');
  const millisecond = at('millisecond');
  // Files repeat their dates (a day's receipts share one): remember the latest few thousand.
  const seen = new Map<string, number>();
  return (raw) => {
    const text = String(raw).trim();
    const known = seen.get(text);
    if (known !== undefined) return known;
    const parts = shape.exec(text);
    if (parts === null) return new ValueError(`${JSON.stringify(text)} does not match the format ${format}.`);
    const y = Number(parts[year]);
    const mo = Number(parts[month]);
    const d = Number(parts[day]);
    const h = hour === 0 ? 0 : Number(parts[hour]);
    const mi = minute === 0 ? 0 : Number(parts[minute]);
    const s = second === 0 ? 0 : Number(parts[second]);
    if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) {
      return new ValueError(`${JSON.stringify(text)} is not a valid date (${format}).`);
    }
    const wall = Date.UTC(y, mo - 1, d, h, mi, s, millisecond === 0 ? 0 : Number(parts[millisecond]));
    const ms = fromZoned(wall, timezone);
    if (seen.size >= 4096) seen.clear();
    seen.set(text, ms);
    return ms;
  };
}

const monthDays = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  if (month !== 2) return monthDays[month - 1]!;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Offsets by zone and hour: computing one through Intl costs microseconds, and files repeat hours. */
const offsets = new Map<string, number>();

/** A wall-clock time written as if it were UTC, read in the given zone instead. */
function fromZoned(wallMs: number, timezone: string): number {
  if (timezone === 'UTC') return wallMs;
  // The offset at the wall time is right except within an hour of a change; check once more there.
  const first = offsetAt(wallMs, timezone);
  const second = offsetAt(wallMs - first, timezone);
  return wallMs - second;
}

function offsetAt(utcMs: number, timezone: string): number {
  const hour = Math.floor(utcMs / 3_600_000);
  const key = `${timezone}\u0000${hour}`;
  const cached = offsets.get(key);
  if (cached !== undefined) return cached;
  const offset = timeZoneOffset(timezone, hour * 3_600_000);
  if (offsets.size > 100_000) offsets.clear();
  offsets.set(key, offset);
  return offset;
}
