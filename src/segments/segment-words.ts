/**
 * The words of the segment language: keywords, which a name can only be in double quotes, and how
 * a name is written. Shared by the parser and printer (segment-text.ts) and the console's form
 * builder, so both quote names the same way.
 */
export const keywords = new Set([
  'and',
  'or',
  'not',
  'trait',
  'event',
  'count',
  'sum',
  'min',
  'max',
  'avg',
  'first',
  'last',
  'in',
  'segment',
  'has',
  'where',
  'between',
  'contains',
  'exists',
  'before',
  'after',
  'within',
  'ago',
  'true',
  'false',
  'minute',
  'minutes',
  'hour',
  'hours',
  'day',
  'days',
  'week',
  'weeks',
]);

export const bareName = /^[A-Za-z_][A-Za-z0-9_$-]*$/;

/** A trait, property or purpose name: bare when the language allows it, else in double quotes. */
export function writeName(name: string): string {
  return bareName.test(name) && !keywords.has(name.toLowerCase()) ? name : JSON.stringify(name);
}
