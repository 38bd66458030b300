import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { createMessageDedupe, hourOf, messageFingerprint, type Fingerprint } from './message-dedupe.ts';

const HOUR = 480_000; // an arbitrary hour number (ms / 3,600,000)

describe('messageFingerprint', () => {
  it('gives the same fingerprint for the same source and messageId', () => {
    assert.deepEqual(messageFingerprint('src_a', 'm-1'), messageFingerprint('src_a', 'm-1'));
  });

  it('gives different fingerprints to the same messageId from different sources', () => {
    const a = messageFingerprint('src_a', 'm-1');
    const b = messageFingerprint('src_b', 'm-1');
    assert.notDeepEqual(a, b);
  });

  it('separates source and messageId, so that ("ab","c") and ("a","bc") differ', () => {
    assert.notDeepEqual(messageFingerprint('ab', 'c'), messageFingerprint('a', 'bc'));
  });

  it('returns two unsigned 32-bit halves', () => {
    for (const id of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) {
      const { hi, lo } = messageFingerprint('src', id);
      for (const half of [hi, lo]) {
        assert.ok(
          Number.isInteger(half) && half >= 0 && half <= 0xffffffff,
          `${half} is an unsigned 32-bit int`,
        );
      }
    }
  });

  it("equals DuckDB's md5_number_upper(source_id || chr(0) || message_id), split in hi and lo halves", async () => {
    const db = await DuckDBInstance.create(':memory:');
    try {
      const connection = await db.connect();
      try {
        const pairs: [string, string][] = [
          ['src_a', 'm-1'],
          ['src_b', 'm-1'],
          ['src_5f1c0e2d', 'ajs-next-1712345678901-4d9a1b2c'],
          ['src', 'héllo wörld ✓ 🎉'],
          ['', 'x'],
        ];
        const values = pairs.map(([s, m]) => `('${s.replaceAll("'", "''")}', '${m.replaceAll("'", "''")}')`);
        const reader = await connection.runAndReadAll(
          `SELECT source_id, message_id,
                  md5_number_upper(source_id || chr(0) || message_id) AS fp,
                  (md5_number_upper(source_id || chr(0) || message_id) >> 32)::UBIGINT AS hi,
                  (md5_number_upper(source_id || chr(0) || message_id) & 4294967295)::UBIGINT AS lo
           FROM (VALUES ${values.join(', ')}) AS t(source_id, message_id)`,
        );
        const rows = reader.getRowObjects();
        assert.equal(rows.length, pairs.length);
        for (const row of rows) {
          const sourceId = String(row.source_id);
          const messageId = String(row.message_id);
          const fingerprint = messageFingerprint(sourceId, messageId);
          const fp = row.fp as bigint;
          assert.equal(typeof fp, 'bigint');
          assert.equal(fingerprint.hi, Number(fp >> 32n), `hi of ${sourceId}/${messageId}`);
          assert.equal(fingerprint.lo, Number(fp & 0xffffffffn), `lo of ${sourceId}/${messageId}`);
          assert.equal(BigInt(fingerprint.hi), row.hi);
          assert.equal(BigInt(fingerprint.lo), row.lo);
        }
      } finally {
        connection.closeSync();
      }
    } finally {
      db.closeSync();
    }
  });
});

describe('hourOf', () => {
  it('floors milliseconds to hours', () => {
    assert.equal(hourOf(0), 0);
    assert.equal(hourOf(3_599_999), 0);
    assert.equal(hourOf(3_600_000), 1);
    assert.equal(hourOf(Date.UTC(2024, 0, 1, 10, 59)), Date.UTC(2024, 0, 1, 10) / 3_600_000);
  });
});

