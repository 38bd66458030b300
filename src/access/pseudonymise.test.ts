import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createPseudonymiser } from './pseudonymise.ts';

const pseudonymiser = createPseudonymiser({
  key: Buffer.alloc(32, 7),
  identifierTypes: ['email', 'userId', 'phone'],
});
const pseudonym = (kind: string, value: string): string => pseudonymiser.pseudonym(kind, value);

test('a pseudonym is stable, keyed, and differs per kind', () => {
  const one = pseudonym('email', 'ana@example.com');
  assert.match(one, /^ps_[\w-]{22}$/);
  assert.equal(pseudonym('email', 'ana@example.com'), one);
  assert.notEqual(pseudonym('userId', 'ana@example.com'), one);
  const other = createPseudonymiser({ key: Buffer.alloc(32, 8), identifierTypes: [] });
  assert.notEqual(other.pseudonym('email', 'ana@example.com'), one);
});

test('a profile answer keeps its shape; identifiers and personal traits become pseudonyms', () => {
  const profile = {
    id: 4,
    identifiers: [
      { type: 'email', value: 'ana@example.com', firstSeen: '2026-01-01T00:00:00.000Z' },
      { type: 'userId', value: 'u-4', firstSeen: '2026-01-01T00:00:00.000Z' },
    ],
    traits: {
      email: { value: 'ana@example.com', sourceId: 'src_1' },
      firstName: { value: 'Ana', sourceId: 'src_1' },
      city: { value: 'Lyon', sourceId: 'src_1' },
      plan: { value: 'pro', sourceId: 'src_1' },
    },
    merges: [{ id: 1, identifier: { type: 'phone', value: '+33612345678' } }],
    quality: {
      suspectedDuplicates: {
        name: 'ana martin',
        birthDate: '1990-01-02',
        postalCode: '69001',
        profiles: [9],
      },
    },
    segments: [{ id: 'seg_1', name: 'VIP' }],
  };
  const shown = pseudonymiser.answer(profile) as typeof profile;
  assert.deepEqual(shown.identifiers[0], {
    type: 'email',
    value: pseudonym('email', 'ana@example.com'),
    firstSeen: '2026-01-01T00:00:00.000Z',
  });
  assert.equal(shown.identifiers[1]?.value, pseudonym('userId', 'u-4'));
  assert.deepEqual(shown.traits.email, { value: pseudonym('email', 'ana@example.com'), sourceId: 'src_1' });
  assert.equal(shown.traits.firstName.value, pseudonym('firstName', 'Ana'));
  assert.deepEqual(shown.traits.city, { value: 'Lyon', sourceId: 'src_1' });
  assert.equal(shown.merges[0]?.identifier.value, pseudonym('phone', '+33612345678'));
  assert.deepEqual(shown.quality.suspectedDuplicates, {
    name: pseudonym('name', 'ana martin'),
    birthDate: pseudonym('birthDate', '1990-01-02'),
    postalCode: '69001',
    profiles: [9],
  });
  // A segment named like a person's trait is not touched: only traits and identifiers are.
  assert.deepEqual(shown.segments, [{ id: 'seg_1', name: 'VIP' }]);
  const text = JSON.stringify(shown);
  for (const secret of ['ana@example.com', 'u-4', 'Ana', '+33612345678', 'ana martin', '1990-01-02']) {
    assert.ok(!text.includes(`"${secret}"`), `${secret} is hidden`);
  }
});

test('cards and lists of {name, value} traits are pseudonymised too', () => {
  const cards = {
    profiles: [
      {
        id: 1,
        identifiers: [{ type: 'email', value: 'b@example.com' }],
        traits: { name: 'Bo', city: 'Nice' },
      },
    ],
    traits: [
      { name: 'lastName', value: 'Martin', members: 3 },
      { name: 'city', value: 'Nice', members: 9 },
    ],
  };
  const shown = pseudonymiser.answer(cards) as typeof cards;
  assert.deepEqual(shown.profiles[0]?.traits, { name: pseudonym('name', 'Bo'), city: 'Nice' });
  assert.equal(shown.profiles[0]?.identifiers[0]?.value, pseudonym('email', 'b@example.com'));
  assert.deepEqual(shown.traits[0], { name: 'lastName', value: pseudonym('lastName', 'Martin'), members: 3 });
  assert.deepEqual(shown.traits[1], { name: 'city', value: 'Nice', members: 9 });
});

test('traits named personal by the deployment are pseudonymised too', () => {
  const custom = createPseudonymiser({
    key: Buffer.alloc(32, 7),
    identifierTypes: [],
    personalTraits: ['nickname'],
  });
  assert.deepEqual(custom.answer({ traits: { nickname: 'Zaza', city: 'Nice' } }), {
    traits: { nickname: custom.pseudonym('nickname', 'Zaza'), city: 'Nice' },
  });
});
