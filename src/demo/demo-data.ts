/**
 * The demo data set: a French retailer, "Maison Lumière", with a website, a mobile app, shops and
 * a CRM. People browse anonymously on their phone and on a laptop, sign up, buy online and in
 * shops, open newsletters and answer the consent banner; the CRM export writes their e-mail
 * addresses and phone numbers its own way and has a few broken rows, and some clients send events
 * Cible must refuse. Everything is drawn from one seeded generator: the same seed, people and
 * `now` give the same bytes. Nothing here reads the clock or does I/O.
 */

export interface DemoOptions {
  /** Any integer; the same seed gives the same data. */
  readonly seed: number;
  /** How many people to invent. */
  readonly people: number;
  /** The end of the 90 days the events fall in, ms since the epoch. */
  readonly now: number;
}

/** A Segment event as a client library sends it. */
export interface DemoEvent {
  readonly type: 'identify' | 'track' | 'page' | 'screen';
  readonly messageId: string;
  readonly timestamp: string;
  readonly [field: string]: unknown;
}

type EventFields = { readonly type: DemoEvent['type'] } & Readonly<Record<string, unknown>>;

export type DemoSourceKey = 'web' | 'mobile' | 'shop' | 'crm';

export interface DemoSource {
  readonly key: DemoSourceKey;
  readonly name: string;
  /** What the source sends through the tracking API, oldest first. */
  readonly events: readonly DemoEvent[];
}

export type DirtyRowProblem = 'email' | 'date' | 'id';

export interface DirtyRow {
  /** The line of the file (the header is line 1). */
  readonly line: number;
  readonly problem: DirtyRowProblem;
  /** The column at fault. */
  readonly column: string;
}

/** The CRM's customer export, and the mapping that imports it. */
export interface DemoCrmFile {
  readonly fileName: string;
  readonly mapping: Readonly<Record<string, unknown>>;
  readonly csv: string;
  /** Rows, the header aside. */
  readonly rows: number;
  /** Rows the import must reject. */
  readonly dirtyRows: readonly DirtyRow[];
}

/** A request Cible must refuse, sent as is; its events end up in the quarantine. */
export interface BadPayload {
  readonly source: DemoSourceKey;
  readonly path: '/v1/batch' | '/v1/track' | '/v1/identify' | '/v1/screen';
  /** The body as sent: not always JSON. */
  readonly body: string;
  /** What is wrong with it. */
  readonly problem: string;
}

export interface DemoUser {
  readonly email: string;
  readonly role: 'admin' | 'marketer' | 'analyst';
}

export interface DemoSegment {
  readonly name: string;
  readonly description: string;
  readonly rule: string;
}

export interface DemoComputedTrait {
  readonly name: string;
  readonly description: string;
  readonly expression: string;
}

export interface DemoSummary {
  readonly people: number;
  readonly events: number;
  /**
   * Distinct anonymousIds: browser cookies, app installs, the tills' card keys, the e-mail tool's
   * contacts. Several belong to each person, so identity resolution leaves fewer profiles.
   */
  readonly anonymousIds: number;
  readonly userIds: number;
  readonly orders: number;
  readonly crmRows: number;
}

export interface DemoData {
  readonly seed: number;
  readonly now: string;
  readonly sources: readonly DemoSource[];
  readonly crm: DemoCrmFile;
  readonly badPayloads: readonly BadPayload[];
  readonly users: readonly DemoUser[];
  readonly segments: readonly DemoSegment[];
  readonly computedTraits: readonly DemoComputedTrait[];
  readonly summary: DemoSummary;
}

/** The password of every demo console user. */
export const demoPassword = 'cible-demo-password';

export const demoUsers: readonly DemoUser[] = [
  { email: 'admin@demo.cible.dev', role: 'admin' },
  { email: 'marketer@demo.cible.dev', role: 'marketer' },
  { email: 'analyst@demo.cible.dev', role: 'analyst' },
];

export const demoSourceNames: Readonly<Record<DemoSourceKey, string>> = {
  web: 'Website',
  mobile: 'Mobile app',
  shop: 'Shops',
  crm: 'CRM',
};

// VIP comes before the segments that name it.
export const demoSegments: readonly DemoSegment[] = [
  {
    name: 'VIP',
    description: 'Spent 500 € or more in the last 90 days, online and in shops.',
    rule: 'sum(event "Order Completed".revenue in last 90 days) >= 500',
  },
  {
    name: 'Paris regulars',
    description: 'Live in Paris and ordered at least three times in the last 30 days.',
    rule: 'trait city = "Paris" and count(event "Order Completed" in last 30 days) >= 3',
  },
  {
    name: 'Newsletter audience',
    description: 'May receive marketing e-mail and have an address.',
    rule: 'consent email and has email',
  },
  {
    name: 'VIP reachable by SMS',
    description: 'VIPs who accept text messages.',
    rule: 'in segment "VIP" and consent sms',
  },
  {
    name: 'Cart abandoners',
    description: 'Added to cart in the last 14 days without ordering since; reachable by e-mail.',
    rule:
      'count(event "Product Added" in last 14 days) >= 1 and count(event "Order Completed" in last 14 days) = 0' +
      ' and has email',
  },
  {
    name: 'Lapsed customers',
    description: 'Ordered before, but not in the last 45 days.',
    rule: 'count(event "Order Completed") >= 1 and not last(event "Order Completed") within last 45 days',
  },
  {
    name: 'Shoe lovers',
    description: 'Ordered shoes at least twice.',
    rule: 'count(event "Order Completed" where category = "shoes") >= 2',
  },
];

export const demoComputedTraits: readonly DemoComputedTrait[] = [
  {
    name: 'totalRevenue',
    description: 'Revenue of every order, online and in shops.',
    expression: 'sum(event "Order Completed".revenue)',
  },
  {
    name: 'ordersLast90Days',
    description: 'Orders in the last 90 days.',
    expression: 'count(event "Order Completed" in last 90 days)',
  },
  {
    name: 'favouriteCategory',
    description: 'The category ordered most often.',
    expression: 'mode(event "Order Completed".category)',
  },
  {
    name: 'lastOrderAt',
    description: 'When the latest order was placed.',
    expression: 'last(event "Order Completed")',
  },
];

// ---------------------------------------------------------------------------------------------
// Randomness

/** mulberry32: a 32-bit generator, small and fast, plenty for made-up data. Floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Random {
  next(): number;
  /** An integer from min to max, both included. */
  int(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
  weighted<T>(items: readonly (readonly [T, number])[]): T;
  hex(length: number): string;
  uuid(): string;
}

function createRandom(seed: number): Random {
  const next = mulberry32(seed);
  const random: Random = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (probability) => next() < probability,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    weighted(items) {
      let total = 0;
      for (const [, weight] of items) total += weight;
      let draw = next() * total;
      for (const [item, weight] of items) {
        draw -= weight;
        if (draw < 0) return item;
      }
      return items[items.length - 1]![0];
    },
    hex(length) {
      let text = '';
      while (text.length < length)
        text += Math.floor(next() * 0x1_0000_0000)
          .toString(16)
          .padStart(8, '0');
      return text.slice(0, length);
    },
    uuid() {
      const h = random.hex(32);
      const variant = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
    },
  };
  return random;
}

// ---------------------------------------------------------------------------------------------
// Time: France's wall clock and the week's rhythm

const minute = 60_000;
const hour = 3_600_000;
const day = 86_400_000;

/** Paris is UTC+1, and UTC+2 from the last Sunday of March to the last Sunday of October (01:00 UTC). */
function parisOffset(utc: number): number {
  const year = new Date(utc).getUTCFullYear();
  let summer = summerTimes.get(year);
  if (summer === undefined) {
    const lastSunday = (month: number): number => {
      const last = Date.UTC(year, month + 1, 0);
      return last - new Date(last).getUTCDay() * day + hour;
    };
    summer = [lastSunday(2), lastSunday(9)];
    summerTimes.set(year, summer);
  }
  return utc >= summer[0] && utc < summer[1] ? 2 * hour : hour;
}

const summerTimes = new Map<number, readonly [number, number]>();

/** The Paris wall-clock time of an instant, as a Date whose UTC fields read it. */
function parisWall(utc: number): Date {
  return new Date(utc + parisOffset(utc));
}

