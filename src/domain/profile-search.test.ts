import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultIdentifierRules } from './identifiers.ts';
import { identifierPrefixes, parseTraitFilter, traitMatches } from './profile-search.ts';

const rules = defaultIdentifierRules;

test('a typed search normalises its prefix as ingestion normalises values', () => {
  assert.deepEqual(identifierPrefixes('email: Jane.D', rules), [{ type: 'email', prefix: 'jane.d' }]);
  assert.deepEqual(identifierPrefixes('phone:06 12', rules), [{ type: 'phone', prefix: '+33612' }]);
  assert.deepEqual(identifierPrefixes('phone:+44 20', rules), [{ type: 'phone', prefix: '+4420' }]);
  assert.deepEqual(identifierPrefixes('userId:AB-1', rules), [{ type: 'userId', prefix: 'AB-1' }]);
  assert.deepEqual(identifierPrefixes('email:', rules), []);
});

test('an untyped search looks at every type, and as an e-mail or a phone number when it could be one', () => {
  assert.deepEqual(identifierPrefixes('jane', rules), [{ prefix: 'jane' }]);
  assert.deepEqual(identifierPrefixes('Jane', rules), [
    { prefix: 'Jane' },
    { type: 'email', prefix: 'jane' },
  ]);
  assert.deepEqual(identifierPrefixes('06 12', rules), [
    { prefix: '06 12' },
    { type: 'phone', prefix: '+33612' },
  ]);
  // A colon does not make a type: userIds may hold one.
  assert.deepEqual(identifierPrefixes('shop:42', rules), [{ prefix: 'shop:42' }]);
  assert.deepEqual(identifierPrefixes('  ', rules), []);
});

test('trait filters: equal or prefix, ignoring case, on a trait or a field of an object trait', () => {
  assert.deepEqual(parseTraitFilter('trait.city', 'Paris'), {
    name: 'city',
    path: [],
    value: 'paris',
    match: 'equals',
  });
  assert.deepEqual(parseTraitFilter('trait.address.postal_code', '750*'), {
    name: 'address',
    path: ['postal_code'],
    value: '750',
    match: 'prefix',
  });
  assert.equal(parseTraitFilter('trait.', 'x'), undefined);
  assert.equal(parseTraitFilter('trait.city', '*'), undefined);
  assert.equal(parseTraitFilter('trait.address."x', 'y'), undefined);

  const city = parseTraitFilter('trait.city', 'PARIS')!;
  assert.equal(traitMatches('Paris', city), true);
  assert.equal(traitMatches('Paris 11e', city), false);
  assert.equal(traitMatches(null, city), false);
  assert.equal(traitMatches(undefined, city), false);
  assert.equal(traitMatches('Paris 11e', parseTraitFilter('trait.city', 'paris*')!), true);
  const postalCode = parseTraitFilter('trait.address.postal_code', '75011')!;
  assert.equal(traitMatches({ postal_code: 75011 }, postalCode), true);
  assert.equal(traitMatches({ city: 'Paris' }, postalCode), false);
  assert.equal(traitMatches('75011', postalCode), false);
});
