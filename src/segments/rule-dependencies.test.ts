import assert from 'node:assert/strict';
import { test } from 'node:test';
import { affects, dependenciesOf, needsOf, type Touch } from './rule-dependencies.ts';
import type { EventExpression, Rule } from './rule.ts';
import { parseExpression, parseRule } from './segment-text.ts';

const segments = new Map<string, Rule>([
  ['VIP', parseRule('trait vip = true or has email')],
  ['Loop', parseRule('in segment "Loop" or trait a = 1')],
]);
const computed = new Map<string, EventExpression>([
  ['revenue90', parseExpression('sum(event "Order Completed".revenue in last 90 days)')],
]);
const options = {
  segmentRule: (name: string) => segments.get(name),
  computedTrait: (name: string) => computed.get(name),
};
const touch = (change: Partial<Touch>): Touch => ({
  events: new Set(),
  traits: new Set(),
  identifiers: false,
  consent: new Set(),
  all: false,
  ...change,
});

test('a rule depends on the events, traits and identifiers it reads, through segments and computed traits', () => {
  const dependencies = dependenciesOf(
    parseRule(
      'trait city = "Paris" and trait revenue90 > 200 and not in segment "VIP" and in segment "Loop"',
    ),
    options,
  );
  assert.deepEqual([...dependencies.events], ['Order Completed']);
  assert.deepEqual([...dependencies.computedEvents], ['Order Completed'], 'read through a computed trait');
  assert.deepEqual([...dependencies.traits].sort(), ['a', 'city', 'vip']);
  assert.equal(dependencies.identifiers, true);
  assert.equal(dependencies.time, true, 'the computed trait has a window');
});

test('time: windows, within and "ago" make a rule depend on time; fixed dates do not', () => {
  const time = (text: string) => dependenciesOf(parseRule(text), options).time;
  assert.equal(time('trait city = "Paris"'), false);
  assert.equal(time('count(event "Order Completed") >= 2'), false);
  assert.equal(time('first(event "Signed Up") before "2026-01-01"'), false);
  assert.equal(time('count(event "Order Completed" in last 30 days) >= 2'), true);
  assert.equal(time('count(event "Order Completed" between "2026-01-01" and "2026-02-01") >= 2'), true);
  assert.equal(time('last(event "Order Completed") within last 60 days'), true);
  assert.equal(time('trait birthday after 18 weeks ago'), true);
  assert.equal(time('count(event "Order Completed" where at within last 2 days) >= 1'), true);
});

test('a write affects a rule only through what the rule reads', () => {
  const dependencies = dependenciesOf(
    parseRule('trait city = "Paris" and count(event "Order Completed") >= 2'),
    options,
  );
  assert.equal(affects(dependencies, touch({ events: new Set(['Product Viewed']) })), false);
  assert.equal(affects(dependencies, touch({ events: new Set(['Order Completed']) })), true);
  assert.equal(affects(dependencies, touch({ traits: new Set(['email']) })), false);
  assert.equal(affects(dependencies, touch({ traits: new Set(['city']) })), true);
  assert.equal(affects(dependencies, touch({ identifiers: true })), false);
  assert.equal(affects(dependencies, touch({ all: true })), true);
  assert.deepEqual(needsOf([dependencies]), {
    events: ['Order Completed'],
    computedEvents: [],
    traits: ['city'],
    consent: [],
  });
});

test('a rule reads consent for the purposes it names, through segments, and not time', () => {
  const withSegments = new Map([
    ...segments,
    ['Reachable', parseRule('consent sms is granted or has phone')],
  ]);
  const dependencies = dependenciesOf(
    parseRule('consent email and not consent analytics is denied and in segment "Reachable"'),
    { ...options, segmentRule: (name: string) => withSegments.get(name) },
  );
  assert.deepEqual([...dependencies.consent].sort(), ['analytics', 'email', 'sms']);
  assert.equal(dependencies.time, false);
  assert.equal(affects(dependencies, touch({ consent: new Set(['push']) })), false);
  assert.equal(affects(dependencies, touch({ consent: new Set(['sms']) })), true);
  const other = dependenciesOf(parseRule('trait city = "Paris"'), options);
  assert.equal(affects(other, touch({ consent: new Set(['email']) })), false);
  assert.deepEqual([...needsOf([dependencies, other]).consent].sort(), ['analytics', 'email', 'sms']);
});
