import type { ConsentRules, ConsentStatus } from '../domain/consent.ts';
import type { TraitRules } from '../domain/traits.ts';
import type { ExpressionRollup, ViewEvent } from '../segments/evaluate-rule.ts';
import type { Needs } from '../segments/rule-dependencies.ts';
import type { EventExpression, Rule } from '../segments/rule.ts';
import type { ProfileGroups, TraitRow } from './store.ts';

/**
 * The part of the store port that keeps segments and who was in them when. Membership is an
 * append-only log of changes (a profile entered or exited a segment at a time): the members now,
 * sizes over time and the `Segment Entered` / `Segment Exited` events all read from it.
 */
export interface SegmentStore {
  /** Inserts the segment, or replaces the stored one with the same id. */
  saveSegment(segment: SegmentRecord): Promise<void>;
  /** Segments not deleted, oldest first. */
  listSegments(): Promise<SegmentRecord[]>;
  /** Marks the segment deleted: it leaves the lists, its history stays. */
  deleteSegment(id: string, at: number): Promise<void>;

  /** Inserts the computed trait, or replaces the stored one with the same id. */
  saveComputedTrait(trait: ComputedTraitRecord): Promise<void>;
  /** Computed traits not deleted, oldest first. */
  listComputedTraits(): Promise<ComputedTraitRecord[]>;
  deleteComputedTrait(id: string, at: number): Promise<void>;
  /** Every person's value of a computed trait now, in profile order after the cursor (a profile id). */
  computedValues(
    expression: EventExpression,
    context: RuleContext,
    query: { after?: number; limit: number },
  ): Promise<{ profileId: number; value: unknown }[]>;

  /** How many profiles meet the rule now, and a sample of them (stable for the same members). */
  previewRule(
    rule: Rule,
    context: RuleContext,
    sampleSize: number,
  ): Promise<{ size: number; sample: number[] }>;
  /**
   * Evaluates the segment's rule over every profile and records who entered and who exited since
   * the last time, atomically. Resolves with the changes recorded.
   */
  refreshSegment(segmentId: string, rule: Rule, context: RuleContext): Promise<SegmentChange[]>;
  /** Records changes found in real time (see SegmentChange), atomically; resolves with their seqs. */
  recordChanges(
    changes: readonly Pick<SegmentChange, 'segmentId' | 'profileId' | 'change'>[],
    at: number,
  ): Promise<SegmentChange[]>;
  /**
   * What the rules of the segments need to judge these profiles in memory (src/segments/evaluate-rule.ts):
   * their track events with these names, the observations of these traits (per trait and source,
   * the earliest and the latest, as ProfileFacts.traits), and their consent for these purposes
   * (foldConsent of the changes of all their origin profiles; other purposes are left out).
   */
  readProfileViews(groups: ProfileGroups, needs: Needs): Promise<Map<number, ProfileViewData>>;
  /** Empties a segment: every member exits now. */
  closeSegment(segmentId: string, at: number): Promise<SegmentChange[]>;
  /** The members now of every segment, per segment id. */
  loadMemberships(): Promise<Map<string, Set<number>>>;
  /** Members now, ascending, after the cursor (a profile id). */
  listMembers(segmentId: string, query: { after?: number; limit: number }): Promise<number[]>;
  /** Changes in recording order, after the cursor (a change seq). */
  listChanges(segmentId: string, query: { after?: number; limit: number }): Promise<SegmentChange[]>;
  /** The number of members at the end of each day (UTC) from `from` to `to`, ms. */
  segmentSizes(
    segmentId: string,
    range: { from: number; to: number },
  ): Promise<{ day: string; size: number }[]>;
}

/** What readProfileViews reads of one profile. */
export interface ProfileViewData {
  readonly events: ViewEvent[];
  /** The roll-ups retention kept for computed traits reading these events (see ExpressionRollup). */
  readonly rollups: ExpressionRollup[];
  readonly traits: TraitRow[];
  readonly consent: ConsentStatus;
}

export interface SegmentRecord {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly rule: Rule;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface ComputedTraitRecord {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly expression: EventExpression;
  /** Milliseconds since the epoch. */
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What judging a rule over the store needs besides the rule. */
export interface RuleContext {
  /** The time the rule is judged at, ms. */
  readonly now: number;
  readonly traitRules: TraitRules;
  /** The rule of the segment a rule names with `in segment`. */
  readonly segmentRule: (name: string) => Rule | undefined;
  /** The expression of a computed trait, which rules read as a trait of that name. */
  readonly computedTrait?: (name: string) => EventExpression | undefined;
  /** Origin profiles merged into another profile, and that profile (from the identity graph). */
  readonly merged: { readonly origins: readonly number[]; readonly profiles: readonly number[] };
  /** Whether email needs a confirmed double opt-in to be used (`consent email`). */
  readonly consentRules: ConsentRules;
}

/** A profile entering or leaving a segment: the `Segment Entered` and `Segment Exited` events. */
export interface SegmentChange {
  /** Position in the log of every segment's changes, increasing. */
  readonly seq: number;
  readonly segmentId: string;
  readonly profileId: number;
  readonly change: 'entered' | 'exited';
  /** Milliseconds since the epoch. */
  readonly at: number;
}
