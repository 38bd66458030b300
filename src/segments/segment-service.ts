import { createSerialQueue } from '../serial-queue.ts';
import { randomUUID } from 'node:crypto';
import { defaultConsentRules, type ConsentRules } from '../domain/consent.ts';
import { mergedPairs, type IdentityGraph } from '../domain/identity-graph.ts';
import { mergeTraits, withSourceIds, type TraitRules } from '../domain/traits.ts';
import { CibleError } from '../errors.ts';
import type { SourceRegistry } from '../sources/source-registry.ts';
import type {
  ComputedTraitRecord,
  ProfileViewData,
  RuleContext,
  SegmentChange,
  SegmentRecord,
  SegmentStore,
} from '../store/segment-store.ts';
import { parsedTrait, type IdentityChanges, type Store } from '../store/store.ts';
import { evaluateExpression, evaluateRule, type ProfileView } from './evaluate-rule.ts';
import { affects, dependenciesOf, needsOf, type Dependencies, type Touch } from './rule-dependencies.ts';
import { segmentsNamed, type EventExpression, type Rule } from './rule.ts';
import { validateRule } from './rule-schema.ts';
import {
  parseExpression,
  parseRule,
  printExpression,
  printRule,
  SegmentSyntaxError,
} from './segment-text.ts';

/**
 * Segments as a person works with them: saved with a rule (text or tree), kept up to date, and
 * read back with their members, their entries and exits, and their sizes over time. Every saved
 * segment is evaluated again over the whole base when it changes and on a schedule (which also
 * moves people out of time-based segments such as "no purchase in 60 days" without any event).
 */
export interface SegmentService {
  create(input: SegmentInput): Promise<Segment>;
  update(id: string, input: Partial<SegmentInput>): Promise<Segment>;
  remove(id: string): Promise<void>;
  get(id: string): Segment;
  list(): Segment[];
  /** How many profiles a rule selects now, and a sample of 20, without saving anything. */
  preview(rule: RuleInput): Promise<{ rule: Rule; size: number; sample: number[] }>;
  /** Evaluates every segment again over the whole base; resolves with the changes recorded. */
  refreshAll(): Promise<SegmentChange[]>;
  /** Resolves once everything touched so far is evaluated and its changes recorded. */
  settled(): Promise<void>;
  /** The store, telling this service which profiles every write touches. */
  watch(store: Store): Store;
  members(id: string, query: { after?: number; limit: number }): Promise<number[]>;
  changes(id: string, query: { after?: number; limit: number }): Promise<SegmentChange[]>;
  sizes(id: string, range: { from: number; to: number }): Promise<{ day: string; size: number }[]>;
  /** Members of both, of each alone, from the memberships held in memory. */
  overlap(a: string, b: string): { both: number; onlyA: number; onlyB: number };
  /** The segments a profile is in now. */
  segmentsOf(profileId: number): Segment[];
  /**
   * Forgets erased people: they leave every membership held in memory, without a recorded exit
   * (their rows are gone from the store with them).
   */
  forget(originProfiles: readonly number[]): Promise<void>;
  /** Named per-profile aggregates of events, which rules read as traits. */
  readonly computedTraits: ComputedTraits;
  /** Loads the segments and who is in them; starts the schedule. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface ComputedTraits {
  create(input: ComputedTraitInput): Promise<ComputedTrait>;
  update(id: string, input: Partial<ComputedTraitInput>): Promise<ComputedTrait>;
  remove(id: string): Promise<void>;
  get(id: string): ComputedTrait;
  list(): ComputedTrait[];
  /** Every person's value now, in profile order after the cursor. */
  values(
    id: string,
    query: { after?: number; limit: number },
  ): Promise<{ profileId: number; value: unknown }[]>;
  /** A person's value of each computed trait now. */
  of(profileId: number): Promise<Record<string, unknown>>;
}

export interface ComputedTraitInput {
  readonly name: string;
  readonly description?: string;
  /** The text form: `sum(event "Order Completed".revenue in last 90 days)`. */
  readonly expression: string;
}

