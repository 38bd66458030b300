import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import { Type } from 'typebox';
import type { Rule } from './rule.ts';
import { mulberry32, randomRule } from './rule.fixture.ts';
import { ruleSchema, validateRule, type RuleError } from './rule-schema.ts';
import { parseRule } from './segment-text.ts';

const texts = [
  'trait city = "Paris" and count(event "Order Completed" in last 30 days) >= 3',
  'sum(event "Order Completed".revenue in last 90 days) > 200 and not in segment "VIP"',
  'count(event "Order Completed" where category = "shoes" and price > 10 in last 7 days) >= 1',
  'last(event "Order Completed") within last 60 days',
  'first(event "Signed Up" where plan in ["pro", true, 3]) before "2026-01-01"',
  'trait tags contains "vip" or (has email and not has phone)',
  'trait lastOrder before 60 days ago and trait age >= 18',
  'avg(event "Rated".product.score between "2026-01-01" and "2026-02-01T00:00:00Z") < 2.5',
  'consent email and not consent sms is denied',
];

function errorsOf(value: unknown): RuleError[] {
  const result = validateRule(value);
  assert.equal(result.ok, false, `expected ${JSON.stringify(value)} to be refused`);
  return result.ok ? [] : result.errors;
}

/** Asserts one error names the path and says the words. */
function assertError(value: unknown, path: string, message: RegExp): void {
  const errors = errorsOf(value);
  assert.ok(
    errors.some((error) => error.path === path && message.test(error.message)),
    `expected an error at ${path} matching ${String(message)}, got ${JSON.stringify(errors)}`,
  );
}

const trait = (name: string): Rule => ({ kind: 'trait', name, test: { op: 'exists' } });
const count = (fields: Record<string, unknown>): Record<string, unknown> => ({
  kind: 'event',
  aggregate: 'count',
  event: 'Order Completed',
  where: [],
  window: { kind: 'ever' },
  op: '>=',
  value: 1,
  ...fields,
});

describe('ruleSchema', () => {
  it('compiles in a strict ajv, alone and nested in another schema', () => {
    const plain = new Ajv().compile(ruleSchema);
    const ajv = new Ajv({ coerceTypes: 'array', useDefaults: true, removeAdditional: false });
    const body = ajv.compile(Type.Object({ name: Type.String(), rule: ruleSchema }));
    const other = ajv.compile(Type.Object({ rules: Type.Array(ruleSchema) }));
    for (const text of texts) {
      const rule = parseRule(text);
      assert.equal(plain(rule), true, text);
      assert.equal(body({ name: 'x', rule }), true, text);
      assert.equal(other({ rules: [rule, rule] }), true, text);
    }
    assert.equal(plain({ kind: 'trait', name: 'a', test: { op: 'nope' } }), false);
    assert.equal(body({ name: 'x', rule: { kind: 'and', rules: [trait('a')] } }), false);
  });

  it('is plain JSON with $defs and $ref', () => {
    const json = JSON.parse(JSON.stringify(ruleSchema)) as { $ref: string; $defs: Record<string, unknown> };
    assert.equal(json.$ref, 'SegmentRule');
    assert.ok('SegmentTraitCondition' in json.$defs);
    assert.equal(new Ajv().compile(json)(parseRule(texts[0] as string)), true);
  });
});

