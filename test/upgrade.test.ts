import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import type { EventOutput } from '../src/domain/events.ts';
import { databaseFileName } from '../src/store/duckdb/duckdb-store.ts';
import { migrations } from '../src/store/duckdb/migrations.ts';
import { basic, removeTestDir, startTestCible, testDataDir } from './helpers.ts';

const t0 = Date.UTC(2025, 2, 1, 9);
const minute = 60_000;

/** A database as Cible left it before profiles existed: migration 1 only, events without a profile. */
async function databaseAtMigration1(dataDir: string): Promise<void> {
  const instance = await DuckDBInstance.create(join(dataDir, databaseFileName));
  const connection = await instance.connect();
  await connection.run(`CREATE TABLE cible_migrations (
    version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`);
  const first = migrations.find((migration) => migration.version === 1)!;
  for (const statement of first.statements) await connection.run(statement);
  await connection.run(`INSERT INTO cible_migrations VALUES (1, ?, now())`, [first.name]);
  await connection.run(`INSERT INTO sources VALUES ('src_old', 'old site', 'wk-old', now())`);
  const events: [
    string,
    string,
    string | null,
    string | null,
    string | null,
    number,
    string | null,
    string | null,
  ][] = [
    // type, messageId, userId, anonymousId, previousId, minute, properties, traits
    ['page', 'o1', null, 'laptop', null, 0, null, null],
    ['identify', 'o2', 'ann', 'laptop', null, 1, null, '{"email":"Ann@Example.com","city":"Nice"}'],
    ['track', 'o3', 'ann', null, null, 2, '{"revenue":20}', null],
    ['page', 'o4', null, 'phone', null, 90, null, null],
    ['alias', 'o5', 'ann', null, 'phone', 91, null, null],
    ['track', 'o6', null, 'stranger', null, 95, null, null],
  ];
  for (const [
    index,
    [type, messageId, userId, anonymousId, previousId, at, properties, traits],
  ] of events.entries()) {
    await connection.run(
      `INSERT INTO events (seq, source_id, message_id, type, event, name, user_id, anonymous_id, previous_id,
                           timestamp, received_at, properties, traits)
       VALUES (?, 'src_old', ?, ?, ?, NULL, ?, ?, ?, make_timestamptz(?::BIGINT * 1000), make_timestamptz(?::BIGINT * 1000), ?, ?)`,
      [
        index + 1,
        messageId,
        type,
        type === 'track' ? (properties === null ? 'Viewed' : 'Order Completed') : null,
        userId,
        anonymousId,
        previousId,
        t0 + at * minute,
        t0 + at * minute,
        properties,
        traits,
      ],
    );
  }
  connection.closeSync();
  instance.closeSync();
}

interface Profile {
  id: number;
  identifiers: { type: string; value: string }[];
  traits: Record<string, { value: unknown }>;
  summary: { events: number; sessions: number; purchases: number; revenue: number };
}

test('a database from before profiles upgrades: its events are resolved to profiles at start', async () => {
  const dataDir = await testDataDir();
  try {
    await databaseAtMigration1(dataDir);

    const first = await startTestCible({}, dataDir);
    const ann = await first.admin<Profile>('/api/profiles?identifier=email:ann@example.com');
    assert.deepEqual(ann.identifiers.map((identifier) => `${identifier.type}:${identifier.value}`).sort(), [
      'anonymousId:laptop',
      'anonymousId:phone',
      'email:ann@example.com',
      'userId:ann',
    ]);
    assert.deepEqual(ann.summary, { ...ann.summary, events: 5, sessions: 2, purchases: 1, revenue: 20 });
    assert.equal(ann.traits.city?.value, 'Nice');
    const stranger = await first.admin<Profile>('/api/profiles?identifier=anonymousId:stranger');
    assert.notEqual(stranger.id, ann.id);
    const { events } = await first.admin<{ events: EventOutput[] }>('/api/events?limit=100');
    assert.equal(events.length, 6);
    assert.ok(
      events.every((event) => typeof event.profileId === 'number'),
      'every old event has a profile',
    );

    // New events find the profiles of the old ones.
    const response = await first.app.inject({
      method: 'POST',
      url: '/v1/track',
      headers: { authorization: basic('wk-old'), 'content-type': 'application/json' },
      payload: { userId: 'ann', event: 'Came Back', messageId: 'n1' },
    });
    assert.equal(response.statusCode, 200, response.body);
    const stats = await first.admin<{ profiles: number; identifiers: number }>('/api/stats');
    await first.close();

    // Nothing is resolved twice: a second start finds the same people.
    const second = await startTestCible({}, dataDir);
    const restarted = await second.admin<{ profiles: number; identifiers: number }>('/api/stats');
    assert.deepEqual([restarted.profiles, restarted.identifiers], [stats.profiles, stats.identifiers]);
    assert.equal(stats.profiles, 2);
    const again = await second.admin<Profile>('/api/profiles?identifier=userId:ann');
    assert.equal(again.id, ann.id);
    assert.equal(again.summary.events, 6);
    await second.close();

    const instance = await DuckDBInstance.create(join(dataDir, databaseFileName));
    const connection = await instance.connect();
    const versions = (await connection.runAndReadAll('SELECT version FROM cible_migrations ORDER BY version'))
      .getRows()
      .map(([version]) => Number(version));
    connection.closeSync();
    instance.closeSync();
    assert.deepEqual(
      versions,
      migrations.map((migration) => migration.version).sort((a, b) => a - b),
    );
  } finally {
    await removeTestDir(dataDir);
  }
});

