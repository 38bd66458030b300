import {
  consentOf,
  defaultConsentRules,
  mayUse,
  type ConsentRules,
  type ConsentStatus,
} from '../domain/consent.ts';
import { expressionKey } from './expression-key.ts';
import {
  durationMs,
  parseIsoDate,
  resolveDate,
  type DateTest,
  type EventCondition,
  type EventExpression,
  type NumberOp,
  type OccurrenceCondition,
  type PropertyFilter,
  type Rule,
  type ValueTest,
  type Window,
} from './rule.ts';

/**
 * The in-memory evaluator of the segment language: whether one profile meets a rule, from what
 * the profile is made of. It follows the semantics written in rule.ts, as the SQL compilers do;
 * the tests run both on the same generated data.
 */

/** What a rule can look at in one profile. */
export interface ProfileView {
  /** The value each trait shows (after merging), null or absent when it has none. */
  readonly traits: ReadonlyMap<string, unknown>;
  /** The types of the identifiers the profile holds (email, phone, userId...). */
  readonly identifierTypes: ReadonlySet<string>;
  /** The profile's events; only `track` events take part in event conditions. */
  readonly events: readonly ViewEvent[];
  /** The profile's consent: foldConsent of its origin profiles' changes, in recording order. */
  readonly consent: ConsentStatus;
  /** What retention kept of the events it deleted, for computed traits (see ExpressionRollup). */
  readonly rollups?: readonly ExpressionRollup[];
}

export interface ViewEvent {
  /** Recording order: ties in time go by it. */
  readonly seq: number;
  readonly type: string;
  readonly event: string | null;
  /** Event time, ms. */
  readonly timestamp: number;
  readonly properties: Readonly<Record<string, unknown>> | null;
}

export interface EvaluateOptions {
  /** The time the rule is judged at, ms. */
  readonly now: number;
  /** The rule of a segment named by `in segment`; undefined when there is no such segment. */
  readonly segmentRule: (name: string) => Rule | undefined;
  /** The expression of a computed trait, which a rule reads in place of a stored trait of that name. */
  readonly computedTrait?: (name: string) => EventExpression | undefined;
  /** Whether email needs a confirmed double opt-in to be used; defaultConsentRules when absent. */
  readonly consentRules?: ConsentRules;
}

/** Whether the profile meets the rule. */
export function evaluateRule(rule: Rule, view: ProfileView, options: EvaluateOptions): boolean {
  return judge(rule, view, options, []);
}

function judge(rule: Rule, view: ProfileView, options: EvaluateOptions, within: readonly string[]): boolean {
  switch (rule.kind) {
    case 'and':
      return rule.rules.every((child) => judge(child, view, options, within));
    case 'or':
      return rule.rules.some((child) => judge(child, view, options, within));
    case 'not':
      return !judge(rule.rule, view, options, within);
    case 'trait': {
      const computed = options.computedTrait?.(rule.name);
      const value =
        computed === undefined
          ? view.traits.get(rule.name)
          : evaluateExpression(computed, view.events, options.now, view.rollups);
      return testValue(value, rule.test, options.now);
    }
    case 'identifier':
      return view.identifierTypes.has(rule.type);
    case 'consent':
      return rule.test === 'may-use'
        ? mayUse(view.consent, rule.purpose, options.consentRules ?? defaultConsentRules)
        : consentOf(view.consent, rule.purpose) === rule.test;
    case 'event':
      return compareNumber(aggregate(rule, view.events, options.now), rule.op, rule.value);
    case 'occurrence':
      return occurrence(rule, view.events, options.now);
    case 'segment': {
      if (within.includes(rule.segment)) {
        throw new Error(`segment "${rule.segment}" refers to itself through ${within.join(' → ')}`);
      }
      const segmentRule = options.segmentRule(rule.segment);
      if (segmentRule === undefined) throw new Error(`no segment named "${rule.segment}"`);
      return judge(segmentRule, view, options, [...within, rule.segment]);
    }
  }
}

