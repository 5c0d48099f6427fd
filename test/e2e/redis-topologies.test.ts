/**
 * The broker against the Redis deployments production runs (docs/operations.md,
 * Redis topologies), each started here from the Debian packages: a Cluster of
 * three primaries, a primary and a replica behind three Sentinels (a planned
 * failover under load, then a killed primary), a primary demoted behind a
 * standalone URL, and a TLS server that requires a client certificate with an
 * ACL user. One-time tokens must never mint twice, whatever the topology does.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError, assertInvalidToken } from './helpers/assert.ts';
import { type Cluster, LIMITS, nextIp, redisPassword, startCluster, WORKLOADS } from './helpers/cluster.ts';
import type { ApiResponse } from './helpers/http.ts';
import { registerCredentials, registerSecret } from './helpers/secrets.ts';
import {
  nodeClient,
  type RedisCluster,
  redisToolsAvailable,
  type SentinelSet,
  type StandalonePair,
  startRedisCluster,
  startSentinelSet,
  startStandalonePair,
  startTlsRedis,
  type TlsRedis,
} from './peers/redis-topologies.ts';

const skip = !redisToolsAvailable();
const READ = { json: { keys: ['AWS_READ'] } };
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
async function healthWhenRedis(c: Cluster, i: number, state: string, ms = 10_000): Promise<ApiResponse> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await c.call(i, 'GET', '/health');
    if (res.body?.checks?.redis === state || Date.now() > deadline) return res;
    await sleep(200);
  }
}

/** Mints a fresh one-time token on broker 0, then replays it on broker 1. */
async function mintThenReplay(c: Cluster): Promise<void> {
  const token = await c.token(c.opA, WORKLOADS.replayer);
  ok(await c.call(0, 'POST', '/credentials/mint', { token, ...READ }));
  assertInvalidToken(await c.call(1, 'POST', '/credentials/mint', { token, ...READ }), 'token_replayed');
}

/**
 * Tries a fresh one-time mint on broker 0 every 250 ms until one answers 200, then replays
 * it on broker 1 until that one answers (401 token_replayed) rather than 503; returns how
 * long both took, ms. Each broker reconnects on its own, so the second may lag the first.
 */
async function servesAgainWithin(c: Cluster, ms: number): Promise<number> {
  const started = Date.now();
  const overdue = (what: string) => {
    if (Date.now() - started > ms) {
      assert.fail(
        `${what} within ${ms} ms; broker output:\n${c.brokers.map((b) => b.output().slice(-3000)).join('\n---\n')}`,
      );
    }
  };
  let token: string;
  for (;;) {
    token = await c.token(c.opA, WORKLOADS.busy);
    const res = await c.call(0, 'POST', '/credentials/mint', { token, ...READ });
    if (res.status === 200) {
      registerCredentials(res.body.credentials);
      break;
    }
    assertReplayStoreDown(res);
    overdue('no mint succeeded');
    await sleep(250);
  }
  for (;;) {
    const replay = await c.call(1, 'POST', '/credentials/mint', { token, ...READ });
    if (replay.status !== 503) {
      assertInvalidToken(replay, 'token_replayed');
      return Date.now() - started;
    }
    assertReplayStoreDown(replay);
    overdue('the second broker did not answer a replay');
    await sleep(250);
  }
}

/** Sends `count` requests from one IP over both brokers in turn; returns their statuses. */
async function burst(c: Cluster, count: number): Promise<number[]> {
  const ip = nextIp();
  const statuses: number[] = [];
  for (let i = 0; i < count; i += 1) {
    statuses.push((await c.call(i % 2, 'GET', '/credentials/idp-providers', { ip })).status);
  }
  return statuses;
}

/**
 * Load until `stop()`: each round takes a fresh token and presents it to both
 * brokers at once. Every answer must be 200, 401 token_replayed or 503
 * replay_store_unavailable, and no token may mint twice.
 */
