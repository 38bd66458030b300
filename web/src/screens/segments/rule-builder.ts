/**
 * The form builder's conditions, written in the text language of rules (docs/segments.md), so the
 * form and the text stay one language: a condition built in the form is appended to the text.
 */
import { keywords, writeName } from '../../../../src/segments/segment-words.ts';

export const traitOperators = ['=', '!=', '<', '<=', '>', '>=', 'contains', 'exists'] as const;
export const numberOperators = ['>=', '>', '=', '!=', '<=', '<'] as const;
export const valueTypes = ['text', 'number', 'boolean'] as const;
export const consentStates = ['may-use', 'granted', 'denied', 'unknown'] as const;
/** The purposes every rules file has; others added under consent.purposes can be typed. */
export const builtInPurposes = [
  'email',
  'sms',
  'push',
  'postal',
  'phone',
  'analytics',
  'personalization',
  'advertising',
] as const;
export const identifierTypes = ['email', 'phone', 'userId'] as const;

export type TraitOperator = (typeof traitOperators)[number];
export type NumberOperator = (typeof numberOperators)[number];
export type ValueType = (typeof valueTypes)[number];
export type ConsentState = (typeof consentStates)[number];

export type Condition =
  | {
      readonly kind: 'trait';
      readonly name: string;
      readonly operator: TraitOperator;
      readonly value: string;
      readonly valueType: ValueType;
    }
  | {
      readonly kind: 'count';
      readonly event: string;
      readonly operator: NumberOperator;
      readonly count: string;
      /** Empty: over all time. */
      readonly days: string;
    }
  | {
      readonly kind: 'sum';
      readonly event: string;
      readonly property: string;
      readonly operator: NumberOperator;
      readonly amount: string;
      readonly days: string;
    }
  | { readonly kind: 'segment'; readonly negate: boolean; readonly segment: string }
  | { readonly kind: 'consent'; readonly purpose: string; readonly state: ConsentState }
  | { readonly kind: 'identifier'; readonly negate: boolean; readonly type: string };

export type ConditionKind = Condition['kind'];
export const conditionKinds: readonly ConditionKind[] = [
  'trait',
  'count',
  'sum',
  'segment',
  'consent',
  'identifier',
];

/** What keeps a condition from being written; the screen says it in the person's language. */
export type BuildProblem =
  | 'needName'
  | 'needValue'
  | 'needNumber'
  | 'needEvent'
  | 'needProperty'
  | 'needDays'
  | 'needSegment'
  | 'needPurpose';

export type Built =
  { readonly ok: true; readonly text: string } | { readonly ok: false; readonly problem: BuildProblem };

const purposeName = /^[a-z][a-z0-9_]*$/;
const number = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const wholeNumber = /^[1-9]\d*$/;

export { writeName };

function writePath(path: string): string {
  return path
    .split('.')
    .map((part) => writeName(part.trim()))
    .join('.');
}

function writeWindow(days: string): string | null {
  const trimmed = days.trim();
  if (trimmed === '') return '';
  return wholeNumber.test(trimmed) ? ` in last ${trimmed} days` : null;
}

function writeValue(value: string, type: ValueType): string | null {
  if (type === 'boolean') return value === 'false' ? 'false' : 'true';
  if (type === 'number') return number.test(value.trim()) ? value.trim() : null;
  return JSON.stringify(value);
}

