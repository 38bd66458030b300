/**
 * The text form of the segment language: `parseRule` reads it into the tree of rule.ts and
 * `printRule` writes a tree back in canonical form (single spaces, lower-case keywords, names
 * bare when they can be). print(parse(text)) is the canonical text and parse(print(tree)) is the
 * tree again.
 *
 * The grammar (keywords are case-insensitive):
 *
 *   rule        = or
 *   or          = and { "or" and }
 *   and         = unary { "and" unary }
 *   unary       = "not" unary | "(" rule ")" | condition
 *   condition   = trait | event | occurrence | segment | identifier | consent
 *   trait       = "trait" name valueTest
 *   event       = aggregate "(" "event" string [ "." path ] [ where ] [ window ] ")" numberOp number
 *   aggregate   = "count" | "sum" | "min" | "max" | "avg"
 *   occurrence  = ( "first" | "last" ) "(" "event" string [ where ] ")" dateTest
 *   segment     = "in" "segment" string
 *   identifier  = "has" name
 *   consent     = "consent" purpose [ "is" ( "granted" | "denied" | "unknown" ) ]
 *   where       = "where" filter { "and" filter }
 *   filter      = path valueTest
 *   window      = "in" "last" duration | "between" isoString "and" isoString
 *   valueTest   = ( "=" | "!=" ) scalar | ( "<" | "<=" | ">" | ">=" ) ( number | string )
 *               | "contains" string | "in" "[" scalar { "," scalar } "]" | "exists" | dateTest
 *   dateTest    = ( "before" | "after" ) dateRef | "within" "last" duration
 *   dateRef     = isoString | duration "ago"
 *   duration    = integer ( "minute" | "minutes" | "hour" | "hours" | "day" | "days" | "week" | "weeks" )
 *   name        = bareName | string      bareName = [A-Za-z_][A-Za-z0-9_$-]*, not a keyword
 *   path        = name { "." name }
 *   scalar      = string | number | "true" | "false"
 *   purpose     = [a-z][a-z0-9_]*, bare unless it is a keyword, else in double quotes
 *
 * Strings and numbers are written as in JSON. Inside the parentheses of an event, `and` always
 * joins two filters of the `where` list. `consent` starts a condition only where a condition is
 * expected, and `is`, `granted`, `denied`, `unknown` are read only after a purpose: none of them is
 * reserved, so `trait consent exists` still reads a trait named consent.
 */
import { keywords, writeName } from './segment-words.ts';
import {
  parseIsoDate,
  purposePattern,
  type ConsentTest,
  type DateRef,
  type DateTest,
  type Duration,
  type EventCondition,
  expressionAggregates,
  type EventExpression,
  type ExpressionAggregate,
  type NumberOp,
  type PropertyFilter,
  type Rule,
  type Scalar,
  type TimeUnit,
  type ValueTest,
  type Window,
} from './rule.ts';

/** A text that is not a rule: where (1-based line and column), what was expected and what was found. */
export class SegmentSyntaxError extends Error {
  readonly line: number;
  readonly column: number;
  readonly expected: string[];
  readonly found: string;

  constructor(line: number, column: number, expected: string[], found: string, message: string) {
    super(message);
    this.name = 'SegmentSyntaxError';
    this.line = line;
    this.column = column;
    this.expected = expected;
    this.found = found;
  }
}

export interface ParseOptions {
  /**
   * The consent purposes a rule may test (ConsentRules.purposes); any purpose name when absent.
   * A rule testing another purpose would select nobody: it is refused where the purpose is written.
   */
  readonly purposes?: readonly string[];
}

/** Reads the text form of a rule; throws SegmentSyntaxError for text that is not one. */
export function parseRule(text: string, options: ParseOptions = {}): Rule {
  return createParser(text, options).rule();
}

/** Reads the text form of a computed trait, `sum(event "Order Completed".revenue in last 90 days)`. */
export function parseExpression(text: string): EventExpression {
  return createParser(text).expression();
}

