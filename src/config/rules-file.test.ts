import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaultIdentifierRules } from '../domain/identifiers.ts';
import { defaultConsentRules, standardPurposes } from '../domain/consent.ts';
import { defaultIdentityRules } from '../domain/identity-graph.ts';
import { loadConfig } from './config.ts';
import { defaultRules, loadRulesFile, rulesFrom } from './rules-file.ts';

describe('rulesFrom', () => {
  it('keeps the built-in rules for whatever the file does not name', () => {
    assert.deepEqual(rulesFrom({}), defaultRules);
  });

  it('adds blocked values to the built-in ones, and limits per type to the default limits', () => {
    const rules = rulesFrom({
      identity: {
        defaultCountry: 'BE',
        customTypes: ['memberNumber'],
        blockedValues: { email: ['NoReply@Shop.example'], memberNumber: ['000000'] },
        maxPerProfile: { email: 1, memberNumber: 2 },
      },
      traits: { sourcePriority: { address: ['crm', 'shop'] } },
    });
    assert.equal(rules.identifiers.defaultCountry, 'BE');
    assert.deepEqual(rules.identifiers.customTypes, ['memberNumber']);
    assert.ok(
      rules.identifiers.blockedValues.email?.includes('test@test.com'),
      'built-in values stay blocked',
    );
    assert.ok(rules.identifiers.blockedValues.email?.includes('noreply@shop.example'));
    assert.deepEqual(rules.identifiers.blockedValues.memberNumber, ['000000']);
    assert.deepEqual(rules.identifiers.blockedValues['*'], defaultIdentifierRules.blockedValues['*']);
    assert.equal(rules.identity.maxPerProfile.email, 1);
    assert.equal(rules.identity.maxPerProfile.userId, 1);
    assert.equal(rules.identity.maxPerProfile.memberNumber, 2);
    assert.deepEqual(rules.identity.priority, [...defaultIdentityRules.priority, 'memberNumber']);
    assert.deepEqual(rules.traits.sourcePriority, { address: ['crm', 'shop'] });
  });

  it('says which setting is wrong and why', () => {
    assert.throws(() => rulesFrom({ identity: { maxPerProfil: { email: 1 } } }), {
      code: 'CIBLE_ERR_CONFIG_INVALID',
      message: /identity has an unknown setting "maxPerProfil"/,
    });
    assert.throws(() => rulesFrom({ identity: { maxPerProfile: { email: 0 } } }), {
      field: 'identity.maxPerProfile.email',
      message: /identity\.maxPerProfile\.email must be >= 1/,
    });
    assert.throws(() => rulesFrom({ identity: { defaultCountry: 'ZZ' } }), {
      field: 'identity.defaultCountry',
      message: /"ZZ" is not a country code/,
    });
    assert.throws(() => rulesFrom({ identity: { customTypes: ['has space'] } }), {
      field: 'identity.customTypes.0',
    });
  });

  it('reads the consent section: own purposes, consent-manager categories, double opt-in', () => {
    assert.equal(rulesFrom({}).consent, defaultConsentRules);
    const { consent } = rulesFrom(
      {
        consent: {
          purposes: ['loyalty'],
          categories: { C0004: 'advertising', Rewards: ['loyalty', 'email'] },
          emailDoubleOptIn: true,
        },
      },
      'cible.json',
    );
    assert.deepEqual(consent.purposes, [...standardPurposes, 'loyalty']);
    assert.deepEqual(consent.categories.c0004, ['advertising']);
    assert.deepEqual(consent.categories.rewards, ['loyalty', 'email']);
    assert.deepEqual(consent.categories.loyalty, ['loyalty']);
    assert.equal(consent.emailDoubleOptIn, true);
    assert.equal(consent.analyticsDefault, 'include');
  });

  it('names the consent setting that is wrong', () => {
    assert.throws(() => rulesFrom({ consent: { purposes: ['Loyalty Club'] } }, 'cible.json'), {
      code: 'CIBLE_ERR_CONFIG_INVALID',
      field: 'consent.purposes.0',
      message: /cible\.json: consent\.purposes\.0 "Loyalty Club" is not a valid purpose name/,
    });
    assert.throws(() => rulesFrom({ consent: { categories: { C0004: 'adverts' } } }), {
      field: 'consent.categories.C0004',
      message: /"adverts" is not a purpose; the purposes are analytics, personalization/,
    });
    assert.throws(() => rulesFrom({ consent: { emailDoubleOptln: true } }), {
      field: 'consent',
      message: /consent has an unknown setting "emailDoubleOptln"/,
    });
  });
});

describe('the rules file in the configuration', () => {
  it('is read from --rules, or from cible.json in the data dir, with a clear error when broken', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cible-rules-'));
    try {
      const base = { argv: ['--data-dir', dir], env: {}, cwd: dir };
      assert.equal(loadConfig(base).rulesFile, null);
      assert.equal(loadConfig(base).rules, defaultRules);

      await writeFile(join(dir, 'cible.json'), JSON.stringify({ identity: { maxPerProfile: { email: 2 } } }));
      const found = loadConfig(base);
      assert.equal(found.rulesFile, join(dir, 'cible.json'));
      assert.equal(found.rules.identity.maxPerProfile.email, 2);

      await writeFile(join(dir, 'other.json'), '{"traits": {"firstTouch": ["firstSeen"]}');
      assert.throws(() => loadConfig({ ...base, argv: [...base.argv, '--rules', 'other.json'] }), {
        code: 'CIBLE_ERR_CONFIG_INVALID',
        message: /other\.json: is not valid JSON/,
      });
      assert.throws(() => loadRulesFile(join(dir, 'missing.json')), /missing\.json: cannot be read/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

it('adds the personal traits of the rules file to the built-in ones', () => {
  assert.deepEqual(rulesFrom({ personalTraits: ['loyaltyCardHolder', 'nickname'] }).personalTraits, [
    'loyaltyCardHolder',
    'nickname',
  ]);
  assert.throws(
    () => rulesFrom({ personalTraits: [''] }),
    (error: { field?: string }) => error.field === 'personalTraits.0',
  );
});
