import { CibleError } from '../errors.ts';
import type { StoredEvent } from './events.ts';

/** The purposes every Cible records consent for; deployments add their own in the rules file. */
export const standardPurposes = [
  'analytics',
  'personalization',
  'email',
  'sms',
  'push',
  'postal',
  'phone',
  'advertising',
] as const;
export type StandardPurpose = (typeof standardPurposes)[number];

export type ConsentState = 'granted' | 'denied';
/** `unknown`: the person never expressed a choice for the purpose. */
export type ConsentValue = ConsentState | 'unknown';
/** Email only: `pending` once confirmation was asked, `confirmed` once the person confirmed. */
export type DoubleOptInState = 'none' | 'pending' | 'confirmed';
/** How consent reached Cible: the SDK's consent preferences, a `Consent Updated` event, the admin API, an import. */
export type ConsentMethod = 'sdk' | 'event' | 'api' | 'import';

/** One expression of consent for one purpose, at one time. */
export interface ConsentObservation {
  readonly purpose: string;
  readonly state: ConsentState;
  /** Email only; a denial resets the double opt-in whatever this says. */
  readonly doubleOptIn?: 'pending' | 'confirmed';
  /** Milliseconds since the epoch: when the person expressed it (the event time), not when Cible heard of it. */
  readonly at: number;
  readonly sourceId: string;
  /** The event's messageId, or the id of the API request or import. */
  readonly messageId: string;
  readonly method: ConsentMethod;
  /** How, in the words of whoever recorded it: "form", "call centre". */
  readonly detail?: string;
}

/** The consent in force for one purpose, and where it came from. */
export interface PurposeConsent {
  readonly state: ConsentState;
  /** When the choice in force was expressed (the change, not the last repetition). */
  readonly at: number;
  readonly sourceId: string;
  readonly messageId: string;
  readonly method: ConsentMethod;
  readonly detail?: string;
}

/** A profile's consent now. Plain data, stored as JSON. */
export interface ConsentStatus {
  /** Purposes the person never expressed a choice for are absent. */
  readonly purposes: Readonly<Record<string, PurposeConsent>>;
  /** Email double opt-in; absent means `none`. */
  readonly doubleOptIn?: { readonly state: DoubleOptInState; readonly at: number };
}

export interface ConsentRules {
  /** Every purpose consent is recorded for: the standard ones, then the deployment's own. */
  readonly purposes: readonly string[];
  /**
   * Category of the website's consent manager (lower case) → the purposes it stands for. A category
   * mapped to no purpose is known and ignored (strictly necessary cookies need no consent).
   */
  readonly categories: Readonly<Record<string, readonly string[]>>;
  /** Email may be used only once the person confirmed the address (double opt-in). */
  readonly emailDoubleOptIn: boolean;
  /** Whether people who never answered for analytics are counted; see `analyticsAllowed`. */
  readonly analyticsDefault: 'include' | 'exclude';
}

const ownNames = Object.fromEntries(standardPurposes.map((purpose) => [purpose, [purpose]]));

export const defaultConsentRules: ConsentRules = {
  purposes: standardPurposes,
  categories: {
    ...ownNames,
    marketing: ['email', 'sms', 'push', 'postal', 'phone'],
    functional: ['personalization'],
    personalisation: ['personalization'],
    targeting: ['advertising'],
    ads: ['advertising'],
    performance: ['analytics'],
    statistics: ['analytics'],
    necessary: [],
    essential: [],
    'strictly necessary': [],
  },
  emailDoubleOptIn: false,
  analyticsDefault: 'include',
};

/** The rules file's `consent` section. */
export interface ConsentConfig {
  /** Purposes beyond the standard ones, e.g. "loyalty", "surveys". */
  readonly purposes?: readonly string[];
  /** Added to the default categories; a category named here replaces the default mapping. */
  readonly categories?: Readonly<Record<string, string | readonly string[]>>;
  readonly emailDoubleOptIn?: boolean;
  readonly analyticsDefault?: 'include' | 'exclude';
}