/** Writes a computed trait in the canonical text form, which parseExpression reads back. */
export function printExpression(expression: EventExpression): string {
  const property = expression.property === undefined ? '' : `.${printPath(expression.property)}`;
  return (
    `${expression.aggregate}(event ${JSON.stringify(expression.event)}${property}` +
    `${printWhere(expression.where)}${printWindow(expression.window)})`
  );
}

/** Writes a rule in the canonical text form, which parseRule reads back to the same tree. */
export function printRule(rule: Rule): string {
  return printNode(rule, false);
}

// ---------------------------------------------------------------------------------------------
// Words

const aggregates = ['count', 'sum', 'min', 'max', 'avg'] as const;
const units: Readonly<Record<string, TimeUnit>> = {
  minute: 'minutes',
  minutes: 'minutes',
  hour: 'hours',
  hours: 'hours',
  day: 'days',
  days: 'days',
  week: 'weeks',
  weeks: 'weeks',
};
const numberOps: readonly string[] = ['=', '!=', '<', '<=', '>', '>='];

const comparison = 'a comparison (=, !=, <, <=, >, >=, contains, in, exists, before, after, within)';
const numberComparison = 'a comparison (=, !=, <, <=, >, >=)';
const dateComparison = 'a date test (before, after, within last)';
const unitOfTime = 'a unit of time (minutes, hours, days or weeks)';
const conditionForms =
  'A condition is one of: trait NAME TEST, count/sum/min/max/avg(event "NAME" ...) OP NUMBER, ' +
  'first/last(event "NAME" ...) DATE-TEST, in segment "NAME", has IDENTIFIER, ' +
  'consent PURPOSE [is granted/denied/unknown], not CONDITION, or a rule in parentheses';
const purposeName = new RegExp(purposePattern);
const consentStates = ['granted', 'denied', 'unknown'] as const;

// ---------------------------------------------------------------------------------------------
// Tokens

type TokenKind = 'word' | 'string' | 'number' | 'punct' | 'end';

interface Token {
  readonly kind: TokenKind;
  /** The text as written (a string with its quotes and escapes). */
  readonly text: string;
  /** A word lower-cased, a string decoded, a number's value, a punctuation mark. */
  readonly value: string | number;
  readonly line: number;
  readonly column: number;
}

const punctuation = ['!=', '<=', '>=', '(', ')', '[', ']', ',', '.', '=', '<', '>'];
const wordStart = /[A-Za-z_]/;
const wordRest = /[A-Za-z0-9_$-]/y;
const numberText = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const jsonNumber = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const escapes: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

interface Lexer {
  next(): Token;
}