describe('createMessageDedupe', () => {
  it('returns false the first time a fingerprint is seen and true afterwards', () => {
    const dedupe = createMessageDedupe(24);
    const fp = messageFingerprint('src_a', 'm-1');
    assert.equal(dedupe.checkAndAdd(fp, HOUR), false);
    assert.equal(dedupe.size, 1);
    assert.equal(dedupe.checkAndAdd(fp, HOUR), true);
    assert.equal(dedupe.checkAndAdd({ hi: fp.hi, lo: fp.lo }, HOUR), true, 'compared by value');
    assert.equal(dedupe.size, 1, 'a duplicate is not added twice');
  });

  it('finds a fingerprint seen in an earlier hour of the window', () => {
    const dedupe = createMessageDedupe(24);
    const fp = messageFingerprint('src_a', 'm-1');
    assert.equal(dedupe.checkAndAdd(fp, HOUR), false);
    assert.equal(dedupe.checkAndAdd(fp, HOUR + 5), true);
    assert.equal(dedupe.size, 1);
  });

  it('treats the same messageId from two sources as two messages', () => {
    const dedupe = createMessageDedupe(24);
    assert.equal(dedupe.checkAndAdd(messageFingerprint('src_a', 'm-1'), HOUR), false);
    assert.equal(dedupe.checkAndAdd(messageFingerprint('src_b', 'm-1'), HOUR), false);
    assert.equal(dedupe.size, 2);
  });

  it('forget() lets a fingerprint be added again', () => {
    const dedupe = createMessageDedupe(24);
    const fp = messageFingerprint('src_a', 'm-1');
    const other = messageFingerprint('src_a', 'm-2');
    dedupe.checkAndAdd(fp, HOUR);
    dedupe.checkAndAdd(other, HOUR);
    dedupe.forget(fp, HOUR);
    assert.equal(dedupe.size, 1);
    assert.equal(dedupe.checkAndAdd(other, HOUR), true, 'other fingerprints are kept');
    assert.equal(dedupe.checkAndAdd(fp, HOUR), false, 'the forgotten one is new again');
    assert.equal(dedupe.size, 2);
    assert.equal(dedupe.checkAndAdd(fp, HOUR), true);
  });

  it('forget() of an unknown fingerprint or hour changes nothing', () => {
    const dedupe = createMessageDedupe(24);
    const fp = messageFingerprint('src_a', 'm-1');
    dedupe.checkAndAdd(fp, HOUR);
    dedupe.forget(messageFingerprint('src_a', 'never'), HOUR);
    dedupe.forget(fp, HOUR + 1);
    assert.equal(dedupe.size, 1);
    assert.equal(dedupe.checkAndAdd(fp, HOUR), true);
  });

  it('finds fingerprints that sit behind a forgotten one in the same table', () => {
    const dedupe = createMessageDedupe(24);
    // Same lo (same probe start), different hi: they collide on the same slot chain.
    const a: Fingerprint = { hi: 1, lo: 5 };
    const b: Fingerprint = { hi: 2, lo: 5 };
    const c: Fingerprint = { hi: 3, lo: 5 };
    for (const fp of [a, b, c]) assert.equal(dedupe.checkAndAdd(fp, HOUR), false);
    dedupe.forget(a, HOUR);
    assert.equal(dedupe.checkAndAdd(b, HOUR), true);
    assert.equal(dedupe.checkAndAdd(c, HOUR), true);
    assert.equal(dedupe.checkAndAdd(a, HOUR), false);
    assert.equal(dedupe.size, 3);
  });

  it('expire() drops the hours older than the window and keeps those inside it', () => {
    const window = 24;
    const dedupe = createMessageDedupe(window);
    const now = HOUR + 100;
    const old = messageFingerprint('src', 'old'); // hour now − 25: left the window
    const edge = messageFingerprint('src', 'edge'); // hour now − 24: may hold messages < 24 h old
    const recent = messageFingerprint('src', 'recent'); // hour now − 1
    const current = messageFingerprint('src', 'current'); // hour now
    dedupe.checkAndAdd(old, now - window - 1);
    dedupe.checkAndAdd(edge, now - window);
    dedupe.checkAndAdd(recent, now - 1);
    dedupe.checkAndAdd(current, now);
    assert.equal(dedupe.size, 4);

    dedupe.expire(now);
    assert.equal(dedupe.size, 3);
    assert.equal(dedupe.checkAndAdd(edge, now), true, 'hour now − 24 is kept');
    assert.equal(dedupe.checkAndAdd(recent, now), true);
    assert.equal(dedupe.checkAndAdd(current, now), true);
    assert.equal(dedupe.checkAndAdd(old, now), false, 'hour now − 25 is dropped');
    assert.equal(dedupe.size, 4);

    // An hour later, the edge hour leaves the window too.
    dedupe.expire(now + 1);
    assert.equal(dedupe.size, 3);
    assert.equal(dedupe.checkAndAdd(edge, now + 1), false);
  });

  it('expire() keeps everything when all hours are inside the window', () => {
    const dedupe = createMessageDedupe(48);
    for (let h = 0; h < 10; h++) dedupe.checkAndAdd(messageFingerprint('src', `m${h}`), HOUR + h);
    dedupe.expire(HOUR + 40);
    assert.equal(dedupe.size, 10);
  });

  it('grows past its initial capacity: 100,000 fingerprints, all found', () => {
    const dedupe = createMessageDedupe(24);
    const count = 100_000;
    const fingerprints: Fingerprint[] = [];
    for (let i = 0; i < count; i++) fingerprints.push(messageFingerprint('src_big', `message-${i}`));
    for (const fp of fingerprints) assert.equal(dedupe.checkAndAdd(fp, HOUR), false);
    assert.equal(dedupe.size, count);
    let found = 0;
    for (const fp of fingerprints) if (dedupe.checkAndAdd(fp, HOUR)) found++;
    assert.equal(found, count);
    assert.equal(dedupe.size, count);
    assert.equal(dedupe.checkAndAdd(messageFingerprint('src_big', 'message-new'), HOUR), false);
    assert.equal(dedupe.size, count + 1);
  });

  it('takes a busy hour in several tables: 1.7 million fingerprints, all found, any one forgettable', () => {
    const dedupe = createMessageDedupe(24);
    let state = 0x9e3779b9;
    const next = (): number => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state >>> 0;
    };
    const count = 1_700_000;
    const keys = new Uint32Array(count * 2);
    for (let i = 0; i < keys.length; i++) keys[i] = next();
    const at = (i: number): Fingerprint => ({ hi: keys[i * 2]!, lo: keys[i * 2 + 1]! });
    for (let i = 0; i < count; i++) assert.equal(dedupe.checkAndAdd(at(i), HOUR), false);
    assert.equal(dedupe.size, count);
    let found = 0;
    for (let i = 0; i < count; i++) if (dedupe.checkAndAdd(at(i), HOUR)) found++;
    assert.equal(found, count);
    // The first message sits in the first table, the last in the last one.
    for (const i of [0, count - 1]) {
      dedupe.forget(at(i), HOUR);
      assert.equal(dedupe.checkAndAdd(at(i), HOUR), false, `message ${i} forgotten`);
    }
    assert.equal(dedupe.size, count);
    dedupe.expire(HOUR + 25);
    assert.equal(dedupe.size, 0);
  });

  it('grows while holding forgotten slots, and stays correct', () => {
    const dedupe = createMessageDedupe(24);
    const fingerprints: Fingerprint[] = [];
    for (let i = 0; i < 5000; i++) fingerprints.push(messageFingerprint('src', `g-${i}`));
    for (const fp of fingerprints) dedupe.checkAndAdd(fp, HOUR);
    for (let i = 0; i < 5000; i += 2) dedupe.forget(fingerprints[i]!, HOUR);
    assert.equal(dedupe.size, 2500);
    for (let i = 0; i < 5000; i++) {
      assert.equal(dedupe.checkAndAdd(fingerprints[i]!, HOUR), i % 2 === 1, `fingerprint ${i}`);
    }
    assert.equal(dedupe.size, 5000);
  });

  it('handles the reserved values (0, 0) and (0xffffffff, 0xffffffff)', () => {
    const dedupe = createMessageDedupe(24);
    const zero: Fingerprint = { hi: 0, lo: 0 };
    const ones: Fingerprint = { hi: 0xffffffff, lo: 0xffffffff };
    assert.equal(dedupe.checkAndAdd(zero, HOUR), false);
    assert.equal(dedupe.checkAndAdd(ones, HOUR), false);
    assert.equal(dedupe.size, 2);
    assert.equal(dedupe.checkAndAdd(zero, HOUR), true);
    assert.equal(dedupe.checkAndAdd(ones, HOUR), true);

    // They survive growth of the table.
    for (let i = 0; i < 3000; i++) dedupe.checkAndAdd(messageFingerprint('src', `r-${i}`), HOUR);
    assert.equal(dedupe.checkAndAdd(zero, HOUR), true);
    assert.equal(dedupe.checkAndAdd(ones, HOUR), true);
    assert.equal(dedupe.size, 3002);

    // And can be forgotten and added again.
    dedupe.forget(zero, HOUR);
    dedupe.forget(ones, HOUR);
    assert.equal(dedupe.size, 3000);
    assert.equal(dedupe.checkAndAdd(zero, HOUR), false);
    assert.equal(dedupe.checkAndAdd(ones, HOUR), false);
    assert.equal(dedupe.size, 3002);
  });
});
