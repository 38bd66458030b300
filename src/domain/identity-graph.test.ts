import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Identifier } from './identifiers.ts';
import { createIdentityGraph, defaultIdentityRules, type Evidence } from './identity-graph.ts';

const id = (type: string, value: string): Identifier => ({ type, value });
let clock = 1_000;
const evidence = (messageId: string): Evidence => ({ sourceId: 'src', messageId, at: clock++ });

describe('identity graph', () => {
  test('the cross-device story: phone, laptop, sign-up, shop, CRM become one person', () => {
    const graph = createIdentityGraph();
    const phone = graph.resolve([id('anonymousId', 'phone-cookie')], evidence('m1'))!;
    const laptop = graph.resolve([id('anonymousId', 'laptop-cookie')], evidence('m2'))!;
    assert.notEqual(phone.profileId, laptop.profileId);
    assert.equal(phone.createdProfiles.length, 1);

    // Signs up on the laptop: the laptop profile gains the userId and the e-mail.
    const signUp = graph.resolve(
      [id('anonymousId', 'laptop-cookie'), id('userId', 'u-jane'), id('email', 'jane@example.com')],
      evidence('m3'),
    )!;
    assert.equal(signUp.profileId, laptop.profileId);
    assert.deepEqual(
      signUp.attached.map((a) => a.identifier.type),
      ['userId', 'email'],
    );
    // Logs in on the phone: the phone profile (older) absorbs the laptop one.
    const login = graph.resolve([id('userId', 'u-jane'), id('anonymousId', 'phone-cookie')], evidence('m4'))!;
    assert.equal(login.merges.length, 1);
    assert.equal(login.merges[0]!.survivor, phone.profileId);
    assert.equal(login.merges[0]!.absorbed, laptop.profileId);
    assert.deepEqual(login.merges[0]!.identifier, id('anonymousId', 'phone-cookie'));
    assert.equal(login.merges[0]!.evidence.messageId, 'm4');
    // The event is stored with the origin profile of its highest-priority identifier.
    assert.equal(login.originProfileId, laptop.profileId);
    assert.equal(login.profileId, phone.profileId);

    // The shop knows the loyalty card and the phone number; the CRM the e-mail and the card.
    const till = graph.resolve([id('loyaltyId', 'LC-1'), id('phone', '+33612345678')], evidence('m5'))!;
    const crm = graph.resolve([id('email', 'jane@example.com'), id('loyaltyId', 'LC-1')], evidence('m6'))!;
    assert.equal(crm.profileId, phone.profileId);
    assert.equal(crm.merges[0]?.absorbed, till.profileId);
    assert.equal(graph.canonical(till.profileId), phone.profileId);
    assert.deepEqual(
      graph.members(phone.profileId).sort(),
      [phone.profileId, laptop.profileId, till.profileId].sort(),
    );
    assert.deepEqual(
      graph
        .identifiersOf(phone.profileId)
        .map((entry) => `${entry.identifier.type}:${entry.identifier.value}`)
        .sort(),
      [
        'anonymousId:laptop-cookie',
        'anonymousId:phone-cookie',
        'email:jane@example.com',
        'loyaltyId:LC-1',
        'phone:+33612345678',
        'userId:u-jane',
      ],
    );
  });

  test('two different userIds are never merged: a conflict is recorded instead', () => {
    const graph = createIdentityGraph();
    const alice = graph.resolve([id('userId', 'alice'), id('anonymousId', 'family-tablet')], evidence('a1'))!;
    const bob = graph.resolve([id('userId', 'bob'), id('anonymousId', 'family-tablet')], evidence('b1'))!;
    assert.notEqual(bob.profileId, alice.profileId);
    assert.equal(bob.merges.length, 0);
    assert.deepEqual(
      bob.conflicts.map((c) => [c.reason, c.identifier.value, c.profiles]),
      [['limit', 'family-tablet', [bob.profileId, alice.profileId]]],
    );
    // The tablet stays with its first person.
    assert.equal(graph.profileOf(id('anonymousId', 'family-tablet')), alice.profileId);
  });

  test('a device seen with too many people stops linking anyone', () => {
    const graph = createIdentityGraph({ ...defaultIdentityRules, maxProfilesPerIdentifier: 3 });
    const kiosk = id('deviceId', 'store-kiosk');
    const people = ['p1', 'p2', 'p3', 'p4'].map((user) =>
      graph.resolve([id('userId', user), kiosk], evidence(user))!,
    );
    assert.deepEqual(people.at(-1)!.newlyShared, [kiosk]);
    // An anonymous visitor using the kiosk and then signing up is not glued to anyone through it.
    const visitor = graph.resolve([id('anonymousId', 'visitor'), kiosk], evidence('v1'))!;
    assert.equal(visitor.merges.length, 0);
    assert.equal(visitor.conflicts[0]?.reason, 'shared');
    assert.equal(new Set(people.map((p) => p.profileId)).size, 4);
  });

  test('per-type limits: a sixth e-mail is not attached', () => {
    const graph = createIdentityGraph();
    const first = graph.resolve([id('userId', 'many-mails'), id('email', 'm0@example.com')], evidence('e0'))!;
    for (let i = 1; i < 5; i++)
      graph.resolve([id('userId', 'many-mails'), id('email', `m${i}@example.com`)], evidence(`e${i}`));
    const sixth = graph.resolve([id('userId', 'many-mails'), id('email', 'm5@example.com')], evidence('e5'))!;
    assert.equal(sixth.profileId, first.profileId);
    assert.deepEqual(sixth.attached, []);
    assert.equal(sixth.conflicts[0]?.reason, 'limit');
    assert.equal(graph.profileOf(id('email', 'm5@example.com')), undefined);
  });

  test('lineage, origin of an identifier and the people follow merges and unmerges', () => {
    const graph = createIdentityGraph();
    const a = graph.resolve([id('anonymousId', 'dev-a')], evidence('l1'))!.profileId;
    const b = graph.resolve([id('anonymousId', 'dev-b')], evidence('l2'))!.profileId;
    const c = graph.resolve([id('anonymousId', 'dev-c')], evidence('l3'))!.profileId;
    graph.resolve([id('anonymousId', 'dev-b'), id('anonymousId', 'dev-c')], evidence('l4'));
    graph.resolve([id('anonymousId', 'dev-a'), id('anonymousId', 'dev-b')], evidence('l5'));
    // c was merged into b, then b into a.
    assert.deepEqual(graph.lineage(c), [c, b, a]);
    assert.deepEqual([...graph.people()], [a]);
    assert.equal(graph.originOf(id('anonymousId', 'dev-c')), c);
    assert.equal(graph.profileOf(id('anonymousId', 'dev-c')), a);
    graph.unmerge(b);
    assert.deepEqual(graph.lineage(c), [c, b]);
    assert.deepEqual([...graph.people()].sort(), [a, b].sort());
    assert.deepEqual(graph.lineage(999), []);
  });

  test('unmerge restores both profiles, and the split pair is not merged again by the next event', () => {
    const graph = createIdentityGraph();
    const a = graph.resolve([id('email', 'shared@example.com'), id('anonymousId', 'a')], evidence('1'))!;
    const b = graph.resolve([id('anonymousId', 'b'), id('phone', '+33600000001')], evidence('2'))!;
    const merged = graph.resolve([id('anonymousId', 'b'), id('email', 'shared@example.com')], evidence('3'))!;
    assert.equal(merged.merges[0]?.absorbed, b.profileId);
    assert.equal(graph.canonical(b.profileId), a.profileId);

    const undone = graph.unmerge(b.profileId);
    assert.deepEqual(undone, { survivor: a.profileId, restored: [b.profileId] });
    assert.equal(graph.canonical(b.profileId), b.profileId);
    assert.deepEqual(
      graph
        .identifiersOf(b.profileId)
        .map((entry) => entry.identifier.value)
        .sort(),
      ['+33600000001', 'b'],
    );
    assert.deepEqual(
      graph
        .identifiersOf(a.profileId)
        .map((entry) => entry.identifier.value)
        .sort(),
      ['a', 'shared@example.com'],
    );
    const again = graph.resolve([id('anonymousId', 'b'), id('email', 'shared@example.com')], evidence('4'))!;
    assert.equal(again.merges.length, 0);
    assert.equal(again.conflicts[0]?.reason, 'split');
    assert.equal(
      graph.unmerge(a.profileId),
      undefined,
      'a profile that was never absorbed cannot be unmerged',
    );

    // A person may still merge them on purpose.
    const manual = graph.merge(a.profileId, b.profileId, evidence('manual'));
    assert.ok('survivor' in manual);
    assert.equal(graph.canonical(b.profileId), a.profileId);
  });

  test('state loaded back gives the same answers', () => {
    const graph = createIdentityGraph();
    graph.load.profile({ id: 7, createdAt: 1 });
    graph.load.profile({ id: 9, createdAt: 2 });
    graph.load.identifier(id('userId', 'u7'), 7);
    graph.load.identifier(id('anonymousId', 'x9'), 9);
    graph.load.merge(7, 9);
    graph.load.shared(id('deviceId', 'kiosk'));
    assert.equal(graph.profileOf(id('anonymousId', 'x9')), 7);
    assert.equal(graph.nextProfileId, 10);
    const next = graph.resolve([id('anonymousId', 'new')], evidence('n'))!;
    assert.equal(next.profileId, 10);
    const viaKiosk = graph.resolve([id('userId', 'u7'), id('deviceId', 'kiosk')], evidence('k'))!;
    assert.equal(viaKiosk.profileId, 7);
    assert.deepEqual(
      viaKiosk.attached.map((a) => a.identifier.value),
      ['kiosk'],
    );
  });
});