const purposeName = /^[a-z][a-z0-9_]{0,39}$/;
const configKeys = new Set(['purposes', 'categories', 'emailDoubleOptIn', 'analyticsDefault']);

/**
 * Reads the `consent` section of the rules file (undefined: the defaults). Custom purposes add to the
 * standard ones and each is its own consent-manager category; categories add to or replace the default
 * ones. Throws CIBLE_ERR_CONFIG_INVALID naming the field.
 */
export function consentRulesFrom(config: unknown, path = 'rules'): ConsentRules {
  if (config === undefined) return defaultConsentRules;
  const fail = (field: string, problem: string): CibleError =>
    new CibleError('CIBLE_ERR_CONFIG_INVALID', `The rules file ${path}: ${field} ${problem}.`, { field });
  if (!isObject(config)) {
    throw fail('consent', `must be an object such as {"purposes": ["loyalty"]}, not ${shown(config)}`);
  }
  for (const key of Object.keys(config)) {
    if (!configKeys.has(key)) throw fail('consent', `has an unknown setting "${key}"`);
  }

  const purposes: string[] = [...standardPurposes];
  if (config.purposes !== undefined) {
    if (!Array.isArray(config.purposes)) {
      throw fail('consent.purposes', `must be a list of purpose names such as ["loyalty"]`);
    }
    (config.purposes as unknown[]).forEach((name, index) => {
      if (typeof name !== 'string' || !purposeName.test(name)) {
        throw fail(
          `consent.purposes.${index}`,
          `${shown(name)} is not a valid purpose name: use lower-case letters, digits and _, starting with a letter, at most 40 characters`,
        );
      }
      if (!purposes.includes(name)) purposes.push(name);
    });
  }

  const categories: Record<string, readonly string[]> = { ...defaultConsentRules.categories };
  // A custom purpose is its own category, even where a common name meant something else by default.
  for (const purpose of purposes) categories[purpose] = [purpose];
  if (config.categories !== undefined) {
    if (!isObject(config.categories)) {
      throw fail(
        'consent.categories',
        `must be an object of category names to purposes, such as {"C0004": "advertising"}`,
      );
    }
    const named = new Map<string, string>();
    for (const [category, value] of Object.entries(config.categories)) {
      const field = fieldPath('consent.categories', category);
      const key = category.trim().toLowerCase();
      if (key === '') throw fail(field, 'is an empty category name');
      const earlier = named.get(key);
      if (earlier !== undefined) {
        throw fail(
          field,
          `names the same category as "${earlier}" (category names are compared without case): keep one`,
        );
      }
      named.set(key, category);
      const list: unknown[] | undefined =
        typeof value === 'string' ? [value] : Array.isArray(value) ? (value as unknown[]) : undefined;
      if (list === undefined) {
        throw fail(field, `must be a purpose name or a list of purpose names, not ${shown(value)}`);
      }
      list.forEach((purpose, index) => {
        if (typeof purpose !== 'string' || !purposes.includes(purpose)) {
          const where = typeof value === 'string' ? field : `${field}.${index}`;
          throw fail(where, `${shown(purpose)} is not a purpose; the purposes are ${purposes.join(', ')}`);
        }
      });
      categories[key] = [...new Set(list as string[])];
    }
  }

  const emailDoubleOptIn = config.emailDoubleOptIn ?? defaultConsentRules.emailDoubleOptIn;
  if (typeof emailDoubleOptIn !== 'boolean') {
    throw fail('consent.emailDoubleOptIn', `must be true or false, not ${shown(emailDoubleOptIn)}`);
  }
  const analyticsDefault = config.analyticsDefault ?? defaultConsentRules.analyticsDefault;
  if (analyticsDefault !== 'include' && analyticsDefault !== 'exclude') {
    throw fail('consent.analyticsDefault', `must be "include" or "exclude", not ${shown(analyticsDefault)}`);
  }
  return { purposes, categories, emailDoubleOptIn, analyticsDefault };
}