export interface ComputedTrait extends ComputedTraitRecord {
  /** The expression in the text form. */
  readonly text: string;
}

/** A rule as a person sends it: the text form (a string), or the tree as JSON. */
export type RuleInput = unknown;

export interface SegmentInput {
  readonly name: string;
  readonly description?: string;
  readonly rule: RuleInput;
}

export interface Segment extends SegmentRecord {
  /** The rule in the text form. */
  readonly text: string;
  readonly size: number;
  /** When the segment was last evaluated over the whole base, ms; null before the first time. */
  readonly refreshedAt: number | null;
}

export interface SegmentServiceOptions {
  readonly store: SegmentStore;
  readonly graph: () => IdentityGraph;
  readonly traitRules: TraitRules;
  readonly sources: SourceRegistry;
  /** How often every segment is evaluated again, ms; 0 never (tests call refreshAll). */
  readonly refreshIntervalMs: number;
  readonly clock?: () => number;
  readonly onError?: (error: unknown) => void;
  /**
   * The purposes `consent` conditions may name, and whether email needs a confirmed double opt-in
   * to be used; defaultConsentRules when absent.
   */
  readonly consentRules?: ConsentRules;
}

export const previewSampleSize = 20;

/** The most origin profiles one round of real-time evaluation takes. */
const roundSize = 2000;

interface PendingTouch {
  readonly touch: Touch;
  /** The round of the first touch not evaluated yet. */
  readonly since: number;
  readonly failures: number;
}

