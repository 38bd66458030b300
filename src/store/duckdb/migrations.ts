import { traitKeysFrom } from './duckdb-trait-keys.ts';
import { createEventsView, eventPartitionSql, eventPartitionTables } from './event-partitions.ts';

/**
 * Forward-only schema migrations of the DuckDB store. Each runs once, in order of version, in its
 * own transaction, and is recorded in `cible_migrations`; a version missing from a database is
 * applied whenever it appears, so versions must not depend on a later one. Never edit a released
 * migration: add one.
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
  {
    version: 4,
    name: 'identifier sightings and rejections, trait keys',
    statements: [
      // When each identifier was last seen: one row per identifier per committed batch, with the
      // batch's latest event time, aggregated when read. userId and anonymousId are read from the
      // events' own columns instead, so most events add no row here.
      `CREATE TABLE identifier_sightings (
        type VARCHAR NOT NULL,
        value VARCHAR NOT NULL,
        seen_at TIMESTAMPTZ NOT NULL
      )`,
      // Identifier values refused at ingestion (invalid, placeholder...), counted per batch, source,
      // type and reason, with one example; the events themselves are stored with their raw values.
      `CREATE TABLE identifier_rejections (
        seen_at TIMESTAMPTZ NOT NULL,
        source_id VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        count INTEGER NOT NULL,
        example_value VARCHAR,
        example_reason VARCHAR NOT NULL,
        example_message_id VARCHAR NOT NULL
      )`,
      // The traits data quality compares, normalised when observed (see duckdb-trait-keys.ts).
      `CREATE TABLE trait_keys (
        origin_profile_id BIGINT NOT NULL,
        part VARCHAR NOT NULL,
        key VARCHAR,
        key_hash UBIGINT,
        observed_at TIMESTAMPTZ NOT NULL
      )`,
      // The traits observed so far. Built with today's normalisation: a change to it needs a
      // migration that rebuilds this table.
      `INSERT INTO trait_keys ${traitKeysFrom('trait_observations')}`,
    ],
  },
  {
    version: 5,
    name: 'ingest log position',
    statements: [
      // The last ingest-log batch the store holds: batches after it are loaded again at start.
      `CREATE TABLE ingest_log (applied_seq BIGINT NOT NULL)`,
      `INSERT INTO ingest_log VALUES (0)`,
    ],
  },
  {
    version: 6,
    name: 'segments and their membership',
    statements: [
      `CREATE TABLE segments (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        description VARCHAR NOT NULL,
        rule JSON NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        deleted_at TIMESTAMPTZ
      )`,
      // Every entry and exit, appended: the Segment Entered / Segment Exited events, who is in a
      // segment now (whose latest change is an entry), and sizes over time.
      `CREATE TABLE segment_changes (
        seq BIGINT NOT NULL,
        segment_id VARCHAR NOT NULL,
        profile_id BIGINT NOT NULL,
        entered BOOLEAN NOT NULL,
        changed_at TIMESTAMPTZ NOT NULL
      )`,
    ],
  },
  {
    version: 7,
    name: 'computed traits',
    statements: [
      `CREATE TABLE computed_traits (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        description VARCHAR NOT NULL,
        expression JSON NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        deleted_at TIMESTAMPTZ
      )`,
    ],
  },
  {
    version: 8,
    name: 'users, API tokens, sessions, audit log, revocable write keys',
    statements: [
      'ALTER TABLE sources ADD COLUMN revoked_at TIMESTAMPTZ',
      `CREATE TABLE users (
        id VARCHAR PRIMARY KEY,
        email VARCHAR NOT NULL,
        password_hash VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        disabled_at TIMESTAMPTZ,
        failed_logins INTEGER NOT NULL,
        locked_until TIMESTAMPTZ
      )`,
      `CREATE TABLE api_tokens (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        role VARCHAR NOT NULL,
        token_hash VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        created_by VARCHAR NOT NULL,
        last_used_at TIMESTAMPTZ,
        revoked_at TIMESTAMPTZ
      )`,
      `CREATE TABLE sessions (
        id_hash VARCHAR PRIMARY KEY,
        user_id VARCHAR NOT NULL,
        csrf_token VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
      )`,
      // Append-only: nothing in Cible updates or deletes a row of it.
      `CREATE TABLE audit_log (
        seq BIGINT NOT NULL,
        logged_at TIMESTAMPTZ NOT NULL,
        actor_type VARCHAR NOT NULL,
        actor_id VARCHAR,
        actor_name VARCHAR,
        role VARCHAR,
        action VARCHAR NOT NULL,
        target_type VARCHAR,
        target_id VARCHAR,
        ip VARCHAR,
        detail JSON
      )`,
    ],
  },
  {
    version: 9,
    name: 'consent changes',
    statements: [
      // Every change of a person's consent, per origin profile: a profile's consent is the fold of
      // its origins' changes in order (src/domain/consent.ts, foldConsent).
      `CREATE TABLE consent_changes (
        seq BIGINT NOT NULL,
        profile_id BIGINT NOT NULL,
        purpose VARCHAR NOT NULL,
        state VARCHAR NOT NULL,
        double_opt_in VARCHAR,
        expressed_at TIMESTAMPTZ NOT NULL,
        source_id VARCHAR NOT NULL,
        message_id VARCHAR NOT NULL,
        method VARCHAR NOT NULL,
        detail VARCHAR
      )`,
    ],
  },
  {
    version: 10,
    name: 'erasures and the suppression list',
    statements: [
      // People erased: what was removed, and when the files were rewritten without the freed bytes.
      `CREATE TABLE erasures (
        id VARCHAR PRIMARY KEY,
        profile_id BIGINT NOT NULL,
        requested_by VARCHAR NOT NULL,
        erased_at TIMESTAMPTZ NOT NULL,
        removed JSON NOT NULL,
        purged_at TIMESTAMPTZ
      )`,
      // Keyed hashes of erased identifiers: later events carrying one are dropped, not stored.
      `CREATE TABLE suppressed_identifiers (
        hash VARCHAR PRIMARY KEY,
        type VARCHAR NOT NULL,
        suppressed_at TIMESTAMPTZ NOT NULL,
        erasure_id VARCHAR NOT NULL
      )`,
      `CREATE TABLE privacy_counters (dropped_events BIGINT NOT NULL)`,
      'INSERT INTO privacy_counters VALUES (0)',
    ],
  },
  {
    version: 11,
    name: 'retention runs',
    statements: [
      // Each run of the retention job: when, and how many raw events each rule deleted.
      `CREATE TABLE retention_runs (
        ran_at TIMESTAMPTZ NOT NULL,
        deleted JSON NOT NULL
      )`,
    ],
  },
  {
    version: 12,
    name: 'events partitioned by origin profile',
    statements: [
      // See event-partitions.ts: a purge rewrites only the partitions that held erased people.
      ...eventPartitionTables.flatMap((table, partition) => [
        `CREATE TABLE ${table} (
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
          extra JSON,
          profile_id BIGINT
        )`,
        `INSERT INTO ${table} SELECT * FROM events WHERE ${eventPartitionSql()} = ${partition} ORDER BY seq`,
      ]),
      'DROP TABLE events',
      createEventsView,
      // The partitions each erasure deleted events from: the ones its purge rewrites.
      'ALTER TABLE erasures ADD COLUMN event_partitions JSON',
    ],
  },
  {
    version: 13,
    name: 'event roll-ups kept by retention',
    statements: [
      // What the retention job deleted, added up per origin profile and kind of event, so that the
      // profile summaries still count it: events, sessions they started, revenue, first and last.
      `CREATE TABLE event_rollups (
        profile_id BIGINT NOT NULL,
        source_id VARCHAR NOT NULL,
        type VARCHAR NOT NULL,
        event VARCHAR,
        channel VARCHAR,
        library VARCHAR,
        events BIGINT NOT NULL,
        sessions BIGINT NOT NULL,
        revenue DOUBLE NOT NULL,
        first_at TIMESTAMPTZ NOT NULL,
        last_at TIMESTAMPTZ NOT NULL
      )`,
    ],
  },
  {
    version: 14,
    name: 'computed trait roll-ups kept by retention',
    statements: [
      // What the retention job deleted, added up per origin profile, day (and value, for mode and
      // distinct) for each computed trait, by the key of its expression (see ExpressionRollup).
      `CREATE TABLE computed_trait_rollups (
        expression_key VARCHAR NOT NULL,
        event VARCHAR NOT NULL,
        profile_id BIGINT NOT NULL,
        first_at TIMESTAMPTZ NOT NULL,
        last_at TIMESTAMPTZ NOT NULL,
        events BIGINT NOT NULL,
        numbers BIGINT NOT NULL,
        value JSON
      )`,
    ],
  },
];
