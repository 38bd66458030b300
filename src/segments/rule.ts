/**
 * The segment language: one immutable tree that says who is in a segment. The text form
 * (segment-text.ts) parses to it and prints from it; the in-memory evaluator (evaluate-rule.ts)
 * judges one profile with it in real time; the store compiles it to one SQL query for the whole
 * base. All of them read this tree and nothing else, so they cannot disagree.
 *
 * Semantics every evaluator follows:
 * - A trait is the value the profile shows (see mergeTraits). A missing or null trait fails every
 *   test, `!=` included; only a negation holds: `not trait city = "Paris"` holds without a city.
 * - `=`, `!=` and `in` compare JSON values of the same type (the number 3 is not the string "3").
 *   `<`, `<=`, `>`, `>=` compare numbers with numbers and strings with strings (by code point).
 * - `contains` holds for a string that contains the text, or a list with an element equal to it.
 * - Dates are ISO 8601 strings (`2026-03-01`, `2026-03-01T10:00:00Z`, UTC without an offset).
 * - Event conditions look at `track` events of the profile with that name. `count` counts them;
 *   `sum`, `min`, `max` and `avg` read a numeric property and skip events where it is not a number.
 *   With no event, count and sum are 0; min, max and avg have no value and fail every comparison.
 * - Windows: `in last N days` holds events at or after now minus N days (later ones too);
 *   `between A and B` holds A <= timestamp < B. `within last N days` tests the same way.
 * - Consent is the fold of the changes recorded for the profile's origin profiles (foldConsent in
 *   src/domain/consent.ts: per purpose the latest change by time, ties to the one recorded last).
 *   `consent email` holds when the purpose may be used (mayUse: granted, and for email, when the
 *   consent rules ask for double opt-in, confirmed); `consent sms is denied` tests the state alone
 *   (`unknown`: no choice recorded).
 */

export type Rule = AndRule | OrRule | NotRule | Condition;

export type Condition =
  | TraitCondition
  | EventCondition
  | OccurrenceCondition
  | SegmentCondition
  | IdentifierCondition
  | ConsentCondition;

export interface AndRule {
  readonly kind: 'and';
  readonly rules: readonly Rule[];
}

export interface OrRule {
  readonly kind: 'or';
  readonly rules: readonly Rule[];
}

export interface NotRule {
  readonly kind: 'not';
  readonly rule: Rule;
}

/** `trait city = "Paris"`, `trait tags contains "vip"`, `trait birthday before "2000-01-01"`. */
export interface TraitCondition {
  readonly kind: 'trait';
  /** A trait name; dots do not reach into objects (a trait is one value). */
  readonly name: string;
  readonly test: ValueTest;
}

/** `count(event "Order Completed" in last 30 days) >= 3`, `sum(event "Order Completed".revenue ...) > 200`. */
export interface EventCondition {
  readonly kind: 'event';
  readonly aggregate: 'count' | 'sum' | 'min' | 'max' | 'avg';
  readonly event: string;
  /** The property `sum`, `min`, `max` and `avg` read (a path into `properties`); none for `count`. */
  readonly property?: readonly string[];
  /** Every filter must hold for an event to count. */
  readonly where: readonly PropertyFilter[];
  readonly window: Window;
  readonly op: NumberOp;
  readonly value: number;
}

/** `last(event "Order Completed") within last 60 days`, `first(event "Signed Up") before "2026-01-01"`. */
export interface OccurrenceCondition {
  readonly kind: 'occurrence';
  readonly which: 'first' | 'last';
  readonly event: string;
  readonly where: readonly PropertyFilter[];
  readonly test: DateTest;
}

/** `in segment "VIP"`: the profile meets that segment's rule. */
export interface SegmentCondition {
  readonly kind: 'segment';
  /** The segment's name as written; resolved to a rule when evaluated. */
  readonly segment: string;
}

/** `has email`, `has phone`: the profile holds at least one identifier of the type. */
export interface IdentifierCondition {
  readonly kind: 'identifier';
  readonly type: string;
}

/** `consent email` (email may be used), `consent sms is denied`: the person's consent for a purpose. */
export interface ConsentCondition {
  readonly kind: 'consent';
  /** A consent purpose: a standard one (email, sms...) or one the deployment added. */
  readonly purpose: string;
  /** `may-use`: granted and, for email when the rules ask for it, the double opt-in confirmed. */
  readonly test: ConsentTest;
}

export const consentTests = ['may-use', 'granted', 'denied', 'unknown'] as const;
export type ConsentTest = (typeof consentTests)[number];

/** What a purpose name in a rule looks like (the names of src/domain/consent.ts). */
export const purposePattern = '^[a-z][a-z0-9_]*$';

