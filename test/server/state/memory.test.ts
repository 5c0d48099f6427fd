import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { memoryCounterStore, memoryReplayGuard } from '../../../src/server/state/index.ts';

describe('memoryCounterStore', () => {
  // Regression: @fastify/rate-limit's own memory store handed every caller of a
  // burst one shared record, so the whole burst read the last count and was refused.
  test('answers each increment of a concurrent burst with its own count', async () => {
    const store = memoryCounterStore();
    const answers = await Promise.all([1, 2, 3].map(() => store.increment('rate-limit:ip:a', 60_000)));
    assert.deepEqual(
      answers.map((a) => a.count),
      [1, 2, 3],
    );
  });

  test('counts within a window and starts a new one when it has passed', async () => {
    let now = 1_000;
    const store = memoryCounterStore({ now: () => now });
    assert.deepEqual(await store.increment('a', 100), { count: 1, resetAt: 1_100 });
    assert.deepEqual(await store.increment('a', 100), { count: 2, resetAt: 1_100 });
    now = 1_100;
    assert.deepEqual(await store.increment('a', 100), { count: 1, resetAt: 1_200 });
  });

  test('stays within maxKeys by dropping the oldest windows', async () => {
    const store = memoryCounterStore({ maxKeys: 3, now: () => 0 });
    for (const key of ['a', 'b', 'c', 'd', 'e']) await store.increment(key, 1000);
    assert.equal(store.size(), 3);
    assert.deepEqual(await store.increment('e', 1000), { count: 2, resetAt: 1000 });
    assert.deepEqual(await store.increment('a', 1000), { count: 1, resetAt: 1000 });
  });
});

describe('memoryReplayGuard', () => {
  const token = { iss: 'https://issuer.example', tokenId: 'id-1' } as Parameters<
    ReturnType<typeof memoryReplayGuard>['claim']
  >[0];
  const signal = new AbortController().signal;

  test('refuses a second claim of the same token with token_replayed until its record expires', async () => {
    let now = 0;
    const guard = memoryReplayGuard(() => now);
    await guard.claim(token, 1000, signal);
    await assert.rejects(guard.claim(token, 1000, signal), {
      code: 'INVALID_TOKEN',
      details: { reason: 'token_replayed' },
    });
    now = 1000;
    await guard.claim(token, 1000, signal);
  });

  test('lets a released token be claimed again', async () => {
    const guard = memoryReplayGuard();
    await guard.claim(token, 1000, signal);
    await guard.release(token);
    await guard.claim(token, 1000, signal);
  });
});
