/**
 * RFM segmentation: customers scored 1 to 5 on recency (5: bought most recently), frequency and
 * monetary value, then placed in one of the classic named groups by their recency and frequency
 * scores. Pure: the scores come from the store, this only names them.
 */

/** A score from 1 (lowest fifth of customers) to 5 (highest). */
export type RfmScore = 1 | 2 | 3 | 4 | 5;

export const rfmScores: readonly RfmScore[] = [1, 2, 3, 4, 5];

export interface RfmGroup {
  readonly name: string;
  /** Who they are, and what to do with them. */
  readonly description: string;
}

/** The groups, best customers first. */
export const rfmGroups = [
  {
    name: 'Champions',
    description: 'Bought recently and often: reward them, ask for reviews, let them try new products first.',
  },
  {
    name: 'Loyal Customers',
    description: 'Buy often, if not always lately: offer loyalty rewards and upsell higher-value products.',
  },
  {
    name: 'Potential Loyalists',
    description: 'Recent customers with a few orders: offer membership or a loyalty programme.',
  },
  {
    name: 'New Customers',
    description: 'Bought recently, for the first time: welcome them and help them order again.',
  },
  {
    name: 'Promising',
    description: 'Bought fairly recently, once: build awareness with offers close to their first purchase.',
  },
  {
    name: 'Need Attention',
    description: 'Average recency and frequency: limited-time offers and recommendations to keep them.',
  },
  {
    name: 'About to Sleep',
    description:
      'Few orders, not lately: reactivate them with popular products and discounts before they go.',
  },
  {
    name: 'At Risk',
    description: 'Used to buy fairly often, but not for a long time: win them back with personal messages.',
  },
  {
    name: "Can't Lose Them",
    description:
      'Used to buy the most, but not for a long time: reach them personally, find out what changed.',
  },
  {
    name: 'Hibernating',
    description: 'Few orders, long ago: offer relevant products and special discounts, or let them rest.',
  },
  {
    name: 'Lost',
    description: 'Fewest orders, longest ago: try one last campaign, otherwise leave them out.',
  },
] as const satisfies readonly RfmGroup[];

export type RfmGroupName = (typeof rfmGroups)[number]['name'];

export function isRfmGroupName(name: string): name is RfmGroupName {
  return rfmGroups.some((group) => group.name === name);
}

/**
 * The named group of a cell of the 5×5 recency × frequency grid. Every cell has exactly one group:
 *
 * ```
 *        F1              F2                   F3                   F4               F5
 * R5  New Customers   Potential Loyalists  Potential Loyalists  Champions        Champions
 * R4  Promising       Potential Loyalists  Potential Loyalists  Loyal Customers  Champions
 * R3  About to Sleep  About to Sleep       Need Attention       Loyal Customers  Loyal Customers
 * R2  Hibernating     Hibernating          At Risk              At Risk          Can't Lose Them
 * R1  Lost            Lost                 At Risk              At Risk          Can't Lose Them
 * ```
 */
export function rfmGroup(r: number, f: number): RfmGroupName {
  if (!isScore(r) || !isScore(f)) throw new RangeError(`RFM scores go from 1 to 5; got R${r} F${f}.`);
  if (r === 5) return f === 1 ? 'New Customers' : f <= 3 ? 'Potential Loyalists' : 'Champions';
  if (r === 4) {
    if (f === 1) return 'Promising';
    if (f <= 3) return 'Potential Loyalists';
    return f === 4 ? 'Loyal Customers' : 'Champions';
  }
  if (r === 3) return f <= 2 ? 'About to Sleep' : f === 3 ? 'Need Attention' : 'Loyal Customers';
  if (f === 5) return "Can't Lose Them";
  if (f >= 3) return 'At Risk';
  return r === 2 ? 'Hibernating' : 'Lost';
}

/** The cells of the grid (recency and frequency scores) that make up a group. */
export function rfmCells(group: RfmGroupName): { r: RfmScore; f: RfmScore }[] {
  return rfmScores.flatMap((r) => rfmScores.filter((f) => rfmGroup(r, f) === group).map((f) => ({ r, f })));
}

export function isScore(value: number): value is RfmScore {
  return Number.isInteger(value) && value >= 1 && value <= 5;
}