/**
 * A computed trait: a value per profile aggregated from its events, `sum(event "Order Completed".revenue
 * in last 90 days)`, `mode(event "Order Completed".category)`. A rule reads it as a trait of that name.
 * - `count` counts events (0 without any); `sum` adds a numeric property (0 without any); `min`,
 *   `max`, `avg` read a numeric property (no value without any).
 * - `first` and `last`: the time of the first or last event (ISO 8601 text), or with a property,
 *   its value at the first or last event that has it. Ties in time go to the event recorded first
 *   (for `first`) or last (for `last`).
 * - `mode`: the most frequent value of a property; a tie goes to the value seen latest, then to
 *   the smallest JSON text.
 * - `distinct`: the list of a property's different values, sorted by their JSON text.
 * Null and absent properties are skipped by every aggregate that reads one.
 * Events the retention job deleted still count, through the roll-ups it kept of them for each
 * expression (ExpressionRollup in evaluate-rule.ts), taken at the time of their day's last event.
 */
export interface EventExpression {
  readonly aggregate: ExpressionAggregate;
  readonly event: string;
  readonly property?: readonly string[];
  readonly where: readonly PropertyFilter[];
  readonly window: Window;
}

export const expressionAggregates = [
  'count',
  'sum',
  'min',
  'max',
  'avg',
  'first',
  'last',
  'mode',
  'distinct',
] as const;

export type ExpressionAggregate = (typeof expressionAggregates)[number];

/** A test on an event property, `category = "shoes"`; the path reaches into nested objects. */
export interface PropertyFilter {
  readonly property: readonly string[];
  readonly test: ValueTest;
}

export type NumberOp = '<' | '<=' | '>' | '>=' | '=' | '!=';

export type ValueTest =
  | { readonly op: '=' | '!='; readonly value: Scalar }
  | { readonly op: '<' | '<=' | '>' | '>='; readonly value: number | string }
  | { readonly op: 'contains'; readonly value: string }
  | { readonly op: 'in'; readonly values: readonly Scalar[] }
  | { readonly op: 'exists' }
  | DateTest;

export type DateTest =
  | { readonly op: 'before' | 'after'; readonly date: DateRef }
  | { readonly op: 'within'; readonly last: Duration };

/** A point in time: a fixed date, or an amount of time before now. */
export type DateRef = { readonly at: string } | { readonly ago: Duration };

export type Scalar = string | number | boolean;

export interface Duration {
  readonly amount: number;
  readonly unit: TimeUnit;
}

export type TimeUnit = 'minutes' | 'hours' | 'days' | 'weeks';

export type Window =
  | { readonly kind: 'ever' }
  | { readonly kind: 'last'; readonly duration: Duration }
  | { readonly kind: 'between'; readonly from: string; readonly to: string };

export const unitMs: Readonly<Record<TimeUnit, number>> = {
  minutes: 60_000,
  hours: 3_600_000,
  days: 86_400_000,
  weeks: 604_800_000,
};

export function durationMs(duration: Duration): number {
  return duration.amount * unitMs[duration.unit];
}

const isoDate =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(\.\d{1,6})?)?(Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)?)?$/;

/** The dates parseIsoDate reads, as a regular expression the SQL compilers use too. */
export const isoDatePattern = isoDate.source;

/**
 * Milliseconds since the epoch of an ISO 8601 date or date-time (UTC when it has no offset), or
 * undefined when the text is not one. The SQL compilers accept exactly the same forms.
 */
export function parseIsoDate(text: string): number | undefined {
  const match = isoDate.exec(text);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction, offset] = match;
  const ms = Date.UTC(
    Number(year),
    Number(month) - 1,
    Number(day),
    Number(hour ?? 0),
    Number(minute ?? 0),
    Number(second ?? 0),
    fraction === undefined ? 0 : Math.floor(Number(fraction) * 1000),
  );
  const check = new Date(ms);
  if (check.getUTCFullYear() !== Number(year) || check.getUTCMonth() !== Number(month) - 1) return undefined;
  if (check.getUTCDate() !== Number(day)) return undefined;
  if (offset === undefined || offset === 'Z') return ms;
  const sign = offset.startsWith('-') ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  return ms - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
}

/** The date a reference names, ms. */
export function resolveDate(ref: DateRef, now: number): number {
  if ('at' in ref) {
    const ms = parseIsoDate(ref.at);
    if (ms === undefined) throw new Error(`not an ISO 8601 date: ${ref.at}`);
    return ms;
  }
  return now - durationMs(ref.ago);
}

/** Segments a rule names with `in segment`, each once. */
export function segmentsNamed(rule: Rule): string[] {
  const names = new Set<string>();
  const visit = (node: Rule): void => {
    if (node.kind === 'and' || node.kind === 'or') node.rules.forEach(visit);
    else if (node.kind === 'not') visit(node.rule);
    else if (node.kind === 'segment') names.add(node.segment);
  };
  visit(rule);
  return [...names];
}
