import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseIsoDate,
  type DateTest,
  type Duration,
  type PropertyFilter,
  type Rule,
  type Scalar,
  type ValueTest,
  type Window,
} from './rule.ts';
import { generatorKinds, mulberry32, type Random } from './rule.fixture.ts';
import { parseRule, printRule, SegmentSyntaxError } from './segment-text.ts';

/** Parses, checks the canonical text is the input, and returns the tree. */
function roundTrip(text: string): Rule {
  const rule = parseRule(text);
  assert.equal(printRule(rule), text);
  assert.deepEqual(parseRule(printRule(rule)), rule);
  return rule;
}

function syntaxError(text: string): SegmentSyntaxError {
  try {
    parseRule(text);
  } catch (error) {
    assert.ok(error instanceof SegmentSyntaxError, `expected a SegmentSyntaxError, got ${String(error)}`);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(text)} not to parse`);
}

const trait = (name: string): Rule => ({ kind: 'trait', name, test: { op: 'exists' } });

describe('parseRule and printRule: the public sentences', () => {
  it('reads a trait and a counted event in a window', () => {
    const rule = roundTrip('trait city = "Paris" and count(event "Order Completed" in last 30 days) >= 3');
    assert.deepEqual(rule, {
      kind: 'and',
      rules: [
        { kind: 'trait', name: 'city', test: { op: '=', value: 'Paris' } },
        {
          kind: 'event',
          aggregate: 'count',
          event: 'Order Completed',
          where: [],
          window: { kind: 'last', duration: { amount: 30, unit: 'days' } },
          op: '>=',
          value: 3,
        },
      ],
    });
  });

  it('reads a sum of a property and a negated segment', () => {
    const rule = roundTrip(
      'sum(event "Order Completed".revenue in last 90 days) > 200 and not in segment "VIP"',
    );
    assert.deepEqual(rule, {
      kind: 'and',
      rules: [
        {
          kind: 'event',
          aggregate: 'sum',
          event: 'Order Completed',
          property: ['revenue'],
          where: [],
          window: { kind: 'last', duration: { amount: 90, unit: 'days' } },
          op: '>',
          value: 200,
        },
        { kind: 'not', rule: { kind: 'segment', segment: 'VIP' } },
      ],
    });
  });

  it('reads a where list whose and joins filters, then a window', () => {
    const rule = roundTrip(
      'count(event "Order Completed" where category = "shoes" and price > 10 in last 7 days) >= 1',
    );
    assert.deepEqual(rule, {
      kind: 'event',
      aggregate: 'count',
      event: 'Order Completed',
      where: [
        { property: ['category'], test: { op: '=', value: 'shoes' } },
        { property: ['price'], test: { op: '>', value: 10 } },
      ],
      window: { kind: 'last', duration: { amount: 7, unit: 'days' } },
      op: '>=',
      value: 1,
    });
  });

  it('reads first and last occurrences', () => {
    assert.deepEqual(roundTrip('last(event "Order Completed") within last 60 days'), {
      kind: 'occurrence',
      which: 'last',
      event: 'Order Completed',
      where: [],
      test: { op: 'within', last: { amount: 60, unit: 'days' } },
    });
    assert.deepEqual(roundTrip('first(event "Signed Up") before "2026-01-01"'), {
      kind: 'occurrence',
      which: 'first',
      event: 'Signed Up',
      where: [],
      test: { op: 'before', date: { at: '2026-01-01' } },
    });
    assert.deepEqual(roundTrip('last(event "Order Completed" where total >= 100) after 2 weeks ago'), {
      kind: 'occurrence',
      which: 'last',
      event: 'Order Completed',
      where: [{ property: ['total'], test: { op: '>=', value: 100 } }],
      test: { op: 'after', date: { ago: { amount: 2, unit: 'weeks' } } },
    });
  });

  it('reads value tests on traits', () => {
    assert.deepEqual(roundTrip('trait tags contains "vip" or (has email and not has phone)'), {
      kind: 'or',
      rules: [
        { kind: 'trait', name: 'tags', test: { op: 'contains', value: 'vip' } },
        {
          kind: 'and',
          rules: [
            { kind: 'identifier', type: 'email' },
            { kind: 'not', rule: { kind: 'identifier', type: 'phone' } },
          ],
        },
      ],
    });
    assert.deepEqual(roundTrip('trait plan in ["pro", "team"]'), {
      kind: 'trait',
      name: 'plan',
      test: { op: 'in', values: ['pro', 'team'] },
    });
    assert.deepEqual(roundTrip('trait age >= 18'), {
      kind: 'trait',
      name: 'age',
      test: { op: '>=', value: 18 },
    });
    assert.deepEqual(roundTrip('trait lastOrder before 60 days ago'), {
      kind: 'trait',
      name: 'lastOrder',
      test: { op: 'before', date: { ago: { amount: 60, unit: 'days' } } },
    });
  });

  it('prints every form of condition back as written', () => {
    for (const text of [
      'trait city != "Paris"',
      'trait vip = true',
      'trait score < -1.5',
      'trait name <= "M"',
      'trait mixed in ["a", 1, false, 2.5]',
      'trait signedUp after "2026-03-01T10:00:00Z"',
      'trait seen within last 1 hour',
      'trait seen within last 90 minutes',
      'trait "first name" exists',
      'trait "count" exists',
      'trait "tab\\there" = "line\\nbreak \\"quoted\\" \\\\ \\u0001"',
      'min(event "Order Completed".product.price between "2026-01-01" and "2026-02-01") < 5',
      'max(event "Order Completed"."unit price" where "in" exists) = 0',
      'avg(event "Rated".score where product.tags contains "new" and at before 1 minute ago) >= 4.5',
      'count(event "Page Viewed" where url in ["/a", "/b"]) != 0',
      'has userId',
      'has "custom id"',
      'in segment "Big spenders"',
      'not not has email',
      'not (trait a exists or trait b exists)',
      '(trait a exists and trait b exists) and trait c exists',
      'trait a exists or (trait b exists or trait c exists)',
      'not trait x exists and not (has email and has phone)',
    ]) {
      roundTrip(text);
    }
  });
});

describe('parseRule: the shape of the tree', () => {
  it('makes one node of a chain and keeps parenthesised groups', () => {
    assert.deepEqual(parseRule('trait a exists and trait b exists and trait c exists'), {
      kind: 'and',
      rules: [trait('a'), trait('b'), trait('c')],
    });
    assert.deepEqual(parseRule('trait a exists and (trait b exists and trait c exists)'), {
      kind: 'and',
      rules: [trait('a'), { kind: 'and', rules: [trait('b'), trait('c')] }],
    });
    assert.deepEqual(parseRule('((trait a exists))'), trait('a'));
  });

  it('binds and tighter than or, and not tighter than and', () => {
    assert.deepEqual(parseRule('trait a exists or trait b exists and trait c exists'), {
      kind: 'or',
      rules: [trait('a'), { kind: 'and', rules: [trait('b'), trait('c')] }],
    });
    assert.deepEqual(parseRule('not trait a exists and trait b exists'), {
      kind: 'and',
      rules: [{ kind: 'not', rule: trait('a') }, trait('b')],
    });
    assert.deepEqual(parseRule('not not trait a exists'), {
      kind: 'not',
      rule: { kind: 'not', rule: trait('a') },
    });
  });

  it('leaves out the property of count and fills in where and window', () => {
    const rule = parseRule('count(event "X") > 0');
    assert.deepEqual(rule, {
      kind: 'event',
      aggregate: 'count',
      event: 'X',
      where: [],
      window: { kind: 'ever' },
      op: '>',
      value: 0,
    });
    assert.ok(!('property' in rule), 'count has no property key');
    assert.deepEqual(parseRule('sum(event "X"."a b".c) > 0'), {
      kind: 'event',
      aggregate: 'sum',
      event: 'X',
      property: ['a b', 'c'],
      where: [],
      window: { kind: 'ever' },
      op: '>',
      value: 0,
    });
  });

  it('reads JSON strings and numbers', () => {
    assert.deepEqual(parseRule('trait a = "\\u00e9\\/\\b\\f\\r\\t"'), {
      kind: 'trait',
      name: 'a',
      test: { op: '=', value: 'é/\b\f\r\t' },
    });
    assert.deepEqual(parseRule('trait a in [1e21, -0.5, 1.5E-7, 0]'), {
      kind: 'trait',
      name: 'a',
      test: { op: 'in', values: [1e21, -0.5, 1.5e-7, 0] },
    });
  });

  it('reads consent: may be used, or a state', () => {
    assert.deepEqual(roundTrip('consent email'), { kind: 'consent', purpose: 'email', test: 'may-use' });
    assert.deepEqual(roundTrip('consent sms is denied'), { kind: 'consent', purpose: 'sms', test: 'denied' });
    assert.deepEqual(roundTrip('consent loyalty_2 is granted and not consent analytics is unknown'), {
      kind: 'and',
      rules: [
        { kind: 'consent', purpose: 'loyalty_2', test: 'granted' },
        { kind: 'not', rule: { kind: 'consent', purpose: 'analytics', test: 'unknown' } },
      ],
    });
    assert.deepEqual(roundTrip('(consent email or consent "last") and has email').kind, 'and');
  });

  it('reserves none of the consent words: they still name traits and identifiers', () => {
    roundTrip('trait consent exists and trait is = 1 and trait granted = true and has unknown');
    roundTrip('consent is is unknown');
    roundTrip('consent consent');
  });

  it('checks purposes against the configured ones when given', () => {
    const purposes = ['email', 'sms', 'loyalty'];
    assert.deepEqual(parseRule('consent loyalty', { purposes }), {
      kind: 'consent',
      purpose: 'loyalty',
      test: 'may-use',
    });
    assert.deepEqual(parseRule('consent surveys'), { kind: 'consent', purpose: 'surveys', test: 'may-use' });
    try {
      parseRule('trait a exists and\n consent surveys is granted', { purposes });
      assert.fail('an unknown purpose parses');
    } catch (error) {
      assert.ok(error instanceof SegmentSyntaxError);
      assert.equal(error.line, 2);
      assert.equal(error.column, 10);
      assert.equal(error.found, 'surveys');
      assert.deepEqual(error.expected, ['a consent purpose (email, sms, loyalty)']);
      assert.match(error.message, /add it to the rules file under consent\.purposes/);
    }
  });
});

describe('printRule: the canonical form', () => {
  it('normalises case, spacing, quoting, units and parentheses', () => {
    const cases: [string, string][] = [
      ['TRAIT City = "Paris" AND Has Email', 'trait City = "Paris" and has Email'],
      ['  trait   a\n  exists\r\n  or\thas phone  ', 'trait a exists or has phone'],
      ['trait "city" = "Paris"', 'trait city = "Paris"'],
      ['trait x = "\\u0041"', 'trait x = "A"'],
      ['trait x = 1.50', 'trait x = 1.5'],
      ['trait x = 1E3', 'trait x = 1000'],
      ['trait x within last 1 days', 'trait x within last 1 day'],
      ['trait x before 2 Week ago', 'trait x before 2 weeks ago'],
      ['count(event "X" In Last 1 Minutes)>=1', 'count(event "X" in last 1 minute) >= 1'],
      ['(trait a exists)', 'trait a exists'],
      ['not (trait a exists)', 'not trait a exists'],
      ['trait x in ["a","b" , 3]', 'trait x in ["a", "b", 3]'],
      ['Last ( Event "X" ) Within Last 2 Hour', 'last(event "X") within last 2 hours'],
      ['sum(event "X" . revenue) > 1', 'sum(event "X".revenue) > 1'],
      ['CONSENT "email" IS Granted', 'consent email is granted'],
    ];
    for (const [input, canonical] of cases) {
      assert.equal(printRule(parseRule(input)), canonical, input);
      assert.equal(printRule(parseRule(canonical)), canonical, canonical);
    }
  });

  it('quotes names that are keywords or not bare names', () => {
    const names: [string, string][] = [
      ['city', 'city'],
      ['user_id', 'user_id'],
      ['a$b-c', 'a$b-c'],
      ['_x', '_x'],
      ['Count', '"Count"'],
      ['days', '"days"'],
      ['9lives', '"9lives"'],
      ['a.b', '"a.b"'],
      ['ville é', '"ville é"'],
      ['-x', '"-x"'],
    ];
    for (const [name, printed] of names) {
      const rule: Rule = { kind: 'trait', name, test: { op: 'exists' } };
      assert.equal(printRule(rule), `trait ${printed} exists`);
      assert.deepEqual(parseRule(printRule(rule)), rule);
    }
  });

  it('refuses a tree no text can stand for', () => {
    assert.throws(() => printRule({ kind: 'and', rules: [trait('a')] }), /at least two rules/);
    assert.throws(() => printRule({ kind: 'trait', name: 'a', test: { op: '=', value: Number.NaN } }), /NaN/);
    assert.throws(
      () => printRule({ kind: 'consent', purpose: 'E-mail', test: 'may-use' }),
      /"E-mail" is not a consent purpose/,
    );
  });
});

describe('parseRule and printRule: generated trees', () => {
  it('parse(print(tree)) is the tree, and print(parse(text)) is the text', () => {
    const random = mulberry32(20260301);
    const covered = new Set<string>();
    for (let index = 0; index < 400; index += 1) {
      const rule = randomRule(random, covered, 4);
      const text = printRule(rule);
      let parsed: Rule;
      try {
        parsed = parseRule(text);
      } catch (error) {
        assert.fail(`tree ${index} printed as ${text} does not parse: ${String(error)}`);
      }
      assert.deepEqual(parsed, rule, text);
      assert.equal(printRule(parsed), text);
    }
    const missing = coverage.filter((kind) => !covered.has(kind));
    assert.deepEqual(missing, [], 'the generator reaches every node, operator, unit and window');
  });
});

describe('parseRule: syntax errors', () => {
  it('reports where, what was expected and what was found', () => {
    const error = syntaxError('trait city "Paris"');
    assert.equal(error.line, 1);
    assert.equal(error.column, 12);
    assert.equal(error.found, '"Paris"');
    assert.deepEqual(error.expected, [
      'a comparison (=, !=, <, <=, >, >=, contains, in, exists, before, after, within)',
    ]);
    assert.equal(
      error.message,
      'line 1, column 12: expected a comparison (=, !=, <, <=, >, >=, contains, in, exists, before, after, within) after trait city, found "Paris"',
    );
    assert.equal(error.name, 'SegmentSyntaxError');
  });

  const cases: { text: string; line: number; column: number; found: string; message: RegExp }[] = [
    {
      text: '',
      line: 1,
      column: 1,
      found: 'end of input',
      message: /the rule is empty: expected a condition.*trait/,
    },
    { text: '  \n  ', line: 2, column: 3, found: 'end of input', message: /rule is empty/ },
    {
      text: 'trait a = "Paris',
      line: 1,
      column: 11,
      found: 'end of input',
      message: /unterminated string: expected a closing "/,
    },
    {
      text: 'trait a = "Par\nis"',
      line: 1,
      column: 11,
      found: 'end of line',
      message: /unterminated string.*found end of line/,
    },
    {
      text: 'trait a = "a\\qb"',
      line: 1,
      column: 13,
      found: '\\q',
      message: /bad escape in string.*found "\\q"/,
    },
    { text: 'trait a = "\\u12x4"', line: 1, column: 12, found: '\\u12x', message: /four hexadecimal digits/ },
    {
      text: 'trait a = "a\tb"',
      line: 1,
      column: 13,
      found: '\\u0009',
      message: /control character in string/,
    },
    { text: 'trait a = #1', line: 1, column: 11, found: '#', message: /unexpected character.*found "#"/ },
    { text: 'trait a ! 1', line: 1, column: 9, found: '!', message: /Write != for "not equal"/ },
    { text: 'trait a = 007', line: 1, column: 11, found: '007', message: /no leading zeros/ },
    {
      text: 'trait a exists trait b exists',
      line: 1,
      column: 16,
      found: 'trait',
      message: /expected and, or or end of input, found "trait"/,
    },
    {
      text: 'trait a exists)',
      line: 1,
      column: 15,
      found: ')',
      message: /end of input, found "\)". This \) closes no \(/,
    },
    {
      text: '(trait a exists\n and (has email)',
      line: 2,
      column: 17,
      found: 'end of input',
      message: /expected and, or or \) to close the \( at line 1, column 1, found end of input/,
    },
    {
      text: 'trait a exists and',
      line: 1,
      column: 19,
      found: 'end of input',
      message: /expected a condition/,
    },
    {
      text: 'trait a exists and\n  foo',
      line: 2,
      column: 3,
      found: 'foo',
      message:
        /expected a condition, found "foo". A condition is one of: trait .*count\/sum\/min\/max\/avg.*first\/last.*in segment.*has.*not.*parentheses/,
    },
    {
      text: 'trait birthday after 30 years ago',
      line: 1,
      column: 25,
      found: 'years',
      message: /expected a unit of time \(minutes, hours, days or weeks\) after 30, found "years"/,
    },
    { text: 'trait a within last 0 days', line: 1, column: 21, found: '0', message: /whole number/ },
    { text: 'trait a within last 1.5 days', line: 1, column: 21, found: '1.5', message: /whole number/ },
    { text: 'trait a before 3 days', line: 1, column: 22, found: 'end of input', message: /expected ago/ },
    {
      text: 'count(event "Order Completed".revenue) > 1',
      line: 1,
      column: 30,
      found: '.',
      message: /count counts events; drop the \.property, or use sum\/min\/max\/avg/,
    },
    {
      text: 'sum(event "Order Completed") > 1',
      line: 1,
      column: 28,
      found: ')',
      message: /expected \.property.*sum reads a number/,
    },
    {
      text: 'count(event Order) > 1',
      line: 1,
      column: 13,
      found: 'Order',
      message: /event name in double quotes/,
    },
    {
      text: 'count(event "X") >= many',
      line: 1,
      column: 21,
      found: 'many',
      message: /expected a number after >=/,
    },
    {
      text: 'count(event "X") contains 1',
      line: 1,
      column: 18,
      found: 'contains',
      message: /=, !=, <, <=, >, >=/,
    },
    {
      text: 'count(event "X" where a = 1 b = 2) > 0',
      line: 1,
      column: 29,
      found: 'b',
      message: /expected and, in last, between or \)/,
    },
    {
      text: 'count(event "X" where a = 1 and in last 3 days) > 0',
      line: 1,
      column: 33,
      found: 'in',
      message: /and joins filters: write the window right after the last filter/,
    },
    {
      text: 'count(event "X" in last 3 days where a = 1) > 0',
      line: 1,
      column: 32,
      found: 'where',
      message: /expected \) in count/,
    },
    {
      text: 'last(event "X" in last 3 days) within last 3 days',
      line: 1,
      column: 16,
      found: 'in',
      message: /takes no window: test its date after the parentheses/,
    },
    { text: 'last(event "X") = 3', line: 1, column: 17, found: '=', message: /expected a date test/ },
    {
      text: 'count(event "X" between "2026-02-01" and "2026-01-01") > 0',
      line: 1,
      column: 42,
      found: '"2026-01-01"',
      message: /expected a date after "2026-02-01"/,
    },
    {
      text: 'trait a before "2026-02-30"',
      line: 1,
      column: 16,
      found: '"2026-02-30"',
      message: /expected an ISO 8601 date/,
    },
    {
      text: 'trait count exists',
      line: 1,
      column: 7,
      found: 'count',
      message: /write the name in double quotes, "count"/,
    },
    { text: 'trait "" exists', line: 1, column: 7, found: '""', message: /cannot be empty/ },
    {
      text: 'trait a = Paris',
      line: 1,
      column: 11,
      found: 'Paris',
      message: /Write text in double quotes, "Paris"/,
    },
    { text: 'trait a in []', line: 1, column: 13, found: ']', message: /expected a value/ },
    { text: 'trait a in ["x",]', line: 1, column: 17, found: ']', message: /expected a value/ },
    {
      text: 'trait a in ["x" "y"]',
      line: 1,
      column: 17,
      found: '"y"',
      message: /expected , or \] to close the list/,
    },
    { text: 'trait a < true', line: 1, column: 11, found: 'true', message: /a number or a "string"/ },
    { text: 'in "VIP"', line: 1, column: 4, found: '"VIP"', message: /expected segment after in/ },
    {
      text: 'trait address.city exists',
      line: 1,
      column: 14,
      found: '.',
      message: /Write a name with dots in double quotes/,
    },
    {
      text: 'consent',
      line: 1,
      column: 8,
      found: 'end of input',
      message: /expected a consent purpose, e\.g\. email after consent, found end of input/,
    },
    {
      text: 'consent Email',
      line: 1,
      column: 9,
      found: 'Email',
      message: /Purpose names are written in lower case: consent email/,
    },
    {
      text: 'consent "e-mail"',
      line: 1,
      column: 9,
      found: '"e-mail"',
      message: /lower-case letters, digits and _, starting with a letter/,
    },
    {
      text: 'consent in',
      line: 1,
      column: 9,
      found: 'in',
      message: /in is a keyword: write the purpose in double quotes, "in"/,
    },
    {
      text: 'consent sms granted',
      line: 1,
      column: 13,
      found: 'granted',
      message: /expected is after consent sms, found "granted". Write consent sms is granted/,
    },
    {
      text: 'consent sms = "denied"',
      line: 1,
      column: 13,
      found: '=',
      message: /expected is after consent sms/,
    },
    {
      text: 'consent sms is yes',
      line: 1,
      column: 16,
      found: 'yes',
      message: /expected granted, denied or unknown after consent sms is, found "yes"/,
    },
    {
      text: 'consent sms is not granted',
      line: 1,
      column: 16,
      found: 'not',
      message: /Write not before the condition: not consent sms is granted/,
    },
    {
      text: 'consent email and',
      line: 1,
      column: 18,
      found: 'end of input',
      message: /expected a condition.*consent PURPOSE/,
    },
    {
      text: 'trait a = 1 and\n\n   trait b ~ 3',
      line: 3,
      column: 12,
      found: '~',
      message: /^line 3, column 12: unexpected character/,
    },
  ];

  for (const { text, line, column, found, message } of cases) {
    it(`${JSON.stringify(text)} fails at ${line}:${column}`, () => {
      const error = syntaxError(text);
      assert.equal(error.line, line, error.message);
      assert.equal(error.column, column, error.message);
      assert.equal(error.found, found, error.message);
      assert.match(error.message, message);
      assert.ok(error.message.startsWith(`line ${line}, column ${column}: `), error.message);
      assert.ok(error.expected.length > 0);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// A generator of trees that stress the text form: odd names, escapes, keywords, JSON numbers.

/** The kinds of the rule generator in rule.fixture.ts, and those of the text form alone. */
const coverage = [
  ...generatorKinds.filter((kind) => kind !== 'computed'),
  'nested',
  'path',
  'quoted-name',
  'amount:1',
];

const names = [
  'city',
  'firstName',
  'user_id',
  'a$b',
  'x-y',
  '_private',
  'count',
  'AND',
  'Days',
  'in',
  'first name',
  'ville é',
  '9lives',
  'a.b',
  'quote"d',
  'back\\slash',
  'tab\tx',
  'line\nbreak',
  '\u0001',
  'emoji 🎉',
  'lone \ud800',
  '-dash',
];
const texts = [...names, '', 'Paris', '2026-01-01', ' '];
const numbers = [0, 1, -1, 3.14, -0.5, 1e21, 1.5e-7, 123456789012, 2 ** 53 - 1, 0.1 + 0.2, -1e-7];
const dates = [
  '2026-01-01',
  '2024-02-29',
  '2026-02-28T23:59:59Z',
  '2026-03-01T10:00:00+02:00',
  '2026-03-01 10:00',
  '2026-03-01T10:00:00.123Z',
  '1999-12-31T23:59',
];
const datesInOrder = [...dates].sort((a, b) => (parseIsoDate(a) as number) - (parseIsoDate(b) as number));
const events = ['Order Completed', 'Signed Up', 'a"b', 'count', 'x', 'é'];

function randomRule(random: Random, covered: Set<string>, depth: number): Rule {
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const mark = <T extends string>(kind: T): T => {
    covered.add(kind);
    return kind;
  };
  const name = (): string => {
    const chosen = pick(names);
    if (!/^[A-Za-z_][A-Za-z0-9_$-]*$/.test(chosen) || /^(and|count|days|in)$/i.test(chosen))
      mark('quoted-name');
    return chosen;
  };
  const path = (): string[] => {
    const length = 1 + Math.floor(random() * 3);
    if (length > 1) mark('path');
    return Array.from({ length }, name);
  };
  const scalar = (): Scalar => pick<Scalar>([pick(texts), pick(numbers), true, false]);
  const duration = (): Duration => {
    const unit = pick(['minutes', 'hours', 'days', 'weeks'] as const);
    mark(`unit:${unit}`);
    const amount = pick([1, 2, 7, 30, 60, 365, 10000]);
    if (amount === 1) mark('amount:1');
    return { amount, unit };
  };
  const dateTest = (): DateTest => {
    const op = mark(pick(['before', 'after', 'within'] as const));
    covered.add(`op:${op}`);
    if (op === 'within') return { op, last: duration() };
    if (random() < 0.5) {
      mark('date:at');
      return { op, date: { at: pick(dates) } };
    }
    mark('date:ago');
    return { op, date: { ago: duration() } };
  };
  const valueTest = (): ValueTest => {
    const op = pick(['=', '!=', '<', '<=', '>', '>=', 'contains', 'in', 'exists', 'date'] as const);
    if (op === 'date') return dateTest();
    mark(`op:${op}`);
    switch (op) {
      case '=':
      case '!=':
        return { op, value: scalar() };
      case '<':
      case '<=':
      case '>':
      case '>=':
        return { op, value: random() < 0.5 ? pick(numbers) : pick(texts) };
      case 'contains':
        return { op, value: pick(texts) };
      case 'in':
        return { op, values: Array.from({ length: 1 + Math.floor(random() * 3) }, scalar) };
      case 'exists':
        return { op };
    }
  };
  const where = (): PropertyFilter[] => {
    if (random() < 0.5) return [];
    mark('where');
    return Array.from({ length: 1 + Math.floor(random() * 3) }, () => ({
      property: path(),
      test: valueTest(),
    }));
  };
  const condition = (): Rule => {
    switch (mark(pick(['trait', 'event', 'occurrence', 'segment', 'identifier', 'consent'] as const))) {
      case 'consent': {
        const test = mark(`consent:${pick(['may-use', 'granted', 'denied', 'unknown'] as const)}`).slice(8);
        return {
          kind: 'consent',
          purpose: pick(['email', 'sms', 'loyalty_2', 'last', 'is', 'consent']),
          test: test as 'may-use' | 'granted' | 'denied' | 'unknown',
        };
      }
      case 'trait':
        return { kind: 'trait', name: name(), test: valueTest() };
      case 'identifier':
        return { kind: 'identifier', type: name() };
      case 'segment':
        return { kind: 'segment', segment: pick(events) };
      case 'occurrence':
        return {
          kind: 'occurrence',
          which: pick(['first', 'last'] as const),
          event: pick(events),
          where: where(),
          test: dateTest(),
        };
      case 'event': {
        const aggregate = pick(['count', 'sum', 'min', 'max', 'avg'] as const);
        mark(`aggregate:${aggregate}`);
        const kind = mark(`window:${pick(['ever', 'last', 'between'] as const)}`).slice(7);
        let window: Window = { kind: 'ever' };
        if (kind === 'last') window = { kind: 'last', duration: duration() };
        if (kind === 'between') {
          const from = Math.floor(random() * (datesInOrder.length - 1));
          const to = from + 1 + Math.floor(random() * (datesInOrder.length - 1 - from));
          window = { kind: 'between', from: datesInOrder[from] as string, to: datesInOrder[to] as string };
        }
        const common = { kind: 'event', event: pick(events), where: where(), window } as const;
        const op = pick(['<', '<=', '>', '>=', '=', '!='] as const);
        return aggregate === 'count'
          ? { ...common, aggregate, op, value: pick(numbers) }
          : { ...common, aggregate, property: path(), op, value: pick(numbers) };
      }
    }
  };
  const rule = (level: number): Rule => {
    const choice = random();
    if (level <= 0 || choice < 0.4) return condition();
    if (choice < 0.55) return { kind: mark('not'), rule: rule(level - 1) };
    const kind = mark(choice < 0.8 ? 'and' : 'or');
    const rules = Array.from({ length: 2 + Math.floor(random() * 3) }, () => rule(level - 1));
    if (rules.some((child) => child.kind === 'and' || child.kind === 'or')) mark('nested');
    return { kind, rules };
  };
  return rule(depth);
}