/** The instant of a Paris wall-clock time (given as if it were UTC). */
function fromParisWall(wall: number): number {
  const guess = wall - hour;
  return wall - parisOffset(guess);
}

interface Rhythm {
  /** Sunday first, as Date.getUTCDay counts. */
  readonly day: readonly number[];
  readonly hour: readonly number[];
}

const onlineRhythm: Rhythm = {
  day: [1.35, 1.0, 0.95, 1.0, 0.95, 0.9, 1.15],
  hour: [
    0.2, 0.1, 0.05, 0.04, 0.04, 0.08, 0.25, 0.5, 0.7, 0.8, 0.85, 0.9, 1.1, 1.15, 0.9, 0.85, 0.85, 0.9, 1.0,
    1.2, 1.45, 1.5, 1.1, 0.5,
  ],
};

// Shops open from 10:00 to 20:00, Saturday is the big day, a few open on Sunday morning.
const shopRhythm: Rhythm = {
  day: [0.15, 0.7, 0.8, 0.9, 0.95, 1.15, 2.0],
  hour: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.6, 0.9, 1.1, 1.0, 0.9, 1.0, 1.1, 1.3, 1.2, 0.6, 0, 0, 0, 0],
};

function rhythmMax(rhythm: Rhythm): number {
  return Math.max(...rhythm.day) * Math.max(...rhythm.hour);
}

