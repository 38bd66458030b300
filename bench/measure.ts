/** Small helpers the benchmarks share: percentiles, rounding, numbers and log lines for people. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** The p-quantile (0 < p ≤ 1) of ascending values, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** A whole number with thousands separators: 18,063. */
export function fmt(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

export function log(line: string): void {
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

/** Total size of the files in a directory (not recursive), in MB. */
export function directoryMb(path: string): number {
  let bytes = 0;
  for (const name of readdirSync(path)) bytes += statSync(join(path, name)).size;
  return bytes / 1024 / 1024;
}

/** A numeric flag's value: the fallback when absent, an error naming the flag when not a number >= min. */
export function numberFlag(name: string, raw: unknown, fallback: number, min: number): number {
  if (typeof raw !== 'string') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    throw new Error(`--${name} must be a number >= ${min}, not "${raw}".`);
  }
  return value;
}

/** A whole-number flag's value (see `numberFlag`). */
export function integerFlag(name: string, raw: unknown, fallback: number, min: number): number {
  const value = numberFlag(name, raw, fallback, min);
  if (!Number.isInteger(value)) throw new Error(`--${name} must be a whole number, not "${String(raw)}".`);
  return value;
}
