/**
 * The mapping of an import file as the console builds it: a role for each column of the file
 * (docs/imports.md), guessed from the column's name and changed by the person importing.
 */
export type ImportKind = 'customers' | 'transactions';

export type ColumnRole =
  'ignore' | 'identifier' | 'trait' | 'property' | 'product' | 'orderId' | 'consent' | 'timestamp';

export type ValueType = 'string' | 'number' | 'integer' | 'boolean' | 'date' | 'json';

export interface ColumnChoice {
  readonly role: ColumnRole;
  /** identifier: its type; trait, property, product: its name; consent: the purpose; timestamp: the format. */
  readonly target: string;
  /** trait, property, product: how the cell is read. */
  readonly type: ValueType;
  /** type date: the pattern of the cell. */
  readonly format: string;
}

export interface FilePreview {
  readonly format: { readonly type: 'csv' | 'whitespace' | 'ndjson'; readonly delimiter: string | null };
  readonly columns: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** The identifier types every Cible knows (a deployment's own come from its rules file). */
export const identifierTypes = [
  'email',
  'phone',
  'userId',
  'anonymousId',
  'loyaltyId',
  'crmId',
  'deviceId',
  'advertisingId',
  'facebookId',
  'instagramId',
  'twitterId',
  'linkedinId',
] as const;

/** The consent purposes every Cible records (a deployment's own come from its rules file). */
export const consentPurposes = [
  'email',
  'sms',
  'push',
  'postal',
  'phone',
  'analytics',
  'personalization',
  'advertising',
] as const;

export const valueTypes: readonly ValueType[] = ['string', 'number', 'integer', 'boolean', 'date', 'json'];

export const timestampFormats = [
  'iso',
  'unix',
  'unix_ms',
  'DD/MM/YYYY',
  'DD/MM/YYYY HH:mm',
  'YYYY-MM-DD',
  'YYYYMMDD',
];

export const suggestedNames: Readonly<Record<'trait' | 'property' | 'product', readonly string[]>> = {
  trait: [
    'firstName',
    'lastName',
    'name',
    'birthday',
    'gender',
    'city',
    'postalCode',
    'country',
    'company',
    'title',
  ],
  property: ['revenue', 'total', 'currency', 'store', 'coupon', 'discount', 'shipping', 'tax'],
  product: ['sku', 'name', 'price', 'quantity', 'category', 'brand'],
};

export function rolesFor(kind: ImportKind): readonly ColumnRole[] {
  return kind === 'customers'
    ? ['identifier', 'trait', 'consent', 'timestamp', 'ignore']
    : ['identifier', 'orderId', 'property', 'product', 'timestamp', 'consent', 'ignore'];
}

/** Lower case, accents and punctuation gone: "Date de naissance" → "datedenaissance". */
function plain(name: string): string {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '');
}

/** "First name" → "firstName", the spelling of the Segment spec's traits. */
export function camelCase(name: string): string {
  const words = name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .split(/[^A-Za-z0-9]+/)
    .filter((word) => word !== '');
  return words
    .map((word, index) =>
      index === 0
        ? word.charAt(0).toLowerCase() + word.slice(1)
        : word.charAt(0).toUpperCase() + word.slice(1),
    )
    .join('');
}

function choice(role: ColumnRole, target = '', type: ValueType = 'string', format = ''): ColumnChoice {
  return { role, target, type, format };
}

/** What a column most likely is, from its name: a guess the person importing checks. */
export function guessColumn(name: string, kind: ImportKind): ColumnChoice {
  const key = plain(name);
  if (/optin|consent|newsletter|subscribed/.test(key)) {
    return choice('consent', /sms/.test(key) ? 'sms' : /postal|courrier/.test(key) ? 'postal' : 'email');
  }
  if (/^(e?mail|emailaddress|courriel|adressemail|adresseemail)$/.test(key) || /email/.test(key)) {
    return choice('identifier', 'email');
  }
  if (/phone|mobile|portable|^tel|telephone|gsm/.test(key)) return choice('identifier', 'phone');
  if (/^(userid|user)$/.test(key)) return choice('identifier', 'userId');
  if (/^(anonymousid|anonid)$/.test(key)) return choice('identifier', 'anonymousId');
  if (/card|loyalty|fidelite|carte/.test(key)) return choice('identifier', 'loyaltyId');
  if (kind === 'transactions' && /order|ticket|receipt|commande|invoice|facture/.test(key))
    return choice('orderId');
  if (/customer|client|crm|member|adherent/.test(key)) return choice('identifier', 'crmId');
  if (/birth|naissance/.test(key)) return choice(kind === 'customers' ? 'trait' : 'ignore', 'birthday');
  if (/date|time|updated|created|heure|^when$/.test(key)) return choice('timestamp', 'iso');
  if (kind === 'transactions') {
    if (/sku|ean|barcode|productid|article|reference|^ref$/.test(key)) return choice('product', 'sku');
    if (/qty|quantity|quantite/.test(key)) return choice('product', 'quantity', 'integer');
    if (/unitprice|^price$|prix/.test(key)) return choice('product', 'price', 'number');
    if (/label|libelle|designation|productname/.test(key)) return choice('product', 'name');
    if (/category|categorie|rayon/.test(key)) return choice('product', 'category');
    if (/total|amount|revenue|montant/.test(key)) return choice('property', 'revenue', 'number');
    if (/currency|devise/.test(key)) return choice('property', 'currency');
    if (/store|shop|magasin|boutique/.test(key)) return choice('property', 'store');
    return choice('property', camelCase(name));
  }
  return choice('trait', camelCase(name));
}

/** Receipts have order ids, products and quantities; anything else is taken for a customers file. */
export function guessKind(columns: readonly string[]): ImportKind {
  return columns.some((name) => /sku|qty|quantit|ticket|receipt|orderid|commande|unitprice/.test(plain(name)))
    ? 'transactions'
    : 'customers';
}

/** A choice made for one kind of file, fitted to the other (traits become properties...). */
export function fitChoice(name: string, current: ColumnChoice, kind: ImportKind): ColumnChoice {
  return rolesFor(kind).includes(current.role) ? current : guessColumn(name, kind);
}

export interface MappingInput {
  readonly kind: ImportKind;
  readonly preview: FilePreview;
  readonly choices: Readonly<Record<string, ColumnChoice>>;
  /** IANA time zone of dates written without one. */
  readonly timezone?: string;
}

type ColumnSpec = Record<string, string | boolean>;

/** The mapping POST /api/imports takes (docs/imports.md); ignored columns are left out. */
export function buildMapping(input: MappingInput): Record<string, unknown> {
  const columns: Record<string, ColumnSpec> = {};
  let orderId: string | undefined;
  for (const name of input.preview.columns) {
    const chosen = input.choices[name];
    if (chosen === undefined || chosen.role === 'ignore') continue;
    if (chosen.role === 'orderId') {
      orderId = name;
      continue;
    }
    if (chosen.role === 'trait' || chosen.role === 'property' || chosen.role === 'product') {
      const spec: ColumnSpec = { [chosen.role]: chosen.target.trim() };
      if (chosen.type !== 'string') spec.type = chosen.type;
      if (chosen.type === 'date' && chosen.format.trim() !== '') spec.format = chosen.format.trim();
      columns[name] = spec;
    } else {
      columns[name] = { [chosen.role]: chosen.target.trim() };
    }
  }
  const { type, delimiter } = input.preview.format;
  return {
    kind: input.kind,
    format: type === 'csv' && delimiter !== null ? { type, delimiter } : { type },
    columns,
    ...(orderId === undefined ? {} : { orderId }),
    ...(input.timezone === undefined || input.timezone === '' ? {} : { timezone: input.timezone }),
  };
}

/** What keeps the import from running, before the server is asked: the two mistakes most made. */
export function missingRoles(
  kind: ImportKind,
  choices: readonly ColumnChoice[],
): ('identifier' | 'timestamp' | 'target')[] {
  const missing: ('identifier' | 'timestamp' | 'target')[] = [];
  if (!choices.some((chosen) => chosen.role === 'identifier')) missing.push('identifier');
  if (kind === 'transactions' && !choices.some((chosen) => chosen.role === 'timestamp'))
    missing.push('timestamp');
  if (
    choices.some(
      (chosen) => chosen.role !== 'ignore' && chosen.role !== 'orderId' && chosen.target.trim() === '',
    )
  ) {
    missing.push('target');
  }
  return missing;
}