test('a database from before trait keys upgrades: the traits already observed count for quality', async () => {
  const dataDir = await testDataDir();
  try {
    const instance = await DuckDBInstance.create(join(dataDir, databaseFileName));
    const connection = await instance.connect();
    await connection.run(`CREATE TABLE cible_migrations (
      version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`);
    for (const migration of migrations.filter((each) => each.version <= 2)) {
      for (const statement of migration.statements) await connection.run(statement);
      await connection.run(`INSERT INTO cible_migrations VALUES (?, ?, now())`, [
        migration.version,
        migration.name,
      ]);
    }
    await connection.run(`INSERT INTO sources VALUES ('src_old', 'old site', 'wk-old', now())`);
    const at = 'make_timestamptz(?::BIGINT * 1000)';
    for (const [id, userId] of [
      [1, 'crm-1'],
      [2, 'shop-9'],
    ] as const) {
      await connection.run(`INSERT INTO profiles VALUES (?, ${at})`, [id, t0]);
      await connection.run(`INSERT INTO identities VALUES ('userId', ?, ?, ${at}, 'src_old', ?)`, [
        userId,
        id,
        t0,
        `m${id}`,
      ]);
      await connection.run(
        `INSERT INTO events (seq, source_id, message_id, type, user_id, timestamp, received_at, profile_id)
         VALUES (?, 'src_old', ?, 'identify', ?, ${at}, ${at}, ?)`,
        [id, `m${id}`, userId, t0, t0, id],
      );
    }
    const traits: [number, string, unknown][] = [
      [1, 'firstName', 'Zoé'],
      [1, 'lastName', "O'Neil"],
      [1, 'birthday', '1979-08-30'],
      [1, 'postalCode', 'sw1a 1aa'],
      [2, 'name', 'ZOE  O NEIL'],
      [2, 'birthDate', '30/08/1979'],
      [2, 'address', { postal_code: 'SW1A 1AA', city: 'London' }],
    ];
    for (const [origin, name, value] of traits) {
      await connection.run(`INSERT INTO trait_observations VALUES (?, ?, ?, 'src_old', ${at}, 'm')`, [
        origin,
        name,
        JSON.stringify(value),
        t0,
      ]);
    }
    connection.closeSync();
    instance.closeSync();

    const cible = await startTestCible({}, dataDir);
    const report = await cible.admin<{ duplicates: { groups: number; sample: unknown[] } }>('/api/quality');
    assert.deepEqual(report.duplicates.sample, [
      { name: 'zoe o neil', birthDate: '1979-08-30', postalCode: 'SW1A1AA', profiles: [1, 2] },
    ]);
    const profile = await cible.admin<{ quality: { suspectedDuplicates: { profiles: number[] } } }>(
      '/api/profiles/2',
    );
    assert.deepEqual(profile.quality.suspectedDuplicates.profiles, [1]);
    await cible.close();
  } finally {
    await removeTestDir(dataDir);
  }
});
