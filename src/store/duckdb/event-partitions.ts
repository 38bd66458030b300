/**
 * Events are stored in `eventPartitionCount` tables, `events_p0` to `events_p15`, by origin
 * profile: an event without a profile and the events of profiles whose id is a multiple of the
 * count go to `events_p0`, the others to `events_p<profile id modulo the count>`. The view `events`
 * is their union, for every read. Writes name the partitions.
 *
 * Why: erasing a person must end with their bytes gone from the file (decision 11), and DuckDB only
 * drops deleted rows' bytes when it writes the table again. A person's events are spread over the
 * whole arrival order, so over every block of one table; with partitions, they sit in the one
 * partition of each of their origin profiles, and a purge rewrites a sixteenth of the events.
 */
export const eventPartitionCount = 16;

/** The partition of an event stored with this origin profile (or none). */
export function eventPartitionOf(profileId: number | null): number {
  return profileId === null ? 0 : profileId % eventPartitionCount;
}

export function eventPartitionTable(partition: number): string {
  if (!Number.isInteger(partition) || partition < 0 || partition >= eventPartitionCount) {
    throw new Error(`${partition} is not an event partition.`);
  }
  return `events_p${partition}`;
}

export const eventPartitionTables: readonly string[] = Array.from(
  { length: eventPartitionCount },
  (_, partition) => eventPartitionTable(partition),
);

/** The partition as SQL, over a `profile_id` column (or another expression naming it). */
export function eventPartitionSql(profileId = 'profile_id'): string {
  return `(coalesce(${profileId}, 0) % ${eventPartitionCount})`;
}

/** The partitions holding the events of these origin profiles (and of events without one, if asked), ascending. */
export function eventPartitionsOf(profileIds: Iterable<number>, withoutProfile = false): number[] {
  const partitions = new Set<number>(withoutProfile ? [0] : []);
  for (const id of profileIds) partitions.add(eventPartitionOf(id));
  return [...partitions].sort((a, b) => a - b);
}

/** `CREATE VIEW events`, the union of the partitions; made again whenever their columns change. */
export const createEventsView = `CREATE OR REPLACE VIEW events AS ${eventPartitionTables
  .map((table) => `SELECT * FROM ${table}`)
  .join(' UNION ALL ')}`;

/**
 * `INSERT INTO events ...` for SQL that builds rows: one INSERT per partition, each taking the rows
 * of its partition from `source` (a table or a parenthesised query with a `profile_id` column and
 * the columns listed).
 */
export function insertIntoEventPartitions(columns: string, source: string): string[] {
  return eventPartitionTables.map(
    (table, partition) =>
      `INSERT INTO ${table} (${columns}) SELECT ${columns} FROM ${source} AS cible_rows
       WHERE ${eventPartitionSql('cible_rows.profile_id')} = ${partition}`,
  );
}

/** Above this many partitions, a read by profile scans the union once (see eventsOfProfiles). */
const manyPartitions = 4;

/**
 * The events of some origin profiles, for reads by profile: the union of the partitions that can
 * hold them, each read through its row ids (DuckDB then reads the wide columns of the matching rows
 * only). `select` is a SELECT list over `e` and what `join` adds; `profileFilter` is the condition
 * on the unqualified column `profile_id` that finds the rows.
 */
export function eventsOfProfiles(
  partitions: readonly number[],
  select: string,
  join: string,
  profileFilter: string,
): string {
  if (partitions.length === 0) return `(SELECT ${select} FROM events e ${join} WHERE false)`;
  // Many profiles at once (the documents builder) span most partitions: one scan of the union
  // then costs less memory than a row-id lookup per partition.
  if (partitions.length > manyPartitions) {
    return `(SELECT ${select} FROM events e ${join} WHERE ${profileFilter})`;
  }
  return `(${partitions
    .map((partition) => {
      const table = eventPartitionTable(partition);
      return `SELECT ${select} FROM ${table} e ${join}
       WHERE e.rowid IN (SELECT rowid FROM ${table} WHERE ${profileFilter})`;
    })
    .join(' UNION ALL ')})`;
}
