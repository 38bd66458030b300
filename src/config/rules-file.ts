import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { Type, type Static } from 'typebox';
import type { CountryCode } from 'libphonenumber-js';
import { getCountries } from 'libphonenumber-js';
import { consentRulesFrom, defaultConsentRules, type ConsentRules } from '../domain/consent.ts';
import { defaultIdentifierRules, type IdentifierRules } from '../domain/identifiers.ts';
import { defaultIdentityRules, type IdentityRules } from '../domain/identity-graph.ts';
import { defaultTraitRules, type TraitRules } from '../domain/traits.ts';
import { CibleError } from '../errors.ts';

/**
 * How identifiers are read and linked, how traits are merged and what consent is recorded for:
 * the deployment's own rules.
 */
export interface Rules {
  readonly identifiers: IdentifierRules;
  readonly identity: IdentityRules;
  readonly traits: TraitRules;
  readonly consent: ConsentRules;
  /** How long raw events are kept, per event type, source or name; empty: for ever. */
  readonly retention: readonly RetentionRule[];
  /** Traits that name, locate or reach a person, besides the built-in ones (pseudonymised for analysts). */
  readonly personalTraits: readonly string[];
}

/** Raw events matching every field given are deleted once older than `days` (event time). */
export interface RetentionRule {
  readonly days: number;
  readonly type?: string;
  /** A source id or name (names are resolved when the rule runs). */
  readonly source?: string;
  readonly event?: string;
}

export const defaultRules: Rules = {
  identifiers: defaultIdentifierRules,
  identity: defaultIdentityRules,
  traits: defaultTraitRules,
  consent: defaultConsentRules,
  retention: [],
  personalTraits: [],
};

const TypeName = Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*$', maxLength: 64 });
const PerType = <T extends Parameters<typeof Type.Record>[1]>(value: T) => Type.Record(Type.String(), value);

/** The rules file (`cible.json`): every part optional; what it names replaces the default. */
export const RulesFile = Type.Object(
  {
    identity: Type.Optional(
      Type.Object(
        {
          defaultCountry: Type.Optional(Type.String({ pattern: '^[A-Z]{2}$' })),
          gmailNormalisation: Type.Optional(Type.Boolean()),
          customTypes: Type.Optional(Type.Array(TypeName)),
          blockedValues: Type.Optional(PerType(Type.Array(Type.String()))),
          maxPerProfile: Type.Optional(PerType(Type.Integer({ minimum: 1 }))),
          priority: Type.Optional(Type.Array(TypeName, { minItems: 1 })),
          maxProfilesPerIdentifier: Type.Optional(Type.Integer({ minimum: 1 })),
        },
        { additionalProperties: false },
      ),
    ),
    traits: Type.Optional(
      Type.Object(
        {
          sourcePriority: Type.Optional(PerType(Type.Array(Type.String(), { minItems: 1 }))),
          firstTouch: Type.Optional(Type.Array(Type.String())),
        },
        { additionalProperties: false },
      ),
    ),
    // Checked by consentRulesFrom, whose messages say which purpose or category is wrong.
    consent: Type.Optional(Type.Unknown()),
    personalTraits: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 200 }))),
    retention: Type.Optional(
      Type.Array(
        Type.Object(
          {
            days: Type.Integer({ minimum: 1, maximum: 36_500 }),
            type: Type.Optional(
              Type.Union(
                ['identify', 'track', 'page', 'screen', 'group', 'alias'].map((type) => Type.Literal(type)),
              ),
            ),
            source: Type.Optional(Type.String({ minLength: 1 })),
            event: Type.Optional(Type.String({ minLength: 1 })),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: false },
);
export type RulesFile = Static<typeof RulesFile>;

const validate = new Ajv({ allErrors: false, strict: false }).compile(RulesFile);

/**
 * Reads the rules file. Blocked values add to the built-in ones (placeholders such as "null" or
 * "test@test.com" stay blocked); limits per type add to or replace the default ones; a priority
 * list replaces the default order (types it leaves out rank last).
 */
export function loadRulesFile(path: string): Rules {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw rulesError(path, `cannot be read (${(error as Error).message})`, undefined, error);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw rulesError(path, `is not valid JSON: ${(error as Error).message}`, undefined, error);
  }
  return rulesFrom(parsed, path);
}

export function rulesFrom(parsed: unknown, path = 'rules'): Rules {
  if (!validate(parsed)) {
    const [error] = validate.errors ?? [];
    const field = (error?.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
    const detail =
      error?.keyword === 'additionalProperties'
        ? `has an unknown setting "${String((error.params as { additionalProperty: string }).additionalProperty)}"`
        : (error?.message ?? 'is invalid');
    throw rulesError(path, `${field === '' ? '' : `${field} `}${detail}`, field || undefined);
  }
  const file = parsed as RulesFile;
  const identity = file.identity ?? {};
  const country = identity.defaultCountry;
  if (country !== undefined && !(getCountries() as string[]).includes(country)) {
    throw rulesError(
      path,
      `identity.defaultCountry "${country}" is not a country code`,
      'identity.defaultCountry',
    );
  }
  const blocked: Record<string, string[]> = {};
  for (const [type, values] of Object.entries(defaultIdentifierRules.blockedValues))
    blocked[type] = [...values];
  for (const [type, values] of Object.entries(identity.blockedValues ?? {})) {
    blocked[type] = [...(blocked[type] ?? []), ...values.map((value) => value.trim().toLowerCase())];
  }
  const consent = consentRulesFrom(file.consent, path);
  return {
    identifiers: {
      defaultCountry: (country ?? defaultIdentifierRules.defaultCountry) as CountryCode,
      gmailNormalisation: identity.gmailNormalisation ?? defaultIdentifierRules.gmailNormalisation,
      customTypes: identity.customTypes ?? defaultIdentifierRules.customTypes,
      blockedValues: blocked,
    },
    identity: {
      maxPerProfile: { ...defaultIdentityRules.maxPerProfile, ...identity.maxPerProfile },
      priority: identity.priority ?? [...defaultIdentityRules.priority, ...(identity.customTypes ?? [])],
      maxProfilesPerIdentifier:
        identity.maxProfilesPerIdentifier ?? defaultIdentityRules.maxProfilesPerIdentifier,
    },
    traits: {
      sourcePriority: file.traits?.sourcePriority ?? defaultTraitRules.sourcePriority,
      firstTouch: file.traits?.firstTouch ?? defaultTraitRules.firstTouch,
    },
    consent,
    retention: file.retention ?? [],
    personalTraits: file.personalTraits ?? [],
  };
}

function rulesError(path: string, problem: string, field?: string, cause?: unknown): CibleError {
  return new CibleError('CIBLE_ERR_CONFIG_INVALID', `The rules file ${path}: ${problem}.`, {
    ...(field === undefined ? {} : { field }),
    ...(cause === undefined ? {} : { cause }),
  });
}
