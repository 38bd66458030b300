import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

/** The identifier types every Cible knows; deployments add their own (loyalty cards, CRM ids...). */
export const builtInIdentifierTypes = [
  'userId',
  'anonymousId',
  'email',
  'phone',
  'deviceId',
  'advertisingId',
  'loyaltyId',
  'crmId',
  'facebookId',
  'instagramId',
  'twitterId',
  'linkedinId',
] as const;

/** One identifier of a person, normalised: equal values mean the same identifier. */
export interface Identifier {
  readonly type: string;
  readonly value: string;
}

export interface IdentifierRejection {
  readonly type: string;
  readonly raw: unknown;
  /** Why, in a word: to count rejections by reason. */
  readonly kind: IdentifierRejectionKind;
  readonly reason: string;
}

export type IdentifierRejectionKind = 'unknown-type' | 'not-text' | 'empty' | 'invalid' | 'placeholder';

export interface IdentifierRules {
  /** Country assumed for phone numbers written without an international prefix (ISO 3166 alpha-2). */
  readonly defaultCountry: CountryCode;
  /** Gmail ignores dots and "+tags" in the local part: treat them as the same address. */
  readonly gmailNormalisation: boolean;
  /** Types beyond the built-in ones, e.g. "loyaltyId", "crmId", "facebookId". */
  readonly customTypes: readonly string[];
  /** Values that never identify anyone (placeholders, test data), per type; "*" applies to every type. */
  readonly blockedValues: Readonly<Record<string, readonly string[]>>;
}

export const defaultIdentifierRules: IdentifierRules = {
  defaultCountry: 'FR',
  gmailNormalisation: true,
  customTypes: [],
  blockedValues: {
    '*': [
      'null',
      'undefined',
      'none',
      'nil',
      'n/a',
      'na',
      '0',
      '-1',
      'unknown',
      'anonymous',
      'test',
      '[object object]',
    ],
    email: ['test@test.com', 'test@example.com', 'email@example.com', 'noreply@example.com', 'a@a.com'],
    phone: ['+33000000000', '+10000000000', '+11111111111'],
    deviceId: ['00000000-0000-0000-0000-000000000000'],
    advertisingId: ['00000000-0000-0000-0000-000000000000'],
  },
};

export function isIdentifier(value: unknown): value is Identifier {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Identifier).type === 'string' &&
    typeof (value as Identifier).value === 'string'
  );
}

/** `type:value`, the key an identifier is indexed by. */
export function identifierKey(identifier: Identifier): string {
  return `${identifier.type}:${identifier.value}`;
}

/** Parses `email:jane@example.com` (the form the profile API takes); the value is not normalised yet. */
export function parseIdentifierKey(key: string): { type: string; raw: string } | undefined {
  const colon = key.indexOf(':');
  if (colon <= 0 || colon === key.length - 1) return undefined;
  return { type: key.slice(0, colon), raw: key.slice(colon + 1) };
}

export function knownIdentifierTypes(rules: IdentifierRules): readonly string[] {
  return [...builtInIdentifierTypes, ...rules.customTypes];
}

/**
 * Normalises one identifier so that two ways of writing it match: e-mail addresses trimmed and
 * lower-cased (and Gmail's dots and +tags dropped), phone numbers in E.164, other values trimmed.
 * Empty, placeholder and invalid values are rejected with the reason.
 */
export function normaliseIdentifier(
  type: string,
  raw: unknown,
  rules: IdentifierRules = defaultIdentifierRules,
): Identifier | IdentifierRejection {
  if (!knownIdentifierTypes(rules).includes(type)) {
    return {
      type,
      raw,
      kind: 'unknown-type',
      reason: `"${type}" is not an identifier type (known: ${knownIdentifierTypes(rules).join(', ')}).`,
    };
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') {
    return { type, raw, kind: 'not-text', reason: `A ${type} must be a string or a number.` };
  }
  const trimmed = String(raw).trim();
  if (trimmed === '') return { type, raw, kind: 'empty', reason: `The ${type} is empty.` };
  let value: string;
  switch (type) {
    case 'email': {
      const email = normaliseEmail(trimmed, rules);
      if (email === undefined) {
        return { type, raw, kind: 'invalid', reason: `"${trimmed}" is not an e-mail address.` };
      }
      value = email;
      break;
    }
    case 'phone': {
      const phone = parsePhoneNumberFromString(trimmed, rules.defaultCountry);
      if (phone === undefined || !phone.isValid()) {
        return {
          type,
          raw,
          kind: 'invalid',
          reason: `"${trimmed}" is not a valid phone number (numbers without a +prefix are read as ${rules.defaultCountry}).`,
        };
      }
      value = phone.number;
      break;
    }
    default:
      value = trimmed;
  }
  if (isBlocked(type, value, rules)) {
    return {
      type,
      raw,
      kind: 'placeholder',
      reason: `"${value}" is a placeholder, not a ${type} that identifies anyone.`,
    };
  }
  return { type, value };
}

