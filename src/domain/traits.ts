/**
 * Trait merging: which value of a trait a profile shows when several events, sources and merged
 * profiles disagree. The rule: the latest value wins, unless the trait names an order of sources
 * (the CRM beats web forms for `address`): then the best-ranked source that has a value wins, and
 * among its values the latest. First-touch traits (`firstSeen`, `firstSource`, ...) keep the
 * earliest value instead. Every value keeps where and when it came from.
 */
export interface TraitValue {
  readonly name: string;
  /** Any JSON value; null means the source cleared the trait. */
  readonly value: unknown;
  readonly sourceId: string;
  /** Event time of the observation, ms. */
  readonly at: number;
  readonly messageId: string;
}

export interface TraitRules {
  /**
   * Per trait, sources from most to least trusted (ids, or names: see `withSourceIds`); traits
   * not named: latest wins.
   */
  readonly sourcePriority: Readonly<Record<string, readonly string[]>>;
  /** Traits that keep their first value. */
  readonly firstTouch: readonly string[];
}

/**
 * The source of a correction made through the admin API (`PATCH /api/profiles/{id}/traits`): a
 * person's right to rectification. It takes no rank: against it, the latest value wins, so the
 * correction holds until some source sends a newer value.
 */
export const rectificationSourceId = 'api';

export const defaultTraitRules: TraitRules = {
  sourcePriority: {},
  firstTouch: ['firstSeen', 'firstSource', 'firstCampaign', 'firstReferrer'],
};

/** The rules with the sources named in `sourcePriority` by name written as ids. */
export function withSourceIds(
  rules: TraitRules,
  sources: readonly { readonly id: string; readonly name: string }[],
): TraitRules {
  const entries = Object.entries(rules.sourcePriority);
  if (entries.length === 0) return rules;
  const idOf = new Map(sources.map((source) => [source.name, source.id]));
  return {
    ...rules,
    sourcePriority: Object.fromEntries(
      entries.map(([trait, order]) => [trait, order.map((source) => idOf.get(source) ?? source)]),
    ),
  };
}

/** Of two observations of the same trait, the one the profile keeps. */
export function preferTrait(
  current: TraitValue | undefined,
  incoming: TraitValue,
  rules: TraitRules,
): TraitValue {
  if (current === undefined) return incoming;
  if (rules.firstTouch.includes(incoming.name)) return incoming.at < current.at ? incoming : current;
  const order = rules.sourcePriority[incoming.name];
  const rectified = incoming.sourceId === rectificationSourceId || current.sourceId === rectificationSourceId;
  if (order !== undefined && !rectified) {
    const rank = (sourceId: string): number => {
      const index = order.indexOf(sourceId);
      return index === -1 ? order.length : index;
    };
    const difference = rank(incoming.sourceId) - rank(current.sourceId);
    if (difference !== 0) return difference < 0 ? incoming : current;
  }
  // Latest wins; on a tie, the later observation (the one arriving now).
  return incoming.at >= current.at ? incoming : current;
}

/** The traits of a profile made of several origin profiles (after merges): one value per trait. */
export function mergeTraits(observations: Iterable<TraitValue>, rules: TraitRules): Map<string, TraitValue> {
  const merged = new Map<string, TraitValue>();
  for (const observation of observations) {
    merged.set(observation.name, preferTrait(merged.get(observation.name), observation, rules));
  }
  return merged;
}

/** The traits an identify (or group) call sets, one observation each. Nested objects stay whole. */
export function traitObservations(
  traits: Readonly<Record<string, unknown>>,
  origin: { sourceId: string; at: number; messageId: string },
): TraitValue[] {
  return Object.entries(traits).map(([name, value]) => ({ name, value, ...origin }));
}

/** First-touch traits of an event: when, where and through which campaign the person first came. */
export function firstTouchObservations(
  event: { context?: Readonly<Record<string, unknown>> | null },
  origin: { sourceId: string; at: number; messageId: string },
): TraitValue[] {
  const observations: TraitValue[] = [
    { name: 'firstSeen', value: new Date(origin.at).toISOString(), ...origin },
    { name: 'firstSource', value: origin.sourceId, ...origin },
  ];
  const context = event.context ?? {};
  const campaign = context.campaign as { name?: unknown } | undefined;
  if (typeof campaign?.name === 'string')
    observations.push({ name: 'firstCampaign', value: campaign.name, ...origin });
  const page = context.page as { referrer?: unknown } | undefined;
  if (typeof page?.referrer === 'string' && page.referrer !== '') {
    observations.push({ name: 'firstReferrer', value: page.referrer, ...origin });
  }
  return observations;
}
