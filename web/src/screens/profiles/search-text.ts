/**
 * What a person types in the profile search box, as the API's search parameters. Pure: no DOM,
 * no clock, so the tests can run it in Node.
 *
 * - `email:jane@example.com`, `phone:06 12`, `userId:u-42` (any identifier type): `q=<type>:<value>`,
 *   a prefix or the whole identifier;
 * - `city:Paris`, `address.postal_code:750*` (any other name): `trait.<name>=<value>`, equal ignoring
 *   case, or starting with it when it ends with `*`;
 * - other text (`jane`, `jane doe`, a bare e-mail address or phone number): `q=<text>`, which the
 *   API matches against every identifier and the person's name;
 * - `#42` or `id:42`: open profile 42.
 *
 * Criteria combine with AND. A value runs to the next `name:`, so `city:New York` is one criterion.
 */

/** The identifier types Cible knows out of the box (src/domain/identifiers.ts). */
export const identifierTypes = [
  'userId',
  'anonymousId',
  'email',
  'phone',
  'deviceId',
  'advertisingId',
  'loyaltyId',
  'crmId',
  'facebookId',
  'instagramId',
  'twitterId',
  'linkedinId',
] as const;

export type SearchCriterion =
  | { readonly kind: 'text'; readonly value: string }
  | { readonly kind: 'identifier'; readonly type: string; readonly value: string }
  | { readonly kind: 'trait'; readonly name: string; readonly value: string };

export type SearchRequest =
  | { readonly kind: 'empty' }
  | { readonly kind: 'open'; readonly id: number }
  | {
      readonly kind: 'search';
      readonly criteria: readonly SearchCriterion[];
      /** Query parameters of GET /api/profiles. */
      readonly query: Readonly<Record<string, string>>;
      /** Whether a criterion looks people up by an identifier or a name (refused to analysts). */
      readonly personal: boolean;
    }
  | { readonly kind: 'invalid'; readonly reason: 'twoIdentifiers' | 'emptyValue'; readonly name?: string };

const criterionStart = /^([A-Za-z_][\w-]*(?:\.[\w-]+)*):(.*)$/;

export function parseSearchText(text: string): SearchRequest {
  const trimmed = text.trim();
  if (trimmed === '') return { kind: 'empty' };
  const open = /^(?:#|id:\s*)(\d{1,15})$/i.exec(trimmed);
  if (open?.[1] !== undefined) return { kind: 'open', id: Number(open[1]) };

  let free = '';
  const named: { name: string; value: string }[] = [];
  for (const word of trimmed.split(/\s+/)) {
    const start = criterionStart.exec(word);
    // "http://…" or "10:30" are words, not criteria: a criterion's name starts with a letter.
    if (start?.[1] !== undefined && !start[2]?.startsWith('//')) {
      named.push({ name: start[1], value: start[2] ?? '' });
    } else if (named.length > 0) {
      const last = named[named.length - 1]!;
      last.value = last.value === '' ? word : `${last.value} ${word}`;
    } else {
      free = free === '' ? word : `${free} ${word}`;
    }
  }

  const criteria: SearchCriterion[] = [];
  if (free !== '') criteria.push({ kind: 'text', value: free });
  for (const { name, value } of named) {
    if (value.trim() === '') return { kind: 'invalid', reason: 'emptyValue', name };
    const type = identifierTypes.find((known) => known.toLowerCase() === name.toLowerCase());
    if (type !== undefined) criteria.push({ kind: 'identifier', type, value: value.trim() });
    else criteria.push({ kind: 'trait', name: name.replace(/^trait\./, ''), value: value.trim() });
  }

  // The API takes one q: free text or one identifier.
  const personal = criteria.filter((criterion) => criterion.kind !== 'trait');
  if (personal.length > 1) return { kind: 'invalid', reason: 'twoIdentifiers' };
  const query: Record<string, string> = {};
  for (const criterion of criteria) {
    if (criterion.kind === 'text') query.q = criterion.value;
    else if (criterion.kind === 'identifier') query.q = `${criterion.type}:${criterion.value}`;
    else query[`trait.${criterion.name}`] = criterion.value;
  }
  return { kind: 'search', criteria, query, personal: personal.length > 0 };
}