/** A piece of consent input Cible could not read; the rest of the input is still used. */
export interface ConsentInputError {
  /** Where, as a path in the input: `properties.purposes.foo`. */
  readonly field: string;
  readonly value: unknown;
  /** Why, in a word: to count errors by reason. */
  readonly kind: 'unknown-purpose' | 'invalid-value' | 'invalid-shape';
  /** What was wrong and what to send instead. */
  readonly message: string;
}

export interface ConsentStateEntry {
  readonly purpose: string;
  readonly state: ConsentState;
}

/**
 * Reads a `{ purpose: state }` object ("granted" / "denied" or true / false): the body of the admin
 * API, an import row, the `purposes` of a `Consent Updated` event. `field` is where the object sits,
 * for the error messages.
 */
export function consentStatesFrom(
  value: unknown,
  rules: ConsentRules = defaultConsentRules,
  field = 'purposes',
): { states: ConsentStateEntry[]; errors: ConsentInputError[] } {
  const states: ConsentStateEntry[] = [];
  const errors: ConsentInputError[] = [];
  if (!isObject(value)) {
    errors.push({
      field,
      value,
      kind: 'invalid-shape',
      message: `${field} must be an object of purposes to "granted" or "denied", such as {"email": "granted"}, not ${shown(value)}.`,
    });
    return { states, errors };
  }
  for (const [name, raw] of Object.entries(value)) {
    const at = fieldPath(field, name);
    const purpose = readPurpose(name, at, rules, errors);
    const state = readState(raw, at, errors);
    if (purpose !== undefined && state !== undefined) states.push({ purpose, state });
  }
  return { states, errors };
}

/** The event a website or back end sends when a person changes their consent. */
export const consentUpdatedEvent = 'Consent Updated';

export type ConsentEvent = Pick<
  StoredEvent,
  'type' | 'event' | 'timestamp' | 'sourceId' | 'messageId' | 'properties' | 'context'
>;

export interface ConsentExtraction {
  readonly observations: ConsentObservation[];
  readonly errors: ConsentInputError[];
  /** Consent-manager categories that stand for no purpose, as sent: add them to `consent.categories`. */
  readonly unknownCategories: string[];
}

/**
 * The consent an event expresses: the SDK's `context.consent.categoryPreferences` (sent with every
 * event) and the properties of a `Consent Updated` event. When both speak for a purpose, the event's
 * properties come last and so win (see `foldConsent`).
 */
export function consentObservationsOf(
  event: ConsentEvent,
  rules: ConsentRules = defaultConsentRules,
): ConsentExtraction {
  const extraction: ConsentExtraction = { observations: [], errors: [], unknownCategories: [] };
  const origin = { at: event.timestamp, sourceId: event.sourceId, messageId: event.messageId };
  // Most events carry no consent: look for the key before paying for a parse.
  if (event.context !== null && event.context.includes('"consent"')) {
    const context = parseObject(event.context, 'context', extraction.errors);
    if (context !== undefined) preferencesOf(context, rules, origin, extraction);
  }
  if (event.type === 'track' && event.event === consentUpdatedEvent) {
    consentUpdatedOf(event.properties, rules, origin, extraction);
  }
  return extraction;
}

type Origin = Pick<ConsentObservation, 'at' | 'sourceId' | 'messageId'>;

