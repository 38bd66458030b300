import type { TraitRules } from '../domain/traits.ts';

/**
 * The part of the store port that analyses the whole base: RFM scores, and what sets the members
 * of a segment apart. Each answer is read in one query, so it is one consistent picture.
 *
 * People are origin profiles and the origins merged into them (decision 5): `merged` lists the
 * origins that are part of another profile and that profile; every other origin is its own person.
 */
export interface AnalysisStore {
  /** Every customer's scores, counted per cell of the recency × frequency grid and per score. */
  rfmSummary(query: RfmQuery): Promise<RfmSummary>;
  /**
   * The customers in these cells of the grid, with their scores, by ascending profile id after
   * `after` (a profile id).
   */
  rfmMembers(
    query: RfmQuery,
    page: { readonly cells: readonly RfmCell[]; readonly after?: number; readonly limit: number },
  ): Promise<RfmCustomer[]>;
  /** Trait values held by a larger share of the segment's members than of the base. */
  distinguishingTraits(query: DistinguishingQuery): Promise<Distinguishing<TraitLift>>;
  /** Events done by a larger share of the segment's members than of the base, since `since`. */
  distinguishingEvents(
    query: DistinguishingQuery & { readonly since: number },
  ): Promise<Distinguishing<EventLift>>;
}

/** Origin profiles merged into another profile, and that profile (from the identity graph). */
export interface MergedOrigins {
  readonly origins: readonly number[];
  readonly profiles: readonly number[];
}

export interface RfmQuery {
  readonly merged: MergedOrigins;
  /** The time the scores are computed at, ms: later events are left out. */
  readonly now: number;
  /** The track event that is a purchase (`Order Completed`). */
  readonly event: string;
  /** The property of that event holding its amount (`revenue`); only numbers count. */
  readonly property: string;
}

/**
 * A customer is a person with at least one purchase event. Each score is
 * `1 + least(4, floor(5 * percent_rank()))` over the customers ordered by the value (recency from
 * the oldest to the most recent), so customers with the same value share a score.
 */
export interface RfmCustomer {
  readonly profileId: number;
  /** Whole days since the latest purchase. */
  readonly recencyDays: number;
  /** Purchase events. */
  readonly frequency: number;
  /** The sum of the amounts (0 when none is a number). */
  readonly monetary: number;
  readonly r: number;
  readonly f: number;
  readonly m: number;
}

export interface RfmCell {
  readonly r: number;
  readonly f: number;
}

export interface RfmSummary {
  readonly customers: number;
  /** The cells of the grid that hold customers, with the sums of their values (for averages). */
  readonly cells: readonly (RfmCell & {
    readonly customers: number;
    readonly recencyDays: number;
    readonly frequency: number;
    readonly monetary: number;
  })[];
  /** Per dimension, the scores given, with the smallest and largest value that got each. */
  readonly scores: Readonly<Record<'recency' | 'frequency' | 'monetary', readonly RfmBucket[]>>;
}

export interface RfmBucket {
  readonly score: number;
  readonly customers: number;
  readonly min: number;
  readonly max: number;
}

export interface DistinguishingQuery {
  readonly segmentId: string;
  readonly merged: MergedOrigins;
  /** Which observation of a trait a person shows (src/domain/traits.ts), with source ids. */
  readonly traitRules: TraitRules;
  /** Leaves out what fewer members than this share, or than `minShare` of the members, have. */
  readonly minMembers: number;
  readonly minShare: number;
  /** How many to give, the highest lift first. */
  readonly limit: number;
}

/** `members` are the segment's members now, `base` every person; shares are of each. */
export interface Distinguishing<T> {
  readonly members: number;
  readonly base: number;
  readonly found: readonly T[];
}

export interface TraitLift {
  readonly name: string;
  /** A string or a boolean: the only values compared. */
  readonly value: string | boolean;
  readonly members: number;
  readonly memberShare: number;
  readonly baseShare: number;
  /** memberShare / baseShare; only values above 1 are given. */
  readonly lift: number;
}

export interface EventLift {
  readonly type: 'track' | 'page';
  /** The event name of a track event; `page` for page views. */
  readonly event: string;
  readonly members: number;
  readonly memberShare: number;
  readonly baseShare: number;
  readonly lift: number;
  /** Events per member, and per person of the base. */
  readonly perMember: number;
  readonly perPerson: number;
}
