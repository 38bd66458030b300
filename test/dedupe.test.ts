import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basic, removeTestDir, startTestCible, testDataDir } from './helpers.ts';

// SDKs retry with the same messageId when an answer is lost; the event must be stored once,
// also when the retry reaches a restarted server.
test('a retried event is stored once, across a restart', async () => {
  const dataDir = await testDataDir();
  try {
    const send = async (cible: Awaited<ReturnType<typeof startTestCible>>, writeKey: string) => {
      const response = await cible.app.inject({
        method: 'POST',
        url: '/v1/batch',
        headers: { authorization: basic(writeKey), 'content-type': 'application/json' },
        payload: JSON.stringify({
          batch: [
            { type: 'track', userId: 'retry', event: 'Paid', messageId: 'retry-1' },
            { type: 'track', userId: 'retry', event: 'Paid', messageId: 'retry-2' },
          ],
        }),
      });
      assert.equal(response.statusCode, 200);
      return response.json<{ accepted: number; duplicates: number }>();
    };

    const first = await startTestCible({}, dataDir);
    const writeKey = await first.createSource('retries');
    assert.deepEqual(await send(first, writeKey), {
      success: true,
      accepted: 2,
      duplicates: 0,
      rejected: [],
    });
    assert.deepEqual(await send(first, writeKey), {
      success: true,
      accepted: 0,
      duplicates: 2,
      rejected: [],
    });
    await first.close();

    const second = await startTestCible({}, dataDir);
    assert.deepEqual(await send(second, writeKey), {
      success: true,
      accepted: 0,
      duplicates: 2,
      rejected: [],
    });
    assert.equal((await second.admin<{ events: number }>('/api/stats')).events, 2);

    // The same messageId from another source is another event.
    const otherKey = await second.createSource('other');
    assert.deepEqual(await send(second, otherKey), {
      success: true,
      accepted: 2,
      duplicates: 0,
      rejected: [],
    });
    await second.close();
  } finally {
    await removeTestDir(dataDir);
  }
});
