import { createHmac } from 'node:crypto';

/**
 * Pseudonyms: a keyed hash (HMAC-SHA256 with the data dir's secret) in place of a personal value.
 * The same value always gives the same pseudonym, so analysts can count, join and follow a person
 * across answers and exports without seeing who it is; without the key it cannot be reversed by
 * trying likely emails.
 */
export interface Pseudonymiser {
  /** `ps_` and 22 characters; `kind` (the identifier type or trait name) keeps equal values of different kinds apart. */
  pseudonym(kind: string, value: string): string;
  /** A copy of an API answer with every identifier value and personal trait replaced by its pseudonym. */
  answer(payload: unknown): unknown;
  /** Whether the trait names, locates or reaches a person. */
  isPersonalTrait(name: string): boolean;
  /** A map of traits (or properties) with the personal ones replaced by their pseudonyms. */
  hideTraits(traits: unknown): unknown;
}

/** Traits that name, locate or reach a person; also every trait named like an identifier type. */
export const defaultPersonalTraits = [
  'name',
  'firstName',
  'lastName',
  'first_name',
  'last_name',
  'username',
  'email',
  'phone',
  'mobile',
  'address',
  'street',
  'birthday',
  'birthDate',
  'dateOfBirth',
  'avatar',
  'ip',
] as const;

export function createPseudonymiser(options: {
  key: Buffer;
  identifierTypes: readonly string[];
  personalTraits?: readonly string[];
}): Pseudonymiser {
  const identifierTypes = new Set(options.identifierTypes);
  const personal = new Set([...(options.personalTraits ?? defaultPersonalTraits), ...identifierTypes]);

  function pseudonym(kind: string, value: string): string {
    const digest = createHmac('sha256', options.key).update(kind).update('\0').update(value).digest();
    return `ps_${digest.subarray(0, 16).toString('base64url')}`;
  }

  const hide = (kind: string, value: unknown): unknown =>
    value === null || value === undefined
      ? value
      : pseudonym(kind, typeof value === 'string' ? value : JSON.stringify(value));

  /** A trait map `{name: value}` or `{name: {value, ...}}`, or a list of `{name, value}`. */
  function traits(value: unknown): unknown {
    if (Array.isArray(value)) {
      return value.map((entry: unknown) =>
        isObject(entry) && typeof entry.name === 'string' && personal.has(entry.name)
          ? { ...(walk(entry) as Record<string, unknown>), value: hide(entry.name, entry.value) }
          : walk(entry),
      );
    }
    if (!isObject(value)) return walk(value);
    return Object.fromEntries(
      Object.entries(value).map(([name, inner]) => {
        if (!personal.has(name)) return [name, walk(inner)];
        return [
          name,
          isObject(inner) && 'value' in inner
            ? { ...(walk(inner) as Record<string, unknown>), value: hide(name, inner.value) }
            : hide(name, inner),
        ];
      }),
    );
  }

  function walk(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(walk);
    if (!isObject(value)) return value;
    // An identifier: {type, value}.
    if (typeof value.type === 'string' && identifierTypes.has(value.type) && 'value' in value) {
      return Object.fromEntries(
        Object.entries(value).map(([key, inner]) => [
          key,
          key === 'value' ? hide(value.type as string, inner) : walk(inner),
        ]),
      );
    }
    // A suspected-duplicate key: the normalised name and birth date of a person.
    const duplicateKey = 'birthDate' in value && 'postalCode' in value && 'name' in value;
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => {
        if (key === 'traits') return [key, traits(inner)];
        if (duplicateKey && (key === 'name' || key === 'birthDate')) return [key, hide(key, inner)];
        return [key, walk(inner)];
      }),
    );
  }

  return { pseudonym, answer: walk, isPersonalTrait: (name) => personal.has(name), hideTraits: traits };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