/** A time between from and to, more likely on busy days and hours (rejection sampling). */
function sampleTime(random: Random, from: number, to: number, rhythm: Rhythm): number {
  const max = rhythmMax(rhythm);
  let t = from;
  for (let attempt = 0; attempt < 200; attempt++) {
    t = Math.floor(from + random.next() * (to - from));
    const wall = parisWall(t);
    if (random.next() * max < rhythm.day[wall.getUTCDay()]! * rhythm.hour[wall.getUTCHours()]!) return t;
  }
  return t;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

// ---------------------------------------------------------------------------------------------
// The world: names, places, products

// prettier-ignore
const femaleNames = [
  'Camille', 'Léa', 'Manon', 'Chloé', 'Emma', 'Inès', 'Jade', 'Louise', 'Sarah', 'Juliette', 'Zoé',
  'Lucie', 'Clara', 'Alice', 'Anaïs', 'Mathilde', 'Pauline', 'Marie', 'Élodie', 'Margaux', 'Hélène',
  'Céline', 'Nathalie', 'Sophie', 'Isabelle', 'Aurélie', 'Julie', 'Charlotte', 'Océane', 'Maëlle',
  'Agathe', 'Capucine', 'Valérie', 'Sandrine', 'Giulia', 'Sofia', 'Lucía', 'Carmen', 'Ana', 'Anna',
  'Ingrid', 'Sanne', 'Katarzyna', 'Niamh', 'Mariana', 'Elif',
];
// prettier-ignore
const maleNames = [
  'Lucas', 'Hugo', 'Thomas', 'Louis', 'Nathan', 'Théo', 'Jules', 'Gabriel', 'Arthur', 'Raphaël',
  'Antoine', 'Maxime', 'Alexandre', 'Nicolas', 'Julien', 'Pierre', 'Mathieu', 'Romain', 'Quentin',
  'Guillaume', 'Baptiste', 'Clément', 'Benoît', 'François', 'Jérôme', 'Olivier', 'Sébastien', 'Étienne',
  'Yann', 'Loïc', 'Karim', 'Mehdi', 'Marco', 'Lorenzo', 'Javier', 'Diego', 'João', 'Lukas', 'Jonas',
  'Sven', 'Pieter', 'Piotr', 'Seán', 'Emre',
];
// prettier-ignore
const lastNames = [
  'Martin', 'Bernard', 'Dubois', 'Thomas', 'Robert', 'Richard', 'Petit', 'Durand', 'Leroy', 'Moreau',
  'Simon', 'Laurent', 'Lefebvre', 'Michel', 'Garcia', 'David', 'Bertrand', 'Roux', 'Vincent', 'Fournier',
  'Morel', 'Girard', 'André', 'Lefèvre', 'Mercier', 'Dupont', 'Lambert', 'Bonnet', 'François', 'Martinez',
  'Legrand', 'Garnier', 'Faure', 'Rousseau', 'Blanc', 'Guérin', 'Muller', 'Henry', 'Roussel', 'Nicolas',
  'Perrin', 'Morin', 'Mathieu', 'Clément', 'Gauthier', 'Dumont', 'Lopez', 'Fontaine', 'Chevalier',
  'Robin', 'Le Gall', 'Le Goff', 'Kerbrat', 'Benali', 'Haddad', 'Nguyen', 'Da Silva', 'Ferreira', 'Rossi',
  'Russo', 'Fernández', 'Schmidt', 'Müller', 'Kowalski', 'Van den Berg', "O'Brien", 'Yılmaz', 'Lemaire',
  'Barbier', 'Brun', 'Colin', 'Marchand', 'Aubert', 'Caron', 'Picard', 'Renaud', 'Masson', 'Hoarau',
];

interface City {
  readonly name: string;
  readonly postalCodes: readonly string[];
  readonly store: string | null;
}

function range(prefix: string, from: number, to: number): string[] {
  const codes: string[] = [];
  for (let n = from; n <= to; n++) codes.push(`${prefix}${String(n).padStart(2, '0')}`);
  return codes;
}

// prettier-ignore
const cities: readonly (readonly [City, number])[] = [
  [{ name: 'Paris', postalCodes: range('750', 1, 20), store: 'Paris Rivoli' }, 26],
  [{ name: 'Lyon', postalCodes: range('690', 1, 9), store: 'Lyon Part-Dieu' }, 9],
  [{ name: 'Marseille', postalCodes: range('130', 1, 16), store: 'Marseille Terrasses du Port' }, 8],
  [
    {
      name: 'Toulouse',
      postalCodes: ['31000', '31100', '31200', '31300', '31400', '31500'],
      store: 'Toulouse Wilson',
    },
    6,
  ],
  [
    {
      name: 'Bordeaux',
      postalCodes: ['33000', '33100', '33200', '33300', '33800'],
      store: 'Bordeaux Sainte-Catherine',
    },
    6,
  ],
  [
    { name: 'Lille', postalCodes: ['59000', '59160', '59260', '59777', '59800'], store: 'Lille Euralille' },
    5,
  ],
  [{ name: 'Nantes', postalCodes: ['44000', '44100', '44200', '44300'], store: 'Nantes Atlantis' }, 5],
  [{ name: 'Nice', postalCodes: ['06000', '06100', '06200', '06300'], store: 'Nice Masséna' }, 4],
  [{ name: 'Strasbourg', postalCodes: ['67000', '67100', '67200'], store: 'Strasbourg Kléber' }, 4],
  [{ name: 'Rennes', postalCodes: ['35000', '35200', '35700'], store: 'Rennes Colombier' }, 4],
  [{ name: 'Montpellier', postalCodes: ['34000', '34070', '34080', '34090'], store: null }, 4],
  [{ name: 'Grenoble', postalCodes: ['38000', '38100'], store: null }, 3],
  [{ name: 'Aix-en-Provence', postalCodes: ['13090', '13100'], store: null }, 2],
  [{ name: 'Dijon', postalCodes: ['21000'], store: null }, 2],
  [{ name: 'Angers', postalCodes: ['49000', '49100'], store: null }, 2],
  [{ name: 'Tours', postalCodes: ['37000', '37100', '37200'], store: null }, 2],
  [{ name: 'Reims', postalCodes: ['51100'], store: null }, 2],
  [{ name: 'Clermont-Ferrand', postalCodes: ['63000', '63100'], store: null }, 2],
  [{ name: 'Le Havre', postalCodes: ['76600', '76610', '76620'], store: null }, 1],
  [{ name: 'Brest', postalCodes: ['29200'], store: null }, 1],
  [{ name: 'Annecy', postalCodes: ['74000'], store: null }, 1],
];
const stores = cities.flatMap(([city]) => (city.store === null ? [] : [city.store]));

const categories = ['clothing', 'shoes', 'accessories', 'home', 'beauty', 'sport'] as const;
type Category = (typeof categories)[number];
const categoryWeights: readonly (readonly [Category, number])[] = [
  ['clothing', 30],
  ['shoes', 20],
  ['accessories', 15],
  ['home', 15],
  ['beauty', 12],
  ['sport', 8],
];
const categoryPaths: Readonly<Record<Category, string>> = {
  clothing: 'vetements',
  shoes: 'chaussures',
  accessories: 'accessoires',
  home: 'maison',
  beauty: 'beaute',
  sport: 'sport',
};

interface Product {
  readonly sku: string;
  readonly name: string;
  readonly category: Category;
  readonly price: number;
}

const catalogue: readonly Product[] = [
  { sku: 'CHS-0142', name: 'Baskets cuir blanc', category: 'shoes', price: 89 },
  { sku: 'CHS-0177', name: 'Bottines daim camel', category: 'shoes', price: 129 },
  { sku: 'CHS-0203', name: 'Espadrilles toile', category: 'shoes', price: 35 },
  { sku: 'CHS-0231', name: 'Derbies cuir noir', category: 'shoes', price: 115 },
  { sku: 'VET-1108', name: 'Pull col roulé laine mérinos', category: 'clothing', price: 79 },
  { sku: 'VET-1120', name: 'Chemise lin blanc', category: 'clothing', price: 59 },
  { sku: 'VET-1154', name: 'Jean droit brut', category: 'clothing', price: 69 },
  { sku: 'VET-1187', name: 'Trench beige', category: 'clothing', price: 189 },
  { sku: 'VET-1190', name: 'Marinière coton', category: 'clothing', price: 45 },
  { sku: 'VET-1215', name: 'Robe portefeuille fleurie', category: 'clothing', price: 85 },
  { sku: 'ACC-2031', name: 'Sac cabas cuir', category: 'accessories', price: 149 },
  { sku: 'ACC-2044', name: 'Écharpe cachemire', category: 'accessories', price: 95 },
  { sku: 'ACC-2058', name: 'Ceinture cuir tressé', category: 'accessories', price: 39 },
  { sku: 'ACC-2077', name: 'Lunettes de soleil écaille', category: 'accessories', price: 65 },
  { sku: 'MAI-3012', name: 'Plaid laine et cachemire', category: 'home', price: 119 },
  { sku: 'MAI-3025', name: 'Bougie parfumée figuier', category: 'home', price: 29 },
  { sku: 'MAI-3040', name: 'Linge de lit lin lavé', category: 'home', price: 139 },
  { sku: 'MAI-3066', name: 'Vase grès émaillé', category: 'home', price: 42 },
  { sku: 'MAI-3071', name: 'Coussin velours côtelé', category: 'home', price: 35 },
  { sku: 'BEA-4003', name: 'Crème mains karité', category: 'beauty', price: 12 },
  { sku: 'BEA-4019', name: "Eau de parfum fleur d'oranger", category: 'beauty', price: 68 },
  { sku: 'BEA-4027', name: 'Savon de Marseille', category: 'beauty', price: 6.5 },
  { sku: 'BEA-4042', name: 'Huile sèche corps', category: 'beauty', price: 24.9 },
  { sku: 'SPO-5010', name: 'Legging de yoga', category: 'sport', price: 49 },
  { sku: 'SPO-5024', name: 'Veste de running coupe-vent', category: 'sport', price: 89 },
  { sku: 'SPO-5031', name: 'Tapis de yoga liège', category: 'sport', price: 59 },
];

const site = 'https://www.maison-lumiere.example';
const brand = 'Maison Lumière';

const productsOf = new Map(
  categories.map((category) => [category, catalogue.filter((product) => product.category === category)]),
);

const emailDomains: readonly (readonly [string, number])[] = [
  ['gmail.com', 30],
  ['orange.fr', 14],
  ['hotmail.fr', 9],
  ['free.fr', 8],
  ['yahoo.fr', 6],
  ['outlook.fr', 5],
  ['laposte.net', 5],
  ['icloud.com', 5],
  ['sfr.fr', 4],
  ['wanadoo.fr', 3],
  ['hotmail.com', 3],
  ['gmx.fr', 2],
  ['proton.me', 2],
];

const userAgents: readonly string[] = [
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36 Edg/125.0.0.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0',
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
];

const iPhones: readonly string[] = ['iPhone14,5', 'iPhone14,7', 'iPhone15,2', 'iPhone15,4', 'iPhone16,1'];
const androids: readonly (readonly [string, string])[] = [
  ['samsung', 'SM-S911B'],
  ['samsung', 'SM-A546B'],
  ['Google', 'Pixel 8'],
  ['Xiaomi', '2201117TG'],
  ['OnePlus', 'CPH2449'],
];
const carriers = ['Orange F', 'SFR', 'Bouygues Telecom', 'Free'];

interface Referrer {
  readonly url: string;
  readonly campaign?: { readonly name: string; readonly source: string; readonly medium: string };
}

const referrers: readonly (readonly [Referrer, number])[] = [
  [{ url: '' }, 30],
  [{ url: 'https://www.google.com/' }, 35],
  [{ url: 'https://www.bing.com/' }, 4],
  [
    {
      url: 'https://l.instagram.com/',
      campaign: { name: 'printemps', source: 'instagram', medium: 'social' },
    },
    10,
  ],
  [
    {
      url: 'https://www.facebook.com/',
      campaign: { name: 'retargeting', source: 'facebook', medium: 'paid_social' },
    },
    6,
  ],
  [{ url: '', campaign: { name: 'newsletter', source: 'brevo', medium: 'email' } }, 15],
];

const campaignNames: readonly string[] = [
  'Nouvelle collection printemps',
  'Vente privée membres',
  'Linge de maison : -20 %',
  'Idées cadeaux',
  'Nos indispensables du moment',
  'Soldes : dernière démarque',
  'Les nouveautés beauté',
  'Week-end livraison offerte',
  'Votre sélection chaussures',
  'Édition limitée cachemire',
  'Le journal de la maison',
  'Retour en boutique : -15 %',
];

const searchTerms = [
  'baskets',
  'pull laine',
  'sac cuir',
  'bougie',
  'robe',
  'trench',
  'yoga',
  'lin',
  'parfum',
];

// ---------------------------------------------------------------------------------------------
// People

type PersonKind = 'webVisitor' | 'appVisitor' | 'customer' | 'shopper';
type Level = 'low' | 'medium' | 'high' | 'vip';

interface Browser {
  readonly anonymousId: string;
  readonly userAgent: string;
}

interface MobileInstall {
  readonly anonymousId: string;
  readonly deviceId: string;
  readonly ios: boolean;
  readonly manufacturer: string;
  readonly model: string;
  readonly osVersion: string;
  readonly carrier: string;
}

interface Consent {
  readonly analytics: boolean;
  readonly advertising: boolean;
  /** Marketing (e-mail, SMS...) as the banner first recorded it... */
  readonly marketing: boolean;
  /** ...until this time, when the person changed their mind (null: never). */
  readonly marketingFlipsAt: number | null;
  readonly sms: boolean;
}

interface Person {
  readonly kind: PersonKind;
  readonly level: Level;
  readonly female: boolean;
  readonly firstName: string;
  readonly lastName: string;
  readonly city: City;
  readonly postalCode: string;
  readonly birthday: { readonly year: number; readonly month: number; readonly day: number };
  /** The address as the person types it on the site. */
  readonly webEmail: string;
  /** The same address as the CRM holds it (case, dots: normalisation makes them one). */
  readonly crmEmail: string;
  /** The national number without its leading 0: "612345678". */
  readonly phone: string;
  readonly userId: string | null;
  readonly loyaltyId: string | null;
  readonly crmId: string | null;
  /** Whether the CRM row has the e-mail address (shoppers sometimes give none). */
  readonly crmHasEmail: boolean;
  readonly inShops: boolean;
  readonly store: string;
  readonly favourite: Category;
  readonly consent: Consent;
  readonly browsers: readonly Browser[];
  readonly mobile: MobileInstall | null;
  /** When the window of their activity opens. */
  readonly since: number;
}

function fold(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

function capitalise(part: string): string {
  return part.charAt(0).toUpperCase() + part.slice(1);
}

/** What makes two addresses one for Cible: case, and Gmail's dots and +tags. */
function emailKey(email: string): string {
  const lower = email.toLowerCase();
  const at = lower.lastIndexOf('@');
  const domain = lower.slice(at + 1);
  const local = lower.slice(0, at);
  return domain === 'gmail.com' ? `${local.split('+')[0]!.replaceAll('.', '')}@${domain}` : lower;
}

function createPeople(random: Random, count: number, now: number): Person[] {
  const people: Person[] = [];
  const emails = new Set<string>();
  const phones = new Set<string>();
  const startOfWindow = now - 90 * day;

  const uniqueEmail = (first: string, last: string): { web: string; crm: string } => {
    const f = fold(first);
    const l = fold(last);
    for (let attempt = 0; ; attempt++) {
      const domain = random.weighted(emailDomains);
      const style = random.int(0, 4);
      const digits = attempt > 0 || random.chance(0.2) ? String(random.int(1, 99)) : '';
      const parts =
        style === 0
          ? [f, l]
          : style === 1
            ? [f + l]
            : style === 2
              ? [f.charAt(0), l]
              : style === 3
                ? [l, f]
                : [f, l];
      const separator = style === 4 ? '_' : '.';
      const local = parts.join(separator) + digits;
      const web = `${local}@${domain}`;
      if (emails.has(emailKey(web))) continue;
      emails.add(emailKey(web));
      // Phone keyboards capitalise the first letter now and then.
      const typed = random.chance(0.12) ? capitalise(web) : web;
      const crmStyle = random.int(0, 9);
      let crm: string;
      if (domain === 'gmail.com' && crmStyle < 4 && style !== 4) {
        // Gmail ignores dots: the CRM's agent wrote them differently.
        crm = style === 1 ? `${f}.${l}${digits}@${domain}` : `${local.replaceAll('.', '')}@${domain}`;
      } else if (crmStyle < 6) {
        crm = web.toUpperCase();
      } else if (crmStyle < 8) {
        crm = `${parts.map(capitalise).join(separator)}${digits}@${capitalise(domain)}`;
      } else {
        crm = web;
      }
      return { web: typed, crm };
    }
  };

  const uniquePhone = (): string => {
    for (;;) {
      // Mainland ranges only: 0639 and 069x ring in the overseas departments.
      const mobile = random.chance(0.7)
        ? `6${random.pick([0, 1, 2, 4, 5, 6, 7, 8])}`
        : `7${random.int(3, 9)}`;
      const phone = `${mobile}${String(random.int(0, 9_999_999)).padStart(7, '0')}`;
      if (phones.has(phone)) continue;
      phones.add(phone);
      return phone;
    }
  };

  const nowYear = new Date(now).getUTCFullYear();
  for (let index = 0; index < count; index++) {
    const kind = random.weighted<PersonKind>([
      ['webVisitor', 18],
      ['appVisitor', 7],
      ['customer', 50],
      ['shopper', 25],
    ]);
    const level = random.weighted<Level>([
      ['low', 38],
      ['medium', 38],
      ['high', 16],
      ['vip', 8],
    ]);
    const female = random.chance(0.56);
    const firstName = random.pick(female ? femaleNames : maleNames);
    const lastName = random.pick(lastNames);
    // Paris has more than its share of the best customers.
    const city = level === 'vip' && random.chance(0.35) ? cities[0]![0] : random.weighted(cities);
    const email = uniqueEmail(firstName, lastName);
    const online = kind === 'customer';
    const inShops = kind === 'shopper' || (online && random.chance(0.3));
    const inCrm = kind === 'shopper' ? random.chance(0.9) : online && (inShops || random.chance(0.6));
    const hasMobile = kind === 'appVisitor' || (online && random.chance(0.55));
    const browserCount = kind === 'appVisitor' ? 0 : online && random.chance(0.15) ? 2 : 1;
    const browsers: Browser[] = [];
    for (let b = 0; b < browserCount; b++) {
      browsers.push({ anonymousId: random.uuid(), userAgent: random.pick(userAgents) });
    }
    let mobile: MobileInstall | null = null;
    if (hasMobile) {
      const ios = random.chance(0.6);
      const android = random.pick(androids);
      mobile = {
        anonymousId: ios ? random.uuid().toUpperCase() : random.uuid(),
        deviceId: ios ? random.uuid().toUpperCase() : random.hex(16),
        ios,
        manufacturer: ios ? 'Apple' : android[0],
        model: ios ? random.pick(iPhones) : android[1],
        osVersion: ios ? random.pick(['17.4.1', '17.5', '17.5.1', '18.0']) : random.pick(['13', '14', '15']),
        carrier: random.pick(carriers),
      };
    }
    const marketing = random.chance(0.5);
    const since =
      level === 'vip' || level === 'high'
        ? startOfWindow + random.int(0, 15) * day
        : startOfWindow + random.int(0, 80) * day;
    people.push({
      kind,
      level,
      female,
      firstName,
      lastName,
      city,
      postalCode: random.pick(city.postalCodes),
      birthday: { year: nowYear - random.int(18, 75), month: random.int(1, 12), day: random.int(1, 28) },
      webEmail: email.web,
      crmEmail: email.crm,
      phone: uniquePhone(),
      userId: online ? String(100_000 + index * 3 + random.int(0, 2)) : null,
      loyaltyId:
        inShops || (inCrm && random.chance(0.2))
          ? `2960${String(index * 97 + random.int(0, 96)).padStart(9, '0')}`
          : null,
      crmId: inCrm ? `CRM-${String(10_000 + index * 7 + random.int(0, 6)).padStart(6, '0')}` : null,
      crmHasEmail: inCrm && (kind !== 'shopper' || random.chance(0.9)),
      inShops,
      store: city.store ?? random.pick(stores),
      favourite: random.weighted(categoryWeights),
      consent: {
        analytics: random.chance(0.85),
        advertising: random.chance(0.35),
        marketing,
        marketingFlipsAt: random.chance(0.12) ? since + random.int(1, 80) * day : null,
        sms: marketing && random.chance(0.45),
      },
      browsers,
      mobile,
      since,
    });
  }
  return people;
}

function marketingAt(person: Person, t: number): boolean {
  const { marketing, marketingFlipsAt } = person.consent;
  return marketingFlipsAt !== null && t >= marketingFlipsAt ? !marketing : marketing;
}

function categoryPreferences(person: Person, t: number): Record<string, boolean> {
  return {
    necessary: true,
    analytics: person.consent.analytics,
    marketing: marketingAt(person, t),
    advertising: person.consent.advertising,
  };
}

type PhoneStyle = 'e164' | 'spaced' | 'dotted' | 'compact' | 'international' | 'idd';

/** One number, as different systems write it; Cible reads them all as +33612345678. */
function formatPhone(phone: string, style: PhoneStyle): string {
  const national = `0${phone}`;
  const pairs = national.match(/../g)!;
  switch (style) {
    case 'e164':
      return `+33${phone}`;
    case 'spaced':
      return pairs.join(' ');
    case 'dotted':
      return pairs.join('.');
    case 'compact':
      return national;
    case 'international':
      return `+33 ${phone.charAt(0)} ${phone.slice(1).match(/../g)!.join(' ')}`;
    case 'idd':
      return `0033${phone}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Events

interface Emitted {
  readonly at: number;
  readonly event: DemoEvent;
}

interface Streams {
  readonly web: Emitted[];
  readonly mobile: Emitted[];
  readonly shop: Emitted[];
  readonly crm: Emitted[];
}

interface Counters {
  webOrders: number;
  appOrders: number;
  shopOrders: number;
}

interface OrderLine {
  readonly product_id: string;
  readonly sku: string;
  readonly name: string;
  readonly category: Category;
  readonly brand: string;
  readonly price: number;
  readonly quantity: number;
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function slug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/\p{Diacritic}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

const productPaths = new Map(
  catalogue.map((product) => {
    const path = `/p/${slug(product.name)}-${product.sku.toLowerCase()}`;
    return [product, { path, url: `${site}${path}` }];
  }),
);

function productUrl(product: Product): string {
  return productPaths.get(product)!.url;
}

function productPath(product: Product): string {
  return productPaths.get(product)!.path;
}

function productProperties(product: Product): Record<string, unknown> {
  return {
    product_id: product.sku,
    sku: product.sku,
    name: product.name,
    category: product.category,
    brand,
    price: product.price,
    currency: 'EUR',
    url: productUrl(product),
  };
}

function pickProduct(random: Random, person: Person): Product {
  return random.pick(random.chance(0.6) ? productsOf.get(person.favourite)! : catalogue);
}

function basket(random: Random, person: Person): OrderLine[] {
  const size =
    1 +
    (random.chance(0.35) ? 1 : 0) +
    (random.chance(0.12) ? 1 : 0) +
    (person.level === 'vip' && random.chance(0.4) ? 1 : 0);
  const lines: OrderLine[] = [];
  for (let i = 0; i < size; i++) {
    const product = pickProduct(random, person);
    if (lines.some((line) => line.sku === product.sku)) continue;
    lines.push({
      product_id: product.sku,
      sku: product.sku,
      name: product.name,
      category: product.category,
      brand,
      price: product.price,
      quantity: random.chance(0.85) ? 1 : 2,
    });
  }
  return lines;
}

/** The Segment e-commerce spec's Order Completed, with the order's main category beside its lines. */
function orderProperties(
  random: Random,
  lines: readonly OrderLine[],
  orderId: string,
  channel: 'web' | 'app' | 'store',
): Record<string, unknown> {
  const subtotal = round2(lines.reduce((sum, line) => sum + line.price * line.quantity, 0));
  const coupon = channel !== 'store' && random.chance(0.15) ? 'BIENVENUE10' : undefined;
  const discount = coupon === undefined ? 0 : round2(subtotal * 0.1);
  const revenue = round2(subtotal - discount);
  const shipping = channel === 'store' || revenue >= 60 ? 0 : 4.9;
  const main = [...lines].sort((a, b) => b.price * b.quantity - a.price * a.quantity)[0]!;
  return {
    order_id: orderId,
    total: round2(revenue + shipping),
    revenue,
    shipping,
    tax: round2(revenue - revenue / 1.2),
    discount,
    ...(coupon === undefined ? {} : { coupon }),
    currency: 'EUR',
    category: main.category,
    products: lines,
  };
}

interface World {
  readonly random: Random;
  readonly streams: Streams;
  readonly counters: Counters;
  readonly now: number;
}

function webContext(
  person: Person,
  browser: Browser,
  t: number,
  page: { path: string; title: string; referrer: string; search: string },
  campaign: Referrer['campaign'],
): Record<string, unknown> {
  return {
    library: { name: 'analytics.js', version: 'npm:next-1.84.3' },
    page: {
      path: page.path,
      referrer: page.referrer,
      search: page.search,
      title: page.title,
      url: `${site}${page.path}${page.search}`,
    },
    userAgent: browser.userAgent,
    locale: 'fr-FR',
    timezone: 'Europe/Paris',
    ...(campaign === undefined ? {} : { campaign }),
    consent: { categoryPreferences: categoryPreferences(person, t) },
  };
}

function mobileContext(person: Person, install: MobileInstall, t: number): Record<string, unknown> {
  return {
    app: { name: brand, version: '4.12.0', build: '4120', namespace: 'fr.maisonlumiere.app' },
    device: install.ios
      ? { id: install.deviceId, manufacturer: 'Apple', model: install.model, name: 'iPhone', type: 'ios' }
      : {
          id: install.deviceId,
          manufacturer: install.manufacturer,
          model: install.model,
          name: install.model,
          type: 'android',
        },
    os: { name: install.ios ? 'iOS' : 'Android', version: install.osVersion },
    library: install.ios
      ? { name: 'analytics-swift', version: '1.5.11' }
      : { name: 'com.segment.analytics.kotlin', version: '1.16.3' },
    network: { wifi: t % 3 !== 0, cellular: t % 3 === 0, carrier: install.carrier },
    screen: install.ios
      ? { width: 390, height: 844, density: 3 }
      : { width: 412, height: 915, density: 2.625 },
    locale: 'fr-FR',
    timezone: 'Europe/Paris',
    consent: { categoryPreferences: categoryPreferences(person, t) },
  };
}

/** A visit to the website: pages, products, maybe a sign-up, maybe an order. Returns when it ended. */
function webVisit(
  g: World,
  person: Person,
  browser: Browser,
  start: number,
  options: { userId: string | null; signUp: boolean; order: boolean },
): number {
  const { random } = g;
  let t = start;
  const tracked = person.consent.analytics;
  const referrer = random.weighted(referrers);
  let previous = referrer.url;
  let userId = options.userId;
  const ids = (): Record<string, unknown> => ({
    ...(userId === null ? {} : { userId }),
    anonymousId: browser.anonymousId,
  });
  const emit = (fields: EventFields, page: { path: string; title: string; search?: string }): void => {
    const event = {
      ...fields,
      ...ids(),
      messageId: `ajs-next-${random.hex(32)}`,
      timestamp: iso(t),
      context: webContext(
        person,
        browser,
        t,
        { ...page, referrer: previous, search: page.search ?? '' },
        previous === referrer.url ? referrer.campaign : undefined,
      ),
    };
    g.streams.web.push({ at: t, event });
  };
  const pageView = (name: string, path: string, title: string, search = ''): void => {
    if (tracked) {
      emit(
        {
          type: 'page',
          name,
          properties: { name, path, referrer: previous, search, title, url: `${site}${path}${search}` },
        },
        { path, title, search },
      );
    }
    previous = `${site}${path}${search}`;
    t += random.int(5, 70) * 1000;
  };
  const track = (
    name: string,
    properties: Record<string, unknown>,
    page: { path: string; title: string },
    always = false,
  ): void => {
    if (tracked || always) emit({ type: 'track', event: name, properties }, page);
    t += random.int(1, 20) * 1000;
  };
  const viewProduct = (product: Product): void => {
    const path = productPath(product);
    const title = `${product.name} | ${brand}`;
    pageView('Product', path, title);
    track('Product Viewed', productProperties(product), { path, title });
  };

  pageView('Home', '/', `${brand} : mode, maison et beauté`);
  const browsing = { low: 1, medium: 2, high: 3, vip: 4 }[person.level];
  let lastProduct: Product | undefined;
  for (let step = random.int(0, browsing); step > 0; step--) {
    const roll = random.next();
    if (roll < 0.25) {
      const category = random.chance(0.6) ? person.favourite : random.pick(categories);
      pageView(
        'Category',
        `/c/${categoryPaths[category]}`,
        `${capitalise(categoryPaths[category])} | ${brand}`,
      );
    } else if (roll < 0.35) {
      const query = random.pick(searchTerms);
      const search = `?q=${encodeURIComponent(query)}`;
      pageView('Search', '/recherche', `Recherche : ${query} | ${brand}`, search);
      track('Products Searched', { query }, { path: '/recherche', title: `Recherche : ${query} | ${brand}` });
    } else {
      lastProduct = pickProduct(random, person);
      viewProduct(lastProduct);
    }
  }

  if (options.signUp) {
    const path = '/compte/inscription';
    const title = `Créer un compte | ${brand}`;
    pageView('Sign Up', path, title);
    // From the sign-up on, the site knows who it is.
    userId = person.userId;
    const email = person.webEmail;
    // A few people mistype their number: the trait is kept, the quality report counts it.
    const phone = random.chance(0.02)
      ? formatPhone(person.phone, 'spaced').slice(0, 10)
      : random.chance(0.6)
        ? formatPhone(person.phone, random.chance(0.5) ? 'e164' : 'spaced')
        : undefined;
    emit(
      {
        type: 'identify',
        traits: {
          email,
          firstName: person.firstName,
          lastName: person.lastName,
          ...(phone === undefined ? {} : { phone }),
          city: person.city.name,
          ...(random.chance(0.5) ? { postalCode: person.postalCode } : {}),
          gender: person.female ? 'female' : 'male',
          createdAt: iso(t),
        },
      },
      { path, title },
    );
    t += 800;
    track('Signed Up', { method: 'email' }, { path, title }, true);
    const marketing = marketingAt(person, t);
    track(
      'Consent Updated',
      {
        purposes: {
          email: marketing ? 'granted' : 'denied',
          sms: person.consent.sms && marketing ? 'granted' : 'denied',
        },
        method: 'signup form',
      },
      { path, title },
      true,
    );
  }

  if (options.order) {
    const lines = basket(random, person);
    for (const line of lines) {
      const product = catalogue.find((candidate) => candidate.sku === line.sku)!;
      viewProduct(product);
      track(
        'Product Added',
        { ...productProperties(product), quantity: line.quantity, cart_id: `c-${random.hex(10)}` },
        { path: productPath(product), title: `${product.name} | ${brand}` },
      );
    }
    pageView('Cart', '/panier', `Panier | ${brand}`);
    track('Cart Viewed', { products: lines }, { path: '/panier', title: `Panier | ${brand}` });
    g.counters.webOrders++;
    const properties = orderProperties(
      random,
      lines,
      `W${String(1_000_000 + g.counters.webOrders * 7 + random.int(0, 6))}`,
      'web',
    );
    pageView('Checkout', '/commande', `Commande | ${brand}`);
    track(
      'Checkout Started',
      { order_id: properties.order_id, revenue: properties.revenue, currency: 'EUR', products: lines },
      { path: '/commande', title: `Commande | ${brand}` },
    );
    t += random.int(30, 240) * 1000;
    track('Order Completed', properties, { path: '/commande/confirmation', title: `Merci | ${brand}` }, true);
    pageView('Order Confirmation', '/commande/confirmation', `Merci | ${brand}`);
  } else if (lastProduct !== undefined && random.chance(0.3)) {
    track(
      'Product Added',
      { ...productProperties(lastProduct), quantity: 1, cart_id: `c-${random.hex(10)}` },
      { path: productPath(lastProduct), title: `${lastProduct.name} | ${brand}` },
    );
  }
  return t;
}

/** A session in the app: opened, screens, products, maybe a sign-in and an order. */
function appSession(
  g: World,
  person: Person,
  install: MobileInstall,
  start: number,
  options: { userId: string | null; signIn: boolean; order: boolean },
): number {
  const { random } = g;
  let t = start;
  const tracked = person.consent.analytics;
  const ids = (): Record<string, unknown> => ({
    ...(options.userId === null ? {} : { userId: options.userId }),
    anonymousId: install.anonymousId,
  });
  const emit = (fields: EventFields, always = false): void => {
    if (tracked || always) {
      const messageId = install.ios ? random.uuid().toUpperCase() : random.uuid();
      const event = {
        ...fields,
        ...ids(),
        messageId,
        timestamp: iso(t),
        context: mobileContext(person, install, t),
      };
      g.streams.mobile.push({ at: t, event });
    }
    t += random.int(3, 45) * 1000;
  };
  emit({
    type: 'track',
    event: 'Application Opened',
    properties: { from_background: random.chance(0.4), version: '4.12.0', build: '4120' },
  });
  if (options.signIn) {
    emit({ type: 'identify', traits: { email: person.webEmail, firstName: person.firstName } }, true);
    emit({ type: 'track', event: 'Signed In', properties: { method: 'email' } }, true);
  }
  emit({ type: 'screen', name: 'Home', properties: { name: 'Home' } });
  const browsing = { low: 1, medium: 2, high: 3, vip: 4 }[person.level];
  let lastProduct: Product | undefined;
  for (let step = random.int(1, browsing + 1); step > 0; step--) {
    lastProduct = pickProduct(random, person);
    emit({ type: 'screen', name: 'Product', properties: { name: 'Product', product_id: lastProduct.sku } });
    emit({ type: 'track', event: 'Product Viewed', properties: productProperties(lastProduct) });
  }
  if (options.order) {
    const lines = basket(random, person);
    for (const line of lines) {
      const product = catalogue.find((candidate) => candidate.sku === line.sku)!;
      emit({
        type: 'track',
        event: 'Product Added',
        properties: { ...productProperties(product), quantity: line.quantity },
      });
    }
    emit({ type: 'screen', name: 'Cart', properties: { name: 'Cart' } });
    g.counters.appOrders++;
    const properties = orderProperties(
      random,
      lines,
      `A${String(2_000_000 + g.counters.appOrders * 7 + random.int(0, 6))}`,
      'app',
    );
    emit({
      type: 'track',
      event: 'Checkout Started',
      properties: { order_id: properties.order_id, revenue: properties.revenue, currency: 'EUR' },
    });
    emit({ type: 'track', event: 'Order Completed', properties }, true);
  } else if (lastProduct !== undefined && random.chance(0.25)) {
    emit({
      type: 'track',
      event: 'Product Added',
      properties: { ...productProperties(lastProduct), quantity: 1 },
    });
  }
  return t;
}

/** A receipt at a shop's till: the loyalty card, sometimes the phone number, nothing else. */
function shopOrder(g: World, person: Person, at: number): void {
  const { random } = g;
  const lines = basket(random, person);
  g.counters.shopOrders++;
  const storeCode = person.store.slice(0, 3).toUpperCase();
  const properties = {
    ...orderProperties(
      random,
      lines,
      `T-${storeCode}-${String(g.counters.shopOrders).padStart(6, '0')}`,
      'store',
    ),
    store: person.store,
    payment_method: random.pick(['card', 'card', 'card', 'cash', 'contactless']),
  };
  const phone = random.chance(0.7)
    ? formatPhone(person.phone, random.chance(0.5) ? 'spaced' : 'international')
    : undefined;
  g.streams.shop.push({
    at,
    event: {
      type: 'track',
      event: 'Order Completed',
      // The till has no account: its anonymousId is the card's.
      anonymousId: `pos-${person.loyaltyId!}`,
      messageId: `pos-${random.uuid()}`,
      timestamp: iso(at),
      properties,
      context: {
        library: { name: 'analytics-node', version: '3.1.0' },
        externalIds: [{ id: person.loyaltyId!, type: 'loyaltyId', collection: 'users', encoding: 'none' }],
        ...(phone === undefined ? {} : { traits: { phone } }),
      },
    },
  });
}

/** Spread count session starts over [from, to), sorted, at least 20 minutes apart. */
function sessionTimes(random: Random, count: number, from: number, to: number, rhythm: Rhythm): number[] {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(sampleTime(random, from, to, rhythm));
  times.sort((a, b) => a - b);
  for (let i = 1; i < times.length; i++) {
    if (times[i]! - times[i - 1]! < 20 * minute)
      times[i] = times[i - 1]! + 20 * minute + random.int(0, 40) * minute;
  }
  return times.filter((time) => time < to);
}

const ordersByLevel: Readonly<Record<Level, readonly [number, number]>> = {
  low: [0, 1],
  medium: [1, 2],
  high: [3, 5],
  vip: [9, 15],
};

function onlineJourney(g: World, person: Person, signUps: Map<Person, number>): void {
  const { random, now } = g;
  const [minOrders, maxOrders] = ordersByLevel[person.level];
  const orders = random.int(minOrders, maxOrders);
  const anonymousSessions = random.int(1, 3);
  const browsing = { low: 1, medium: 2, high: 4, vip: 6 }[person.level];
  const afterSignUp = orders + random.int(1, browsing) + (person.mobile === null ? 0 : 1);
  const times = sessionTimes(random, anonymousSessions + afterSignUp, person.since, now - hour, onlineRhythm);
  if (times.length === 0) return;
  const signUpIndex = Math.min(anonymousSessions, times.length - 1);
  // Orders fall in sessions after the sign-up (the sign-up visit may end with one).
  const orderSessions = new Set<number>();
  const candidates = times.length - signUpIndex;
  while (orderSessions.size < Math.min(orders, candidates))
    orderSessions.add(signUpIndex + random.int(0, candidates - 1));
  const laptop = person.browsers[0]!;
  let mobileSignedIn = false;
  for (let i = 0; i < times.length; i++) {
    const start = times[i]!;
    const order = orderSessions.has(i);
    if (i < signUpIndex) {
      // Anonymous: first on the phone, then on the laptop.
      if (person.mobile !== null && i === 0)
        appSession(g, person, person.mobile, start, { userId: null, signIn: false, order: false });
      else webVisit(g, person, laptop, start, { userId: null, signUp: false, order: false });
      continue;
    }
    if (i === signUpIndex) {
      webVisit(g, person, laptop, start, { userId: null, signUp: true, order });
      signUps.set(person, start);
      continue;
    }
    const lastOne = i === times.length - 1;
    const onPhone = person.mobile !== null && (random.chance(0.45) || (lastOne && !mobileSignedIn));
    if (onPhone) {
      appSession(g, person, person.mobile, start, { userId: person.userId, signIn: !mobileSignedIn, order });
      mobileSignedIn = true;
    } else {
      const browser = person.browsers.length > 1 && random.chance(0.3) ? person.browsers[1]! : laptop;
      // A second browser (at work) learns who they are when they sign in there.
      webVisit(g, person, browser, start, { userId: person.userId, signUp: false, order });
    }
  }
}

function visitorJourney(g: World, person: Person): void {
  const { random, now } = g;
  const times = sessionTimes(random, random.int(1, 3), person.since, now - hour, onlineRhythm);
  for (const start of times) {
    if (person.mobile !== null)
      appSession(g, person, person.mobile, start, { userId: null, signIn: false, order: false });
    else webVisit(g, person, person.browsers[0]!, start, { userId: null, signUp: false, order: false });
  }
}

function shopJourney(g: World, person: Person): void {
  const { random, now } = g;
  const visits = {
    low: random.int(1, 2),
    medium: random.int(1, 3),
    high: random.int(2, 5),
    vip: random.int(3, 6),
  }[person.level];
  for (const at of sessionTimes(random, visits, person.since, now - hour, shopRhythm))
    shopOrder(g, person, at);
}

interface Campaign {
  readonly id: string;
  readonly name: string;
  readonly at: number;
}

function campaigns(now: number): Campaign[] {
  const list: Campaign[] = [];
  for (let i = 0; i < campaignNames.length; i++) {
    // Every week or so, a weekday at 10:00 in Paris.
    const dayStart = Math.floor((now - (i * 7 + 3) * day) / day) * day;
    let wall = dayStart + 10 * hour;
    while ([0, 6].includes(new Date(wall).getUTCDay())) wall -= day;
    list.push({
      id: `cmp_${String(2400 + campaignNames.length - i)}`,
      name: campaignNames[i]!,
      at: fromParisWall(wall),
    });
  }
  return list.reverse();
}

/** Newsletters: the e-mail tool reports opens and clicks of those who may be written to. */
function emailEngagement(g: World, people: readonly Person[], signUps: ReadonlyMap<Person, number>): void {
  const { random, now } = g;
  for (const campaign of campaigns(now)) {
    for (const person of people) {
      const signedUpAt = signUps.get(person);
      // Before they sign up online, the e-mail tool knows them from the CRM only.
      const account = signedUpAt !== undefined && signedUpAt < campaign.at;
      const known = person.crmHasEmail || account;
      if (!known || !marketingAt(person, campaign.at)) continue;
      const openRate = { low: 0.2, medium: 0.3, high: 0.45, vip: 0.6 }[person.level];
      if (!random.chance(openRate)) continue;
      const openedAt = campaign.at + random.int(2, 36 * 60) * minute;
      if (openedAt >= now) continue;
      const email = account ? person.webEmail : person.crmEmail;
      const who =
        account && person.userId !== null
          ? { userId: person.userId }
          : { anonymousId: `esp-${person.crmId!}` };
      const context = { library: { name: 'analytics-node', version: '3.1.0' }, traits: { email } };
      const properties = {
        campaign_id: campaign.id,
        campaign_name: campaign.name,
        email_id: `${campaign.id}-${random.hex(8)}`,
        email_subject: campaign.name,
      };
      g.streams.crm.push({
        at: openedAt,
        event: {
          type: 'track',
          event: 'Email Opened',
          ...who,
          messageId: `esp-${random.hex(24)}`,
          timestamp: iso(openedAt),
          properties,
          context,
        },
      });
      if (random.chance(0.28)) {
        const clickedAt = openedAt + random.int(5, 300) * 1000;
        const product = pickProduct(random, person);
        g.streams.crm.push({
          at: clickedAt,
          event: {
            type: 'track',
            event: 'Email Clicked',
            ...who,
            messageId: `esp-${random.hex(24)}`,
            timestamp: iso(clickedAt),
            properties: {
              ...properties,
              link_url: `${productUrl(product)}?utm_source=brevo&utm_medium=email&utm_campaign=${slug(campaign.name)}`,
            },
            context,
          },
        });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The CRM export

const crmColumns = [
  'Customer no',
  'Civility',
  'First name',
  'Last name',
  'Email',
  'Mobile',
  'Loyalty card',
  'Postal code',
  'City',
  'Birth date',
  'Email opt-in',
  'SMS opt-in',
  'Updated',
] as const;
type CrmColumn = (typeof crmColumns)[number];

const crmMapping = {
  kind: 'customers',
  format: { type: 'csv', delimiter: ';' },
  timezone: 'Europe/Paris',
  columns: {
    'Customer no': { identifier: 'crmId', required: true },
    Civility: { trait: 'civility' },
    'First name': { trait: 'firstName' },
    'Last name': { trait: 'lastName' },
    Email: { identifier: 'email' },
    Mobile: { identifier: 'phone' },
    'Loyalty card': { identifier: 'loyaltyId' },
    'Postal code': { trait: 'postalCode' },
    City: { trait: 'city' },
    'Birth date': { trait: 'birthday', type: 'date', format: 'DD/MM/YYYY' },
    'Email opt-in': { consent: 'email' },
    'SMS opt-in': { consent: 'sms' },
    Updated: { timestamp: 'YYYY-MM-DD HH:mm' },
  },
} as const;

function two(n: number): string {
  return String(n).padStart(2, '0');
}

function parisDateTime(utc: number): string {
  const wall = parisWall(utc);
  return `${wall.getUTCFullYear()}-${two(wall.getUTCMonth() + 1)}-${two(wall.getUTCDate())} ${two(wall.getUTCHours())}:${two(wall.getUTCMinutes())}`;
}

function csvCell(value: string): string {
  return /[;"\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

function crmFile(random: Random, people: readonly Person[], now: number): DemoCrmFile {
  const rows: Record<CrmColumn, string>[] = [];
  for (const person of people) {
    if (person.crmId === null) continue;
    // The CRM is updated at the till or by customer service: often before the 90 days.
    const updated = now - random.int(2, 400) * day - random.int(0, 600) * minute;
    const marketing = random.chance(0.9) ? marketingAt(person, updated) : !marketingAt(person, updated);
    const { year, month, day: dayOfMonth } = person.birthday;
    const row: Record<CrmColumn, string> = {
      'Customer no': person.crmId,
      Civility: person.female ? 'Mme' : 'M.',
      'First name': random.chance(0.1) ? person.firstName.toUpperCase() : person.firstName,
      'Last name': random.chance(0.4) ? person.lastName.toUpperCase() : person.lastName,
      Email: person.crmHasEmail ? person.crmEmail : '',
      Mobile: random.chance(0.85)
        ? formatPhone(
            person.phone,
            random.weighted<PhoneStyle>([
              ['dotted', 3],
              ['compact', 3],
              ['spaced', 2],
              ['idd', 1],
              ['international', 1],
            ]),
          )
        : random.chance(0.3)
          ? 'n/a'
          : '',
      'Loyalty card': person.loyaltyId ?? '',
      'Postal code': person.postalCode,
      City: person.city.name,
      'Birth date': random.chance(0.9) ? `${two(dayOfMonth)}/${two(month)}/${year}` : '',
      'Email opt-in': marketing ? 'yes' : 'no',
      'SMS opt-in': person.consent.sms && marketing ? 'yes' : random.chance(0.5) ? 'no' : '',
      Updated: parisDateTime(updated),
    };
    rows.push(row);
    // Now and then the same person was entered twice, with an old address and nothing else.
    if (random.chance(0.015)) {
      rows.push({
        ...row,
        'Customer no': `CRM-9${String(rows.length).padStart(6, '0')}`,
        Email: `${fold(person.firstName)}.${fold(person.lastName)}.${random.int(100, 999)}@wanadoo.fr`,
        Mobile: '',
        'Loyalty card': '',
        Updated: parisDateTime(updated - random.int(400, 900) * day),
      });
    }
  }

  // Broken rows, as every CRM export has: the import rejects them and says why.
  const dirtyRows: DirtyRow[] = [];
  const problems: readonly (readonly [DirtyRowProblem, CrmColumn])[] = [
    ['email', 'Email'],
    ['email', 'Email'],
    ['email', 'Email'],
    ['date', 'Birth date'],
    ['date', 'Birth date'],
    ['date', 'Birth date'],
    ['id', 'Customer no'],
    ['id', 'Customer no'],
  ];
  const taken = new Set<number>();
  for (const [n, [problem, column]] of problems.entries()) {
    if (taken.size >= rows.length) break;
    let index = random.int(0, rows.length - 1);
    while (taken.has(index)) index = (index + 1) % rows.length;
    taken.add(index);
    const row = rows[index]!;
    if (problem === 'email') {
      const email = row.Email === '' ? 'jean.martin@orange.fr' : row.Email;
      const at = email.indexOf('@');
      row.Email = [
        email.slice(0, email.lastIndexOf('.')),
        email.replace('@', ' '),
        `${email.slice(0, at)} ${email.slice(at)}`,
      ][n % 3]!;
    } else if (problem === 'date') {
      const year = row['Birth date'].slice(-4) || '1984';
      row['Birth date'] = [`31/02/${year}`, `${year}-04-12`, `12/13/${year}`][n % 3]!;
    } else {
      row['Customer no'] = '';
    }
    dirtyRows.push({ line: index + 2, problem, column });
  }
  dirtyRows.sort((a, b) => a.line - b.line);

  const lines = [
    crmColumns.join(';'),
    ...rows.map((row) => crmColumns.map((column) => csvCell(row[column])).join(';')),
  ];
  return {
    fileName: 'crm-customers.csv',
    mapping: crmMapping,
    csv: `${lines.join('\n')}\n`,
    rows: rows.length,
    dirtyRows,
  };
}

// ---------------------------------------------------------------------------------------------
// Bad payloads

function badPayloads(random: Random, now: number): BadPayload[] {
  const at = (minutesAgo: number): string => iso(now - minutesAgo * minute);
  const web = { library: { name: 'analytics.js', version: 'npm:next-1.84.3' }, locale: 'fr-FR' };
  const anonymousId = random.uuid();
  const batch = (...events: unknown[]): string => JSON.stringify({ batch: events });
  return [
    {
      source: 'web',
      path: '/v1/batch',
      body: batch({
        type: 'track',
        anonymousId,
        messageId: `ajs-next-${random.hex(32)}`,
        timestamp: at(50),
        properties: { product_id: 'CHS-0142' },
        context: web,
      }),
      problem: 'A track call without its "event" name.',
    },
    {
      source: 'web',
      path: '/v1/track',
      body: JSON.stringify({
        type: 'track',
        event: 'Product Viewed',
        messageId: `ajs-next-${random.hex(32)}`,
        timestamp: at(45),
        properties: { product_id: 'VET-1187' },
        context: web,
      }),
      problem: 'Neither userId nor anonymousId.',
    },
    {
      source: 'web',
      path: '/v1/batch',
      body: batch({
        type: 'track',
        event: 'Product Added',
        anonymousId,
        messageId: `ajs-next-${random.hex(32)}`,
        timestamp: 'hier 14h32',
        properties: { product_id: 'ACC-2031' },
        context: web,
      }),
      problem: 'A timestamp that is not ISO 8601.',
    },
    {
      source: 'web',
      path: '/v1/batch',
      body: `{"batch":[{"type":"page","anonymousId":"${anonymousId}","name":"Home","timestamp":"${at(30)}","properties":{"path":"/"}`,
      problem: 'Truncated JSON: the browser closed the page mid-request.',
    },
    {
      source: 'web',
      path: '/v1/track',
      body: JSON.stringify({
        type: 'track',
        event: 'Cart Viewed',
        anonymousId,
        messageId: `ajs-next-${random.hex(32)}`,
        timestamp: at(20),
        properties: { html: '<div class="cart-line">'.repeat(1600) },
        context: web,
      }),
      problem: 'An event over 32 KB: the cart page sent its whole HTML.',
    },
    {
      source: 'mobile',
      path: '/v1/batch',
      body: batch({
        type: 'screenview',
        anonymousId: random.uuid().toUpperCase(),
        messageId: random.uuid().toUpperCase(),
        timestamp: at(40),
        name: 'Home',
      }),
      problem: 'An unknown call type, "screenview".',
    },
    {
      source: 'mobile',
      path: '/v1/batch',
      body: batch({
        type: 'identify',
        userId: { id: 104_211 },
        messageId: random.uuid(),
        timestamp: at(35),
        traits: { email: 'lea.martin@orange.fr' },
      }),
      problem: 'A userId that is an object.',
    },
    {
      source: 'mobile',
      path: '/v1/batch',
      body: batch({
        type: 'identify',
        anonymousId: random.uuid(),
        messageId: random.uuid(),
        timestamp: at(33),
        traits: ['email', 'lea.martin@orange.fr'],
      }),
      problem: 'Traits sent as a list.',
    },
    {
      source: 'shop',
      path: '/v1/batch',
      body: batch({
        type: 'track',
        event: 'Order Completed',
        anonymousId: 'pos-2960000000000',
        messageId: `pos-${random.uuid()}`,
        timestamp: at(25),
        properties: 'order_id=T-PAR-000042;revenue=42.50',
      }),
      problem: 'Properties sent as a string by an old till.',
    },
    {
      source: 'crm',
      path: '/v1/batch',
      body: batch({
        type: 'track',
        event: 'Email Clicked',
        userId: '100042',
        messageId: `esp-${random.hex(120)}`,
        timestamp: at(10),
        properties: { campaign_id: 'cmp_2412' },
      }),
      problem: 'A messageId longer than 100 characters.',
    },
  ];
}

// ---------------------------------------------------------------------------------------------

/** The whole demo data set, from a seed. */
export function generateDemo(options: DemoOptions): DemoData {
  const { seed, people: count, now } = options;
  if (!Number.isInteger(seed)) throw new RangeError(`The seed must be an integer, not ${seed}.`);
  if (!Number.isInteger(count) || count < 1)
    throw new RangeError(`The number of people must be a positive integer, not ${count}.`);
  if (!Number.isFinite(now)) throw new RangeError(`now must be a time in ms, not ${now}.`);
  const random = createRandom(seed);
  const people = createPeople(random, count, now);
  const g: World = {
    random,
    now,
    streams: { web: [], mobile: [], shop: [], crm: [] },
    counters: { webOrders: 0, appOrders: 0, shopOrders: 0 },
  };
  const signUps = new Map<Person, number>();
  for (const person of people) {
    if (person.kind === 'customer') onlineJourney(g, person, signUps);
    else if (person.kind !== 'shopper') visitorJourney(g, person);
    if (person.inShops) shopJourney(g, person);
  }
  emailEngagement(g, people, signUps);
  const crm = crmFile(random, people, now);

  const sources = (['web', 'mobile', 'shop', 'crm'] as const).map((key) => ({
    key,
    name: demoSourceNames[key],
    // Sorting is stable: events of one instant keep the order they happened in.
    events: [...g.streams[key]].sort((a, b) => a.at - b.at).map((emitted) => emitted.event),
  }));
  const anonymousIds = new Set<unknown>();
  for (const source of sources) {
    for (const event of source.events)
      if (event.anonymousId !== undefined) anonymousIds.add(event.anonymousId);
  }
  return {
    seed,
    now: iso(now),
    sources,
    crm,
    badPayloads: badPayloads(random, now),
    users: demoUsers,
    segments: demoSegments,
    computedTraits: demoComputedTraits,
    summary: {
      people: count,
      events: sources.reduce((sum, source) => sum + source.events.length, 0),
      anonymousIds: anonymousIds.size,
      userIds: people.filter((person) => person.userId !== null && signUps.has(person)).length,
      orders: g.counters.webOrders + g.counters.appOrders + g.counters.shopOrders,
      crmRows: crm.rows,
    },
  };
}
