/**
 * What the real-time segment benchmark sends and saves: the segments (rules in the text form of
 * src/segments/segment-text.ts) and the events of the load, built so that the rules have work to
 * do: every event is one of those the rules count, sum or test, and identify calls carry the
 * traits the rules compare. Events are built from template strings: the load generator shares the
 * machine with the server and must stay cheap.
 */
import { mix, person } from './people.ts';
import type { Workload } from './load-client.ts';

/** A segment to save: its name and its rule in the text form. */
export interface SegmentDefinition {
  readonly name: string;
  readonly rule: string;
}

/** The segment the probe enters and leaves. */
export const probeSegment: SegmentDefinition = { name: 'probe', rule: 'trait probe = "in"' };

const plans = ['free', 'starter', 'pro', 'business'];
const cities = [
  'Paris',
  'Lyon',
  'Marseille',
  'Toulouse',
  'Nice',
  'Nantes',
  'Bordeaux',
  'Lille',
  'Rennes',
  'Brest',
];
const categories = ['shoes', 'clothing', 'bags', 'beauty', 'home', 'sports'];

/**
 * Rule templates, each given the segment's index so that segments of the same template differ by
 * their thresholds. They read what the load sends: traits plan, city, age, vip and newsletter,
 * identifiers email and phone, events "Product Viewed" (price), "Product Added" and
 * "Order Completed" (revenue, category).
 */
const templates: readonly ((i: number) => string)[] = [
  (i) => `trait plan = "${plans[i % plans.length]}"`,
  (i) => `trait city = "${cities[i % cities.length]}" and trait age >= ${18 + (i % 40)}`,
  (i) => `count(event "Product Viewed" in last 7 days) >= ${1 + (i % 5)}`,
  (i) => `sum(event "Order Completed".revenue in last 30 days) > ${50 * (1 + (i % 8))}`,
  (i) => `last(event "Order Completed") within last ${1 + (i % 30)} days`,
  () => 'has email and not has phone',
  (i) => `trait vip = true or sum(event "Order Completed".revenue in last 90 days) >= ${200 + 25 * (i % 12)}`,
  (i) =>
    `count(event "Product Added" in last ${1 + (i % 3)} days) >= 1 ` +
    `and not count(event "Order Completed" in last ${1 + (i % 3)} days) >= 1`,
  (i) =>
    `trait plan in ["pro", "business"] and ` +
    `count(event "Product Viewed" where price > ${20 * (i % 8)} in last 14 days) >= 2`,
  (i) =>
    `avg(event "Order Completed".revenue where category = "${categories[i % categories.length]}") > ${60 + (i % 5) * 20}`,
  (i) => `trait age < ${22 + (i % 6)} or (trait age > ${60 + (i % 10)} and trait newsletter = true)`,
  (i) =>
    `(trait newsletter = true and has email) or ` +
    `count(event "Order Completed" where category = "${categories[i % categories.length]}" in last 60 days) >= 2`,
];

/** Every tenth segment names one saved before it: `in segment` references, a few of them. */
const referenceEvery = 10;

/**
 * N segments of varied rules. Segment i (from 0) follows template i mod the number of templates;
 * every tenth one instead combines an earlier segment with a trait test.
 */
export function liveSegments(count: number): SegmentDefinition[] {
  const definitions: SegmentDefinition[] = [];
  for (let i = 0; i < count; i++) {
    const referenced = i % referenceEvery === referenceEvery - 1 ? definitions[i - 3] : undefined;
    const rule =
      referenced === undefined
        ? templates[i % templates.length]!(i)
        : `in segment ${JSON.stringify(referenced.name)} and not trait vip = true`;
    definitions.push({ name: `live ${String(i).padStart(3, '0')}`, rule });
  }
  return definitions;
}

// ---------------------------------------------------------------------------------------------
// The events

const library = '"library":{"name":"analytics.js","version":"5.2.1"}';

/**
 * The person of the n-th event, out of `people`: the square of a uniform draw, so that activity
 * is uneven as on a real site (the busiest 1% of people send about a tenth of the events).
 */
function personOf(n: number, people: number, salt: number): number {
  const uniform = mix(n ^ salt) / 2 ** 32;
  return Math.floor(uniform * uniform * people);
}

/** The userId and anonymousId of person i: the load's people are logged in. */
function idsJson(i: number): string {
  const someone = person(i);
  return `"userId":"${someone.userId}","anonymousId":"${someone.anonymousId}"`;
}