export function isIdentifierRejection(value: unknown): value is IdentifierRejection {
  return typeof value === 'object' && value !== null && 'reason' in value;
}

const emailShape = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

function normaliseEmail(trimmed: string, rules: IdentifierRules): string | undefined {
  const lower = trimmed.toLowerCase().replace(/^mailto:/, '');
  if (!emailShape.test(lower)) return undefined;
  const at = lower.lastIndexOf('@');
  let local = lower.slice(0, at);
  let domain = lower.slice(at + 1);
  if (rules.gmailNormalisation && (domain === 'gmail.com' || domain === 'googlemail.com')) {
    domain = 'gmail.com';
    local = local.split('+')[0]!.replaceAll('.', '');
    if (local === '') return undefined;
  }
  return `${local}@${domain}`;
}

/** Whether a value, as written or normalised, is a placeholder that identifies nobody ("n/a", "null", test@test.com...). */
export function isPlaceholderIdentifier(
  type: string,
  value: string,
  rules: IdentifierRules = defaultIdentifierRules,
): boolean {
  return isBlocked(type, value.trim(), rules);
}

function isBlocked(type: string, value: string, rules: IdentifierRules): boolean {
  const lower = value.toLowerCase();
  return (
    (rules.blockedValues['*'] ?? []).includes(lower) || (rules.blockedValues[type] ?? []).includes(lower)
  );
}

/** The parts of a Segment event where identifiers stand. */
export interface IdentifiedEvent {
  readonly userId: string | null;
  readonly anonymousId: string | null;
  /** identify and group: the event's traits. */
  readonly traits?: Readonly<Record<string, unknown>> | null;
  readonly context?: Readonly<Record<string, unknown>> | null;
}

/**
 * The identifiers an event carries, from the standard places of the Segment spec: `userId`,
 * `anonymousId`, `traits.email` / `traits.phone` (or `context.traits`), `context.device.id` and
 * `.advertisingId`, and `context.externalIds[]` ({id, type}). Each is normalised; duplicates are
 * dropped; invalid ones come back separately with their reason.
 */
export function identifiersOf(
  event: IdentifiedEvent,
  rules: IdentifierRules = defaultIdentifierRules,
): { identifiers: Identifier[]; rejected: IdentifierRejection[] } {
  const candidates: [string, unknown][] = [];
  if (event.userId !== null) candidates.push(['userId', event.userId]);
  if (event.anonymousId !== null) candidates.push(['anonymousId', event.anonymousId]);
  const traits = objectAt(event.traits) ?? objectAt(event.context?.traits);
  if (traits !== undefined) {
    if (traits.email !== undefined && traits.email !== null) candidates.push(['email', traits.email]);
    if (traits.phone !== undefined && traits.phone !== null) candidates.push(['phone', traits.phone]);
  }
  const device = objectAt(event.context?.device);
  if (device !== undefined) {
    if (device.id !== undefined && device.id !== null) candidates.push(['deviceId', device.id]);
    if (device.advertisingId !== undefined && device.advertisingId !== null) {
      candidates.push(['advertisingId', device.advertisingId]);
    }
  }
  const externalIds = event.context?.externalIds;
  if (Array.isArray(externalIds)) {
    for (const external of externalIds) {
      const entry = objectAt(external);
      if (entry !== undefined && typeof entry.type === 'string')
        candidates.push([externalType(entry.type), entry.id]);
    }
  }

  const identifiers: Identifier[] = [];
  const rejected: IdentifierRejection[] = [];
  const seen = new Set<string>();
  for (const [type, raw] of candidates) {
    const outcome = normaliseIdentifier(type, raw, rules);
    if (isIdentifierRejection(outcome)) {
      rejected.push(outcome);
      continue;
    }
    const key = identifierKey(outcome);
    if (seen.has(key)) continue;
    seen.add(key);
    identifiers.push(outcome);
  }
  return { identifiers, rejected };
}

/** Segment names external ids in snake_case (`user_id`, `ios.idfa`); Cible's types are camelCase. */
function externalType(type: string): string {
  const aliases: Record<string, string> = {
    user_id: 'userId',
    anonymous_id: 'anonymousId',
    email: 'email',
    phone: 'phone',
    'ios.idfa': 'advertisingId',
    'android.idfa': 'advertisingId',
    'ios.id': 'deviceId',
    'android.id': 'deviceId',
  };
  return aliases[type] ?? type.replace(/[_.-]([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function objectAt(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}
