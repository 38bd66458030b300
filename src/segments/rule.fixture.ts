import {
  expressionAggregates,
  type ConsentTest,
  type DateTest,
  type Duration,
  type EventExpression,
  type PropertyFilter,
  type Rule,
  type Scalar,
  type ValueTest,
  type Window,
} from './rule.ts';

/** Random rules for tests, drawn from the values the test datasets hold, so that they select someone. */

export type Random = () => number;

/** A small seeded generator (mulberry32): the same seed gives the same rules. */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the generator marks as covered: node kinds, operators, aggregates, windows, date forms. */
export const generatorKinds = [
  'and',
  'or',
  'not',
  'trait',
  'event',
  'occurrence',
  'segment',
  'identifier',
  'consent',
  'consent:may-use',
  'consent:granted',
  'consent:denied',
  'consent:unknown',
  'where',
  'computed',
  'op:=',
  'op:!=',
  'op:<',
  'op:<=',
  'op:>',
  'op:>=',
  'op:contains',
  'op:in',
  'op:exists',
  'op:before',
  'op:after',
  'op:within',
  'aggregate:count',
  'aggregate:sum',
  'aggregate:min',
  'aggregate:max',
  'aggregate:avg',
  'window:ever',
  'window:last',
  'window:between',
  'date:at',
  'date:ago',
  'unit:minutes',
  'unit:hours',
  'unit:days',
  'unit:weeks',
] as const;

export interface RandomRuleOptions {
  /** Names `in segment` may use. */
  readonly segments: readonly string[];
  /** Filled with the generatorKinds the rule uses. */
  readonly covered?: Set<string>;
  readonly depth?: number;
  /** Computed traits rules may read as traits. */
  readonly computedTraits?: readonly string[];
}

/** A random computed trait over the test datasets' events. */
export function randomExpression(random: Random): EventExpression {
  const rule = randomRule(random, { segments: ['none'], depth: 0 });
  const base = rule.kind === 'event' ? rule : undefined;
  const aggregate = expressionAggregates[Math.floor(random() * expressionAggregates.length)]!;
  const property =
    aggregate === 'count' || ((aggregate === 'first' || aggregate === 'last') && random() < 0.4)
      ? undefined
      : properties[Math.floor(random() * properties.length)]!;
  return {
    aggregate,
    event: events[Math.floor(random() * (events.length - 1))]!,
    ...(property === undefined ? {} : { property }),
    where: base?.where ?? [],
    window: base?.window ?? { kind: 'ever' },
  };
}

const traitNames = ['city', 'age', 'tags', 'plan', 'birthday', 'vip', 'firstSeen', 'missing'];
const scalars: readonly Scalar[] = [
  'Paris',
  'Lyon',
  'vip',
  'pro',
  'shoes',
  30,
  18,
  45.5,
  10,
  250,
  true,
  false,
  '30',
  '',
];
const texts = ['Paris', 'par', 'vip', 'a', 'shoes', 'Shoes', 'new', ''];
const dates = ['2026-01-01', '2026-05-20T06:30:00Z', '1995-06-01', '2026-06-10T00:00:00+02:00'];
const events = ['Order Completed', 'Product Viewed', 'Signed Up', 'Never Sent'];
const properties = [['revenue'], ['category'], ['product', 'price'], ['product', 'tags'], ['missing']];
/** Consent purposes: those the test datasets record (email most), and one nobody answered. */
export const fixturePurposes = ['email', 'sms', 'analytics', 'loyalty'] as const;
const purposes = [...fixturePurposes, 'email', 'push'];

