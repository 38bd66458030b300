import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { storedEventFixture } from '../domain/events.fixture.ts';
import { openFileLog } from './ingest-log.ts';
import type { WriteBatch } from './store.ts';

function batch(...messageIds: string[]): WriteBatch {
  return {
    events: messageIds.map((messageId) =>
      storedEventFixture({
        sourceId: 'src_log',
        messageId,
        properties: '{"price":12.5,"name":"café ☕"}',
        profileId: 7,
      }),
    ),
    quarantine: [],
    replayedQuarantineIds: [],
  };
}

async function replayed(dir: string, after: number): Promise<{ seq: number; ids: string[] }[]> {
  const log = await openFileLog({ dir, after: 0 });
  const seen: { seq: number; ids: string[] }[] = [];
  await log.replay(after, async (seq, written) => {
    seen.push({ seq, ids: written.events.map((event) => event.messageId) });
  });
  await log.close();
  return seen;
}

describe('openFileLog', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cible-log-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('numbers batches and gives back, after a restart, those after a position, intact', async () => {
    const log = await openFileLog({ dir, after: 0 });
    assert.equal(await log.append(batch('a1', 'a2')), 1);
    assert.equal(await log.append(batch('b1')), 2);
    assert.equal(await log.append(batch('c1')), 3);
    await log.close();

    assert.deepEqual(await replayed(dir, 1), [
      { seq: 2, ids: ['b1'] },
      { seq: 3, ids: ['c1'] },
    ]);
    const reopened = await openFileLog({ dir, after: 0 });
    let event: WriteBatch['events'][number] | undefined;
    await reopened.replay(0, async (_, written) => {
      event ??= written.events[0];
    });
    assert.deepEqual(event, batch('a1').events[0], 'every field comes back as written');
    assert.equal(await reopened.append(batch('d1')), 4, 'numbering goes on after a restart');
    await reopened.close();
  });

  it('goes on numbering after the position the store holds, even without files', async () => {
    const log = await openFileLog({ dir, after: 41 });
    assert.equal(await log.append(batch('x')), 42);
    await log.close();
  });

  it('cuts off a record torn by a crash, and appends after the last whole one', async () => {
    const log = await openFileLog({ dir, after: 0 });
    await log.append(batch('whole'));
    await log.close();
    const [file] = await readdir(dir);
    const path = join(dir, file!);
    const whole = (await stat(path)).size;
    await appendFile(path, Buffer.from([200, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0x00, 0x40, 123]));

    const reopened = await openFileLog({ dir, after: 0 });
    assert.equal((await stat(path)).size, whole, 'the torn tail is gone');
    assert.equal(await reopened.append(batch('next')), 2);
    await reopened.close();
    assert.deepEqual(
      (await replayed(dir, 0)).map((record) => record.ids),
      [['whole'], ['next']],
    );
  });

  it('drops an empty file left by a crash right after it was created', async () => {
    const log = await openFileLog({ dir, after: 0, segmentBytes: 1 });
    await log.append(batch('a'));
    await log.append(batch('b'));
    await log.close();
    await writeFile(join(dir, '0000000000000003.log'), '');

    const reopened = await openFileLog({ dir, after: 0 });
    assert.deepEqual(await readdir(dir), ['0000000000000001.log', '0000000000000002.log']);
    assert.equal(await reopened.append(batch('c')), 3);
    await reopened.close();
    assert.deepEqual(
      (await replayed(dir, 0)).map((record) => record.ids),
      [['a'], ['b'], ['c']],
    );
  });

  it('starts new files as they fill and deletes those the store holds entirely', async () => {
    const log = await openFileLog({ dir, after: 0, segmentBytes: 1 });
    for (let i = 1; i <= 4; i++) await log.append(batch(`m${i}`));
    assert.equal((await readdir(dir)).length, 4, 'one file per batch at this size');
    assert.ok(log.bytes > 0);

    await log.release(2);
    assert.deepEqual(await readdir(dir), ['0000000000000003.log', '0000000000000004.log']);
    await log.release(4);
    assert.deepEqual(await readdir(dir), ['0000000000000004.log'], 'the file being written stays');
    await log.close();

    const reopened = await openFileLog({ dir, after: 4 });
    await reopened.release(4);
    assert.deepEqual(await readdir(dir), [], 'after a restart, what the store holds goes');
    assert.equal(await reopened.append(batch('m5')), 5);
    await reopened.close();
  });

  it('rotates: the file ended goes once the store holds its batches, however small it is', async () => {
    const log = await openFileLog({ dir, after: 0 });
    for (const id of ['erase-me-1', 'erase-me-2', 'erase-me-3']) await log.append(batch(id));
    await log.release(3);
    assert.deepEqual(await readdir(dir), ['0000000000000001.log'], 'without a rotation the file stays');

    await log.rotate();
    await log.rotate();
    assert.equal(await log.append(batch('kept-4')), 4, 'numbering goes on in a new file');
    await log.release(3);
    assert.deepEqual(await readdir(dir), ['0000000000000004.log']);
    const [only] = await readdir(dir);
    assert.equal((await readFile(join(dir, only!), 'utf8')).includes('erase-me'), false);
    await log.close();
    assert.deepEqual(await replayed(dir, 0), [{ seq: 4, ids: ['kept-4'] }]);
  });

  it('rotates after the appends under way, and leaves nothing once the store holds everything', async () => {
    const log = await openFileLog({ dir, after: 0 });
    const appends = [log.append(batch('a')), log.append(batch('b'))];
    await log.rotate();
    assert.deepEqual(await Promise.all(appends), [1, 2]);
    await log.release(2);
    assert.deepEqual(await readdir(dir), []);
    assert.equal(log.bytes, 0);
    await log.close();
  });
});
