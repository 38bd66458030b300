import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Analytics } from '@segment/analytics-node';
import type { EventOutput } from '../src/domain/events.ts';
import { adminGet, createSourceOver, removeTestDir, spawnCible, testDataDir } from './helpers.ts';

interface Profile {
  id: number;
  members: number[];
  identifiers: { type: string; value: string }[];
  traits: Record<string, { value: unknown; sourceId: string }>;
  summary: { events: number; purchases: number; revenue: number; sources: string[] };
  merges: { identifier: { type: string; value: string } | null; messageId: string | null }[];
}

async function send(writeKey: string, url: string, calls: (analytics: Analytics) => void): Promise<void> {
  const analytics = new Analytics({ writeKey, host: url, flushAt: 1, flushInterval: 20, maxRetries: 2 });
  const failures: unknown[] = [];
  analytics.on('error', (error) => failures.push(error));
  calls(analytics);
  await analytics.closeAndFlush();
  assert.deepEqual(failures, []);
}

// The whole journey of one person, sent by the official Segment Node SDK to a real Cible process:
// anonymous on a phone, then on a laptop, sign-up with an email, a purchase in a shop that knows
// only a loyalty card and a phone number, and a CRM file with the email written differently.
test('a cross-device, cross-channel journey sent by the Segment SDK becomes one profile', async () => {
  const dataDir = await testDataDir();
  const cible = await spawnCible(dataDir);
  try {
    const web = await createSourceOver(cible.url, 'web');
    const shop = await createSourceOver(cible.url, 'shop');
    const crm = await createSourceOver(cible.url, 'crm');

    await send(web, cible.url, (analytics) => {
      analytics.page({ anonymousId: 'phone-cookie', name: 'Home' });
      analytics.page({ anonymousId: 'laptop-cookie', name: 'Shoes' });
      analytics.identify({
        anonymousId: 'laptop-cookie',
        userId: 'jane-42',
        traits: { email: 'Jane.Doe@Gmail.com', firstName: 'Jane' },
      });
      analytics.track({ anonymousId: 'phone-cookie', userId: 'jane-42', event: 'Signed In' });
    });
    await send(shop, cible.url, (analytics) => {
      analytics.track({
        anonymousId: 'till-session-1',
        event: 'Order Completed',
        properties: { revenue: 59.9, products: [{ sku: 'BOOT-38', quantity: 1 }] },
        context: { externalIds: [{ id: 'LC-991', type: 'loyaltyId' }], traits: { phone: '06 12 34 56 78' } },
      });
    });
    await send(crm, cible.url, (analytics) => {
      analytics.identify({
        userId: 'jane-42',
        traits: { email: ' janedoe+news@gmail.com ', phone: '+33 6 12 34 56 78', city: 'Lyon' },
        context: { externalIds: [{ id: 'LC-991', type: 'loyaltyId' }] },
      });
    });

    const profile = await adminGet<Profile>(
      cible.url,
      `/api/profiles?identifier=${encodeURIComponent('email:jane.doe@gmail.com')}`,
    );
    assert.deepEqual(
      profile.identifiers.map((identifier) => `${identifier.type}:${identifier.value}`).sort(),
      [
        'anonymousId:laptop-cookie',
        'anonymousId:phone-cookie',
        'anonymousId:till-session-1',
        'email:janedoe@gmail.com',
        'loyaltyId:LC-991',
        'phone:+33612345678',
        'userId:jane-42',
      ],
    );
    assert.equal((await adminGet<{ profiles: number }>(cible.url, '/api/stats')).profiles, 1);
    assert.equal(profile.summary.events, 6);
    assert.equal(profile.summary.purchases, 1);
    assert.equal(profile.summary.revenue, 59.9);
    assert.equal(profile.summary.sources.length, 3, 'web, shop and CRM');
    assert.equal(profile.traits.firstName?.value, 'Jane');
    assert.equal(profile.traits.city?.value, 'Lyon');
    assert.equal(
      profile.members.length,
      3,
      'the phone, laptop and till records (the CRM came with a known userId)',
    );
    assert.ok(
      profile.merges.every((merge) => merge.identifier !== null && merge.messageId !== null),
      'each merge says which identifier on which event joined the records',
    );

    // The same person by the till's phone number written the local way, and the whole timeline.
    const byPhone = await adminGet<Profile>(cible.url, '/api/profiles?identifier=phone:0612345678');
    assert.equal(byPhone.id, profile.id);
    const { events } = await adminGet<{ events: EventOutput[] }>(
      cible.url,
      `/api/profiles/${profile.id}/events`,
    );
    assert.equal(events.length, 6);
    assert.deepEqual(
      new Set(events.map((event) => event.sourceId)).size,
      3,
      'the timeline crosses the three channels',
    );
  } finally {
    await cible.stop();
    await removeTestDir(dataDir);
  }
});