describe('validateRule', () => {
  it('accepts the parsed sentences and generated trees, and returns them', () => {
    for (const text of texts) {
      const rule = parseRule(text);
      assert.deepEqual(validateRule(rule), { ok: true, rule });
    }
    const random = mulberry32(7);
    const plain = new Ajv().compile(ruleSchema);
    for (let index = 0; index < 300; index += 1) {
      const rule = randomRule(random, { segments: ['VIP', 'Big spenders'], depth: 4 });
      const result = validateRule(rule);
      assert.ok(result.ok, `${JSON.stringify(rule)}: ${JSON.stringify(result)}`);
      assert.equal(result.rule, rule);
      assert.equal(plain(rule), true);
    }
  });

  it('refuses what is not a rule at all', () => {
    assert.deepEqual(errorsOf(null), [{ path: '', message: 'must be an object' }]);
    assert.deepEqual(errorsOf('trait a exists'), [{ path: '', message: 'must be an object' }]);
    assertError(
      {},
      'kind',
      /is required.*one of and, or, not, trait, event, occurrence, segment, identifier/,
    );
    assertError({ kind: 'maybe' }, 'kind', /"maybe" is not a known kind/);
  });

  it('names the field of a nested node', () => {
    assertError(
      { kind: 'and', rules: [trait('a'), { kind: 'trait', name: 'b', test: { op: '~' } }] },
      'rules[1].test.op',
      /"~" is not a known op: one of =, !=/,
    );
    assertError({ kind: 'not', rule: { kind: 'trait', name: 'b' } }, 'rule.test', /is required/);
    assertError(
      { kind: 'or', rules: [trait('a'), { ...trait('b'), colour: 'red' }] },
      'rules[1].colour',
      /not a field here/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: 'exists', value: 1 } },
      'test.value',
      /not a field here/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: '=', value: null } },
      'test.value',
      /must be a string, a number or a boolean/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: '<', value: false } },
      'test.value',
      /must be a number or a string/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: 'contains', value: 3 } },
      'test.value',
      /must be a string/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: 'in', values: [] } },
      'test.values',
      /at least 1 item/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: 'in', values: ['a', {}] } },
      'test.values[1]',
      /must be a string, a number or a boolean/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: 'before', date: {} } },
      'test.date',
      /must be \{"at": \.\.\.\} or \{"ago": \.\.\.\}/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: 'before', date: { at: 20260101 } } },
      'test.date.at',
      /must be a string/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: 'within', last: { amount: 3, unit: 'years' } } },
      'test.last.unit',
      /one of "minutes", "hours", "days", "weeks"/,
    );
    assertError(count({ aggregate: 'median' }), 'aggregate', /one of "count", "sum", "min", "max", "avg"/);
    assertError(count({ op: '=>' }), 'op', /one of "<"/);
    assertError(count({ value: '3' }), 'value', /must be a number/);
    assertError(
      count({ window: { kind: 'recent' } }),
      'window.kind',
      /"recent" is not a known kind: one of ever, last, between/,
    );
    assertError(
      count({
        where: [
          { property: ['a'], test: { op: 'exists' } },
          { property: 'b', test: { op: 'exists' } },
        ],
      }),
      'where[1].property',
      /must be a list/,
    );
    assertError(
      { kind: 'occurrence', which: 'last', event: 'X', where: [], test: { op: 'exists' } },
      'test.op',
      /one of before, after, within/,
    );
  });

  it('checks consent conditions: a purpose name, a known test, and the configured purposes when given', () => {
    const consent = (fields: Record<string, unknown>) => ({
      kind: 'consent',
      purpose: 'email',
      test: 'may-use',
      ...fields,
    });
    assert.equal(validateRule(consent({ purpose: 'loyalty_2', test: 'unknown' })).ok, true);
    assertError(consent({ purpose: 'Email' }), 'purpose', /must be a consent purpose: lower-case letters/);
    assertError(consent({ purpose: '' }), 'purpose', /must be a consent purpose/);
    assertError(
      consent({ test: 'maybe' }),
      'test',
      /must be one of "may-use", "granted", "denied", "unknown"/,
    );
    assertError(consent({ state: 'granted' }), 'state', /not a field here/);
    const purposes = ['email', 'sms'];
    assert.equal(validateRule(consent({ purpose: 'sms' }), { purposes }).ok, true);
    assert.deepEqual(validateRule({ kind: 'not', rule: consent({ purpose: 'surveys' }) }, { purposes }), {
      ok: false,
      errors: [
        {
          path: 'rule.purpose',
          message:
            '"surveys" is not a consent purpose: one of email, sms (add others to the rules file under consent.purposes)',
        },
      ],
    });
  });

  it('refuses and and or with fewer than two rules', () => {
    assertError({ kind: 'and', rules: [trait('a')] }, 'rules', /at least 2 items/);
    assertError({ kind: 'or', rules: [] }, 'rules', /at least 2 items/);
  });

  it('refuses empty names', () => {
    assertError({ kind: 'trait', name: '', test: { op: 'exists' } }, 'name', /must not be empty/);
    assertError({ kind: 'identifier', type: '' }, 'type', /must not be empty/);
    assertError({ kind: 'segment', segment: '' }, 'segment', /must not be empty/);
    assertError(count({ event: '' }), 'event', /must not be empty/);
    assertError(
      count({ where: [{ property: ['a', ''], test: { op: 'exists' } }] }),
      'where[0].property[1]',
      /must not be empty/,
    );
    assertError(
      count({ where: [{ property: [], test: { op: 'exists' } }] }),
      'where[0].property',
      /at least 1 item/,
    );
  });

  it('refuses durations that are not positive whole numbers', () => {
    assertError(
      count({ window: { kind: 'last', duration: { amount: 0, unit: 'days' } } }),
      'window.duration.amount',
      /1 or more/,
    );
    assertError(
      count({ window: { kind: 'last', duration: { amount: 1.5, unit: 'days' } } }),
      'window.duration.amount',
      /whole number/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: 'after', date: { ago: { amount: 2 ** 60, unit: 'days' } } } },
      'test.date.ago.amount',
      /whole number no larger than/,
    );
  });

  it('checks the property of an aggregate', () => {
    assertError(count({ property: ['revenue'] }), 'property', /count counts events and reads no property/);
    assertError(count({ aggregate: 'sum' }), 'property', /is required: sum reads a numeric property/);
    assert.equal(validateRule(count({ aggregate: 'max', property: ['product', 'price'] })).ok, true);
  });

  it('checks dates and windows', () => {
    assertError(
      { kind: 'trait', name: 'a', test: { op: 'before', date: { at: '2026-02-30' } } },
      'test.date.at',
      /ISO 8601/,
    );
    assertError(
      { kind: 'trait', name: 'a', test: { op: 'after', date: { at: 'yesterday' } } },
      'test.date.at',
      /ISO 8601/,
    );
    assertError(
      {
        kind: 'occurrence',
        which: 'first',
        event: 'X',
        where: [{ property: ['at'], test: { op: 'before', date: { at: '2026-13-01' } } }],
        test: { op: 'within', last: { amount: 1, unit: 'days' } },
      },
      'where[0].test.date.at',
      /ISO 8601/,
    );
    assertError(
      count({ window: { kind: 'between', from: 'soon', to: '2026-01-01' } }),
      'window.from',
      /ISO 8601/,
    );
    assertError(
      count({ window: { kind: 'between', from: '2026-02-01', to: '2026-01-01' } }),
      'window.to',
      /must be after window.from/,
    );
    assertError(
      count({ window: { kind: 'between', from: '2026-01-01', to: '2026-01-01T00:00:00Z' } }),
      'window.to',
      /must be after window.from/,
    );
  });

  it('reports every problem of a rule at once, in the order of the rule', () => {
    assert.deepEqual(
      errorsOf({
        kind: 'and',
        rules: [
          { kind: 'trait', name: '', test: { op: 'exists' } },
          { kind: 'trait', name: 'a', test: { op: '=', value: null } },
          { kind: 'identifier' },
        ],
      }),
      [
        { path: 'rules[0].name', message: 'must not be empty' },
        { path: 'rules[1].test.value', message: 'must be a string, a number or a boolean' },
        { path: 'rules[2].type', message: 'is required' },
      ],
    );
    const errors = errorsOf({
      kind: 'and',
      rules: [
        count({ property: ['x'] }),
        count({ window: { kind: 'between', from: '2026-02-01', to: '2026-01-01' } }),
      ],
    });
    assert.deepEqual(
      errors.map((error) => error.path),
      ['rules[0].property', 'rules[1].window.to'],
    );
  });
});
