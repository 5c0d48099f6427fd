/**
 * Redis down (SPEC §7): rate limits fail open (logged, counted), replay
 * protection fails closed (503), and health says so while staying 200.
 * First with brokers whose Redis was never there (a port bound and closed),
 * then with a private redis-server (password-protected) killed mid-run and
 * started again — the machine's shared Redis is never touched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError, assertInvalidToken } from './helpers/assert.ts';
import {
  B_WORKLOAD,
  type Cluster,
  LIMITS,
  nextIp,
  redisPassword,
  startCluster,
  WORKLOADS,
} from './helpers/cluster.ts';
import type { ApiResponse } from './helpers/http.ts';
import { registerCredentials, registerSecret } from './helpers/secrets.ts';
import { deadPort, type PrivateRedis, redisServerAvailable, startPrivateRedis } from './peers/redis.ts';

const READ = { json: { keys: ['AWS_READ'] } };
const REDIS_DOWN =
  'redis: unreachable; rate limits are not enforced (fail open), ' +
  'one-time tokens (oneTimeUse) are refused with 503 until it is back';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ok = (res: ApiResponse) => {
  assert.equal(res.status, 200, res.text);
  registerCredentials(res.body.credentials);
};
const assertReplayStoreDown = (res: ApiResponse) =>
  assertError(
    res,
    'SERVICE_UNAVAILABLE',
    { reason: 'replay_store_unavailable' },
    'The replay store is unavailable; retry later',
  );

/** Polls broker `i`'s /health until `checks.redis` is `state` (at most `ms`). */
async function healthWhenRedis(c: Cluster, i: number, state: string, ms = 8000): Promise<ApiResponse> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await c.call(i, 'GET', '/health');
    if (res.body?.checks?.redis === state || Date.now() > deadline) return res;
    await sleep(200);
  }
}

/** Sends `count` requests from one IP, over the instances in turn; returns their statuses. */
async function burst(c: Cluster, count: number): Promise<number[]> {
  const ip = nextIp();
  const statuses: number[] = [];
  for (let i = 0; i < count; i += 1) {
    statuses.push((await c.call(i % c.brokers.length, 'GET', '/credentials/idp-providers', { ip })).status);
  }
  return statuses;
}

describe('brokers whose Redis is unreachable from the start', () => {
  let c: Cluster;
  before(async () => {
    c = await startCluster({ instances: 2, redisUrl: `redis://127.0.0.1:${await deadPort()}` });
  });
  after(async () => {
    await c?.close();
  });

  test('let requests through past the per-IP limit, log a warning and count the store errors', async () => {
    const statuses = await burst(c, LIMITS.ipMax + 3);
    assert.deepEqual(statuses, new Array(LIMITS.ipMax + 3).fill(200));
    for (const i of [0, 1]) {
      assert.match(c.brokers[i]?.output() ?? '', /rate-limit store failed; the request is let through/);
      assert.ok((await c.metric(i, 'voidkey_rate_limit_store_errors_total')) >= 4);
    }
  });

  test('refuse one-time tokens with 503 before any provider call, and still mint tokens of other IdPs', async () => {
    const stsCalls = c.proxy.calls.length;
    const token = await c.token(c.opA, WORKLOADS.replayer);
    assertReplayStoreDown(await c.call(0, 'POST', '/credentials/mint', { token, ...READ }));
    assertReplayStoreDown(await c.call(1, 'POST', '/credentials/mint', { token, ...READ }));
    assert.equal(c.proxy.calls.length, stsCalls, 'no credential is minted unprotected');
    assert.equal(await c.metric(0, 'voidkey_replay_store_errors_total{operation="claim"}'), 1);
    // The per-subject limit fails open too: more than its max for one identity.
    for (let i = 0; i < LIMITS.subjectMax + 1; i += 1) {
      ok(
        await c.call(i % 2, 'POST', '/credentials/mint', {
          token: await c.token(c.opB, B_WORKLOAD),
          ...READ,
        }),
      );
    }
  });

  test('report redis degraded (200) with the reason, and stay ready', async () => {
    const res = await healthWhenRedis(c, 1, 'degraded');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'degraded');
    assert.equal(res.body.checks.redis, 'degraded');
    assert.ok(res.body.errors.includes(REDIS_DOWN), res.text);
    assert.equal((await c.call(1, 'GET', '/health/ready')).status, 200);
    assert.deepEqual(c.leaks(), []);
  });
});

describe('a Redis stopped mid-run and started again', { skip: !redisServerAvailable() }, () => {
  let c: Cluster;
  let redis: PrivateRedis;
  const password = redisPassword();
  before(async () => {
    registerSecret('redis password', password);
    registerSecret('redis password (URL-encoded)', encodeURIComponent(password));
    redis = await startPrivateRedis({ password });
    c = await startCluster({ instances: 2, redisUrl: redis.url });
  });
  after(async () => {
    await c?.close();
    await redis?.kill();
  });

  test('shares state while Redis is up (authenticated with the URL password)', async () => {
    assert.equal((await healthWhenRedis(c, 0, 'healthy')).body.checks.redis, 'healthy');
    assert.deepEqual(await burst(c, LIMITS.ipMax + 1), [...new Array(LIMITS.ipMax).fill(200), 429]);
    const token = await c.token(c.opA, WORKLOADS.replayer);
    ok(await c.call(0, 'POST', '/credentials/mint', { token, ...READ }));
    assertInvalidToken(await c.call(1, 'POST', '/credentials/mint', { token, ...READ }), 'token_replayed');
  });

  test('fails open for rate limits and closed for one-time tokens once Redis is killed', async () => {
    await redis.kill();
    assert.deepEqual(await burst(c, LIMITS.ipMax + 2), new Array(LIMITS.ipMax + 2).fill(200));
    const token = await c.token(c.opA, WORKLOADS.releaser);
    assertReplayStoreDown(await c.call(0, 'POST', '/credentials/mint', { token, ...READ }));
    assertReplayStoreDown(await c.call(1, 'POST', '/credentials/mint', { token, ...READ }));
    const res = await healthWhenRedis(c, 0, 'degraded');
    assert.equal(res.status, 200);
    assert.ok(res.body.errors.includes(REDIS_DOWN), res.text);
    assert.ok((await c.metric(1, 'voidkey_rate_limit_store_errors_total')) >= 1);
    assert.ok((await c.metric(1, 'voidkey_replay_store_errors_total{operation="claim"}')) >= 1);
  });

  test('recovers by itself when Redis is back: healthy, limits counted, replays refused', async () => {
    redis = await startPrivateRedis({ password, port: redis.port });
    for (const i of [0, 1])
      assert.equal((await healthWhenRedis(c, i, 'healthy')).body.checks.redis, 'healthy');
    const token = await c.token(c.opA, WORKLOADS.racer);
    ok(await c.call(1, 'POST', '/credentials/mint', { token, ...READ }));
    assertInvalidToken(await c.call(0, 'POST', '/credentials/mint', { token, ...READ }), 'token_replayed');
    assert.deepEqual(await burst(c, LIMITS.ipMax + 1), [...new Array(LIMITS.ipMax).fill(200), 429]);
    const output = c.brokers.map((b) => b.output()).join('\n');
    assert.match(output, /lost the connection to Redis/);
    assert.match(output, /reconnected to Redis/);
    assert.deepEqual(c.leaks(), []);
  });
});
