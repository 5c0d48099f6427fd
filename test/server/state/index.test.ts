/**
 * The shared-state factory: memory without `redis`, Redis with it (the
 * machine's Redis, a unique prefix), and a dead Redis port (both failure
 * modes: counters fail, replay claims are 503, health is degraded).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../../../src/core/config/schema.ts';
import { InvalidTokenError, ServiceUnavailableError } from '../../../src/core/errors.ts';
import { silentLogger, type VerifiedToken } from '../../../src/core/types.ts';
import { type HealthProbe, REDIS_DOWN_ERROR, withRedisCheck } from '../../../src/server/health/probe.ts';
import { checkRedis } from '../../../src/server/health/redis.ts';
import { counterKey, createSharedState, type SharedState } from '../../../src/server/state/index.ts';
import {
  deadPort,
  deleteUnder,
  keysUnder,
  rawClient,
  SHARED_REDIS_URL,
  uniquePrefix,
} from '../../e2e/peers/redis.ts';

const withRedis = (url: string | undefined, keyPrefix = 'voidkey:') =>
  ({ redis: url === undefined ? undefined : { url, keyPrefix, tls: false } }) as unknown as Config;
const probe: HealthProbe = {
  report: async () => ({ status: 'healthy', checks: { config: 'healthy' } }),
  ready: async () => true,
};
const signal = () => new AbortController().signal;
const redisOf = (state: SharedState) => {
  assert.ok(state.redis, 'a Redis state exposes its connection');
  return state.redis;
};
const token = (tokenId: string): VerifiedToken => ({
  iss: 'https://issuer.test',
  sub: 's',
  idp: 'op',
  claims: {},
  tokenId,
  expiresAt: Math.floor(Date.now() / 1000) + 60,
});

function recordingMetrics() {
  const errors: string[] = [];
  return { errors, metrics: { replayStoreError: (op: string) => errors.push(op) } };
}

describe('shared state without redis', () => {
  test('keeps counters and one-time tokens in memory, always reachable', async () => {
    const state = await createSharedState(withRedis(undefined), {
      logger: silentLogger,
      ...recordingMetrics(),
    });
    assert.equal(state.kind, 'memory');
    assert.equal((await state.counters.increment('k', 1000)).count, 1);
    await state.replayGuard.claim(token('t1'), 1000, signal());
    await assert.rejects(state.replayGuard.claim(token('t1'), 1000, signal()), InvalidTokenError);
    assert.equal(await state.ping(), true);
    await state.start();
    await state.close();
  });
});

describe('shared state with redis', () => {
  const prefix = uniquePrefix();
  const raw = rawClient();
  const states: SharedState[] = [];
  before(async () => {
    await raw.connect();
    for (let i = 0; i < 2; i += 1) {
      const state = await createSharedState(withRedis(SHARED_REDIS_URL, prefix), {
        logger: silentLogger,
        ...recordingMetrics(),
      });
      await state.start();
      states.push(state);
    }
  });
  after(async () => {
    await deleteUnder(raw, prefix);
    for (const state of states) await state.close();
    raw.disconnect();
  });

  test("shares one-time tokens and both limits' counters between instances under the key prefix", async () => {
    const [a, b] = states;
    assert.ok(a && b);
    assert.equal(a.kind, 'redis');
    await a.replayGuard.claim(token('shared'), 10_000, signal());
    await assert.rejects(
      b.replayGuard.claim(token('shared'), 10_000, signal()),
      (e: unknown) => e instanceof InvalidTokenError && e.reason === 'token_replayed',
    );
    const subject = counterKey.subject({ iss: 'https://issuer.test', sub: 's' });
    await a.counters.increment(subject, 10_000);
    assert.equal((await b.counters.increment(subject, 10_000)).count, 2);
    await a.counters.increment(counterKey.ip('192.0.2.1'), 10_000);
    assert.equal((await b.counters.increment(counterKey.ip('192.0.2.1'), 10_000)).count, 2);
    const keys = await keysUnder(raw, prefix);
    assert.equal(keys.length, 3);
    assert.ok(keys.includes(`${prefix}rate-limit:ip:192.0.2.1`));
    assert.ok(keys.some((k) => k.startsWith(`${prefix}rate-limit:subject:`) && /:[0-9a-f]{64}$/.test(k)));
    assert.ok(keys.some((k) => /^.*:replay:[0-9a-f]{64}:[0-9a-f]{64}$/.test(k)));
  });

  test('reports redis healthy', async () => {
    const state = states[0];
    assert.ok(state);
    const report = await withRedisCheck(probe, () => checkRedis(redisOf(state))).report();
    assert.deepEqual(report, { status: 'healthy', checks: { config: 'healthy', redis: 'healthy' } });
  });
});

describe('shared state with an unreachable redis', () => {
  test('starts anyway, refuses one-time tokens with 503, and reports degraded', async () => {
    const { errors, metrics } = recordingMetrics();
    const port = await deadPort();
    const state = await createSharedState(withRedis(`redis://127.0.0.1:${port}`), {
      logger: silentLogger,
      metrics,
      tuning: { connectTimeout: 300, commandTimeout: 300 },
    });
    try {
      await state.start();
      await assert.rejects(
        state.replayGuard.claim(token('t'), 1000, signal()),
        (e: unknown) =>
          e instanceof ServiceUnavailableError && e.details?.reason === 'replay_store_unavailable',
      );
      assert.deepEqual(errors, ['claim']);
      await assert.rejects(state.counters.increment('k', 1000));
      assert.deepEqual(await withRedisCheck(probe, () => checkRedis(redisOf(state))).report(), {
        status: 'degraded',
        checks: { config: 'healthy', redis: 'degraded' },
        errors: [REDIS_DOWN_ERROR],
      });
    } finally {
      await state.close();
    }
  });

  test('refuses a redis.url that is not a Redis URL at construction', async () => {
    await assert.rejects(
      createSharedState(withRedis('http://cache:6379'), { logger: silentLogger, ...recordingMetrics() }),
      TypeError,
    );
  });
});
