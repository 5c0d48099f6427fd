/**
 * The Redis counter store against the machine's real Redis (a unique key
 * prefix per run, removed afterwards). Separate connections stand for
 * separate broker instances: the window they count is one.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { BrokerError } from '../../../src/core/errors.ts';
import type { VerifiedToken } from '../../../src/core/types.ts';
import { silentLogger } from '../../../src/core/types.ts';
import { createSubjectLimiter } from '../../../src/server/plugins/rate-limit.ts';
import type { CounterStore } from '../../../src/server/state/index.ts';
import { redisCounterStore } from '../../../src/server/state/redis.ts';
import { createSharedRedis, type SharedRedis } from '../../../src/server/state/redis-client.ts';
import { deadPort, deleteUnder, rawClient, SHARED_REDIS_URL, uniquePrefix } from '../../e2e/peers/redis.ts';

const prefix = uniquePrefix();
const raw = rawClient();
const instances: SharedRedis[] = [];
let stores: CounterStore[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const store = (i: number): CounterStore => {
  const s = stores[i];
  if (!s) throw new Error(`no store ${i}`);
  return s;
};

before(async () => {
  await raw.connect();
  for (let i = 0; i < 3; i += 1) {
    const shared = createSharedRedis({ url: SHARED_REDIS_URL, keyPrefix: prefix, tls: false }, silentLogger);
    assert.equal(await shared.connect(), true, 'the machine Redis at 127.0.0.1:6379 must be running');
    instances.push(shared);
  }
  stores = instances.map((shared) => redisCounterStore(shared.client));
});

after(async () => {
  await deleteUnder(raw, prefix);
  for (const shared of instances) await shared.close();
  raw.disconnect();
});

describe('Redis counter store', () => {
  test('counts one window across instances, each hit seeing its own count', async () => {
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => store(i % 3).increment('shared-window', 60_000)),
    );
    assert.deepEqual(
      results.map((r) => r.count).sort((x, y) => x - y),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    for (const r of results) {
      assert.ok(r.resetAt > started + 58_000 && r.resetAt <= Date.now() + 60_000, `resetAt ${r.resetAt}`);
    }
  });

  test('starts a new window once the old one has expired', async () => {
    assert.equal((await store(0).increment('short', 100)).count, 1);
    assert.equal((await store(1).increment('short', 100)).count, 2);
    await sleep(150);
    assert.equal((await store(2).increment('short', 100)).count, 1);
  });

  test('keeps keys apart and stores them under the prefix', async () => {
    await store(0).increment('rate-limit:a', 30_000);
    await store(0).increment('rate-limit:a', 30_000);
    assert.equal((await store(1).increment('rate-limit:b', 30_000)).count, 1);
    assert.equal(await raw.get(`${prefix}rate-limit:a`), '2');
    const pttl = await raw.pttl(`${prefix}rate-limit:a`);
    assert.ok(pttl > 29_000 && pttl <= 30_000, `PTTL ${pttl}`);
  });

  test('gives an expiry back to a counter that lost it', async () => {
    await raw.set(`${prefix}rate-limit:stuck`, '7');
    const { count, resetAt } = await store(0).increment('rate-limit:stuck', 5000);
    assert.equal(count, 8);
    assert.ok(resetAt <= Date.now() + 5000);
    assert.ok((await raw.pttl(`${prefix}rate-limit:stuck`)) > 0);
  });

  test('makes the per-subject limit global: the (max+1)th mint on any instance is 429, at the key earlier versions used', async () => {
    const verified = { iss: 'https://issuer.test', sub: 'repo:acme/app' } as VerifiedToken;
    const metrics = { rateLimitStoreError: () => assert.fail('no store error expected') };
    const limiters = [0, 1, 2].map((i) =>
      createSubjectLimiter({
        settings: () => ({ windowMs: 60_000, max: 4 }),
        counters: store(i),
        logger: silentLogger,
        metrics,
      }),
    );
    for (let i = 0; i < 4; i += 1) await limiters[i % 3]?.(verified);
    await assert.rejects(
      async () => limiters[1]?.(verified),
      (error: unknown) =>
        error instanceof BrokerError &&
        error.code === 'RATE_LIMIT_EXCEEDED' &&
        typeof error.retryAfter === 'number' &&
        error.retryAfter >= 59 &&
        error.retryAfter <= 60,
    );
    const hash = createHash('sha256').update(`${verified.iss}\n${verified.sub}`).digest('hex');
    assert.equal(await raw.get(`${prefix}rate-limit:subject:${hash}`), '5');
  });
});

describe('Redis counter store when Redis is unreachable', () => {
  test('rejects at once, so the limiter can fail open', async () => {
    const port = await deadPort();
    const shared = createSharedRedis(
      { url: `redis://127.0.0.1:${port}`, keyPrefix: prefix, tls: false },
      silentLogger,
      { connectTimeout: 300, commandTimeout: 300 },
    );
    try {
      await shared.connect();
      const started = Date.now();
      await assert.rejects(redisCounterStore(shared.client).increment('x', 1000));
      assert.ok(Date.now() - started < 200);
      let errors = 0;
      const limit = createSubjectLimiter({
        settings: () => ({ windowMs: 1000, max: 1 }),
        counters: redisCounterStore(shared.client),
        logger: silentLogger,
        metrics: { rateLimitStoreError: () => (errors += 1) },
      });
      const verified = { iss: 'https://issuer.test', sub: 's' } as VerifiedToken;
      await limit(verified);
      await limit(verified);
      assert.equal(errors, 2);
    } finally {
      await shared.close();
    }
  });
});
