import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  defaultIdentifierRules,
  identifierKey,
  identifiersOf,
  normaliseIdentifier,
  parseIdentifierKey,
  type IdentifierRules,
} from './identifiers.ts';

const rules: IdentifierRules = { ...defaultIdentifierRules, customTypes: ['storeCardId'] };

describe('normaliseIdentifier', () => {
  test('e-mail addresses: trimmed, lower-cased, Gmail dots and +tags dropped', () => {
    assert.deepEqual(normaliseIdentifier('email', '  Jane.Doe@Example.COM ', rules), {
      type: 'email',
      value: 'jane.doe@example.com',
    });
    assert.deepEqual(normaliseIdentifier('email', 'Jane.Doe+promo@googlemail.com', rules), {
      type: 'email',
      value: 'janedoe@gmail.com',
    });
    assert.deepEqual(
      normaliseIdentifier('email', 'jane.doe+promo@gmail.com', { ...rules, gmailNormalisation: false }),
      {
        type: 'email',
        value: 'jane.doe+promo@gmail.com',
      },
    );
    assert.match(
      String((normaliseIdentifier('email', 'not-an-email', rules) as { reason: string }).reason),
      /not an e-mail/,
    );
  });

  test('phone numbers in E.164, national numbers read in the default country', () => {
    assert.deepEqual(normaliseIdentifier('phone', '06 12 34 56 78', rules), {
      type: 'phone',
      value: '+33612345678',
    });
    assert.deepEqual(normaliseIdentifier('phone', '+33 (0)6-12-34-56-78', rules), {
      type: 'phone',
      value: '+33612345678',
    });
    assert.deepEqual(normaliseIdentifier('phone', '+1 415 555 2671', rules), {
      type: 'phone',
      value: '+14155552671',
    });
    assert.deepEqual(normaliseIdentifier('phone', '020 7946 0018', { ...rules, defaultCountry: 'GB' }), {
      type: 'phone',
      value: '+442079460018',
    });
    const invalid = normaliseIdentifier('phone', '12', rules);
    assert.match(String((invalid as { reason: string }).reason), /not a valid phone number.*FR/);
  });

  test('placeholders and empty values identify nobody', () => {
    for (const [type, raw] of [
      ['userId', 'null'],
      ['userId', 'undefined'],
      ['userId', 0],
      ['anonymousId', '  '],
      ['email', 'TEST@test.com'],
      ['deviceId', '00000000-0000-0000-0000-000000000000'],
    ] as const) {
      assert.ok('reason' in normaliseIdentifier(type, raw, rules), `${type} ${String(raw)} is rejected`);
    }
    assert.deepEqual(normaliseIdentifier('userId', 42, rules), { type: 'userId', value: '42' });
  });

  test('custom types from the rules; unknown types rejected', () => {
    assert.deepEqual(normaliseIdentifier('storeCardId', ' LC-00912 ', rules), {
      type: 'storeCardId',
      value: 'LC-00912',
    });
    assert.match(
      String((normaliseIdentifier('shoeSize', '42', rules) as { reason: string }).reason),
      /not an identifier type/,
    );
  });
});

describe('identifiersOf', () => {
  test('takes identifiers from the standard places of a Segment event', () => {
    const { identifiers, rejected } = identifiersOf(
      {
        userId: 'u-1',
        anonymousId: 'a-1',
        traits: { email: 'Jane@Example.com', phone: '0612345678', name: 'Jane' },
        context: {
          device: { id: 'dev-1', advertisingId: 'ad-1' },
          externalIds: [
            { id: 'LC-1', type: 'loyalty_id', collection: 'users', encoding: 'none' },
            { id: 'crm-9', type: 'crmId' },
            { id: 'u-1', type: 'user_id' },
          ],
        },
      },
      rules,
    );
    assert.deepEqual(identifiers.map(identifierKey), [
      'userId:u-1',
      'anonymousId:a-1',
      'email:jane@example.com',
      'phone:+33612345678',
      'deviceId:dev-1',
      'advertisingId:ad-1',
      'loyaltyId:LC-1',
      'crmId:crm-9',
    ]);
    assert.deepEqual(rejected, []);
  });

  test('context.traits serve when the event has no traits of its own; bad values come back with reasons', () => {
    const { identifiers, rejected } = identifiersOf(
      { userId: null, anonymousId: 'a-2', context: { traits: { email: 'nope', phone: '+33612345678' } } },
      rules,
    );
    assert.deepEqual(identifiers.map(identifierKey), ['anonymousId:a-2', 'phone:+33612345678']);
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]!.type, 'email');
  });
});

test('identifier keys round-trip', () => {
  assert.deepEqual(parseIdentifierKey('email:jane@example.com'), { type: 'email', raw: 'jane@example.com' });
  assert.deepEqual(parseIdentifierKey('phone:+33 6 12'), { type: 'phone', raw: '+33 6 12' });
  assert.equal(parseIdentifierKey('nocolon'), undefined);
  assert.equal(parseIdentifierKey(':x'), undefined);
});
