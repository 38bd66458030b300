import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  defaultTraitRules,
  firstTouchObservations,
  mergeTraits,
  preferTrait,
  rectificationSourceId,
  withSourceIds,
  type TraitRules,
  type TraitValue,
} from './traits.ts';

const observed = (name: string, value: unknown, sourceId: string, at: number): TraitValue => ({
  name,
  value,
  sourceId,
  at,
  messageId: `${sourceId}-${at}`,
});

test('a rectification beats a ranked source until that source sends a newer value', () => {
  const rules = { ...defaultTraitRules, sourcePriority: { address: ['crm', 'web'] } };
  const crm = observed('address', { city: 'Lyon' }, 'crm', 100);
  const corrected = observed('address', { city: 'Bron' }, rectificationSourceId, 200);
  assert.deepEqual(mergeTraits([crm, corrected], rules).get('address'), corrected);
  assert.deepEqual(mergeTraits([corrected, crm], rules).get('address'), corrected, 'in any order');
  const laterCrm = observed('address', { city: 'Vénissieux' }, 'crm', 300);
  assert.deepEqual(mergeTraits([crm, corrected, laterCrm], rules).get('address'), laterCrm);
});

test('the latest value wins by default', () => {
  const older = observed('plan', 'free', 'web', 100);
  const newer = observed('plan', 'pro', 'app', 200);
  assert.equal(preferTrait(older, newer, defaultTraitRules), newer);
  assert.equal(preferTrait(newer, older, defaultTraitRules), newer, 'a late-arriving old value does not win');
});

test('a trusted source beats a newer value from a less trusted one', () => {
  const rules = { ...defaultTraitRules, sourcePriority: { address: ['crm', 'store'] } };
  const crm = observed('address', { city: 'Lyon' }, 'crm', 100);
  const webForm = observed('address', { city: 'Lyon 3e' }, 'web', 500);
  const till = observed('address', { city: 'Villeurbanne' }, 'store', 600);
  const merged = mergeTraits([webForm, crm, till], rules);
  assert.deepEqual(merged.get('address'), crm);
  // Other traits still follow the latest value.
  assert.equal(
    preferTrait(observed('plan', 'a', 'crm', 1), observed('plan', 'b', 'web', 2), rules).value,
    'b',
  );
});

test('first-touch traits keep the earliest value, wherever it arrives from', () => {
  const merged = mergeTraits(
    [
      ...firstTouchObservations(
        { context: { campaign: { name: 'spring' } } },
        { sourceId: 'web', at: 500, messageId: 'b' },
      ),
      ...firstTouchObservations(
        { context: { campaign: { name: 'winter' }, page: { referrer: 'https://news.example' } } },
        { sourceId: 'app', at: 100, messageId: 'a' },
      ),
    ],
    defaultTraitRules,
  );
  assert.equal(merged.get('firstSeen')?.value, new Date(100).toISOString());
  assert.equal(merged.get('firstSource')?.value, 'app');
  assert.equal(merged.get('firstCampaign')?.value, 'winter');
  assert.equal(merged.get('firstReferrer')?.value, 'https://news.example');
});

test('withSourceIds writes the sources named by name as ids, and leaves ids and unknown names', () => {
  const rules: TraitRules = {
    ...defaultTraitRules,
    sourcePriority: { address: ['crm', 'src_shop', 'gone'] },
  };
  const resolved = withSourceIds(rules, [
    { id: 'src_crm', name: 'crm' },
    { id: 'src_shop', name: 'shop' },
  ]);
  assert.deepEqual(resolved.sourcePriority, { address: ['src_crm', 'src_shop', 'gone'] });
  assert.equal(withSourceIds(defaultTraitRules, []), defaultTraitRules);
});