function preferencesOf(
  context: Record<string, unknown>,
  rules: ConsentRules,
  origin: Origin,
  extraction: ConsentExtraction,
): void {
  const consent = context.consent;
  if (!isObject(consent) || consent.categoryPreferences === undefined) return;
  const field = 'context.consent.categoryPreferences';
  const preferences = consent.categoryPreferences;
  if (!isObject(preferences)) {
    extraction.errors.push({
      field,
      value: preferences,
      kind: 'invalid-shape',
      message: `${field} must be an object of category names to true or false, not ${shown(preferences)}.`,
    });
    return;
  }
  const chosen = new Map<string, { state: ConsentState; breadth: number }>();
  for (const [category, value] of Object.entries(preferences)) {
    const key = category.trim().toLowerCase();
    if (!hasOwn(rules.categories, key)) {
      extraction.unknownCategories.push(category);
      continue;
    }
    if (typeof value !== 'boolean') {
      const at = fieldPath(field, category);
      extraction.errors.push({
        field: at,
        value,
        kind: 'invalid-value',
        message: `${at} is ${shown(value)}: the consent manager must send true or false for each category.`,
      });
      continue;
    }
    const purposes = rules.categories[key] ?? [];
    const state: ConsentState = value ? 'granted' : 'denied';
    for (const purpose of purposes) {
      const previous = chosen.get(purpose);
      // The narrowest category speaks for a purpose ("email" over "marketing"); between equals, denial wins.
      if (
        previous === undefined ||
        purposes.length < previous.breadth ||
        (purposes.length === previous.breadth && state === 'denied')
      ) {
        chosen.set(purpose, { state, breadth: purposes.length });
      }
    }
  }
  for (const [purpose, { state }] of chosen) {
    extraction.observations.push({ purpose, state, ...origin, method: 'sdk' });
  }
}

const bothShapes = 'send {"purposes": {"email": "granted"}} or {"purpose": "email", "state": "granted"}';

function consentUpdatedOf(
  text: string | null,
  rules: ConsentRules,
  origin: Origin,
  extraction: ConsentExtraction,
): void {
  const { errors } = extraction;
  const properties = text === null ? undefined : parseObject(text, 'properties', errors);
  if (text !== null && properties === undefined) return;
  const hasPurposes = properties?.purposes !== undefined;
  const hasPurpose = properties?.purpose !== undefined;
  if (properties === undefined || hasPurposes === hasPurpose) {
    errors.push({
      field: 'properties',
      value: properties ?? null,
      kind: 'invalid-shape',
      message: `properties of a ${consentUpdatedEvent} event ${properties === undefined ? 'are missing' : hasPurposes ? 'have both purposes and purpose' : 'name no purpose'}: ${bothShapes}.`,
    });
    return;
  }

  let states: ConsentStateEntry[];
  if (hasPurposes) {
    const read = consentStatesFrom(properties.purposes, rules, 'properties.purposes');
    states = read.states;
    errors.push(...read.errors);
  } else {
    const purpose = readPurpose(properties.purpose, 'properties.purpose', rules, errors);
    const state = readState(properties.state, 'properties.state', errors);
    states = purpose !== undefined && state !== undefined ? [{ purpose, state }] : [];
  }

  const doubleOptIn = readDoubleOptIn(properties.doubleOptIn, states, hasPurposes, errors);
  const detail = readDetail(properties.method, errors);
  for (const { purpose, state } of states) {
    extraction.observations.push({
      purpose,
      state,
      ...(purpose === 'email' && doubleOptIn !== undefined ? { doubleOptIn } : {}),
      ...origin,
      method: 'event',
      ...(detail === undefined ? {} : { detail }),
    });
  }
}

function readPurpose(
  raw: unknown,
  field: string,
  rules: ConsentRules,
  errors: ConsentInputError[],
): string | undefined {
  const purpose = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined;
  if (purpose !== undefined && rules.purposes.includes(purpose)) return purpose;
  errors.push({
    field,
    value: raw,
    kind: 'unknown-purpose',
    message:
      `${field}: ${shown(raw)} is not a consent purpose. Known purposes: ${rules.purposes.join(', ')}. ` +
      `To record consent for another purpose, add it to the rules file under consent.purposes.`,
  });
  return undefined;
}

function readState(raw: unknown, field: string, errors: ConsentInputError[]): ConsentState | undefined {
  if (raw === true) return 'granted';
  if (raw === false) return 'denied';
  const state = typeof raw === 'string' ? raw.trim().toLowerCase() : undefined;
  if (state === 'granted' || state === 'denied') return state;
  errors.push({
    field,
    value: raw,
    kind: 'invalid-value',
    message: `${field} is ${shown(raw)}: write "granted", "denied", true or false.`,
  });
  return undefined;
}