export function randomRule(random: Random, options: RandomRuleOptions): Rule {
  const covered = options.covered ?? new Set<string>();
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
  const mark = <T extends string>(kind: T): T => {
    covered.add(kind);
    return kind;
  };

  function duration(): Duration {
    const unit = mark(`unit:${pick(['minutes', 'hours', 'days', 'days', 'weeks'] as const)}`).slice(
      5,
    ) as Duration['unit'];
    const amounts = { minutes: [30, 90], hours: [2, 48], days: [1, 7, 30, 60, 90], weeks: [2, 8] }[unit];
    return { amount: pick(amounts), unit };
  }

  function dateTest(): DateTest {
    const op = mark(`op:${pick(['before', 'after', 'within'] as const)}`).slice(3) as DateTest['op'];
    if (op === 'within') return { op, last: duration() };
    if (random() < 0.5) {
      mark('date:at');
      return { op, date: { at: pick(dates) } };
    }
    mark('date:ago');
    return { op, date: { ago: duration() } };
  }

  function valueTest(): ValueTest {
    const op = pick(['=', '!=', '<', '<=', '>', '>=', 'contains', 'in', 'exists', 'date'] as const);
    if (op === 'date') return dateTest();
    mark(`op:${op}`);
    switch (op) {
      case '=':
      case '!=':
        return { op, value: pick(scalars) };
      case '<':
      case '<=':
      case '>':
      case '>=':
        return {
          op,
          value: random() < 0.7 ? pick([0, 18, 20, 30, 50, 100, 250]) : pick(['Lyon', 'P', 'pro', '']),
        };
      case 'contains':
        return { op, value: pick(texts) };
      case 'in':
        return {
          op,
          values: [pick(scalars), pick(scalars), pick(scalars)].slice(0, 1 + Math.floor(random() * 3)),
        };
      case 'exists':
        return { op };
    }
  }

  function where(): PropertyFilter[] {
    if (random() < 0.6) return [];
    mark('where');
    return Array.from({ length: 1 + Math.floor(random() * 2) }, () => ({
      property: pick(properties),
      test: valueTest(),
    }));
  }

  function window(): Window {
    const kind = mark(`window:${pick(['ever', 'last', 'last', 'between'] as const)}`).slice(7);
    if (kind === 'ever') return { kind: 'ever' };
    if (kind === 'last') return { kind: 'last', duration: duration() };
    return {
      kind: 'between',
      from: pick(['2026-01-01', '2026-03-01T00:00:00Z']),
      to: pick(['2026-05-01', '2026-06-15']),
    };
  }

  function condition(): Rule {
    switch (
      mark(
        pick(['trait', 'trait', 'event', 'event', 'occurrence', 'segment', 'identifier', 'consent'] as const),
      )
    ) {
      case 'consent': {
        const test = mark(`consent:${pick(['may-use', 'may-use', 'granted', 'denied', 'unknown'] as const)}`);
        return { kind: 'consent', purpose: pick(purposes), test: test.slice(8) as ConsentTest };
      }
      case 'trait': {
        const computed = options.computedTraits ?? [];
        if (computed.length > 0 && random() < 0.4) {
          mark('computed');
          return { kind: 'trait', name: pick(computed), test: valueTest() };
        }
        return { kind: 'trait', name: pick(traitNames), test: valueTest() };
      }
      case 'identifier':
        return { kind: 'identifier', type: pick(['email', 'phone', 'userId', 'twitter']) };
      case 'segment':
        return { kind: 'segment', segment: pick(options.segments) };
      case 'occurrence':
        return {
          kind: 'occurrence',
          which: pick(['first', 'last'] as const),
          event: pick(events),
          where: where(),
          test: dateTest(),
        };
      case 'event': {
        const aggregate = mark(
          `aggregate:${pick(['count', 'count', 'sum', 'min', 'max', 'avg'] as const)}`,
        ).slice(10);
        const op = pick(['<', '<=', '>', '>=', '=', '!='] as const);
        if (aggregate === 'count') {
          return {
            kind: 'event',
            aggregate,
            event: pick(events),
            where: where(),
            window: window(),
            op,
            value: pick([0, 1, 2, 3]),
          };
        }
        return {
          kind: 'event',
          aggregate: aggregate as 'sum' | 'min' | 'max' | 'avg',
          event: pick(events),
          property: pick(properties),
          where: where(),
          window: window(),
          op,
          value: pick([0, 10, 25, 50, 99.5, 200, 250]),
        };
      }
    }
  }

  function rule(depth: number): Rule {
    const choice = random();
    if (depth <= 0 || choice < 0.45) return condition();
    if (choice < 0.6) return { kind: mark('not'), rule: rule(depth - 1) };
    const kind = mark(choice < 0.8 ? 'and' : 'or');
    return { kind, rules: Array.from({ length: 2 + Math.floor(random() * 2) }, () => rule(depth - 1)) };
  }

  return rule(options.depth ?? 3);
}
