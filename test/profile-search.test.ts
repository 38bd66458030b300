import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { adminToken, startTestCible, type TestCible } from './helpers.ts';

// The search box of the console sends what a person types as `q`: names and whole identifiers too.

interface Card {
  id: number;
  identifiers: { type: string; value: string }[];
  traits: Record<string, unknown>;
  lastSeen: string | null;
  events: number;
}

let cible: TestCible;
const people: Record<string, number> = {};

before(async () => {
  cible = await startTestCible();
  const crm = await cible.createSource('crm');
  const at = (minute: number) => new Date(Date.UTC(2026, 2, 1, 9, minute)).toISOString();
  const accepted = await cible.sendBatch(crm, [
    {
      type: 'identify',
      userId: 'search-jane',
      messageId: 's1',
      timestamp: at(0),
      traits: { firstName: 'Jane', lastName: 'Doe', email: 'Jane.Doe+news@gmail.com', city: 'Paris' },
    },
    { type: 'track', userId: 'search-jane', event: 'Viewed', messageId: 's2', timestamp: at(1) },
    {
      type: 'identify',
      userId: 'search-janet',
      messageId: 's3',
      timestamp: at(2),
      traits: { name: 'Janet  Smith', city: 'Lyon' },
    },
    {
      type: 'identify',
      userId: 'search-renamed',
      messageId: 's4',
      timestamp: at(3),
      traits: { name: 'Janine Roux', phone: '06 12 34 56 78' },
    },
    // The latest name is the one searched.
    {
      type: 'identify',
      userId: 'search-renamed',
      messageId: 's5',
      timestamp: at(4),
      traits: { name: 'Claire Roux' },
    },
    {
      type: 'identify',
      userId: 'jan-by-id',
      messageId: 's6',
      timestamp: at(5),
      traits: { firstName: 'Paul', city: 'Paris' },
    },
  ]);
  assert.deepEqual(accepted.rejected, []);
  for (const userId of ['search-jane', 'search-janet', 'search-renamed', 'jan-by-id']) {
    people[userId] = (await cible.admin<{ id: number }>(`/api/profiles?identifier=userId:${userId}`)).id;
  }
});
after(() => cible.close());

async function search(query: Record<string, string>): Promise<Card[]> {
  const response = await cible.app.inject({
    method: 'GET',
    url: `/api/profiles?${new URLSearchParams(query).toString()}`,
    headers: { authorization: `Bearer ${adminToken}` },
  });
  assert.equal(response.statusCode, 200, response.body);
  return response.json<{ profiles: Card[] }>().profiles;
}

const ids = async (query: Record<string, string>) => (await search(query)).map((card) => card.id);
const sorted = (...values: (number | undefined)[]) => values.map(Number).sort((a, b) => a - b);

test('q without a type finds first names, last names, full names and identifiers alike', async () => {
  assert.deepEqual(
    await ids({ q: 'jan' }),
    sorted(people['search-jane'], people['search-janet'], people['jan-by-id']),
  );
  assert.deepEqual(await ids({ q: 'JANE' }), sorted(people['search-jane'], people['search-janet']));
  assert.deepEqual(await ids({ q: 'jane d' }), [people['search-jane']]);
  assert.deepEqual(await ids({ q: 'doe' }), [people['search-jane']]);
  assert.deepEqual(
    await ids({ q: 'janet smith' }),
    [people['search-janet']],
    'spaces in the name are collapsed',
  );
  assert.deepEqual(await ids({ q: 'janine' }), [], 'a name the person no longer has');
  assert.deepEqual(await ids({ q: 'claire r' }), [people['search-renamed']]);
  assert.deepEqual(await ids({ q: 'jane x' }), []);
});

test('q naming a whole identifier finds it as normalised at ingestion', async () => {
  // Stored as janedoe@gmail.com: no prefix of it is "jane.doe+news".
  assert.deepEqual(await ids({ q: 'email:Jane.Doe+news@gmail.com' }), [people['search-jane']]);
  assert.deepEqual(await ids({ q: 'Jane.Doe+news@gmail.com' }), [people['search-jane']]);
  assert.deepEqual(await ids({ q: '+33 6 12 34 56 78' }), [people['search-renamed']]);
  assert.deepEqual(await ids({ q: 'phone:06.12.34.56.78' }), [people['search-renamed']]);
  assert.deepEqual(
    await ids({ q: 'email:janedoe@gmail.co' }),
    [people['search-jane']],
    'a prefix still works',
  );
  assert.deepEqual(await ids({ q: 'email:nobody@example.com' }), []);
});

test('q and trait filters combine; cards carry the number of events', async () => {
  assert.deepEqual(
    await ids({ q: 'jan', 'trait.city': 'paris' }),
    sorted(people['search-jane'], people['jan-by-id']),
  );
  const [jane] = await search({ q: 'jane d', 'trait.city': 'Paris' });
  assert.equal(jane?.id, people['search-jane']);
  assert.equal(jane?.events, 2);
  assert.deepEqual(jane?.traits, {
    firstName: 'Jane',
    lastName: 'Doe',
    email: 'Jane.Doe+news@gmail.com',
    city: 'Paris',
  });
  // A page of one hands the cursor on, names included.
  const first = await cible.app.inject({
    method: 'GET',
    url: '/api/profiles?q=jan&limit=1',
    headers: { authorization: `Bearer ${adminToken}` },
  });
  const page = first.json<{ profiles: Card[]; nextCursor: number | null }>();
  assert.equal(page.profiles.length, 1);
  assert.equal(page.nextCursor, page.profiles[0]?.id);
  assert.deepEqual(
    await ids({ q: 'jan', cursor: String(page.nextCursor) }),
    sorted(people['search-jane'], people['search-janet'], people['jan-by-id']).slice(1),
  );
});

test('a profile names the sources it mentions', async () => {
  const { sources } = await cible.admin<{ sources: { id: string; name: string }[] }>('/api/sources');
  const crm = sources.find((source) => source.name === 'crm');
  const profile = await cible.admin<{
    sourceNames: Record<string, string>;
    traits: Record<string, { sourceId: string }>;
  }>(`/api/profiles/${people['search-jane']}`);
  assert.equal(profile.traits.city?.sourceId, crm?.id);
  assert.deepEqual(profile.sourceNames, { [crm!.id]: 'crm' });
});