function readDoubleOptIn(
  raw: unknown,
  states: readonly ConsentStateEntry[],
  hasPurposes: boolean,
  errors: ConsentInputError[],
): 'pending' | 'confirmed' | undefined {
  if (raw === undefined || raw === null) return undefined;
  const field = 'properties.doubleOptIn';
  const fault = (message: string): undefined => {
    errors.push({ field, value: raw, kind: 'invalid-value', message: `${field} ${message}.` });
    return undefined;
  };
  if (raw !== 'pending' && raw !== 'confirmed') {
    return fault(`is ${shown(raw)}: write "pending" (confirmation asked) or "confirmed"`);
  }
  const email = states.find((entry) => entry.purpose === 'email');
  if (email === undefined) {
    return fault(
      `applies to email consent only, and this event sets none: ${hasPurposes ? 'add "email": "granted" to properties.purposes' : 'set properties.purpose to "email"'}`,
    );
  }
  if (email.state === 'denied') {
    return fault(`is "${raw}" but email consent is denied: a double opt-in goes with granted consent only`);
  }
  return raw;
}

function readDetail(raw: unknown, errors: ConsentInputError[]): string | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'string') {
    errors.push({
      field: 'properties.method',
      value: raw,
      kind: 'invalid-value',
      message: `properties.method is ${shown(raw)}: write how consent was given as text, such as "form" or "call centre".`,
    });
    return undefined;
  }
  const detail = raw.trim().slice(0, 100);
  return detail === '' ? undefined : detail;
}

/**
 * The observations that change something, in input order: the SDK repeats the same preferences
 * on every event, and history records changes, not repetitions.
 *
 * The rule: an observation is kept when it differs from the state in force at its own time (the
 * latest earlier observation of its purpose; ties go to the later one in input order), for the
 * consent or, for email, the double opt-in. An observation older than the current state (events
 * arrive out of order) can be kept as history, but never overrides the newer state: `foldConsent`
 * takes the latest by time.
 *
 * What was in force before the current state is read from `history` when given (exact), otherwise
 * only from the observations kept earlier in this call; a late observation with nothing known
 * before it is kept, so history may hold a repetition rather than miss a change.
 */
export function changesOf(
  current: ConsentStatus | undefined,
  observations: readonly ConsentObservation[],
  history: readonly ConsentObservation[] = [],
): ConsentObservation[] {
  const states = new Map<string, Point<ConsentState>[]>();
  const doubleOptIns: Point<DoubleOptInState>[] = [];
  const record = (observation: ConsentObservation, seq: number): void => {
    const timeline = states.get(observation.purpose) ?? [];
    timeline.push({ at: observation.at, seq, value: observation.state });
    states.set(observation.purpose, timeline);
    const said = doubleOptInSaid(observation);
    if (said !== undefined) doubleOptIns.push({ at: observation.at, seq, value: said });
  };
  // Stored history first, then the current state (which is its fold), then this call's observations.
  history.forEach((observation, index) => record(observation, index - history.length - 1));
  for (const [purpose, consent] of Object.entries(current?.purposes ?? {})) {
    states.set(purpose, [...(states.get(purpose) ?? []), { at: consent.at, seq: -1, value: consent.state }]);
  }
  if (current?.doubleOptIn !== undefined)
    doubleOptIns.push({ ...current.doubleOptIn, seq: -1, value: current.doubleOptIn.state });

  const changes: ConsentObservation[] = [];
  observations.forEach((observation, seq) => {
    const before = inForce(states.get(observation.purpose) ?? [], observation.at);
    const said = doubleOptInSaid(observation);
    const changed =
      before !== observation.state ||
      (said !== undefined && said !== (inForce(doubleOptIns, observation.at) ?? 'none'));
    if (!changed) return;
    changes.push(observation);
    record(observation, seq);
  });
  return changes;
}

interface Point<T> {
  readonly at: number;
  /** Input order, to break ties in time. */
  readonly seq: number;
  readonly value: T;
}