function load(c: Cluster): { stop(): Promise<{ rounds: number; minted: number; refused: number }> } {
  let running = true;
  const tally = { rounds: 0, minted: 0, refused: 0 };
  const loop = (async () => {
    while (running) {
      const token = await c.token(c.opA, WORKLOADS.racer);
      const answers = await Promise.all(
        [0, 1].map((i) => c.call(i, 'POST', '/credentials/mint', { token, ...READ })),
      );
      let minted = 0;
      for (const res of answers) {
        if (res.status === 200) {
          minted += 1;
          registerCredentials(res.body.credentials);
        } else if (res.status === 401) assertInvalidToken(res, 'token_replayed');
        else assertReplayStoreDown(res);
      }
      assert.ok(minted <= 1, 'a one-time token minted twice');
      tally.rounds += 1;
      tally.minted += minted;
      if (minted === 0) tally.refused += 1;
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return tally;
    },
  };
}

describe('a Redis Cluster of three primaries', { skip }, () => {
  let redis: RedisCluster;
  let c: Cluster;
  const password = redisPassword();
  before(async () => {
    registerSecret('redis password', password);
    redis = await startRedisCluster({ primaries: 3, password });
    c = await startCluster({ instances: 2, subjectMax: 100, redis: { cluster: redis.seeds, password } });
  });
  after(async () => {
    await c?.close();
    await redis?.stop();
  });

  test('is healthy, and one-time tokens mint once across brokers, their records spread over the primaries', async () => {
    const health = await healthWhenRedis(c, 0, 'healthy');
    assert.equal(health.body.checks.redis, 'healthy', health.text);
    // 12 records: all on one of three primaries by chance is 3 × 3^-12 ≈ 6e-6.
    for (let i = 0; i < 12; i += 1) await mintThenReplay(c);
    const holders = [];
    for (const node of redis.nodes) {
      const client = nodeClient(node.port, password);
      await client.connect();
      const keys = await client.keys(`${c.prefix}replay:*`);
      client.disconnect();
      if (keys.length > 0) holders.push(node.port);
    }
    assert.ok(holders.length >= 2, `replay records on ${holders.length} primary only`);
  });

  test('holds the per-IP limit across both brokers', async () => {
    assert.deepEqual(await burst(c, LIMITS.ipMax + 1), [...new Array(LIMITS.ipMax).fill(200), 429]);
    assert.deepEqual(c.leaks(), []);
  });
});

describe('a primary and a replica behind three Sentinels', { skip }, () => {
  let set: SentinelSet;
  let c: Cluster;
  const password = redisPassword();
  const sentinelPassword = redisPassword();
  before(async () => {
    registerSecret('redis password', password);
    registerSecret('sentinel password', sentinelPassword);
    set = await startSentinelSet({ password, sentinelPassword });
    c = await startCluster({
      instances: 2,
      subjectMax: 10_000,
      redis: { sentinels: set.sentinels, name: set.name, password, sentinelPassword },
    });
  });
  after(async () => {
    await c?.close();
    await set?.stop();
  });

  test('is healthy and shares one-time tokens', async () => {
    assert.equal((await healthWhenRedis(c, 1, 'healthy')).body.checks.redis, 'healthy');
    await mintThenReplay(c);
  });

  test('SENTINEL FAILOVER under load: only 200, 401 token_replayed or 503, never a token twice, then serves again', async () => {
    const running = load(c);
    await sleep(500);
    await set.failover();
    await sleep(1000);
    const tally = await running.stop();
    assert.ok(tally.rounds > 3 && tally.minted > 0, JSON.stringify(tally));
    const took = await servesAgainWithin(c, 10_000);
    assert.ok(took < 10_000);
    assert.equal((await healthWhenRedis(c, 0, 'healthy')).body.checks.redis, 'healthy');
  });

  test('a killed primary: the brokers follow the promoted replica without a restart', async () => {
    const port = await set.primaryPort();
    await set.data.find((node) => node.port === port)?.kill();
    await set.awaitNewPrimary(port);
    await servesAgainWithin(c, 15_000);
    await mintThenReplay(c);
    assert.deepEqual(c.leaks(), []);
  });
});

describe('a primary demoted behind a standalone URL', { skip }, () => {
  let pair: StandalonePair;
  let c: Cluster;
  before(async () => {
    pair = await startStandalonePair();
    c = await startCluster({ instances: 2, redisUrl: `redis://127.0.0.1:${pair.primary.port}` });
  });
  after(async () => {
    await c?.close();
    await pair?.stop();
  });

  test('turns redis unhealthy (overall degraded, 200) with the cause, and refuses one-time tokens with 503', async () => {
    assert.equal((await healthWhenRedis(c, 0, 'healthy')).body.checks.redis, 'healthy');
    await pair.demote();
    const res = await healthWhenRedis(c, 0, 'unhealthy');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status, 'degraded');
    assert.equal(res.body.checks.redis, 'unhealthy');
    assert.ok(
      res.body.errors.some((e: string) => /^redis: the server is a read-only replica/.test(e)),
      res.text,
    );
    const token = await c.token(c.opA, WORKLOADS.releaser);
    assertReplayStoreDown(await c.call(0, 'POST', '/credentials/mint', { token, ...READ }));
    // The READONLY answer dropped the connection to reconnect (to whatever primary the address leads to now).
    const deadline = Date.now() + 3000;
    while (!/reconnected to Redis/.test(c.brokers[0]?.output() ?? '') && Date.now() < deadline)
      await sleep(100);
    assert.match(c.brokers[0]?.output() ?? '', /reconnected to Redis/);
  });

  test('heals once the address is a primary again', async () => {
    await pair.promote();
    assert.equal((await healthWhenRedis(c, 1, 'healthy')).body.checks.redis, 'healthy');
    await servesAgainWithin(c, 5000);
  });
});

describe('Redis over TLS with a client certificate and an ACL user', { skip }, () => {
  let redis: TlsRedis;
  let c: Cluster;
  const password = redisPassword();
  before(async () => {
    registerSecret('redis password', password);
    redis = await startTlsRedis({ username: 'voidkey', password });
    c = await startCluster({
      instances: 2,
      redis: {
        url: `rediss://127.0.0.1:${redis.port}`,
        username: 'voidkey',
        password,
        tls: { ca: redis.ca, cert: redis.cert, key: redis.key, servername: redis.servername },
      },
    });
  });
  after(async () => {
    await c?.close();
    await redis?.stop();
  });

  test('connects, is healthy and shares one-time tokens and limits', async () => {
    assert.equal((await healthWhenRedis(c, 0, 'healthy')).body.checks.redis, 'healthy');
    await mintThenReplay(c);
    assert.deepEqual(await burst(c, LIMITS.ipMax + 1), [...new Array(LIMITS.ipMax).fill(200), 429]);
    assert.deepEqual(c.leaks(), []);
  });
});