/** The text of one condition, or what is missing to write it. */
export function buildCondition(condition: Condition): Built {
  switch (condition.kind) {
    case 'trait': {
      const name = condition.name.trim();
      if (name === '') return { ok: false, problem: 'needName' };
      if (condition.operator === 'exists') return { ok: true, text: `trait ${writeName(name)} exists` };
      if (condition.operator === 'contains') {
        if (condition.value === '') return { ok: false, problem: 'needValue' };
        return { ok: true, text: `trait ${writeName(name)} contains ${JSON.stringify(condition.value)}` };
      }
      if (condition.valueType !== 'boolean' && condition.value.trim() === '') {
        return { ok: false, problem: 'needValue' };
      }
      const value = writeValue(condition.value, condition.valueType);
      if (value === null) return { ok: false, problem: 'needNumber' };
      return { ok: true, text: `trait ${writeName(name)} ${condition.operator} ${value}` };
    }
    case 'count': {
      const event = condition.event.trim();
      if (event === '') return { ok: false, problem: 'needEvent' };
      const count = condition.count.trim();
      if (!/^\d+$/.test(count)) return { ok: false, problem: 'needNumber' };
      const window = writeWindow(condition.days);
      if (window === null) return { ok: false, problem: 'needDays' };
      return {
        ok: true,
        text: `count(event ${JSON.stringify(event)}${window}) ${condition.operator} ${count}`,
      };
    }
    case 'sum': {
      const event = condition.event.trim();
      if (event === '') return { ok: false, problem: 'needEvent' };
      const property = condition.property.trim();
      if (property === '' || property.split('.').some((part) => part.trim() === '')) {
        return { ok: false, problem: 'needProperty' };
      }
      const amount = condition.amount.trim();
      if (!number.test(amount)) return { ok: false, problem: 'needNumber' };
      const window = writeWindow(condition.days);
      if (window === null) return { ok: false, problem: 'needDays' };
      return {
        ok: true,
        text: `sum(event ${JSON.stringify(event)}.${writePath(property)}${window}) ${condition.operator} ${amount}`,
      };
    }
    case 'segment': {
      if (condition.segment === '') return { ok: false, problem: 'needSegment' };
      const test = `in segment ${JSON.stringify(condition.segment)}`;
      return { ok: true, text: condition.negate ? `not ${test}` : test };
    }
    case 'consent': {
      const purpose = condition.purpose.trim();
      if (!purposeName.test(purpose)) return { ok: false, problem: 'needPurpose' };
      const written = keywords.has(purpose) ? JSON.stringify(purpose) : purpose;
      const state = condition.state === 'may-use' ? '' : ` is ${condition.state}`;
      return { ok: true, text: `consent ${written}${state}` };
    }
    case 'identifier': {
      const type = condition.type.trim();
      if (type === '') return { ok: false, problem: 'needName' };
      const test = `has ${writeName(type)}`;
      return { ok: true, text: condition.negate ? `not ${test}` : test };
    }
  }
}

/**
 * Whether the rule has an `or` outside any parentheses. `and` binds tighter than `or`, so a
 * condition added with `and` to such a rule must not join only its last part.
 */
export function hasTopLevelOr(rule: string): boolean {
  let depth = 0;
  let index = 0;
  while (index < rule.length) {
    const character = rule[index]!;
    if (character === '"') {
      index += 1;
      while (index < rule.length && rule[index] !== '"') index += rule[index] === '\\' ? 2 : 1;
      index += 1;
      continue;
    }
    if (character === '(' || character === '[') depth += 1;
    else if (character === ')' || character === ']') depth = Math.max(0, depth - 1);
    else if (/[A-Za-z_]/.test(character)) {
      const word = /^[A-Za-z_][A-Za-z0-9_$-]*/.exec(rule.slice(index))![0];
      if (depth === 0 && word.toLowerCase() === 'or') return true;
      index += word.length;
      continue;
    }
    index += 1;
  }
  return false;
}

/** The rule with the condition joined to it, on a line of its own. */
export function appendCondition(rule: string, condition: string, join: 'and' | 'or'): string {
  const current = rule.trim();
  if (current === '') return condition;
  const left = join === 'and' && hasTopLevelOr(current) ? `(${current})` : current;
  return `${left}\n${join} ${condition}`;
}

/** The lines of a rule around an error, with their numbers, and the error's own line. */
export function linesAround(
  rule: string,
  line: number,
  before = 2,
  after = 1,
): { readonly number: number; readonly text: string }[] {
  const lines = rule.split('\n');
  const first = Math.max(1, line - before);
  const last = Math.min(lines.length, line + after);
  const shown: { number: number; text: string }[] = [];
  for (let number = first; number <= last; number++) shown.push({ number, text: lines[number - 1] ?? '' });
  return shown;
}

/**
 * The blank run that puts a caret under the column (1-based): the line's own tabs are kept, so
 * the caret stays under the character however wide a tab is drawn.
 */
export function caretPadding(lineText: string, column: number): string {
  return [...lineText.slice(0, Math.max(0, column - 1))]
    .map((character) => (character === '\t' ? '\t' : ' '))
    .join('')
    .padEnd(Math.max(0, column - 1), ' ');
}

/** The offset in the whole text of a line and column (both 1-based), to move the cursor there. */
export function offsetOf(rule: string, line: number, column: number): number {
  const lines = rule.split('\n');
  let offset = 0;
  for (let index = 0; index < line - 1 && index < lines.length; index++) offset += lines[index]!.length + 1;
  return Math.min(rule.length, offset + column - 1);
}