function inForce<T>(timeline: readonly Point<T>[], at: number): T | undefined {
  let best: Point<T> | undefined;
  for (const point of timeline) {
    if (point.at > at) continue;
    if (best === undefined || point.at > best.at || (point.at === best.at && point.seq > best.seq))
      best = point;
  }
  return best?.value;
}

/** What an email observation says of the double opt-in: a denial resets it; a bare grant leaves it. */
function doubleOptInSaid(observation: ConsentObservation): DoubleOptInState | undefined {
  if (observation.purpose !== 'email') return undefined;
  return observation.state === 'denied' ? 'none' : observation.doubleOptIn;
}

/**
 * The consent status a history leads to, from `initial` (nothing by default): for each purpose the
 * latest observation by time, ties going to the later one in input order; the email double opt-in
 * from the latest email observation that speaks of it. Rebuilds a profile's status from its stored
 * history; after a merge, fold the union of both histories. `foldConsent(later, foldConsent(earlier))`
 * equals `foldConsent([...earlier, ...later])`.
 */
export function foldConsent(
  history: Iterable<ConsentObservation>,
  initial: ConsentStatus = { purposes: {} },
): ConsentStatus {
  const purposes: Record<string, PurposeConsent> = { ...initial.purposes };
  let doubleOptIn = initial.doubleOptIn;
  for (const observation of history) {
    const { purpose, at } = observation;
    const current = hasOwn(purposes, purpose) ? purposes[purpose] : undefined;
    if (current === undefined || at >= current.at) {
      purposes[purpose] = {
        state: observation.state,
        at,
        sourceId: observation.sourceId,
        messageId: observation.messageId,
        method: observation.method,
        ...(observation.detail === undefined ? {} : { detail: observation.detail }),
      };
    }
    const said = doubleOptInSaid(observation);
    if (said !== undefined && (doubleOptIn === undefined || at >= doubleOptIn.at)) {
      doubleOptIn = { state: said, at };
    }
  }
  return doubleOptIn === undefined ? { purposes } : { purposes, doubleOptIn };
}

export function consentOf(status: ConsentStatus | undefined, purpose: string): ConsentValue {
  if (status === undefined || !hasOwn(status.purposes, purpose)) return 'unknown';
  return status.purposes[purpose]?.state ?? 'unknown';
}

/**
 * Whether data may leave Cible for a purpose: only with consent granted, and for email, when the
 * rules ask for double opt-in, only once the address is confirmed.
 */
export function mayUse(
  status: ConsentStatus | undefined,
  purpose: string,
  rules: ConsentRules = defaultConsentRules,
): boolean {
  if (consentOf(status, purpose) !== 'granted') return false;
  if (purpose === 'email' && rules.emailDoubleOptIn) return status?.doubleOptIn?.state === 'confirmed';
  return true;
}

/**
 * Whether a person's behaviour may be counted in analysis. A refusal always excludes them. Whether
 * someone who never answered is counted is the business's call (audience measurement can rest on
 * legitimate interest in some countries and not others), hence `rules.analyticsDefault`, which
 * includes them by default.
 */
export function analyticsAllowed(
  status: ConsentStatus | undefined,
  rules: ConsentRules = defaultConsentRules,
): boolean {
  const consent = consentOf(status, 'analytics');
  if (consent === 'unknown') return rules.analyticsDefault === 'include';
  return consent === 'granted';
}

function parseObject(
  text: string,
  field: string,
  errors: ConsentInputError[],
): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    errors.push({
      field,
      value: text,
      kind: 'invalid-shape',
      message: `${field} is not valid JSON (${(error as Error).message}).`,
    });
    return undefined;
  }
  if (isObject(parsed)) return parsed;
  errors.push({
    field,
    value: parsed,
    kind: 'invalid-shape',
    message: `${field} must be a JSON object, not ${shown(parsed)}.`,
  });
  return undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Own keys only: a category sent as "constructor" or "toString" is not a known one. */
function hasOwn(record: object, key: string): boolean {
  return Object.hasOwn(record, key);
}

/** `base.key`, or `base["Strictly Necessary"]` when the key is not a plain name. */
function fieldPath(base: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
