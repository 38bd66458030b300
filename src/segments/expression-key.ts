import { createHash } from 'node:crypto';
import type { EventExpression } from './rule.ts';

const keys = new WeakMap<EventExpression, string>();

/**
 * A short name for what a computed trait's expression computes, the same however the expression
 * was written (text or JSON, keys in any order): the roll-ups retention keeps for a computed trait
 * are filed under it, so a changed definition does not read the roll-ups of the old one.
 */
export function expressionKey(expression: EventExpression): string {
  let key = keys.get(expression);
  if (key === undefined) {
    key = createHash('sha256').update(canonicalJson(expression)).digest('hex').slice(0, 24);
    keys.set(expression, key);
  }
  return key;
}

/** JSON with the keys of every object sorted, and no absent (undefined) members. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, member]) => member !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([name, member]) => `${JSON.stringify(name)}:${canonicalJson(member)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
