/**
 * The cursor of the page after this one: the key of its last row when the page is full, null when
 * it is the last page.
 */
export function nextCursor<T>(rows: readonly T[], limit: number, keyOf: (row: T) => number): number | null {
  const last = rows.at(-1);
  return rows.length === limit && last !== undefined ? keyOf(last) : null;
}
