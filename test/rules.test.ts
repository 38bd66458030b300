import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { removeTestDir, startTestCible, testDataDir } from './helpers.ts';

interface Profile {
  id: number;
  identifiers: { type: string; value: string }[];
  traits: Record<string, { value: unknown; sourceId: string }>;
}

// A deployment's own rules (cible.json in the data dir): a custom identifier type, a stricter
// limit, a blocked value, and the CRM trusted over the web for the address.
test('the rules file decides identifier types, limits, blocked values and which source wins a trait', async () => {
  const dataDir = await testDataDir();
  await writeFile(
    join(dataDir, 'cible.json'),
    JSON.stringify({
      identity: {
        customTypes: ['memberNumber'],
        maxPerProfile: { email: 1 },
        blockedValues: { email: ['contact@shop.example'] },
      },
      traits: { sourcePriority: { address: ['crm', 'web'] } },
    }),
  );
  const cible = await startTestCible({}, dataDir);
  try {
    const web = await cible.createSource('web');
    const crm = await cible.createSource('crm');
    const send = (writeKey: string, batch: Record<string, unknown>[]) => cible.sendBatch(writeKey, batch);
    const t = (minute: number) => new Date(Date.UTC(2026, 10, 2, 10, minute)).toISOString();

    await send(crm, [
      {
        type: 'identify',
        userId: 'crm-1',
        timestamp: t(0),
        messageId: 'crm-1',
        traits: { email: 'ana@example.com', address: '1 rue de la Paix' },
        context: { externalIds: [{ id: 'M-77', type: 'memberNumber' }] },
      },
    ]);
    await send(web, [
      {
        // Later, but from the web form: the CRM's address stays.
        type: 'identify',
        anonymousId: 'web-cookie',
        timestamp: t(5),
        messageId: 'web-1',
        traits: { address: '12 avenue Foch', email: 'contact@shop.example' },
        context: { externalIds: [{ id: 'M-77', type: 'memberNumber' }] },
      },
      {
        // A second email for the same person goes beyond the limit of one: it does not link.
        type: 'identify',
        anonymousId: 'web-cookie',
        timestamp: t(6),
        messageId: 'web-2',
        traits: { email: 'ana.other@example.com' },
      },
    ]);

    const profile = await cible.admin<Profile>('/api/profiles?identifier=memberNumber:M-77');
    const keys = profile.identifiers.map((identifier) => `${identifier.type}:${identifier.value}`).sort();
    assert.deepEqual(keys, [
      'anonymousId:web-cookie',
      'email:ana@example.com',
      'memberNumber:M-77',
      'userId:crm-1',
    ]);
    assert.equal(profile.traits.address?.value, '1 rue de la Paix', 'the CRM beats the web for the address');
    const stats = await cible.admin<{ profiles: number }>('/api/stats');
    assert.equal(stats.profiles, 2, 'the email over the limit stays on a profile of its own');
  } finally {
    await cible.close();
    await removeTestDir(dataDir);
  }
});