function createLexer(text: string, fail: (line: number, column: number, spec: FailSpec) => never): Lexer {
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  const column = (at: number): number => at - lineStart + 1;

  const skipSpace = (): void => {
    while (pos < text.length) {
      const char = text[pos] as string;
      if (char === '\n') {
        line += 1;
        lineStart = pos + 1;
      } else if (!/\s/u.test(char)) return;
      pos += 1;
    }
  };

  const readString = (): Token => {
    const start = pos;
    const startColumn = column(start);
    let value = '';
    pos += 1;
    for (;;) {
      const char = text[pos];
      if (char === undefined || char === '\n' || char === '\r') {
        fail(line, startColumn, {
          lead: 'unterminated string',
          expected: ['a closing " on the same line'],
          found: char === undefined ? 'end of input' : 'end of line',
          hint: 'Write a line break inside a string as \\n',
        });
      }
      if (char === '"') break;
      if (char === '\\') {
        const code = text[pos + 1] ?? '';
        if (code === 'u') {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) {
            // Show the escape up to and including the first character that is not a hex digit.
            const digits = /^[0-9A-Fa-f]*/.exec(hex)?.[0].length ?? 0;
            fail(line, column(pos), {
              lead: 'bad escape in string',
              expected: ['\\u followed by four hexadecimal digits'],
              found: text.slice(pos, pos + 3 + digits),
            });
          }
          value += String.fromCharCode(parseInt(hex, 16));
          pos += 6;
          continue;
        }
        const decoded = escapes[code];
        if (decoded === undefined) {
          fail(line, column(pos), {
            lead: 'bad escape in string',
            expected: ['one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX'],
            found: code === '' ? 'end of input' : `\\${code}`,
            hint: 'Write a backslash as \\\\',
          });
        }
        value += decoded;
        pos += 2;
        continue;
      }
      if (char < ' ') {
        fail(line, column(pos), {
          lead: 'control character in string',
          expected: ['a printable character'],
          found: `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
          hint: 'Write it as an escape such as \\t or \\u0001',
        });
      }
      value += char;
      pos += 1;
    }
    pos += 1;
    return { kind: 'string', text: text.slice(start, pos), value, line, column: startColumn };
  };

  const readNumber = (): Token | undefined => {
    numberText.lastIndex = pos;
    const match = numberText.exec(text);
    if (match === null) return undefined;
    const raw = match[0];
    if (!jsonNumber.test(raw)) {
      fail(line, column(pos), {
        expected: ['a number written as in JSON (no leading zeros)'],
        found: raw,
      });
    }
    const value = Number(raw);
    if (!Number.isFinite(value)) {
      fail(line, column(pos), { expected: ['a number small enough to hold'], found: raw });
    }
    const token: Token = { kind: 'number', text: raw, value, line, column: column(pos) };
    pos += raw.length;
    return token;
  };

  return {
    next(): Token {
      skipSpace();
      if (pos >= text.length) return { kind: 'end', text: '', value: '', line, column: column(pos) };
      const char = text[pos] as string;
      if (char === '"') return readString();
      if (char === '-' || (char >= '0' && char <= '9')) {
        const token = readNumber();
        if (token !== undefined) return token;
      }
      if (wordStart.test(char)) {
        const start = pos;
        pos += 1;
        wordRest.lastIndex = pos;
        while (wordRest.test(text)) pos = wordRest.lastIndex;
        const word = text.slice(start, pos);
        return { kind: 'word', text: word, value: word.toLowerCase(), line, column: column(start) };
      }
      const mark = punctuation.find((candidate) => text.startsWith(candidate, pos));
      if (mark !== undefined) {
        const token: Token = { kind: 'punct', text: mark, value: mark, line, column: column(pos) };
        pos += mark.length;
        return token;
      }
      const codePoint = String.fromCodePoint(text.codePointAt(pos) ?? 0);
      fail(line, column(pos), {
        lead: 'unexpected character',
        expected: ['a word, a "string", a number or one of ( ) [ ] , . = != < <= > >='],
        found: codePoint,
        hint:
          codePoint === '!'
            ? 'Write != for "not equal", or not before a condition'
            : /\p{L}/u.test(codePoint)
              ? 'Write names with other letters in double quotes, e.g. trait "prénom" exists'
              : undefined,
      });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Parser

interface FailSpec {
  readonly expected: string[];
  readonly found?: string;
  /** Where in the rule, e.g. "after trait city". */
  readonly context?: string;
  /** What to do, one sentence. */
  readonly hint?: string | undefined;
  /** What went wrong when it is more than a wrong token, e.g. "unterminated string". */
  readonly lead?: string;
}

function raise(line: number, column: number, spec: FailSpec): never {
  const found = spec.found ?? 'end of input';
  const shown = found === 'end of input' || found === 'end of line' ? found : quoteFound(found);
  const message =
    `line ${line}, column ${column}: ${spec.lead === undefined ? '' : `${spec.lead}: `}` +
    `expected ${orList(spec.expected)}${spec.context === undefined ? '' : ` ${spec.context}`}, ` +
    `found ${shown}${spec.hint === undefined ? '' : `. ${spec.hint}`}`;
  throw new SegmentSyntaxError(line, column, spec.expected, found, message);
}

function quoteFound(text: string): string {
  const short = text.length > 40 ? `${text.slice(0, 37)}...` : text;
  // A string token already shows its quotes; no other token holds one.
  return short.startsWith('"') ? short : `"${short}"`;
}

function orList(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1] ?? ''}`;
}

function createParser(text: string, options: ParseOptions = {}) {
  const lexer = createLexer(text, raise);
  let ahead: Token | undefined;

  function peek(): Token {
    return (ahead ??= lexer.next());
  }
  function next(): Token {
    const token = peek();
    ahead = undefined;
    return token;
  }
  function isWord(token: Token, ...words: string[]): boolean {
    return token.kind === 'word' && words.includes(token.value as string);
  }
  function isMark(token: Token, mark: string): boolean {
    return token.kind === 'punct' && token.value === mark;
  }
  function fail(token: Token, spec: FailSpec): never {
    return raise(token.line, token.column, {
      ...spec,
      found: token.kind === 'end' ? 'end of input' : token.text,
    });
  }

  function expectWord(word: string, context: string): Token {
    const token = next();
    if (!isWord(token, word)) fail(token, { expected: [word], context });
    return token;
  }
  function expectMark(mark: string, context: string | undefined, expected = [mark]): Token {
    const token = next();
    if (!isMark(token, mark)) fail(token, { expected, context });
    return token;
  }

  function name(what: string, context: string): string {
    const token = next();
    if (token.kind === 'string') {
      if (token.value === '') fail(token, { expected: [what], context, hint: 'A name cannot be empty' });
      return token.value as string;
    }
    if (token.kind === 'word') {
      if (keywords.has(token.value as string)) {
        fail(token, {
          expected: [what],
          context,
          hint: `${token.text} is a keyword: write the name in double quotes, "${token.text}"`,
        });
      }
      return token.text;
    }
    const hint = token.kind === 'number' ? `Write this name in double quotes, "${token.text}"` : undefined;
    return fail(token, { expected: [what], context, hint });
  }

  function path(what: string, context: string): string[] {
    const names = [name(what, context)];
    while (isMark(peek(), '.')) {
      next();
      names.push(name('a property name', `after ${printPath(names)}.`));
    }
    return names;
  }

  function eventName(context: string): string {
    const token = next();
    if (token.kind === 'string' && token.value !== '') return token.value as string;
    return fail(token, {
      expected: ['the event name in double quotes'],
      context,
      hint:
        token.kind === 'string'
          ? 'An event name cannot be empty'
          : 'Write it as in event "Order Completed", then .property for sum, min, max and avg',
    });
  }

  function isoDate(context: string): string {
    const token = next();
    if (token.kind !== 'string') {
      fail(token, { expected: ['a date in double quotes, e.g. "2026-01-31"'], context });
    }
    if (parseIsoDate(token.value as string) === undefined) {
      fail(token, {
        expected: ['an ISO 8601 date, e.g. "2026-01-31" or "2026-01-31T08:00:00Z"'],
        context,
        hint: 'Check the month and the day exist',
      });
    }
    return token.value as string;
  }

  function duration(context: string): Duration {
    const amount = next();
    if (amount.kind !== 'number' || !Number.isSafeInteger(amount.value) || (amount.value as number) < 1) {
      fail(amount, {
        expected: ['a whole number of minutes, hours, days or weeks (1 or more)'],
        context,
      });
    }
    const unit = next();
    const found = unit.kind === 'word' ? units[unit.value as string] : undefined;
    if (found === undefined) {
      return fail(unit, {
        expected: [unitOfTime],
        context: `after ${amount.text}`,
        hint: 'The units are minute(s), hour(s), day(s) and week(s), e.g. 52 weeks for a year',
      });
    }
    return { amount: amount.value as number, unit: found };
  }

  function scalar(context: string): Scalar {
    const token = next();
    if (token.kind === 'string' || token.kind === 'number') return token.value;
    if (isWord(token, 'true')) return true;
    if (isWord(token, 'false')) return false;
    return fail(token, {
      expected: ['a value (a "string", a number, true or false)'],
      context,
      hint: token.kind === 'word' ? `Write text in double quotes, "${token.text}"` : undefined,
    });
  }

  function dateTest(token: Token): DateTest | undefined {
    if (isWord(token, 'before', 'after')) {
      next();
      const op = token.value as 'before' | 'after';
      const at = peek();
      let date: DateRef;
      if (at.kind === 'number') {
        const ago = duration(`after ${op}`);
        expectWord('ago', `after ${op} ${printDuration(ago)}`);
        date = { ago };
      } else if (at.kind === 'string') {
        date = { at: isoDate(`after ${op}`) };
      } else {
        return fail(at, {
          expected: ['a date in double quotes, e.g. "2026-01-31"', 'a duration and ago, e.g. 30 days ago'],
          context: `after ${op}`,
        });
      }
      return { op, date };
    }
    if (isWord(token, 'within')) {
      next();
      expectWord('last', 'after within');
      return { op: 'within', last: duration('after within last') };
    }
    return undefined;
  }

  function valueTest(context: string): ValueTest {
    const token = peek();
    if (token.kind === 'punct' && (token.value === '=' || token.value === '!=')) {
      next();
      return { op: token.value, value: scalar(`after ${token.text}`) };
    }
    if (token.kind === 'punct' && ['<', '<=', '>', '>='].includes(token.value as string)) {
      next();
      const value = next();
      if (value.kind !== 'number' && value.kind !== 'string') {
        fail(value, { expected: ['a number or a "string"'], context: `after ${token.text}` });
      }
      return { op: token.value as '<' | '<=' | '>' | '>=', value: value.value };
    }
    if (isWord(token, 'contains')) {
      next();
      const value = next();
      if (value.kind !== 'string') fail(value, { expected: ['a "string"'], context: 'after contains' });
      return { op: 'contains', value: value.value as string };
    }
    if (isWord(token, 'in')) {
      next();
      expectMark('[', 'after in', ['[ to open a list of values, e.g. in ["pro", "team"]']);
      const values = [scalar('in the list')];
      for (;;) {
        const mark = next();
        if (isMark(mark, ']')) break;
        if (!isMark(mark, ','))
          fail(mark, { expected: [',', '] to close the list'], context: 'in the list' });
        values.push(scalar('after ,'));
      }
      return { op: 'in', values };
    }
    if (isWord(token, 'exists')) {
      next();
      return { op: 'exists' };
    }
    const date = dateTest(token);
    if (date !== undefined) return date;
    return fail(token, {
      expected: [comparison],
      context,
      hint:
        token.kind === 'punct' && token.value === '.'
          ? 'Write a name with dots in double quotes, e.g. trait "address.city" exists'
          : undefined,
    });
  }

  function filters(): PropertyFilter[] {
    const list: PropertyFilter[] = [];
    for (;;) {
      const property = path('a property name', list.length === 0 ? 'after where' : 'after and');
      list.push({ property, test: valueTest(`after ${printPath(property)}`) });
      if (!isWord(peek(), 'and')) return list;
      next();
      const after = peek();
      if (isWord(after, 'in', 'between')) {
        fail(after, {
          expected: ['a property name'],
          context: 'after and',
          hint: 'Inside the parentheses and joins filters: write the window right after the last filter, e.g. where a = 1 in last 7 days',
        });
      }
    }
  }

  function window(): Window | undefined {
    const token = peek();
    if (isWord(token, 'in')) {
      next();
      expectWord('last', 'after in');
      return { kind: 'last', duration: duration('after in last') };
    }
    if (isWord(token, 'between')) {
      next();
      const from = isoDate('after between');
      expectWord('and', `after between ${JSON.stringify(from)}`);
      const end = peek();
      const to = isoDate(`after and`);
      if ((parseIsoDate(from) as number) >= (parseIsoDate(to) as number)) {
        fail(end, {
          expected: [`a date after ${JSON.stringify(from)}`],
          context: 'to end the window',
          hint: 'A window between A and B holds A <= timestamp < B',
        });
      }
      return { kind: 'between', from, to };
    }
    return undefined;
  }

  /**
   * What an aggregate reads, from its opening parenthesis to its closing one:
   * `(event "Order Completed".revenue where ... in last 30 days)`.
   */
  function selection(
    aggregate: string,
    property: 'none' | 'optional' | 'required',
    help: { readonly others: string; readonly reads: string; readonly example: string },
  ): Omit<EventExpression, 'aggregate'> {
    expectMark('(', `after ${aggregate}`);
    expectWord('event', `after ${aggregate}(`);
    const name = eventName(`after ${aggregate}(event`);
    let read: string[] | undefined;
    const dot = peek();
    if (isMark(dot, '.')) {
      if (property === 'none') {
        fail(dot, {
          expected: ['where', 'in last', 'between', ')'],
          context: `after count(event ${JSON.stringify(name)}`,
          hint: `count counts events; drop the .property, or use ${help.others}`,
        });
      }
      next();
      read = path('a property name', `after ${JSON.stringify(name)}.`);
    } else if (property === 'required') {
      fail(dot, {
        expected: ['.property'],
        context: `after ${aggregate}(event ${JSON.stringify(name)}`,
        hint: `${aggregate} reads ${help.reads} from each event, e.g. ${aggregate}(event "Order Completed".${help.example})`,
      });
    }
    const where = isWord(peek(), 'where') ? (next(), filters()) : [];
    const range = window() ?? { kind: 'ever' };
    const close = peek();
    if (!isMark(close, ')')) {
      const expected =
        range.kind !== 'ever' ? [')'] : [where.length > 0 ? 'and' : 'where', 'in last', 'between', ')'];
      fail(close, { expected, context: `in ${aggregate}(event ${JSON.stringify(name)} ...)` });
    }
    next();
    return { event: name, ...(read === undefined ? {} : { property: read }), where, window: range };
  }

  function event(): Rule {
    const aggregate = next().value as EventCondition['aggregate'];
    const {
      event: name,
      property,
      where,
      window: range,
    } = selection(aggregate, aggregate === 'count' ? 'none' : 'required', {
      others: 'sum/min/max/avg',
      reads: 'a number',
      example: 'revenue',
    });
    const op = next();
    if (op.kind !== 'punct' || !numberOps.includes(op.value as string)) {
      fail(op, { expected: [numberComparison], context: `after ${aggregate}(...)` });
    }
    const value = next();
    if (value.kind !== 'number') fail(value, { expected: ['a number'], context: `after ${op.text}` });
    return {
      kind: 'event',
      aggregate,
      event: name,
      ...(property === undefined ? {} : { property }),
      where,
      window: range,
      op: op.value as NumberOp,
      value: value.value as number,
    };
  }

  function occurrence(): Rule {
    const which = next().value as 'first' | 'last';
    expectMark('(', `after ${which}`);
    expectWord('event', `after ${which}(`);
    const name = eventName(`after ${which}(event`);
    const context = `in ${which}(event ${JSON.stringify(name)} ...)`;
    const dot = peek();
    if (isMark(dot, '.')) {
      fail(dot, {
        expected: ['where', ')'],
        context,
        hint: `${which}(...) looks at when the event happened and reads no property`,
      });
    }
    const where = isWord(peek(), 'where') ? (next(), filters()) : [];
    const close = peek();
    if (!isMark(close, ')')) {
      fail(close, {
        expected: where.length > 0 ? ['and', ')'] : ['where', ')'],
        context,
        hint: isWord(close, 'in', 'between')
          ? `${which}(...) takes no window: test its date after the parentheses, e.g. ${which}(event "${name}") within last 30 days`
          : undefined,
      });
    }
    next();
    const testToken = peek();
    const test = dateTest(testToken);
    if (test === undefined)
      return fail(testToken, { expected: [dateComparison], context: `after ${which}(...)` });
    return { kind: 'occurrence', which, event: name, where, test };
  }

  /** `consent email`, `consent sms is denied`, from the purpose on. */
  function consent(): Rule {
    const token = next();
    let written: string | undefined;
    if (token.kind === 'string') written = token.value as string;
    else if (token.kind === 'word' && !keywords.has(token.value as string)) written = token.text;
    if (written === undefined || !purposeName.test(written)) {
      const lower = written?.toLowerCase();
      fail(token, {
        expected: ['a consent purpose, e.g. email'],
        context: 'after consent',
        hint:
          token.kind === 'word' && keywords.has(token.value as string)
            ? `${token.text} is a keyword: write the purpose in double quotes, "${token.text}"`
            : lower !== undefined && purposeName.test(lower)
              ? `Purpose names are written in lower case: consent ${lower}`
              : 'A purpose name is lower-case letters, digits and _, starting with a letter, e.g. consent email',
      });
    }
    const purpose = written;
    const known = options.purposes;
    if (known !== undefined && !known.includes(purpose)) {
      fail(token, {
        expected: [`a consent purpose (${known.join(', ')})`],
        context: 'after consent',
        hint: 'To test another purpose, add it to the rules file under consent.purposes',
      });
    }
    const shown = `consent ${printName(purpose)}`;
    const after = peek();
    if (isWord(after, 'is')) {
      next();
      const state = next();
      if (!isWord(state, ...consentStates)) {
        fail(state, {
          expected: [...consentStates],
          context: `after ${shown} is`,
          hint: isWord(state, 'not')
            ? `Write not before the condition: not ${shown} is granted`
            : `${shown} alone holds when ${purpose} may be used`,
        });
      }
      return { kind: 'consent', purpose, test: state.value as ConsentTest };
    }
    if (isWord(after, ...consentStates) || isMark(after, '=') || isMark(after, '!=')) {
      fail(after, {
        expected: ['is'],
        context: `after ${shown}`,
        hint: `Write ${shown} is granted, is denied or is unknown; ${shown} alone holds when ${purpose} may be used`,
      });
    }
    return { kind: 'consent', purpose, test: 'may-use' };
  }

  function condition(): Rule {
    const token = peek();
    if (isWord(token, 'trait')) {
      next();
      const trait = name('a trait name', 'after trait');
      return { kind: 'trait', name: trait, test: valueTest(`after trait ${printName(trait)}`) };
    }
    if (isWord(token, ...aggregates)) return event();
    if (isWord(token, 'first', 'last')) return occurrence();
    if (isWord(token, 'in')) {
      next();
      expectWord('segment', 'after in');
      const segment = next();
      if (segment.kind !== 'string' || segment.value === '') {
        fail(segment, {
          expected: ['the segment name in double quotes'],
          context: 'after in segment',
          hint: segment.kind === 'string' ? 'A segment name cannot be empty' : undefined,
        });
      }
      return { kind: 'segment', segment: segment.value as string };
    }
    if (isWord(token, 'has')) {
      next();
      return { kind: 'identifier', type: name('an identifier type, e.g. email', 'after has') };
    }
    if (isWord(token, 'consent')) {
      next();
      return consent();
    }
    return fail(token, { expected: ['a condition'], hint: conditionForms });
  }

  function unary(): Rule {
    const token = peek();
    if (isWord(token, 'not')) {
      next();
      return { kind: 'not', rule: unary() };
    }
    if (isMark(token, '(')) {
      next();
      const inner = or();
      expectMark(')', undefined, [
        'and',
        'or',
        `) to close the ( at line ${token.line}, column ${token.column}`,
      ]);
      return inner;
    }
    return condition();
  }

  function chain(kind: 'and' | 'or', operand: () => Rule): Rule {
    const rules = [operand()];
    while (isWord(peek(), kind)) {
      next();
      rules.push(operand());
    }
    return rules.length === 1 ? (rules[0] as Rule) : { kind, rules };
  }

  function and(): Rule {
    return chain('and', unary);
  }
  function or(): Rule {
    return chain('or', and);
  }

  /** A computed trait: an aggregate of events, alone. */
  function expression(): EventExpression {
    const first = peek();
    const aggregate = first.kind === 'word' ? (first.value as string).toLowerCase() : '';
    if (!(expressionAggregates as readonly string[]).includes(aggregate)) {
      fail(first, {
        lead: first.kind === 'end' ? 'the computed trait is empty' : undefined,
        expected: [`an aggregate (${expressionAggregates.join(', ')})`],
        hint: 'Write it as in sum(event "Order Completed".revenue in last 90 days)',
      });
    }
    next();
    const which = aggregate as ExpressionAggregate;
    const property =
      which === 'count' ? 'none' : which === 'first' || which === 'last' ? 'optional' : 'required';
    const selected = selection(which, property, {
      others: 'sum, min, max, avg, mode or distinct',
      reads: 'a property',
      example: 'category',
    });
    const rest = peek();
    if (rest.kind !== 'end') {
      fail(rest, {
        expected: ['end of input'],
        hint: 'A computed trait is one aggregate; segments compare it: trait <name> > 200',
      });
    }
    return { aggregate: which, ...selected };
  }

  return {
    expression,
    rule(): Rule {
      const first = peek();
      if (first.kind === 'end') {
        fail(first, { lead: 'the rule is empty', expected: ['a condition'], hint: conditionForms });
      }
      const rule = or();
      const rest = peek();
      if (rest.kind !== 'end') {
        fail(rest, {
          expected: ['and', 'or', 'end of input'],
          hint: isMark(rest, ')') ? 'This ) closes no (' : undefined,
        });
      }
      return rule;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Printer

function printNode(rule: Rule, nested: boolean): string {
  switch (rule.kind) {
    case 'and':
    case 'or': {
      if (rule.rules.length < 2) throw new Error(`an ${rule.kind} rule needs at least two rules`);
      const text = rule.rules.map((child) => printNode(child, true)).join(` ${rule.kind} `);
      return nested ? `(${text})` : text;
    }
    case 'not':
      return `not ${printNode(rule.rule, true)}`;
    case 'trait':
      return `trait ${printName(rule.name)} ${printValueTest(rule.test)}`;
    case 'event': {
      const property = rule.property === undefined ? '' : `.${printPath(rule.property)}`;
      return (
        `${rule.aggregate}(event ${JSON.stringify(rule.event)}${property}${printWhere(rule.where)}` +
        `${printWindow(rule.window)}) ${rule.op} ${printNumber(rule.value)}`
      );
    }
    case 'occurrence':
      return `${rule.which}(event ${JSON.stringify(rule.event)}${printWhere(rule.where)}) ${printDateTest(rule.test)}`;
    case 'segment':
      return `in segment ${JSON.stringify(rule.segment)}`;
    case 'identifier':
      return `has ${printName(rule.type)}`;
    case 'consent': {
      if (!purposeName.test(rule.purpose)) throw new Error(`"${rule.purpose}" is not a consent purpose`);
      const test = rule.test === 'may-use' ? '' : ` is ${rule.test}`;
      return `consent ${printName(rule.purpose)}${test}`;
    }
  }
}

const printName = writeName;

function printPath(path: readonly string[]): string {
  return path.map(printName).join('.');
}

function printNumber(value: number): string {
  if (!Number.isFinite(value)) throw new Error(`${value} cannot be written in a rule`);
  return JSON.stringify(value);
}

function printScalar(value: Scalar): string {
  return typeof value === 'number' ? printNumber(value) : JSON.stringify(value);
}

function printDuration(duration: Duration): string {
  return `${duration.amount} ${duration.amount === 1 ? duration.unit.slice(0, -1) : duration.unit}`;
}

function printDateTest(test: DateTest): string {
  if (test.op === 'within') return `within last ${printDuration(test.last)}`;
  return 'at' in test.date
    ? `${test.op} ${JSON.stringify(test.date.at)}`
    : `${test.op} ${printDuration(test.date.ago)} ago`;
}

function printValueTest(test: ValueTest): string {
  switch (test.op) {
    case 'exists':
      return 'exists';
    case 'in':
      return `in [${test.values.map(printScalar).join(', ')}]`;
    case 'before':
    case 'after':
    case 'within':
      return printDateTest(test);
    default:
      return `${test.op} ${printScalar(test.value)}`;
  }
}

function printWhere(where: readonly PropertyFilter[]): string {
  if (where.length === 0) return '';
  return ` where ${where.map((filter) => `${printPath(filter.property)} ${printValueTest(filter.test)}`).join(' and ')}`;
}

function printWindow(window: Window): string {
  if (window.kind === 'ever') return '';
  if (window.kind === 'last') return ` in last ${printDuration(window.duration)}`;
  return ` between ${JSON.stringify(window.from)} and ${JSON.stringify(window.to)}`;
}