/** Whether a trait or property value passes a test; a missing or null value passes none. */
export function testValue(value: unknown, test: ValueTest, now: number): boolean {
  if (value === undefined || value === null) return false;
  switch (test.op) {
    case 'exists':
      return true;
    case '=':
      return value === test.value;
    case '!=':
      return value !== test.value;
    case 'in':
      return test.values.some((candidate) => candidate === value);
    case 'contains':
      if (typeof value === 'string') return value.includes(test.value);
      return Array.isArray(value) && value.some((element) => element === test.value);
    case '<':
    case '<=':
    case '>':
    case '>=':
      if (typeof value !== typeof test.value || (typeof value !== 'number' && typeof value !== 'string')) {
        return false;
      }
      return compareOrdered(value, test.op, test.value);
    case 'before':
    case 'after':
    case 'within': {
      if (typeof value !== 'string') return false;
      const at = parseIsoDate(value);
      return at !== undefined && testDate(at, test, now);
    }
  }
}

function compareOrdered(
  value: number | string,
  op: '<' | '<=' | '>' | '>=',
  bound: number | string,
): boolean {
  switch (op) {
    case '<':
      return value < bound;
    case '<=':
      return value <= bound;
    case '>':
      return value > bound;
    case '>=':
      return value >= bound;
  }
}

/** Whether a number (none: never) compares with the bound as the operator says. */
export function compareNumber(value: number | undefined, op: NumberOp, bound: number): boolean {
  if (value === undefined) return false;
  if (op === '=') return value === bound;
  if (op === '!=') return value !== bound;
  return compareOrdered(value, op, bound);
}

/** Whether a time (ms) passes a date test. */
export function testDate(at: number, test: DateTest, now: number): boolean {
  if (test.op === 'within') return at >= now - durationMs(test.last);
  const date = resolveDate(test.date, now);
  return test.op === 'before' ? at < date : at > date;
}

/** The time span [from, to) a window holds, ms. */
export function windowBounds(window: Window, now: number): { from: number; to: number } {
  switch (window.kind) {
    case 'ever':
      return { from: -Infinity, to: Infinity };
    case 'last':
      return { from: now - durationMs(window.duration), to: Infinity };
    case 'between':
      return { from: resolveDate({ at: window.from }, now), to: resolveDate({ at: window.to }, now) };
  }
}

function matches(
  candidate: ViewEvent,
  event: string,
  where: readonly PropertyFilter[],
  now: number,
): boolean {
  if (candidate.type !== 'track' || candidate.event !== event) return false;
  return where.every((filter) =>
    testValue(propertyAt(candidate.properties, filter.property), filter.test, now),
  );
}

