import { AsYouType } from 'libphonenumber-js/max';
import { knownIdentifierTypes, type IdentifierRules } from './identifiers.ts';

/**
 * Profile search: what a person types becomes prefixes of normalised identifier values and trait
 * filters; the store finds the candidates and the profile keeps those whose merged traits match.
 */

/** Identifier values starting with `prefix`, of one type or (no type) of any type. */
export interface IdentifierPrefix {
  readonly type?: string;
  readonly prefix: string;
}

/** A trait (or a field of an object trait: `address.city`) equal to a value or starting with it, ignoring case. */
export interface TraitFilter {
  readonly name: string;
  /** Keys inside the trait's value, for object traits; empty for the trait itself. */
  readonly path: readonly string[];
  /** Lower-case. */
  readonly value: string;
  readonly match: 'equals' | 'prefix';
}

/**
 * The prefixes a search text stands for. `email:Jane` searches e-mail addresses starting with
 * `jane` (normalised as at ingestion: lower-cased; phone numbers in E.164, `phone:06 12` →
 * `+33612`); text without a known type searches every type, as typed, and also as an e-mail
 * address or a phone number when it could be one.
 */
export function identifierPrefixes(text: string, rules: IdentifierRules): IdentifierPrefix[] {
  const colon = text.indexOf(':');
  const type = colon > 0 ? text.slice(0, colon) : undefined;
  if (type !== undefined && knownIdentifierTypes(rules).includes(type)) {
    const prefix = typedPrefix(type, text.slice(colon + 1), rules);
    return prefix === undefined ? [] : [{ type, prefix }];
  }
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const prefixes: IdentifierPrefix[] = [{ prefix: trimmed }];
  const lower = trimmed.toLowerCase();
  if (lower !== trimmed) prefixes.push({ type: 'email', prefix: lower });
  if (/^(\+|0)[\d\s.()-]*$/.test(trimmed)) {
    const phone = typedPrefix('phone', trimmed, rules);
    if (phone !== undefined && phone !== trimmed) prefixes.push({ type: 'phone', prefix: phone });
  }
  return prefixes;
}

function typedPrefix(type: string, raw: string, rules: IdentifierRules): string | undefined {
  const trimmed = raw.trim();
  if (trimmed === '') return undefined;
  if (type === 'email') return trimmed.toLowerCase().replace(/^mailto:/, '');
  if (type === 'phone') {
    // The start of a number in E.164, even incomplete: "06 12" in France is "+33612".
    const typing = new AsYouType(rules.defaultCountry);
    typing.input(trimmed);
    return typing.getNumberValue() ?? trimmed.replace(/[\s.()-]/g, '');
  }
  return trimmed;
}

/**
 * A trait filter from a query parameter: `trait.city=Paris` (equal, ignoring case),
 * `trait.city=Par*` (starts with), `trait.address.postal_code=75011` (a field of an object trait).
 */
export function parseTraitFilter(parameter: string, raw: string): TraitFilter | undefined {
  const [name, ...path] = parameter.replace(/^trait\./, '').split('.');
  if (name === undefined || name === '' || path.some((key) => key === '' || /["\\]/.test(key)))
    return undefined;
  const prefix = raw.endsWith('*');
  const value = (prefix ? raw.slice(0, -1) : raw).trim().toLowerCase();
  if (value === '') return undefined;
  return { name, path, value, match: prefix ? 'prefix' : 'equals' };
}

/** Does a trait's value match the filter? The same comparison the store makes. */
export function traitMatches(value: unknown, filter: TraitFilter): boolean {
  let current = value;
  for (const key of filter.path) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return false;
    current = (current as Record<string, unknown>)[key];
  }
  if (current === null || current === undefined) return false;
  const text = (typeof current === 'string' ? current : JSON.stringify(current)).toLowerCase();
  return filter.match === 'equals' ? text === filter.value : text.startsWith(filter.value);
}