/** A new id: the prefix, then 20 random hex digits. */
function newId(prefix: string): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 20)}`;
}

/** A name given to a segment or a computed trait, trimmed, refused when empty or taken by another. */
function uniqueName(
  name: unknown,
  id: string | undefined,
  what: string,
  existing: Iterable<{ readonly id: string; readonly name: string }>,
  taken: 'CIBLE_ERR_SEGMENT_NAME_TAKEN' | 'CIBLE_ERR_COMPUTED_TRAIT_NAME_TAKEN',
): string {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new CibleError('CIBLE_ERR_API_INVALID_REQUEST', `name: give the ${what} a name.`, {
      field: 'name',
    });
  }
  const trimmed = name.trim();
  const other = [...existing].find((candidate) => candidate.name === trimmed);
  if (other !== undefined && other.id !== id) {
    throw new CibleError(taken, `A ${what} named "${trimmed}" exists already (${other.id}).`, {
      field: 'name',
    });
  }
  return trimmed;
}

/** What a write changed, per origin profile it touched. */
function touchesWritten(
  events: readonly {
    readonly profileId: number | null;
    readonly type?: string;
    readonly event?: string | null;
  }[],
  identity: IdentityChanges | undefined,
): Map<number, Touch> {
  const touches = new Map<number, Touch>();
  const touch = (origin: number): Touch => {
    let found = touches.get(origin);
    if (found === undefined) {
      touches.set(
        origin,
        (found = {
          events: new Set(),
          traits: new Set(),
          identifiers: false,
          consent: new Set(),
          all: false,
        }),
      );
    }
    return found;
  };
  for (const event of events) {
    if (event.profileId === null) continue;
    const changed = touch(event.profileId);
    // Events given a profile afterwards come without their names: they may matter to any segment.
    if (event.type === undefined) changed.all = true;
    else if (event.type === 'track' && typeof event.event === 'string') changed.events.add(event.event);
  }
  if (identity === undefined) return touches;
  // A new profile may already meet rules that need nothing of it (`not has email`).
  for (const profile of identity.profiles) touch(profile.id).all = true;
  for (const row of identity.traits) touch(row.originProfileId).traits.add(row.name);
  for (const row of identity.identifiers) touch(row.originProfileId).identifiers = true;
  for (const row of identity.consent ?? []) touch(row.profileId).consent.add(row.purpose);
  for (const merge of identity.merges) {
    touch(merge.survivor).all = true;
    touch(merge.absorbed).all = true;
  }
  for (const undone of identity.undoneMerges) {
    if (undone.survivor !== undefined) touch(undone.survivor).all = true;
    if (undone.absorbed !== undefined) touch(undone.absorbed).all = true;
  }
  return touches;
}

export function createSegmentService(options: SegmentServiceOptions): SegmentService {
  const clock = options.clock ?? Date.now;
  const consentRules = options.consentRules ?? defaultConsentRules;
  const segments = new Map<string, SegmentRecord>();
  const computed = new Map<string, ComputedTraitRecord>();
  // Indexes by name, and each segment's dependencies, made again after any change (see changed).
  let computedByName: Map<string, EventExpression> | undefined;
  let segmentsByName: Map<string, SegmentRecord> | undefined;
  const computedTrait = (name: string): EventExpression | undefined =>
    (computedByName ??= new Map([...computed.values()].map((trait) => [trait.name, trait.expression]))).get(
      name,
    );
  const memberships = new Map<string, Set<number>>();
  const refreshedAt = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  let refreshing: Promise<SegmentChange[]> | undefined;
  // Memberships change one step at a time: one segment's refresh, or one round of real-time evaluation.
  const exclusive = createSerialQueue();
  /** What writes changed since the last round of real-time evaluation, per origin profile. */
  const pending = new Map<number, PendingTouch>();
  let evaluating: Promise<void> | undefined;
  /** Touches counted, and the last of them a finished round covered. */
  let touchedRound = 0;
  let evaluatedRound = 0;
  const waiters = new Set<{ round: number; resolve: () => void }>();
  let closed = false;

  const byName = (name: string): SegmentRecord | undefined =>
    (segmentsByName ??= new Map([...segments.values()].map((segment) => [segment.name, segment]))).get(name);

  function found(id: string): SegmentRecord {
    const segment = segments.get(id);
    if (segment === undefined) {
      throw new CibleError('CIBLE_ERR_SEGMENT_NOT_FOUND', `There is no segment with id "${id}".`, {
        field: 'id',
      });
    }
    return segment;
  }

  function view(segment: SegmentRecord): Segment {
    return {
      ...segment,
      text: printRule(segment.rule),
      size: memberships.get(segment.id)?.size ?? 0,
      refreshedAt: refreshedAt.get(segment.id) ?? null,
    };
  }

  function context(rules: (name: string) => Rule | undefined = (name) => byName(name)?.rule): RuleContext {
    return {
      now: clock(),
      traitRules: withSourceIds(options.traitRules, options.sources.list()),
      segmentRule: rules,
      computedTrait,
      merged: mergedPairs(options.graph()),
      consentRules,
    };
  }

  /** The rule a person sent, checked: it parses, and every segment it names exists without a loop. */
  function ruleOf(input: RuleInput, self?: { id?: string; name: string }): Rule {
    let rule: Rule;
    if (typeof input === 'string') {
      try {
        rule = parseRule(input, { purposes: consentRules.purposes });
      } catch (error) {
        if (!(error instanceof SegmentSyntaxError)) throw error;
        throw new CibleError('CIBLE_ERR_SEGMENT_SYNTAX', `The rule does not parse: ${error.message}.`, {
          field: `rule (line ${error.line}, column ${error.column})`,
          cause: error,
        });
      }
    } else {
      const checked = validateRule(input, { purposes: consentRules.purposes });
      if (!checked.ok) {
        const [first] = checked.errors;
        throw new CibleError(
          'CIBLE_ERR_SEGMENT_INVALID_RULE',
          `The rule is not a valid tree: ${checked.errors.map((error) => `${error.path}: ${error.message}`).join('; ')}.`,
          { field: first === undefined || first.path === '' ? 'rule' : `rule.${first.path}` },
        );
      }
      rule = checked.rule;
    }
    checkReferences(rule, self);
    return rule;
  }

  /** Every `in segment` names a saved segment, and no segment ends up inside itself. */
  function checkReferences(rule: Rule, self?: { id?: string; name: string }): void {
    const isSelf = (name: string): boolean =>
      self !== undefined && (name === self.name || (self.id !== undefined && byName(name)?.id === self.id));
    const visit = (current: Rule, path: readonly string[]): void => {
      for (const named of segmentsNamed(current)) {
        if (isSelf(named)) {
          const loop = [...path, named].map((name) => `"${name}"`).join(' → ');
          throw new CibleError('CIBLE_ERR_SEGMENT_CYCLE', `The segment would contain itself: ${loop}.`, {
            field: 'rule',
          });
        }
        const next = byName(named);
        if (next === undefined) {
          const through =
            path.length > 1
              ? ` (through ${path
                  .slice(1)
                  .map((name) => `"${name}"`)
                  .join(' → ')})`
              : '';
          throw new CibleError(
            'CIBLE_ERR_SEGMENT_UNKNOWN_REFERENCE',
            `The rule names segment "${named}"${through}, and there is no segment with that name.`,
            { field: 'rule' },
          );
        }
        visit(next.rule, [...path, named]);
      }
    };
    visit(rule, [self?.name ?? 'the rule']);
  }

  function checkName(name: unknown, id?: string): string {
    return uniqueName(name, id, 'segment', segments.values(), 'CIBLE_ERR_SEGMENT_NAME_TAKEN');
  }

  function apply(changes: readonly SegmentChange[]): void {
    for (const change of changes) {
      let members = memberships.get(change.segmentId);
      if (members === undefined) memberships.set(change.segmentId, (members = new Set()));
      if (change.change === 'entered') members.add(change.profileId);
      else members.delete(change.profileId);
    }
  }

  async function refresh(ids: readonly string[]): Promise<SegmentChange[]> {
    const all: SegmentChange[] = [];
    const judgedAt = context();
    for (const id of ids) {
      await exclusive(async () => {
        const segment = segments.get(id);
        if (segment === undefined || closed) return;
        const changes = await options.store.refreshSegment(id, segment.rule, { ...judgedAt, now: clock() });
        apply(changes);
        refreshedAt.set(id, clock());
        all.push(...changes);
      });
    }
    return all;
  }

  /** The dependencies of each segment's rule, computed again after any segment or computed trait changes. */
  const dependencies = new Map<string, Dependencies>();
  /** After a segment or a computed trait changes: what is derived from them is made again when used. */
  function changed(): void {
    dependencies.clear();
    computedByName = undefined;
    segmentsByName = undefined;
  }
  function dependenciesFor(segment: SegmentRecord): Dependencies {
    let found = dependencies.get(segment.id);
    if (found === undefined) {
      found = dependenciesOf(segment.rule, { segmentRule: (name) => byName(name)?.rule, computedTrait });
      dependencies.set(segment.id, found);
    }
    return found;
  }

  /**
   * Judges again, in memory, the people whose origin profiles a write touched, against the segments
   * what it changed can affect.
   */
  async function evaluateTouched(touches: ReadonlyMap<number, Touch>): Promise<void> {
    const graph = options.graph();
    const live = [...segments.values()];
    if (live.length === 0) return;
    // Per person: the union of what changed in its origin profiles.
    const people = new Map<number, Touch>();
    const gone: number[] = [];
    for (const [origin, touch] of touches) {
      if (graph.members(origin).length === 0) continue; // not in the graph (yet)
      const profile = graph.canonical(origin);
      if (profile !== origin) gone.push(origin);
      const union = people.get(profile);
      if (union === undefined) {
        people.set(profile, {
          ...touch,
          events: new Set(touch.events),
          traits: new Set(touch.traits),
          consent: new Set(touch.consent),
        });
        continue;
      }
      for (const event of touch.events) union.events.add(event);
      for (const trait of touch.traits) union.traits.add(trait);
      for (const purpose of touch.consent) union.consent.add(purpose);
      union.identifiers ||= touch.identifiers;
      union.all ||= touch.all;
    }
    const affected = new Map<number, SegmentRecord[]>();
    const read = new Set<SegmentRecord>();
    for (const [profile, touch] of people) {
      const segmentsAffected = live.filter((segment) => affects(dependenciesFor(segment), touch));
      if (segmentsAffected.length === 0) continue;
      affected.set(profile, segmentsAffected);
      for (const segment of segmentsAffected) read.add(segment);
    }
    const groups = new Map([...affected.keys()].map((profile) => [profile, graph.members(profile)]));
    const stored =
      groups.size === 0
        ? new Map<number, ProfileViewData>()
        : await options.store.readProfileViews(groups, needsOf([...read].map(dependenciesFor)));
    const now = clock();
    const traitRules = withSourceIds(options.traitRules, options.sources.list());
    const segmentRule = (name: string) => byName(name)?.rule;
    const changes: Pick<SegmentChange, 'segmentId' | 'profileId' | 'change'>[] = [];
    for (const [profile, data] of stored) {
      const traits = mergeTraits(data.traits.map(parsedTrait), traitRules);
      const view: ProfileView = {
        traits: new Map([...traits].map(([name, trait]) => [name, trait.value])),
        identifierTypes: new Set(graph.identifiersOf(profile).map(({ identifier }) => identifier.type)),
        events: data.events,
        rollups: data.rollups,
        consent: data.consent,
      };
      for (const segment of affected.get(profile) ?? []) {
        const member = evaluateRule(segment.rule, view, { now, segmentRule, computedTrait, consentRules });
        if (member !== (memberships.get(segment.id)?.has(profile) ?? false)) {
          changes.push({ segmentId: segment.id, profileId: profile, change: member ? 'entered' : 'exited' });
        }
      }
    }
    // A profile merged into another is no longer a person: it leaves its segments.
    for (const origin of gone) {
      for (const segment of live) {
        if (memberships.get(segment.id)?.has(origin)) {
          changes.push({ segmentId: segment.id, profileId: origin, change: 'exited' });
        }
      }
    }
    if (changes.length > 0) apply(await options.store.recordChanges(changes, now));
  }

  /** Queues what a write changed for the next round of real-time evaluation. */
  function touchedBy(touches: ReadonlyMap<number, Touch>): void {
    if (segments.size === 0 || closed || touches.size === 0) return;
    touchedRound += 1;
    for (const [origin, touch] of touches) queue(origin, touch, touchedRound, 0);
    evaluating ??= evaluatePending();
  }

  function queue(origin: number, touch: Touch, round: number, failures: number): void {
    const queued = pending.get(origin);
    if (queued === undefined) {
      pending.set(origin, { touch, since: round, failures });
      return;
    }
    for (const event of touch.events) queued.touch.events.add(event);
    for (const trait of touch.traits) queued.touch.traits.add(trait);
    for (const purpose of touch.consent) queued.touch.consent.add(purpose);
    queued.touch.identifiers ||= touch.identifiers;
    queued.touch.all ||= touch.all;
  }

  /**
   * Rounds of real-time evaluation until nothing is pending. A round takes the oldest touches, at
   * most `roundSize` origin profiles, so that a busy moment does not make ever longer rounds; a
   * round that fails puts its touches back (up to three times).
   */
  async function evaluatePending(): Promise<void> {
    try {
      while (pending.size > 0 && !closed) {
        const batch = new Map<number, PendingTouch>();
        for (const [origin, entry] of pending) {
          if (batch.size >= roundSize) break;
          batch.set(origin, entry);
        }
        for (const origin of batch.keys()) pending.delete(origin);
        const takenAt = touchedRound;
        const touches = new Map([...batch].map(([origin, entry]) => [origin, entry.touch]));
        await exclusive(() => evaluateTouched(touches)).catch((error: unknown) => {
          options.onError?.(error);
          for (const [origin, entry] of batch) {
            if (entry.failures < 2) queue(origin, entry.touch, entry.since, entry.failures + 1);
          }
        });
        // Every touch before the oldest one still pending is evaluated.
        let oldest = takenAt + 1;
        for (const entry of pending.values()) oldest = Math.min(oldest, entry.since);
        evaluatedRound = oldest - 1;
        for (const waiter of [...waiters]) {
          if (waiter.round <= evaluatedRound) {
            waiters.delete(waiter);
            waiter.resolve();
          }
        }
      }
    } finally {
      evaluating = undefined;
      // Closing leaves touches unevaluated: nobody should wait for them.
      for (const waiter of waiters) waiter.resolve();
      waiters.clear();
    }
  }

  /** One refresh at a time; a refresh asked for during one runs after it. */
  function refreshAll(which: (segment: SegmentRecord) => boolean = () => true): Promise<SegmentChange[]> {
    const previous = refreshing ?? Promise.resolve([]);
    const next = previous
      .catch(() => [])
      .then(() => refresh([...segments.values()].filter(which).map((segment) => segment.id)));
    refreshing = next;
    void next.finally(() => {
      if (refreshing === next) refreshing = undefined;
    });
    return next;
  }

  function schedule(): void {
    if (options.refreshIntervalMs <= 0 || closed) return;
    timer = setTimeout(() => {
      // Events move people as they come; time alone moves them only in segments that look at it.
      refreshAll((segment) => dependenciesFor(segment).time)
        .catch((error: unknown) => options.onError?.(error))
        .finally(schedule);
    }, options.refreshIntervalMs);
    timer.unref();
  }

  /** A rule with the segment (or trait) it names under one name named under another. */
  function renamed(rule: Rule, kind: 'segment' | 'trait', from: string, to: string): Rule {
    switch (rule.kind) {
      case 'and':
      case 'or':
        return { ...rule, rules: rule.rules.map((child) => renamed(child, kind, from, to)) };
      case 'not':
        return { ...rule, rule: renamed(rule.rule, kind, from, to) };
      case 'segment':
        return kind === 'segment' && rule.segment === from ? { ...rule, segment: to } : rule;
      case 'trait':
        return kind === 'trait' && rule.name === from ? { ...rule, name: to } : rule;
      default:
        return rule;
    }
  }

  /** Saves the rules of the segments that name `from`, naming `to` instead. */
  async function rename(kind: 'segment' | 'trait', from: string, to: string, at: number): Promise<void> {
    if (from === to) return;
    for (const segment of [...segments.values()]) {
      const rule = renamed(segment.rule, kind, from, to);
      if (JSON.stringify(rule) === JSON.stringify(segment.rule)) continue;
      const rewritten = { ...segment, rule, updatedAt: at };
      await options.store.saveSegment(rewritten);
      segments.set(segment.id, rewritten);
      changed();
    }
  }

  function foundTrait(id: string): ComputedTraitRecord {
    const trait = computed.get(id);
    if (trait === undefined) {
      throw new CibleError(
        'CIBLE_ERR_COMPUTED_TRAIT_NOT_FOUND',
        `There is no computed trait with id "${id}".`,
        {
          field: 'id',
        },
      );
    }
    return trait;
  }

  const traitView = (trait: ComputedTraitRecord): ComputedTrait => ({
    ...trait,
    text: printExpression(trait.expression),
  });

  function expressionOf(text: unknown): EventExpression {
    if (typeof text !== 'string') {
      throw new CibleError(
        'CIBLE_ERR_API_INVALID_REQUEST',
        'expression: give the computed trait as text, e.g. sum(event "Order Completed".revenue in last 90 days).',
        { field: 'expression' },
      );
    }
    try {
      return parseExpression(text);
    } catch (error) {
      if (!(error instanceof SegmentSyntaxError)) throw error;
      throw new CibleError('CIBLE_ERR_SEGMENT_SYNTAX', `The expression does not parse: ${error.message}.`, {
        field: `expression (line ${error.line}, column ${error.column})`,
        cause: error,
      });
    }
  }

  function checkTraitName(name: unknown, id?: string): string {
    return uniqueName(name, id, 'computed trait', computed.values(), 'CIBLE_ERR_COMPUTED_TRAIT_NAME_TAKEN');
  }

  const computedTraits: ComputedTraits = {
    async create(input) {
      const name = checkTraitName(input.name);
      const expression = expressionOf(input.expression);
      const now = clock();
      const trait: ComputedTraitRecord = {
        id: newId('ct'),
        name,
        description: input.description ?? '',
        expression,
        createdAt: now,
        updatedAt: now,
      };
      await options.store.saveComputedTrait(trait);
      computed.set(trait.id, trait);
      changed();
      // Segments may already read a stored trait of that name: from now on they read this one.
      const users = new Set(usersOfTrait(name).map((segment) => segment.id));
      await refreshAll((segment) => users.has(segment.id));
      return traitView(trait);
    },

    async update(id, input) {
      const current = foundTrait(id);
      const name = input.name === undefined ? current.name : checkTraitName(input.name, id);
      const expression = input.expression === undefined ? current.expression : expressionOf(input.expression);
      const trait: ComputedTraitRecord = {
        ...current,
        name,
        description: input.description ?? current.description,
        expression,
        updatedAt: clock(),
      };
      await options.store.saveComputedTrait(trait);
      computed.set(id, trait);
      changed();
      await rename('trait', current.name, name, trait.updatedAt);
      const users = new Set(usersOfTrait(name).map((segment) => segment.id));
      await refreshAll((segment) => users.has(segment.id));
      return traitView(trait);
    },

    async remove(id) {
      const trait = foundTrait(id);
      const users = usersOfTrait(trait.name);
      if (users.length > 0) {
        throw new CibleError(
          'CIBLE_ERR_COMPUTED_TRAIT_IN_USE',
          `Computed trait "${trait.name}" is read by ${users.map((user) => `"${user.name}" (${user.id})`).join(', ')}.`,
          { field: 'id' },
        );
      }
      await options.store.deleteComputedTrait(id, clock());
      computed.delete(id);
      changed();
    },

    get: (id) => traitView(foundTrait(id)),
    list: () => [...computed.values()].map(traitView),

    async values(id, query) {
      return options.store.computedValues(foundTrait(id).expression, context(), query);
    },

    async of(profileId) {
      const traits = [...computed.values()];
      if (traits.length === 0) return {};
      const graph = options.graph();
      const members = graph.members(profileId);
      if (members.length === 0) return {};
      const events = [...new Set(traits.map((trait) => trait.expression.event))];
      const needs = { events, computedEvents: events, traits: [], consent: [] };
      const views = await options.store.readProfileViews(new Map([[profileId, members]]), needs);
      const view = views.get(profileId);
      const now = clock();
      return Object.fromEntries(
        traits.map((trait) => [
          trait.name,
          evaluateExpression(trait.expression, view?.events ?? [], now, view?.rollups),
        ]),
      );
    },
  };

  /** Whether a rule has a node that passes the test, looking into the segments it names too. */
  function reads(rule: Rule, test: (node: Rule) => boolean, seen = new Set<string>()): boolean {
    if (test(rule)) return true;
    switch (rule.kind) {
      case 'and':
      case 'or':
        return rule.rules.some((child) => reads(child, test, seen));
      case 'not':
        return reads(rule.rule, test, seen);
      case 'segment': {
        if (seen.has(rule.segment)) return false;
        seen.add(rule.segment);
        const named = byName(rule.segment);
        return named !== undefined && reads(named.rule, test, seen);
      }
      default:
        return false;
    }
  }

  function usersOfTrait(name: string): SegmentRecord[] {
    return [...segments.values()].filter((segment) =>
      reads(segment.rule, (node) => node.kind === 'trait' && node.name === name),
    );
  }

  return {
    async create(input) {
      const name = checkName(input.name);
      const rule = ruleOf(input.rule, { name });
      const now = clock();
      const segment: SegmentRecord = {
        id: newId('seg'),
        name,
        description: input.description ?? '',
        rule,
        createdAt: now,
        updatedAt: now,
      };
      await options.store.saveSegment(segment);
      segments.set(segment.id, segment);
      changed();
      await refreshAll((other) => other.id === segment.id);
      return view(segment);
    },

    async update(id, input) {
      const current = found(id);
      const name = input.name === undefined ? current.name : checkName(input.name, id);
      const rule = input.rule === undefined ? current.rule : ruleOf(input.rule, { id, name });
      const segment: SegmentRecord = {
        ...current,
        name,
        description: input.description ?? current.description,
        rule,
        updatedAt: clock(),
      };
      await options.store.saveSegment(segment);
      segments.set(id, segment);
      changed();
      await rename('segment', current.name, name, segment.updatedAt);
      // The segment, and those that name it (directly or through others).
      await refreshAll(
        (other) =>
          other.id === id || reads(other.rule, (node) => node.kind === 'segment' && node.segment === name),
      );
      return view(segment);
    },

    async remove(id) {
      const segment = found(id);
      const users = [...segments.values()].filter((other) =>
        segmentsNamed(other.rule).includes(segment.name),
      );
      if (users.length > 0) {
        throw new CibleError(
          'CIBLE_ERR_SEGMENT_IN_USE',
          `Segment "${segment.name}" is named by ${users.map((user) => `"${user.name}" (${user.id})`).join(', ')}.`,
          { field: 'id' },
        );
      }
      await refreshing?.catch(() => undefined);
      apply(await options.store.closeSegment(id, clock()));
      await options.store.deleteSegment(id, clock());
      segments.delete(id);
      changed();
      memberships.delete(id);
    },

    get: (id) => view(found(id)),
    list: () => [...segments.values()].map(view),

    async forget(originProfiles) {
      // After the round in flight: it may have read them before they were erased.
      await refreshing?.catch(() => undefined);
      await this.settled();
      for (const members of memberships.values()) for (const id of originProfiles) members.delete(id);
    },

    async preview(input) {
      const rule = ruleOf(input);
      const { size, sample } = await options.store.previewRule(rule, context(), previewSampleSize);
      return { rule, size, sample };
    },

    refreshAll: () => refreshAll(),

    settled() {
      // Waits for the touches made so far only: under a steady load, rounds never stop.
      if (evaluatedRound >= touchedRound || evaluating === undefined) return Promise.resolve();
      return new Promise<void>((resolve) => waiters.add({ round: touchedRound, resolve }));
    },

    watch(store) {
      return {
        ...store,
        async writeBatch(batch) {
          await store.writeBatch(batch);
          if (segments.size > 0) touchedBy(touchesWritten(batch.events, batch.identity));
        },
        async assignEventProfiles(assignments, identity) {
          await store.assignEventProfiles(assignments, identity);
          if (segments.size > 0) touchedBy(touchesWritten(assignments, identity));
        },
      };
    },

    async members(id, query) {
      found(id);
      return options.store.listMembers(id, query);
    },

    async changes(id, query) {
      found(id);
      return options.store.listChanges(id, query);
    },

    async sizes(id, range) {
      found(id);
      return options.store.segmentSizes(id, range);
    },

    overlap(a, b) {
      found(a);
      found(b);
      const membersA = memberships.get(a) ?? new Set<number>();
      const membersB = memberships.get(b) ?? new Set<number>();
      let both = 0;
      for (const profile of membersA) if (membersB.has(profile)) both += 1;
      return { both, onlyA: membersA.size - both, onlyB: membersB.size - both };
    },

    segmentsOf(profileId) {
      return [...segments.values()]
        .filter((segment) => memberships.get(segment.id)?.has(profileId))
        .map(view);
    },

    computedTraits,

    async start() {
      for (const trait of await options.store.listComputedTraits()) computed.set(trait.id, trait);
      for (const segment of await options.store.listSegments()) segments.set(segment.id, segment);
      changed();
      for (const [id, members] of await options.store.loadMemberships()) memberships.set(id, members);
      schedule();
    },

    async close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
      await refreshing?.catch(() => undefined);
    },
  };
}
