/**
 * The synthetic people of the profiles benchmark. Person i (0, 1, 2...) has a userId, an
 * e-mail address, an anonymousId and, one in three, a phone number, all derived from i, so that
 * the benchmark can come back to any of them without keeping a list. Events are built from
 * template strings: the load generator shares the machine with the server and must stay cheap.
 */

export interface Person {
  readonly userId: string;
  /** As the person types it; Gmail addresses keep their dots, which Cible drops when it normalises. */
  readonly email: string;
  readonly anonymousId: string;
  readonly phone: string | null;
  readonly firstName: string;
  readonly lastName: string;
}

const firstNames = words(`
  Alice Bruno Chloe David Emma Farid Gabriel Hugo Ines Jules Karim Lea Manon Nathan Olivia
  Paul Quentin Rose Sarah Theo Ugo Victor Wendy Xavier Yasmine Zoe Adam Camille Lucas Mila`);
const lastNames = words(`
  Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefebvre Michel Garcia
  David Bertrand Roux Vincent Fournier Morel Girard Andre Mercier Dupont Lambert Bonnet Francois Martinez Legrand`);
const domains = ['gmail.com', 'orange.fr', 'outlook.com', 'yahoo.fr', 'free.fr', 'example.com'];
const plans = ['free', 'starter', 'pro', 'business'];
const referrers = [
  'https://www.google.com/',
  'https://www.facebook.com/',
  'https://www.instagram.com/',
  'https://news.example.org/article',
  '',
];
const campaigns = ['spring-sale', 'newsletter-42', 'retargeting', 'black-friday'];
const userAgent =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const library = '"library":{"name":"analytics.js","version":"5.2.1"}';

export function person(i: number): Person {
  const firstName = firstNames[i % firstNames.length]!;
  const lastName = lastNames[Math.floor(i / firstNames.length) % lastNames.length]!;
  const domain = domains[i % domains.length]!;
  return {
    userId: `usr_${i.toString(36).padStart(6, '0')}`,
    // "_i" keeps addresses apart after Gmail's dots are dropped (a "+tag" would not).
    email: `${firstName}.${lastName}_${i}@${domain}`.toLowerCase(),
    anonymousId: anonymousId(i),
    // French mobile numbers as people type them: Cible stores them in E.164.
    phone:
      i % 3 === 0
        ? `06 ${String(i)
            .padStart(8, '0')
            .replace(/(\d\d)(?=\d)/g, '$1 ')}`
        : null,
    firstName,
    lastName,
  };
}

/** A UUID-shaped anonymousId, unique per i (its last group is i), scattered by a hash. */
export function anonymousId(i: number, salt = 0): string {
  const a = mix(i * 2 + 1 + salt);
  const b = mix(a ^ (i + salt));
  return (
    `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b & 0xfff, 3)}-a${hex(a >>> 20, 3)}-` +
    `${hex(salt & 0xfff, 3)}${i.toString(16).padStart(9, '0')}`
  );
}

/** The page view that brings person i to the site for the first time, still anonymous. */
export function firstVisitJson(i: number, messageId: string, timestamp: string, sentAt: string): string {
  const someone = person(i);
  const referrer = referrers[i % referrers.length]!;
  const campaign =
    i % 4 === 0
      ? `,"campaign":{"name":"${campaigns[i % campaigns.length]}","source":"newsletter","medium":"email"}`
      : '';
  return (
    `{"type":"page","name":"Home","messageId":"${messageId}","anonymousId":"${someone.anonymousId}",` +
    `"timestamp":"${timestamp}","sentAt":"${sentAt}",` +
    `"properties":{"path":"/","url":"https://shop.example.com/","referrer":"${referrer}","title":"Shop"},` +
    `"context":{${library},"page":{"path":"/","url":"https://shop.example.com/","referrer":"${referrer}",` +
    `"title":"Shop"}${campaign},"userAgent":"${userAgent}","ip":"203.0.113.${i % 250}"}}`
  );
}

/**
 * Person i identifies: by default a sign-up with userId, the person's anonymousId and traits with
 * the e-mail address. `device` names another anonymousId (a new device); `withUserId: false`
 * leaves the userId out (a newsletter form that only asks for the e-mail address).
 */
export function identifyJson(
  i: number,
  messageId: string,
  timestamp: string,
  sentAt: string,
  options: { readonly device?: string; readonly withUserId?: boolean } = {},
): string {
  const someone = person(i);
  const userId = options.withUserId === false ? '' : `"userId":"${someone.userId}",`;
  const phone = someone.phone === null ? '' : `,"phone":"${someone.phone}"`;
  return (
    `{"type":"identify","messageId":"${messageId}",${userId}` +
    `"anonymousId":"${options.device ?? someone.anonymousId}","timestamp":"${timestamp}","sentAt":"${sentAt}",` +
    `"traits":{"email":"${someone.email}","firstName":"${someone.firstName}","lastName":"${someone.lastName}",` +
    `"name":"${someone.firstName} ${someone.lastName}"${phone},"plan":"${plans[i % plans.length]}"},` +
    `"context":{${library},"userAgent":"${userAgent}","ip":"203.0.113.${i % 250}"}}`
  );
}

/** A product view: by a known person (their anonymousId, and their userId when logged in), or a stranger. */
export function productViewedJson(
  n: number,
  messageId: string,
  timestamp: string,
  ids: { readonly anonymousId: string; readonly userId?: string },
): string {
  const product = n % 997;
  const userId = ids.userId === undefined ? '' : `"userId":"${ids.userId}",`;
  return (
    `{"type":"track","event":"Product Viewed","messageId":"${messageId}",${userId}` +
    `"anonymousId":"${ids.anonymousId}","timestamp":"${timestamp}",` +
    `"properties":{"product_id":"sku-${product}","name":"Product ${product}","price":${(product % 200) + 0.99},` +
    `"currency":"EUR"},"context":{${library},"page":{"path":"/products/${product}",` +
    `"url":"https://shop.example.com/products/${product}","referrer":"https://www.google.com/",` +
    `"title":"Product ${product}"},"userAgent":"${userAgent}","ip":"203.0.113.${n % 250}"}}`
  );
}

/** A 32-bit hash of x (murmur3's finaliser): spreads consecutive numbers. */
export function mix(x: number): number {
  let h = Math.imul(x ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function hex(value: number, digits: number): string {
  return (value >>> 0).toString(16).padStart(digits, '0').slice(-digits);
}

function words(text: string): string[] {
  return text.trim().split(/\s+/);
}
