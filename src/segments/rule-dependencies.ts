import type { DateTest, EventExpression, PropertyFilter, Rule, ValueTest, Window } from './rule.ts';

/**
 * What a rule's outcome can depend on: the events, traits, identifiers and consent it reads (through the
 * segments it names and the computed traits it reads too), and whether time passing alone can
 * change it. A write that touches none of these cannot move anyone in or out.
 */
export interface Dependencies {
  /** Names of the track events it reads. */
  readonly events: ReadonlySet<string>;
  /** Those it reads through computed traits, which also read what retention kept of them. */
  readonly computedEvents: ReadonlySet<string>;
  /** Names of the stored traits it reads (computed traits count by their events). */
  readonly traits: ReadonlySet<string>;
  /** Whether it tests identifiers (`has email`). */
  readonly identifiers: boolean;
  /** The consent purposes it tests (`consent email`). */
  readonly consent: ReadonlySet<string>;
  /** Whether it looks at a window or a date relative to now, so time alone can change it. */
  readonly time: boolean;
}

/** What a write changed for one origin profile. */
export interface Touch {
  readonly events: Set<string>;
  readonly traits: Set<string>;
  identifiers: boolean;
  /** Purposes whose consent changed (for email, its double opt-in too). */
  readonly consent: Set<string>;
  /** A new profile, a merge, an unmerge...: every segment is judged again. */
  all: boolean;
}

export interface DependencyOptions {
  readonly segmentRule: (name: string) => Rule | undefined;
  readonly computedTrait: (name: string) => EventExpression | undefined;
}

export function dependenciesOf(rule: Rule, options: DependencyOptions): Dependencies {
  const events = new Set<string>();
  const computedEvents = new Set<string>();
  const traits = new Set<string>();
  const consent = new Set<string>();
  let identifiers = false;
  let time = false;
  const seen = new Set<string>();

  const window = (range: Window): void => {
    if (range.kind !== 'ever') time = true;
  };
  const dateTest = (test: DateTest): void => {
    if (test.op === 'within' || !('at' in test.date)) time = true;
  };
  const valueTest = (test: ValueTest): void => {
    if (test.op === 'before' || test.op === 'after' || test.op === 'within') dateTest(test);
  };
  const filters = (where: readonly PropertyFilter[]): void => {
    for (const filter of where) valueTest(filter.test);
  };
  const expression = (computed: EventExpression): void => {
    events.add(computed.event);
    computedEvents.add(computed.event);
    filters(computed.where);
    window(computed.window);
  };
  const visit = (node: Rule): void => {
    switch (node.kind) {
      case 'and':
      case 'or':
        node.rules.forEach(visit);
        return;
      case 'not':
        visit(node.rule);
        return;
      case 'trait': {
        const computed = options.computedTrait(node.name);
        if (computed === undefined) traits.add(node.name);
        else expression(computed);
        valueTest(node.test);
        return;
      }
      case 'event':
        events.add(node.event);
        filters(node.where);
        window(node.window);
        return;
      case 'occurrence':
        events.add(node.event);
        filters(node.where);
        dateTest(node.test);
        return;
      case 'identifier':
        identifiers = true;
        return;
      case 'consent':
        consent.add(node.purpose);
        return;
      case 'segment': {
        if (seen.has(node.segment)) return;
        seen.add(node.segment);
        const named = options.segmentRule(node.segment);
        if (named !== undefined) visit(named);
        return;
      }
    }
  };
  visit(rule);
  return { events, computedEvents, traits, identifiers, consent, time };
}

/** Whether what a write changed can change the outcome of a rule with these dependencies. */
export function affects(dependencies: Dependencies, touch: Touch): boolean {
  if (touch.all) return true;
  if (touch.identifiers && dependencies.identifiers) return true;
  for (const event of touch.events) if (dependencies.events.has(event)) return true;
  for (const trait of touch.traits) if (dependencies.traits.has(trait)) return true;
  for (const purpose of touch.consent) if (dependencies.consent.has(purpose)) return true;
  return false;
}

/** What judging a profile against rules reads of it: event and trait names, consent purposes. */
export interface Needs {
  readonly events: readonly string[];
  /** Events read through computed traits: what retention kept of them is read too (ExpressionRollup). */
  readonly computedEvents?: readonly string[];
  readonly traits: readonly string[];
  readonly consent: readonly string[];
}

/** The event and trait names and the consent purposes a set of rules reads, all together. */
export function needsOf(dependencies: Iterable<Dependencies>): Needs {
  const events = new Set<string>();
  const computedEvents = new Set<string>();
  const traits = new Set<string>();
  const consent = new Set<string>();
  for (const each of dependencies) {
    for (const event of each.events) events.add(event);
    for (const event of each.computedEvents) computedEvents.add(event);
    for (const trait of each.traits) traits.add(trait);
    for (const purpose of each.consent) consent.add(purpose);
  }
  return {
    events: [...events],
    computedEvents: [...computedEvents],
    traits: [...traits],
    consent: [...consent],
  };
}