/** The value at a path in an event's properties, undefined when the path leads nowhere. */
export function propertyAt(
  properties: Readonly<Record<string, unknown>> | null,
  path: readonly string[],
): unknown {
  let value: unknown = properties;
  for (const key of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

function aggregate(condition: EventCondition, events: readonly ViewEvent[], now: number): number | undefined {
  const { from, to } = windowBounds(condition.window, now);
  let count = 0;
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const candidate of events) {
    if (candidate.timestamp < from || candidate.timestamp >= to) continue;
    if (!matches(candidate, condition.event, condition.where, now)) continue;
    if (condition.aggregate === 'count') {
      count += 1;
      continue;
    }
    const value = propertyAt(candidate.properties, condition.property ?? []);
    if (typeof value !== 'number') continue;
    count += 1;
    sum += value;
    min = Math.min(min, value);
    max = Math.max(max, value);
  }
  switch (condition.aggregate) {
    case 'count':
      return count;
    case 'sum':
      return sum;
    case 'min':
      return count === 0 ? undefined : min;
    case 'max':
      return count === 0 ? undefined : max;
    case 'avg':
      return count === 0 ? undefined : sum / count;
  }
}

function occurrence(condition: OccurrenceCondition, events: readonly ViewEvent[], now: number): boolean {
  let at: number | undefined;
  for (const candidate of events) {
    if (!matches(candidate, condition.event, condition.where, now)) continue;
    if (
      at === undefined ||
      (condition.which === 'first' ? candidate.timestamp < at : candidate.timestamp > at)
    ) {
      at = candidate.timestamp;
    }
  }
  return at !== undefined && testDate(at, condition.test, now);
}

/**
 * What the retention job kept of a profile's events it deleted, for one computed trait (by the
 * expressionKey of its expression): the events matching it, added up per day (per day and value
 * for `mode` and `distinct`). `value` is what the aggregate needs: the sum for `sum` and `avg`,
 * the smallest or largest number for `min` and `max`, the value at the first or last event for
 * `first` and `last` with a property, the value for `mode` and `distinct`.
 */
export interface ExpressionRollup {
  readonly key: string;
  /** The times of the first and last events added up, ms; the group takes part in a window by the last. */
  readonly firstAt: number;
  readonly lastAt: number;
  readonly events: number;
  /** How many of them had a number in the property (for `avg`). */
  readonly numbers: number;
  readonly value: unknown;
}

/** One event, or one roll-up of several, as the aggregates read them. */
interface Part {
  readonly firstAt: number;
  readonly lastAt: number;
  /** Recording order of an event; roll-ups come before every event. */
  readonly seq: number;
  readonly events: number;
  readonly numbers: number;
  readonly value: unknown;
}

/**
 * The value of a computed trait for a profile with these events (see EventExpression), and the
 * roll-ups retention kept of the events it deleted (those for this expression's key only).
 */
export function evaluateExpression(
  expression: EventExpression,
  events: readonly ViewEvent[],
  now: number,
  rollups: readonly ExpressionRollup[] = [],
): unknown {
  const { from, to } = windowBounds(expression.window, now);
  const { aggregate, property } = expression;
  const numeric = aggregate === 'sum' || aggregate === 'min' || aggregate === 'max' || aggregate === 'avg';
  const parts: Part[] = [];
  for (const candidate of events) {
    if (candidate.timestamp < from || candidate.timestamp >= to) continue;
    if (!matches(candidate, expression.event, expression.where, now)) continue;
    const value = property === undefined ? null : propertyAt(candidate.properties, property);
    if (property !== undefined && (value === undefined || value === null)) continue;
    const number = typeof value === 'number';
    parts.push({
      firstAt: candidate.timestamp,
      lastAt: candidate.timestamp,
      seq: candidate.seq,
      events: 1,
      numbers: number ? 1 : 0,
      value: numeric && !number ? null : value,
    });
  }
  if (rollups.length > 0) {
    const key = expressionKey(expression);
    for (const rollup of rollups) {
      if (rollup.key !== key || rollup.lastAt < from || rollup.lastAt >= to) continue;
      parts.push({ ...rollup, seq: -Infinity });
    }
  }
  const numbers = parts.filter((part) => typeof part.value === 'number').map((part) => part.value as number);
  switch (aggregate) {
    case 'count':
      return parts.reduce((total, part) => total + part.events, 0);
    case 'sum':
      return numbers.reduce((total, value) => total + value, 0);
    case 'min':
      return numbers.length === 0 ? null : Math.min(...numbers);
    case 'max':
      return numbers.length === 0 ? null : Math.max(...numbers);
    case 'avg': {
      const count = parts.reduce((total, part) => total + part.numbers, 0);
      return count === 0 ? null : numbers.reduce((total, value) => total + value, 0) / count;
    }
    case 'first':
    case 'last': {
      const first = aggregate === 'first';
      let chosen: Part | undefined;
      for (const part of parts) {
        if (chosen === undefined) chosen = part;
        else if (
          first &&
          (part.firstAt < chosen.firstAt || (part.firstAt === chosen.firstAt && part.seq < chosen.seq))
        )
          chosen = part;
        else if (
          !first &&
          (part.lastAt > chosen.lastAt || (part.lastAt === chosen.lastAt && part.seq > chosen.seq))
        )
          chosen = part;
      }
      if (chosen === undefined) return null;
      if (property !== undefined) return chosen.value;
      return new Date(first ? chosen.firstAt : chosen.lastAt).toISOString();
    }
    case 'mode': {
      const counts = new Map<string, { count: number; latest: number; value: unknown }>();
      for (const part of parts) {
        const key = JSON.stringify(part.value);
        const entry = counts.get(key) ?? { count: 0, latest: -Infinity, value: part.value };
        entry.count += part.events;
        entry.latest = Math.max(entry.latest, part.lastAt);
        counts.set(key, entry);
      }
      const best = [...counts].sort(
        ([keyA, a], [keyB, b]) =>
          b.count - a.count || b.latest - a.latest || (keyA < keyB ? -1 : keyA > keyB ? 1 : 0),
      )[0];
      return best === undefined ? null : best[1].value;
    }
    case 'distinct': {
      const keys = [...new Set(parts.map((part) => JSON.stringify(part.value)))].sort();
      return keys.map((key) => JSON.parse(key) as unknown);
    }
  }
}
