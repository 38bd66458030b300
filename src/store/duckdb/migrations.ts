/**
 * Forward-only schema migrations of the DuckDB store. Each runs once, in order, in its own
 * transaction, and is recorded in `cible_migrations`. Never edit a released migration: add one.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'sources, events and quarantine',
    statements: [
      `CREATE TABLE sources (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        write_key VARCHAR NOT NULL UNIQUE,
        created_at TIMESTAMPTZ NOT NULL
      )`,
      // Typed columns for what every query filters on; JSON for the free-form objects.
      // No index: DuckDB scans columns with zone maps, and indexes slow bulk appends.
      `CREATE TABLE events (
        seq BIGINT NOT NULL,
        source_id VARCHAR NOT NULL,
        message_id VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        event VARCHAR,
        name VARCHAR,
        user_id VARCHAR,
        anonymous_id VARCHAR,
        group_id VARCHAR,
        previous_id VARCHAR,
        timestamp TIMESTAMPTZ NOT NULL,
        original_timestamp TIMESTAMPTZ,
        sent_at TIMESTAMPTZ,
        received_at TIMESTAMPTZ NOT NULL,
        properties JSON,
        traits JSON,
        context JSON,
        integrations JSON,
        extra JSON
      )`,
      `CREATE TABLE quarantine (
        id BIGINT PRIMARY KEY,
        source_id VARCHAR NOT NULL,
        received_at TIMESTAMPTZ NOT NULL,
        code VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        field VARCHAR,
        payload VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        batch_index INTEGER,
        message_id VARCHAR,
        ip VARCHAR,
        status VARCHAR NOT NULL,
        replayed_at TIMESTAMPTZ
      )`,
    ],
  },
  {
    version: 2,
    name: 'profiles and the identity graph',
    statements: [
      // The origin profile of the event's highest-priority identifier; never rewritten (decision 5).
      `ALTER TABLE events ADD COLUMN profile_id BIGINT`,
      `CREATE TABLE profiles (
        id BIGINT PRIMARY KEY,
        created_at TIMESTAMPTZ NOT NULL
      )`,
      `CREATE TABLE identities (
        type VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        origin_profile_id BIGINT NOT NULL,
        first_seen TIMESTAMPTZ NOT NULL,
        source_id VARCHAR NOT NULL,
        message_id VARCHAR NOT NULL
      )`,
      `CREATE TABLE merges (
        id BIGINT PRIMARY KEY,
        merged_at TIMESTAMPTZ NOT NULL,
        survivor BIGINT NOT NULL,
        absorbed BIGINT NOT NULL,
        kind VARCHAR NOT NULL,
        identifier_type VARCHAR,
        identifier_value VARCHAR,
        source_id VARCHAR,
        message_id VARCHAR,
        undone_at TIMESTAMPTZ
      )`,
      `CREATE TABLE identity_conflicts (
        seen_at TIMESTAMPTZ NOT NULL,
        reason VARCHAR NOT NULL,
        identifier_type VARCHAR NOT NULL,
        identifier_value VARCHAR NOT NULL,
        profiles BIGINT[] NOT NULL,
        source_id VARCHAR NOT NULL,
        message_id VARCHAR NOT NULL
      )`,
      `CREATE TABLE shared_identifiers (
        type VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        shared_at TIMESTAMPTZ NOT NULL
      )`,
      // Every value a trait was given, with where and when; profiles merge them when read (src/domain/traits.ts).
      `CREATE TABLE trait_observations (
        origin_profile_id BIGINT NOT NULL,
        name VARCHAR NOT NULL,
        value JSON,
        source_id VARCHAR NOT NULL,
        observed_at TIMESTAMPTZ NOT NULL,
        message_id VARCHAR NOT NULL
      )`,
    ],
  },
  {
    version: 3,
    name: 'import jobs and their rejected rows',
    statements: [
      `CREATE TABLE import_jobs (
        id VARCHAR PRIMARY KEY,
        source_id VARCHAR NOT NULL,
        file_name VARCHAR NOT NULL,
        mapping JSON NOT NULL,
        status VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        started_at TIMESTAMPTZ,
        finished_at TIMESTAMPTZ,
        bytes_total BIGINT NOT NULL,
        bytes_read BIGINT NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        events_accepted BIGINT NOT NULL,
        events_duplicate BIGINT NOT NULL,
        header VARCHAR,
        error_code VARCHAR,
        error_message VARCHAR,
        attempts INTEGER NOT NULL
      )`,
      // Rows an import did not store, as they stood in the file, to be fixed and imported again.
      `CREATE TABLE import_rejections (
        import_id VARCHAR NOT NULL,
        line BIGINT NOT NULL,
        code VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        field VARCHAR,
        raw VARCHAR NOT NULL
      )`,
    ],
  },
];
