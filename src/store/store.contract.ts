import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defaultConsentRules } from '../domain/consent.ts';
import type { StoredEvent } from '../domain/events.ts';
import { defaultTraitRules } from '../domain/traits.ts';
import { messageFingerprint } from '../ingestion/message-dedupe.ts';
import { emptyIdentityChanges } from '../ingestion/resolve-identity.ts';
import type { ConsentRow, NewQuarantineRecord, ProfileFacts, Store } from './store.ts';

/**
 * What every store adapter must do, whatever its engine. Each adapter's test file runs this suite
 * with a factory for a fresh, empty store.
 */
export function storeContract(
  name: string,
  openStore: () => Promise<{ store: Store; dispose: () => Promise<void> }>,
) {
  describe(`store contract: ${name}`, () => {
    let store: Store;
    let dispose: () => Promise<void>;
    const t0 = Date.UTC(2026, 5, 1, 12);

    const event = (overrides: Partial<StoredEvent> = {}): StoredEvent => ({
      sourceId: 'src_a',
      messageId: `m-${Math.random().toString(36).slice(2)}`,
      type: 'track',
      event: 'Viewed',
      name: null,
      userId: 'u1',
      anonymousId: 'a1',
      groupId: null,
      previousId: null,
      timestamp: t0,
      originalTimestamp: t0 - 1000,
      sentAt: t0 - 500,
      receivedAt: t0 + 500,
      properties: '{"price":12.5,"tags":["a","b"]}',
      traits: null,
      context: '{"ip":"203.0.113.1"}',
      integrations: null,
      extra: null,
      profileId: null,
      ...overrides,
    });
    const rejected = (overrides: Partial<NewQuarantineRecord> = {}): NewQuarantineRecord => ({
      sourceId: 'src_a',
      receivedAt: t0,
      code: 'CIBLE_ERR_TRACKING_MISSING_FIELD',
      reason: 'The track event needs "event".',
      field: 'event',
      payload: '{"type":"track","userId":"u1"}',
      kind: 'track',
      batchIndex: 3,
      messageId: 'bad-1',
      ip: '203.0.113.1',
      ...overrides,
    });

    before(async () => {
      ({ store, dispose } = await openStore());
    });
    after(() => dispose());

    test('sources are created, listed, given a new key and revoked', async () => {
      await store.createSource({
        id: 'src_a',
        name: 'web',
        writeKey: 'wk-a',
        createdAt: t0,
        revokedAt: null,
      });
      await store.createSource({
        id: 'src_b',
        name: 'crm',
        writeKey: 'wk-b',
        createdAt: t0 + 1,
        revokedAt: null,
      });
      await store.updateSource({
        id: 'src_b',
        name: 'crm',
        writeKey: 'wk-b2',
        createdAt: t0 + 1,
        revokedAt: t0 + 5,
      });
      assert.deepEqual(await store.listSources(), [
        { id: 'src_a', name: 'web', writeKey: 'wk-a', createdAt: t0, revokedAt: null },
        { id: 'src_b', name: 'crm', writeKey: 'wk-b2', createdAt: t0 + 1, revokedAt: t0 + 5 },
      ]);
      await store.updateSource({
        id: 'src_b',
        name: 'crm',
        writeKey: 'wk-b2',
        createdAt: t0 + 1,
        revokedAt: null,
      });
      assert.equal((await store.listSources())[1]?.revokedAt, null);
    });

    test('users, tokens and sessions are saved, replaced and read back', async () => {
      const user = {
        id: 'usr_1',
        email: 'ana@example.com',
        passwordHash: 'scrypt$1$1$1$salt$hash',
        role: 'marketer' as const,
        createdAt: t0,
        disabledAt: null,
        failedLogins: 0,
        lockedUntil: null,
      };
      await store.access.saveUser(user);
      await store.access.saveUser({ ...user, failedLogins: 5, lockedUntil: t0 + 900_000 });
      assert.deepEqual(await store.access.listUsers(), [
        { ...user, failedLogins: 5, lockedUntil: t0 + 900_000 },
      ]);

      const token = {
        id: 'tok_1',
        name: 'reporting',
        role: 'analyst' as const,
        tokenHash: 'ab'.repeat(32),
        createdAt: t0,
        createdBy: 'bootstrap',
        lastUsedAt: null,
        revokedAt: null,
      };
      await store.access.saveToken(token);
      await store.access.saveToken({ ...token, lastUsedAt: t0 + 10, revokedAt: t0 + 20 });
      assert.deepEqual(await store.access.listTokens(), [
        { ...token, lastUsedAt: t0 + 10, revokedAt: t0 + 20 },
      ]);

      const live = {
        idHash: 'cd'.repeat(32),
        userId: 'usr_1',
        csrfToken: 'csrf',
        createdAt: t0,
        expiresAt: t0 + 1000,
      };
      const expired = { ...live, idHash: 'ef'.repeat(32), expiresAt: t0 + 10 };
      await store.access.saveSession(live);
      await store.access.saveSession(expired);
      assert.deepEqual(await store.access.listSessions(t0 + 100), [live]);
      await store.access.deleteUser('usr_1');
      assert.deepEqual(await store.access.listSessions(t0 + 100), []);
      assert.deepEqual(await store.access.listUsers(), []);
    });

    test('the audit log appends in order and filters', async () => {
      const entry = {
        at: t0,
        actorType: 'user' as const,
        actorId: 'usr_1',
        actorName: 'ana@example.com',
        role: 'marketer' as const,
        action: 'profile.view',
        targetType: 'profiles',
        targetId: '42',
        ip: '203.0.113.9',
        detail: null,
      };
      await store.access.appendAudit([
        entry,
        { ...entry, at: t0 + 1, action: 'profile.merge', detail: '{"with":7}' },
      ]);
      await store.access.appendAudit([
        { ...entry, at: t0 + 2, actorType: 'anonymous', actorId: null, actorName: null, role: null },
      ]);
      const all = await store.access.listAudit({ limit: 10 });
      assert.deepEqual(
        all.map((record) => [record.seq, record.action, record.actorType]),
        [
          [3, 'profile.view', 'anonymous'],
          [2, 'profile.merge', 'user'],
          [1, 'profile.view', 'user'],
        ],
      );
      assert.deepEqual(all[1], {
        ...entry,
        seq: 2,
        at: t0 + 1,
        action: 'profile.merge',
        detail: '{"with":7}',
      });
      assert.deepEqual(
        (await store.access.listAudit({ action: 'profile.view', actorId: 'usr_1', limit: 10 })).map(
          (r) => r.seq,
        ),
        [1],
      );
      assert.deepEqual(
        (await store.access.listAudit({ beforeSeq: 3, limit: 1 })).map((r) => r.seq),
        [2],
      );
      assert.deepEqual(
        (await store.access.listAudit({ from: t0 + 1, to: t0 + 2, limit: 10 })).map((r) => r.seq),
        [2],
      );
    });

    test('a batch writes events and quarantined records together, and reads them back intact', async () => {
      const first = event({ messageId: 'first', userId: 'reader' });
      const second = event({
        messageId: 'second',
        type: 'identify',
        event: null,
        userId: 'reader',
        anonymousId: null,
        originalTimestamp: null,
        sentAt: null,
        properties: null,
        traits: '{"email":"r@example.com"}',
        context: null,
        extra: '{"channel":"server"}',
        timestamp: t0 + 60_000,
      });
      await store.writeBatch({
        events: [first, second],
        quarantine: [rejected()],
        replayedQuarantineIds: [],
      });
      const rows = await store.listEvents({ userId: 'reader', limit: 10 });
      assert.equal(rows.length, 2);
      const [newest, oldest] = rows;
      assert.ok(newest!.seq > oldest!.seq, 'newest first, by seq');
      const { seq: _seq1, ...readSecond } = newest!;
      const { seq: _seq2, ...readFirst } = oldest!;
      assert.deepEqual(readSecond, second);
      assert.deepEqual(readFirst, first);
      assert.equal(await store.countEvents(), 2);
      assert.deepEqual(await store.countQuarantine(), { pending: 1, replayed: 0 });
    });

    test('records the ingest-log position of the last batch written with it', async () => {
      const before = await store.appliedLogSeq();
      await store.writeBatch({
        events: [event({ messageId: 'logged-1' })],
        quarantine: [],
        replayedQuarantineIds: [],
        logSeq: before + 3,
      });
      assert.equal(await store.appliedLogSeq(), before + 3);
      await store.writeBatch({
        events: [event({ messageId: 'unlogged' })],
        quarantine: [],
        replayedQuarantineIds: [],
      });
      assert.equal(await store.appliedLogSeq(), before + 3, 'a batch without a position leaves it');
    });

    test('any text survives the round trip: NUL, emoji, accents, lone surrogates, long strings', async () => {
      const awkward = ['nul\u0000byte', 'émoji 🎉 façade', 'lone \ud800 surrogate', 'x'.repeat(100_000), ''];
      const events = awkward.map((text, i) =>
        event({
          messageId: `text-${i}`,
          userId: `text-${i}`,
          event: text,
          properties: JSON.stringify({ text }),
        }),
      );
      await store.writeBatch({ events, quarantine: [], replayedQuarantineIds: [] });
      for (const [i, text] of awkward.entries()) {
        const [row] = await store.listEvents({ userId: `text-${i}`, limit: 1 });
        // Text columns hold well-formed UTF-8, where a lone surrogate can only be U+FFFD; the JSON
        // columns keep it exactly, escaped.
        assert.equal(row?.event, text.replace('\ud800', '\ufffd'), `event name ${i}`);
        assert.deepEqual(JSON.parse(row.properties ?? 'null'), { text }, `properties ${i}`);
      }
    });

    test('events filter and page', async () => {
      const batch = Array.from({ length: 30 }, (_, i) =>
        event({
          messageId: `page-${i}`,
          userId: `pager-${i % 2}`,
          sourceId: i < 10 ? 'src_b' : 'src_a',
          type: i % 3 === 0 ? 'page' : 'track',
          event: i % 3 === 0 ? null : `E${i % 4}`,
          name: i % 3 === 0 ? 'Home' : null,
          timestamp: t0 + i * 3_600_000,
        }),
      );
      await store.writeBatch({ events: batch, quarantine: [], replayedQuarantineIds: [] });
      assert.equal((await store.listEvents({ userId: 'pager-1', limit: 100 })).length, 15);
      assert.equal((await store.listEvents({ sourceId: 'src_b', limit: 100 })).length, 10);
      assert.equal((await store.listEvents({ type: 'page', userId: 'pager-0', limit: 100 })).length, 5);
      assert.equal((await store.listEvents({ event: 'E1', limit: 100 })).length, 6);
      assert.equal((await store.listEvents({ anonymousId: 'a1', userId: 'pager-0', limit: 100 })).length, 15);
      const window = await store.listEvents({ from: t0 + 5 * 3_600_000, to: t0 + 8 * 3_600_000, limit: 100 });
      assert.deepEqual(
        window.filter((row) => row.messageId.startsWith('page-')).map((row) => row.messageId),
        ['page-7', 'page-6', 'page-5'],
      );
      const firstPage = await store.listEvents({ userId: 'pager-0', limit: 10 });
      const secondPage = await store.listEvents({
        userId: 'pager-0',
        limit: 10,
        beforeSeq: firstPage.at(-1)!.seq,
      });
      assert.equal(secondPage.length, 5);
      const ids = [...firstPage, ...secondPage].map((row) => row.messageId);
      assert.equal(new Set(ids).size, 15);
    });

    test('quarantined records are listed, found by id, and marked replayed in the batch that replays them', async () => {
      await store.writeBatch({
        events: [],
        quarantine: [
          rejected({ messageId: 'bad-2', batchIndex: null, field: null, ip: null, kind: 'batch' }),
        ],
        replayedQuarantineIds: [],
      });
      const pending = await store.listQuarantine({ status: 'pending', limit: 10 });
      assert.equal(pending.length, 2);
      const [latest, earliest] = pending;
      assert.ok(latest!.id > earliest!.id);
      assert.deepEqual(
        { ...latest!, id: 0 },
        {
          ...rejected({ messageId: 'bad-2', batchIndex: null, field: null, ip: null, kind: 'batch' }),
          id: 0,
          status: 'pending',
          replayedAt: null,
        },
      );
      assert.deepEqual(await store.getQuarantine(earliest!.id), earliest);
      assert.equal(await store.getQuarantine(999_999), undefined);

      await store.writeBatch({
        events: [event({ messageId: 'bad-1-fixed', userId: 'fixed' })],
        quarantine: [],
        replayedQuarantineIds: [earliest!.id],
      });
      const replayed = await store.getQuarantine(earliest!.id);
      assert.equal(replayed?.status, 'replayed');
      assert.ok(replayed?.replayedAt !== null && replayed.replayedAt > 0);
      assert.deepEqual(await store.countQuarantine(), { pending: 1, replayed: 1 });
      assert.equal((await store.listQuarantine({ status: 'replayed', limit: 10 })).length, 1);
      assert.equal((await store.listQuarantine({ code: 'nope', limit: 10 })).length, 0);
      assert.equal((await store.listQuarantine({ beforeId: latest!.id, limit: 10 }))[0]?.id, earliest!.id);
    });

    test('a failed batch leaves nothing behind and the store goes on', async () => {
      const before = await store.countEvents();
      const broken = event({ messageId: 'broken', sourceId: null as unknown as string });
      await assert.rejects(
        store.writeBatch({
          events: [event({ messageId: 'ok-in-broken' }), broken],
          quarantine: [rejected()],
          replayedQuarantineIds: [],
        }),
      );
      assert.equal(await store.countEvents(), before);
      assert.equal(
        (await store.listEvents({ userId: 'u1', limit: 1000 })).some(
          (row) => row.messageId === 'ok-in-broken',
        ),
        false,
      );
      await store.writeBatch({
        events: [event({ messageId: 'after-failure' })],
        quarantine: [],
        replayedQuarantineIds: [],
      });
      assert.equal(await store.countEvents(), before + 1);
    });

    test('identity changes commit with their batch and load back into a graph', async () => {
      const at = t0 + 1_000;
      await store.writeBatch({
        events: [event({ messageId: 'with-profile', userId: 'identity-user', profileId: 101 })],
        quarantine: [],
        replayedQuarantineIds: [],
        identity: {
          profiles: [
            { id: 101, createdAt: at },
            { id: 102, createdAt: at + 1 },
          ],
          identifiers: [
            {
              type: 'userId',
              value: 'identity-user',
              originProfileId: 101,
              firstSeen: at,
              sourceId: 'src_a',
              messageId: 'm1',
            },
            {
              type: 'email',
              value: 'id@example.com',
              originProfileId: 102,
              firstSeen: at + 1,
              sourceId: 'src_a',
              messageId: 'm2',
            },
          ],
          merges: [
            {
              id: 1,
              at: at + 2,
              survivor: 101,
              absorbed: 102,
              kind: 'auto',
              identifierType: 'email',
              identifierValue: 'id@example.com',
              sourceId: 'src_a',
              messageId: 'm3',
              undoneAt: null,
            },
          ],
          undoneMerges: [],
          conflicts: [
            {
              at: at + 3,
              reason: 'limit',
              identifierType: 'anonymousId',
              identifierValue: 'tablet',
              profiles: [101, 103],
              sourceId: 'src_a',
              messageId: 'm4',
            },
          ],
          shared: [{ type: 'deviceId', value: 'kiosk', at: at + 4 }],
          traits: [
            { originProfileId: 101, name: 'plan', value: '"free"', sourceId: 'src_a', at, messageId: 'm1' },
            {
              originProfileId: 102,
              name: 'city',
              value: '"Lyon"',
              sourceId: 'src_b',
              at: at + 1,
              messageId: 'm2',
            },
          ],
        },
      });
      const [stored] = await store.listEvents({ userId: 'identity-user', limit: 1 });
      assert.equal(stored?.profileId, 101);

      // A later batch observes a new value of a trait and undoes the merge.
      await store.writeBatch({
        events: [],
        quarantine: [],
        replayedQuarantineIds: [],
        identity: {
          profiles: [],
          identifiers: [],
          merges: [],
          undoneMerges: [{ id: 1, at: at + 10 }],
          conflicts: [],
          shared: [],
          traits: [
            {
              originProfileId: 101,
              name: 'plan',
              value: '"pro"',
              sourceId: 'src_b',
              at: at + 5,
              messageId: 'm5',
            },
          ],
        },
      });
      assert.deepEqual(
        (await factsOf(store, [101, 102])).traits.map((trait) => [
          trait.originProfileId,
          trait.name,
          trait.value,
        ]),
        [
          [101, 'plan', '"free"'],
          [102, 'city', '"Lyon"'],
          [101, 'plan', '"pro"'],
        ],
      );
      assert.deepEqual(
        (await factsOf(store, [101])).identities.map((row) => `${row.type}:${row.value}`),
        ['userId:identity-user'],
      );
      const { merges } = await factsOf(store, [102]);
      assert.equal(merges.length, 1);
      assert.equal(merges[0]?.undoneAt, at + 10);
      assert.equal(merges[0]?.identifierValue, 'id@example.com');

      const loaded: string[] = [];
      const { lastMergeId } = await store.loadIdentity({
        profile: (id) => loaded.push(`profile ${id}`),
        identifier: (type, value, origin) => loaded.push(`${type}:${value} @${origin}`),
        merge: (survivor, absorbed, id) => loaded.push(`merge ${absorbed}→${survivor} #${id}`),
        split: (a, b) => loaded.push(`split ${a}|${b}`),
        shared: (type, value) => loaded.push(`shared ${type}:${value}`),
      });
      assert.equal(lastMergeId, 1);
      assert.deepEqual(loaded, [
        'profile 101',
        'profile 102',
        'userId:identity-user @101',
        'email:id@example.com @102',
        'split 101|102',
        'shared deviceId:kiosk',
      ]);
    });

    test('a batch of merges, one undone in the same batch, reads back in order with its empty fields', async () => {
      const at = t0 + 2_000;
      const merge = (id: number, absorbed: number) => ({
        id,
        at: at + id,
        survivor: 201,
        absorbed,
        kind: 'auto' as const,
        identifierType: 'email',
        identifierValue: `merge-${id}@example.com`,
        sourceId: 'src_a',
        messageId: `merge-${id}`,
        undoneAt: null,
      });
      await store.writeBatch({
        events: [],
        quarantine: [],
        replayedQuarantineIds: [],
        identity: {
          profiles: [201, 202, 203, 204].map((id) => ({ id, createdAt: at })),
          identifiers: [],
          merges: [
            merge(2, 202),
            merge(3, 203),
            {
              ...merge(4, 204),
              kind: 'manual',
              identifierType: null,
              identifierValue: null,
              sourceId: null,
              messageId: null,
            },
          ],
          undoneMerges: [{ id: 3, at: at + 10 }],
          conflicts: [],
          shared: [],
          traits: [],
        },
      });
      const { merges } = await factsOf(store, [201]);
      assert.deepEqual(
        merges.map((row) => [
          row.id,
          row.absorbed,
          row.kind,
          row.identifierValue,
          row.sourceId,
          row.undoneAt,
        ]),
        [
          [2, 202, 'auto', 'merge-2@example.com', 'src_a', null],
          [3, 203, 'auto', 'merge-3@example.com', 'src_a', at + 10],
          [4, 204, 'manual', null, null, null],
        ],
      );
    });

    test("a profile's facts keep, per trait and source, the first and the last value observed", async () => {
      const observation = (value: string, sourceId: string, at: number, messageId: string) => ({
        originProfileId: 301,
        name: 'plan',
        value: JSON.stringify(value),
        sourceId,
        at,
        messageId,
      });
      await store.writeBatch({
        events: [],
        quarantine: [],
        replayedQuarantineIds: [],
        identity: {
          profiles: [{ id: 301, createdAt: t0 }],
          identifiers: [],
          merges: [],
          undoneMerges: [],
          conflicts: [],
          shared: [],
          traits: [
            observation('trial', 'web', t0, 't1'),
            observation('free', 'web', t0 + 1, 't2'),
            observation('pro', 'web', t0 + 2, 't3'),
            observation('gold', 'crm', t0 + 1, 't4'),
            // Same time as the last one from the web: the one that arrived later comes last.
            observation('team', 'web', t0 + 2, 't5'),
          ],
        },
      });
      assert.deepEqual(
        (await factsOf(store, [301])).traits.map((trait) => [trait.value, trait.sourceId, trait.messageId]),
        [
          ['"trial"', 'web', 't1'],
          ['"gold"', 'crm', 't4'],
          ['"team"', 'web', 't5'],
        ],
      );
    });

    test('consent changes are read back per profile and streamed in recording order', async () => {
      const { store: fresh, dispose: disposeFresh } = await openStore();
      try {
        const change = (
          profileId: number,
          purpose: string,
          state: 'granted' | 'denied',
          at: number,
          more: Partial<ConsentRow> = {},
        ): ConsentRow => ({
          profileId,
          purpose,
          state,
          doubleOptIn: null,
          at,
          sourceId: 'src_a',
          messageId: `c-${profileId}-${purpose}-${at}`,
          method: 'sdk',
          detail: null,
          ...more,
        });
        const noIdentity = emptyIdentityChanges();
        const first = [
          change(2, 'email', 'granted', t0 + 5, {
            doubleOptIn: 'pending',
            method: 'event',
            detail: 'form',
            sourceId: 'src_b',
          }),
          change(1, 'analytics', 'granted', t0),
          change(1, 'email', 'denied', t0 + 1),
        ];
        await fresh.writeBatch({
          events: [],
          quarantine: [],
          replayedQuarantineIds: [],
          identity: { ...noIdentity, consent: first },
        });
        // Events resolved late (a profile given to old events) record their consent too.
        const late = change(3, 'sms', 'denied', t0 - 10, { method: 'import', messageId: 'imp-1' });
        await fresh.assignEventProfiles([], { ...noIdentity, consent: [late] });

        const history = await fresh.readConsentHistory(
          new Map([
            [1, [1, 2]],
            [3, [3]],
            [4, [4]],
          ]),
        );
        assert.deepEqual(history.get(1), first, 'both origins, in recording order');
        assert.deepEqual(history.get(3), [late]);
        assert.equal(history.get(4), undefined, 'no consent: no entry');

        const streamed: unknown[] = [];
        const count = await fresh.loadConsent((row) => streamed.push({ ...row }));
        assert.equal(count, 4);
        assert.deepEqual(
          streamed,
          [...first, late].map(({ profileId, purpose, state, doubleOptIn, at }) => ({
            profileId,
            purpose,
            state,
            doubleOptIn,
            at,
          })),
        );
      } finally {
        await disposeFresh();
      }
    });

    test('message fingerprints for the de-duplication window match the pipeline', async () => {
      const recent = event({ messageId: 'fp-recent', sourceId: 'src_b', receivedAt: Date.now() });
      await store.writeBatch({ events: [recent], quarantine: [], replayedQuarantineIds: [] });
      const seen: { hi: number; lo: number; hour: number }[] = [];
      const count = await store.scanMessageFingerprints(Date.now() - 3_600_000, (chunk) => {
        for (let i = 0; i < chunk.length; i++)
          seen.push({ hi: chunk.hi[i]!, lo: chunk.lo[i]!, hour: chunk.hour[i]! });
      });
      assert.equal(count, 1, 'only messages received since the start of the window');
      assert.deepEqual(seen, [
        { ...messageFingerprint('src_b', 'fp-recent'), hour: Math.floor(recent.receivedAt / 3_600_000) },
      ]);
    });

    describe('profiles: last seen, summary, search, quality, events without a profile', () => {
      let fresh: Store;
      let disposeFresh: () => Promise<void>;
      const day = 86_400_000;
      const noChanges = emptyIdentityChanges();
      const id = (type: string, value: string, originProfileId: number, firstSeen = t0) => ({
        type,
        value,
        originProfileId,
        firstSeen,
        sourceId: 'src_a',
        messageId: `id-${value}`,
      });
      const trait = (originProfileId: number, name: string, value: unknown, at = t0) => ({
        originProfileId,
        name,
        value: JSON.stringify(value),
        sourceId: 'src_a',
        at,
        messageId: `t-${originProfileId}-${name}-${at}`,
      });
      const rejection = (type: string, kind: 'invalid' | 'placeholder', value: string, at: number) => ({
        type,
        kind,
        value,
        reason: `"${value}" is refused.`,
        sourceId: 'src_a',
        messageId: `r-${value}`,
        at,
      });

      before(async () => {
        ({ store: fresh, dispose: disposeFresh } = await openStore());
        // 1 and 2 are one person (merged); 3 looks like them; 4 was last seen 400 days ago; 5's
        // e-mail trait is not an address.
        await fresh.writeBatch({
          events: [
            event({ messageId: 'p1-a', userId: 'jane', anonymousId: 'dev-1', profileId: 1 }),
            event({
              messageId: 'p1-b',
              userId: ' jane',
              anonymousId: null,
              profileId: 1,
              timestamp: t0 + 10 * 60_000,
              context: '{"library":{"name":"analytics.js"}}',
            }),
            event({
              messageId: 'p2-a',
              userId: null,
              anonymousId: 'dev-2',
              profileId: 2,
              timestamp: t0 + 3 * 3_600_000,
              event: 'Order Completed',
              properties: '{"revenue":30}',
              context: null,
              extra: '{"channel":"server"}',
            }),
            event({
              messageId: 'p3-a',
              userId: 'janedoe-crm',
              anonymousId: null,
              profileId: 3,
              sourceId: 'src_b',
            }),
            event({
              messageId: 'p4-a',
              userId: 'old',
              anonymousId: null,
              profileId: 4,
              timestamp: t0 - 400 * day,
            }),
            event({ messageId: 'p5-a', userId: 'bad-mail', anonymousId: null, profileId: 5 }),
          ],
          quarantine: [],
          replayedQuarantineIds: [],
          identity: {
            ...noChanges,
            profiles: [1, 2, 3, 4, 5].map((profile) => ({ id: profile, createdAt: t0 + profile })),
            identifiers: [
              id('userId', 'jane', 1),
              id('anonymousId', 'dev-1', 1),
              id('email', 'jane.doe@example.com', 1),
              id('anonymousId', 'dev-2', 2, t0 + 3 * 3_600_000),
              id('phone', '+33612345678', 2, t0 + 3 * 3_600_000),
              id('userId', 'janedoe-crm', 3),
              id('userId', 'old', 4, t0 - 400 * day),
              id('userId', 'bad-mail', 5),
            ],
            merges: [
              {
                id: 1,
                at: t0 + 3 * 3_600_000,
                survivor: 1,
                absorbed: 2,
                kind: 'auto',
                identifierType: 'email',
                identifierValue: 'jane.doe@example.com',
                sourceId: 'src_a',
                messageId: 'p2-a',
                undoneAt: null,
              },
            ],
            traits: [
              trait(1, 'firstName', 'Jane'),
              trait(1, 'lastName', 'Doe'),
              trait(1, 'birthday', '1990-05-12'),
              trait(2, 'address', { postal_code: '75 011', city: 'Paris' }),
              trait(3, 'name', ' JANE  Doé '),
              trait(3, 'birthDate', '1990-05-12T00:00:00Z'),
              trait(3, 'postalCode', '75011'),
              trait(3, 'city', 'paris'),
              trait(4, 'city', 'Paris', t0 - 400 * day),
              trait(4, 'city', 'Lyon', t0 - 399 * day),
              trait(5, 'email', 'not-an-email'),
            ],
            sightings: [
              {
                identifiers: [
                  { type: 'email', value: 'jane.doe@example.com' },
                  { type: 'userId', value: 'jane' },
                ],
                at: t0 + 5 * day,
              },
              { identifiers: [{ type: 'email', value: 'jane.doe@example.com' }], at: t0 + 2 * day },
            ],
            rejectedIdentifiers: [
              rejection('email', 'invalid', 'not-an-email', t0),
              rejection('email', 'invalid', 'also@bad', t0 + 1),
              rejection('phone', 'placeholder', '+33000000000', t0),
            ],
          },
        });
      });
      after(() => disposeFresh());

      test('identifiers are last seen at the latest event that carried them, never before first seen', async () => {
        const seen = Object.fromEntries(
          (await factsOf(fresh, [1, 2])).identities.map((row) => [
            `${row.type}:${row.value}`,
            row.lastSeen - t0,
          ]),
        );
        assert.deepEqual(seen, {
          'userId:jane': 10 * 60_000,
          'anonymousId:dev-1': 0,
          'email:jane.doe@example.com': 5 * day,
          'anonymousId:dev-2': 3 * 3_600_000,
          'phone:+33612345678': 3 * 3_600_000,
        });
      });

      test('a profile summary counts visits (30-minute gaps) and channels', async () => {
        const { summary } = await factsOf(fresh, [1, 2]);
        assert.equal(summary.events, 3);
        assert.equal(summary.sessions, 2);
        assert.equal(summary.purchases, 1);
        assert.equal(summary.revenue, 30);
        assert.deepEqual(
          summary.channels.map((channel) => [
            channel.channel,
            channel.library,
            channel.events,
            channel.lastSeen - t0,
          ]),
          [
            [null, null, 1, 0],
            [null, 'analytics.js', 1, 10 * 60_000],
            ['server', null, 1, 3 * 3_600_000],
          ],
        );
        assert.equal((await factsOf(fresh, [99])).summary.sessions, 0);
      });

      test('many profiles are read at once, each as when read alone', async () => {
        const both = await fresh.readProfileFacts(
          new Map([
            [1, [1, 2]],
            [4, [4]],
          ]),
        );
        assert.equal(both.size, 2);
        assert.deepEqual(both.get(1), await factsOf(fresh, [1, 2]));
        assert.deepEqual(both.get(4), await factsOf(fresh, [4]));
        assert.deepEqual(both.get(1)?.members, [1, 2]);
      });

      test('profiles are found by identifier prefix and by the latest value of a trait', async () => {
        assert.deepEqual(
          await fresh.findProfilesByIdentifierPrefix([{ type: 'email', prefix: 'jane' }]),
          [1],
        );
        assert.deepEqual(await fresh.findProfilesByIdentifierPrefix([{ prefix: 'jane' }]), [1, 3]);
        assert.deepEqual(
          await fresh.findProfilesByIdentifierPrefix([{ type: 'userId', prefix: 'o' }, { prefix: 'dev-2' }]),
          [2, 4],
        );
        assert.deepEqual(await fresh.findProfilesByIdentifierPrefix([{ type: 'phone', prefix: '+44' }]), []);
        const city = { name: 'city', path: [], value: 'paris', match: 'equals' } as const;
        // 4 lived in Paris, then Lyon: only the latest value counts.
        assert.deepEqual(await fresh.findProfilesByTrait(city), [3]);
        assert.deepEqual(await fresh.findProfilesByTrait({ ...city, value: 'lyo', match: 'prefix' }), [4]);
        assert.deepEqual(await fresh.findProfilesByTrait({ ...city, name: 'address', path: ['city'] }), [2]);
        assert.deepEqual(await fresh.findProfilesByTrait({ ...city, value: 'pari' }), []);
      });

      test('duplicates are suspected on normalised name, birth date and postal code, across merged profiles', async () => {
        const key = { name: 'jane doe', birthDate: '1990-05-12', postalCode: '75011' };
        assert.deepEqual(await fresh.findSuspectedDuplicates([1, 2]), { ...key, profiles: [3] });
        assert.deepEqual(await fresh.findSuspectedDuplicates([3]), { ...key, profiles: [1] });
        assert.equal(
          await fresh.findSuspectedDuplicates([4]),
          undefined,
          'no name, birth date and postal code',
        );
      });

      test('the quality report counts people, contacts, stale profiles, duplicates and rejections', async () => {
        const report = await fresh.qualityReport({ staleBefore: t0 - 180 * day, sample: 5 });
        assert.deepEqual(
          { ...report, rejectedIdentifiers: undefined },
          {
            profiles: 4,
            originProfiles: 5,
            identifiers: 8,
            events: 6,
            withValidEmail: 1,
            withInvalidEmailOnly: 1,
            withValidPhone: 1,
            withInvalidPhoneOnly: 0,
            stale: 1,
            duplicateGroups: 1,
            duplicateProfiles: 2,
            duplicateSample: [
              { name: 'jane doe', birthDate: '1990-05-12', postalCode: '75011', profiles: [1, 3] },
            ],
            quarantine: [],
            rejectedIdentifiers: undefined,
          },
        );
        assert.deepEqual(
          report.rejectedIdentifiers.map((row) => [row.type, row.kind, row.count, row.example.value]),
          [
            ['email', 'invalid', 2, 'also@bad'],
            ['phone', 'placeholder', 1, '+33000000000'],
          ],
        );
        assert.equal(
          (await fresh.qualityReport({ staleBefore: t0 - 180 * day, sample: 0 })).duplicateSample.length,
          0,
        );
      });

      test('events stored without a profile are listed oldest first and given one with their identity rows', async () => {
        await fresh.writeBatch({
          events: ['old-1', 'old-2', 'old-3'].map((messageId) => event({ messageId, userId: messageId })),
          quarantine: [],
          replayedQuarantineIds: [],
        });
        const first = await fresh.listEvents({ withoutProfile: true, oldestFirst: true, limit: 2 });
        assert.deepEqual(
          first.map((row) => row.messageId),
          ['old-1', 'old-2'],
        );
        await fresh.assignEventProfiles(
          first.map((row) => ({ seq: row.seq, profileId: 6 })),
          { ...noChanges, profiles: [{ id: 6, createdAt: t0 }], identifiers: [id('userId', 'old-1', 6)] },
        );
        const rest = await fresh.listEvents({ withoutProfile: true, oldestFirst: true, limit: 10 });
        assert.deepEqual(
          rest.map((row) => row.messageId),
          ['old-3'],
        );
        assert.deepEqual(
          await fresh.listEvents({ withoutProfile: true, afterSeq: rest[0]!.seq, limit: 10 }),
          [],
        );
        assert.deepEqual(
          (await fresh.listEvents({ profileIds: [6], limit: 10 })).map((row) => row.messageId),
          ['old-2', 'old-1'],
        );
        assert.deepEqual(
          (await factsOf(fresh, [6])).identities.map((row) => row.value),
          ['old-1'],
        );
      });

      test('once a merge is undone, its profiles are two people again in the quality report', async () => {
        await fresh.writeBatch({
          events: [],
          quarantine: [],
          replayedQuarantineIds: [],
          identity: { ...noChanges, undoneMerges: [{ id: 1, at: t0 + day }] },
        });
        // Without 2's address, 1 has no postal code.
        assert.equal(await fresh.findSuspectedDuplicates([1]), undefined);
        const report = await fresh.qualityReport({ staleBefore: t0 - 180 * day, sample: 5 });
        assert.equal(report.profiles, 6);
        assert.equal(report.duplicateGroups, 0);
      });
    });

    describe('overview counts', () => {
      const day = 86_400_000;
      const hour = 3_600_000;
      let own: Store;
      let disposeOwn: () => Promise<void>;
      before(async () => {
        ({ store: own, dispose: disposeOwn } = await openStore());
      });
      after(() => disposeOwn());

      test('events are counted per bucket of reception time, by source and type, in local time', async () => {
        // 23:30 in Paris (UTC+1); Paris moves to UTC+2 at 01:00 UTC on the 29th.
        const at = Date.UTC(2026, 2, 28, 22, 30);
        const received = (messageId: string, receivedAt: number, more: Partial<StoredEvent> = {}) =>
          event({ messageId, receivedAt, timestamp: receivedAt - day, ...more });
        await own.writeBatch({
          events: [
            received('paris-28', at),
            received('paris-28-page', at + 10 * 60_000, { type: 'page', event: null, name: 'Home' }),
            received('paris-29', at + 45 * 60_000, { sourceId: 'src_b' }),
            received('paris-30', Date.UTC(2026, 2, 29, 22, 30)),
            received('before', Date.UTC(2026, 2, 27, 23, 59)),
          ],
          quarantine: [],
          replayedQuarantineIds: [],
        });
        const from = Date.UTC(2026, 2, 28);
        const to = Date.UTC(2026, 2, 30);
        const utc = await own.countEventsOverTime({
          time: 'received',
          from,
          to,
          bucketMs: day,
          bySourceAndType: true,
        });
        const first = from / day;
        assert.deepEqual(utc, [
          { bucket: first, sourceId: 'src_a', type: 'page', count: 1 },
          { bucket: first, sourceId: 'src_a', type: 'track', count: 1 },
          { bucket: first, sourceId: 'src_b', type: 'track', count: 1 },
          { bucket: first + 1, sourceId: 'src_a', type: 'track', count: 1 },
        ]);
        const paris = await own.countEventsOverTime({
          time: 'received',
          from,
          to,
          bucketMs: day,
          offsets: [
            { from, offsetMs: hour },
            { from: Date.UTC(2026, 2, 29, 1), offsetMs: 2 * hour },
          ],
          bySourceAndType: false,
        });
        // By event time (a day before reception here), only the event received on the 29th is in range.
        assert.deepEqual(
          await own.countEventsOverTime({ time: 'event', from, to, bucketMs: day, bySourceAndType: true }),
          [{ bucket: first, sourceId: 'src_a', type: 'track', count: 1 }],
        );
        assert.deepEqual(paris, [
          { bucket: first, sourceId: null, type: null, count: 2 },
          { bucket: first + 1, sourceId: null, type: null, count: 1 },
          { bucket: first + 2, sourceId: null, type: null, count: 1 },
        ]);
        const minutes = await own.countEventsOverTime({
          time: 'received',
          from: at,
          to: at + hour,
          bucketMs: 60_000,
          bySourceAndType: false,
        });
        assert.deepEqual(
          minutes.map((row) => [row.bucket * 60_000 - at, row.count]),
          [
            [0, 1],
            [10 * 60_000, 1],
            [45 * 60_000, 1],
          ],
        );
      });

      test('people meeting rules are counted as segments count them, merges followed', async () => {
        const id = (type: string, value: string, originProfileId: number) => ({
          type,
          value,
          originProfileId,
          firstSeen: t0,
          sourceId: 'src_a',
          messageId: `id-${value}`,
        });
        const consent = (profileId: number, state: 'granted' | 'denied'): ConsentRow => ({
          profileId,
          purpose: 'email',
          state,
          doubleOptIn: null,
          at: t0 + profileId,
          sourceId: 'src_a',
          messageId: `consent-${profileId}`,
          method: 'sdk',
          detail: null,
        });
        await own.writeBatch({
          events: [],
          quarantine: [],
          replayedQuarantineIds: [],
          identity: {
            ...emptyIdentityChanges(),
            profiles: [1, 2, 3, 4].map((profile) => ({ id: profile, createdAt: t0 + profile })),
            identifiers: [
              id('anonymousId', 'a-1', 1),
              id('email', 'two@example.com', 2),
              id('userId', 'u-3', 3),
              id('anonymousId', 'a-4', 4),
            ],
            consent: [consent(2, 'granted'), consent(3, 'denied'), consent(4, 'granted')],
          },
        });
        // 2 is part of 1: three people, two of them identified, two that may be e-mailed.
        const counts = await own.countProfilesMeeting(
          [
            {
              kind: 'or',
              rules: [
                { kind: 'identifier', type: 'userId' },
                { kind: 'identifier', type: 'email' },
              ],
            },
            { kind: 'consent', purpose: 'email', test: 'may-use' },
            { kind: 'identifier', type: 'anonymousId' },
          ],
          {
            now: t0 + day,
            traitRules: defaultTraitRules,
            segmentRule: () => undefined,
            merged: { origins: [2], profiles: [1] },
            consentRules: defaultConsentRules,
          },
        );
        assert.deepEqual(counts, [2, 2, 2]);
      });
    });
  });
}

/** The facts of the profile made of these origin profiles (the first one standing for it). */
async function factsOf(store: Store, origins: readonly number[]): Promise<ProfileFacts> {
  const profile = origins[0]!;
  const facts = (await store.readProfileFacts(new Map([[profile, origins]]))).get(profile);
  assert.ok(facts !== undefined);
  return facts;
}