function productViewed(i: number, n: number, messageId: string, timestamp: string): string {
  const product = mix(n) % 997;
  return (
    `{"type":"track","event":"Product Viewed","messageId":"${messageId}",${idsJson(i)},` +
    `"timestamp":"${timestamp}","properties":{"product_id":"sku-${product}","price":${(product % 200) + 0.99},` +
    `"category":"${categories[product % categories.length]}","currency":"EUR"},` +
    `"context":{${library},"page":{"path":"/products/${product}"},"ip":"203.0.113.${i % 250}"}}`
  );
}

function productAdded(i: number, n: number, messageId: string, timestamp: string): string {
  const product = mix(n) % 997;
  return (
    `{"type":"track","event":"Product Added","messageId":"${messageId}",${idsJson(i)},` +
    `"timestamp":"${timestamp}","properties":{"product_id":"sku-${product}","price":${(product % 200) + 0.99},` +
    `"quantity":${(n % 3) + 1}},"context":{${library},"ip":"203.0.113.${i % 250}"}}`
  );
}

function orderCompleted(i: number, n: number, messageId: string, timestamp: string): string {
  const revenue = 5 + (mix(n) % 49_500) / 100;
  return (
    `{"type":"track","event":"Order Completed","messageId":"${messageId}",${idsJson(i)},` +
    `"timestamp":"${timestamp}","properties":{"order_id":"ord-${n}","revenue":${revenue},` +
    `"category":"${categories[n % categories.length]}","currency":"EUR"},` +
    `"context":{${library},"ip":"203.0.113.${i % 250}"}}`
  );
}

/**
 * Person i identifies with the traits the rules compare. The plan moves on every `planEvery`
 * events of the run, so that people keep entering and leaving the plan segments.
 */
function identify(i: number, n: number, messageId: string, timestamp: string): string {
  const someone = person(i);
  const planEvery = 50_000;
  const plan = plans[(i + Math.floor(n / planEvery)) % plans.length];
  const phone = someone.phone === null ? '' : `,"phone":"${someone.phone}"`;
  return (
    `{"type":"identify","messageId":"${messageId}",${idsJson(i)},"timestamp":"${timestamp}",` +
    `"traits":{"email":"${someone.email}","firstName":"${someone.firstName}","lastName":"${someone.lastName}"` +
    `${phone},"plan":"${plan}","city":"${cities[mix(i) % cities.length]}","age":${18 + (mix(i + 1) % 60)},` +
    `"vip":${mix(i + 2) % 50 === 0},"newsletter":${mix(i + 3) % 3 === 0}},` +
    `"context":{${library},"ip":"203.0.113.${i % 250}"}}`
  );
}

function pageView(i: number, n: number, messageId: string, timestamp: string): string {
  return (
    `{"type":"page","name":"Category","messageId":"${messageId}",${idsJson(i)},"timestamp":"${timestamp}",` +
    `"properties":{"path":"/c/${categories[n % categories.length]}"},"context":{${library}}}`
  );
}

/** Out of every 20 events: 11 product views, 2 cart adds, 2 orders, 4 identify calls, 1 page view. */
const mixOf20 = [
  ...Array<typeof productViewed>(11).fill(productViewed),
  productAdded,
  productAdded,
  orderCompleted,
  orderCompleted,
  identify,
  identify,
  identify,
  identify,
  pageView,
];

/** The events of the load, spread over `people` people. */
export function liveWorkload(runId: string, people: number): Workload {
  const salt = mix(people);
  return {
    event(n, timestamp) {
      const build = mixOf20[mix(n + salt) % mixOf20.length]!;
      return build(personOf(n, people, salt), n, `live-${runId}-${n}`, timestamp);
    },
  };
}

/**
 * One identify call per person, person n for the n-th event: run before the measurement, so that
 * the load meets people the server knows, as a live site does, rather than a stream of sign-ups.
 */
export function seedWorkload(runId: string, people: number): Workload {
  return {
    event(n, timestamp) {
      return identify(n % people, 0, `seed-${runId}-${n}`, timestamp);
    },
  };
}

/** The identify call that puts the probe in the probe segment ("in") or takes it out ("out"). */
export function probeIdentify(userId: string, state: 'in' | 'out', messageId: string): string {
  return JSON.stringify({
    userId,
    messageId,
    timestamp: new Date().toISOString(),
    traits: { probe: state },
  });
}
