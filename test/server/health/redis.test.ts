/**
 * The Redis health check against real servers that answer PING but cannot
 * do the broker's job: each must read unhealthy with its cause and fix,
 * while a server fit for the job — also under the ACL docs/operations.md
 * recommends — reads healthy, and an unreachable one reads degraded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { REDIS_DOWN_ERROR } from '../../../src/server/health/probe.ts';
import { checkRedis } from '../../../src/server/health/redis.ts';
import type { RedisSettings, SharedRedis } from '../../../src/server/state/redis-client.ts';
import { createSharedRedis } from '../../../src/server/state/redis-client.ts';
import { deadPort, uniquePrefix } from '../../e2e/peers/redis.ts';
import {
  nodeClient,
  onNode,
  redisToolsAvailable,
  startConfiguredRedis,
  startLoneSentinel,
  startStandalonePair,
} from '../../e2e/peers/redis-topologies.ts';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const prefix = uniquePrefix();
const opened: SharedRedis[] = [];
const stops: (() => Promise<void>)[] = [];

after(async () => {
  await Promise.all(opened.map((r) => r.close()));
  await Promise.all(stops.map((stop) => stop()));
});

/** Connects a shared client for `settings` (fast reconnects) and returns the check's answer. */
async function check(settings: Partial<RedisSettings>): Promise<Awaited<ReturnType<typeof checkRedis>>> {
  const redis = createSharedRedis({ keyPrefix: prefix, tls: false, ...settings }, silent, {
    connectTimeout: 500,
    maxReconnectDelay: 100,
  });
  opened.push(redis);
  await redis.connect();
  await new Promise((r) => setTimeout(r, 50));
  return checkRedis(redis);
}

const url = (port: number, auth = '') => `redis://${auth}127.0.0.1:${port}`;

describe('the redis health check', { skip: !redisToolsAvailable() }, () => {
  let plain: number;
  before(async () => {
    const server = await startConfiguredRedis([]);
    stops.push(server.stop);
    plain = server.port;
  });

  test('is healthy on a primary, having written a key with a TTL under the prefix', async () => {
    assert.deepEqual(await check({ url: url(plain) }), { state: 'healthy' });
    const raw = nodeClient(plain);
    await raw.connect();
    const keys = await raw.keys(`${prefix}health:*`);
    assert.equal(keys.length, 1);
    const ttl = await raw.pttl(keys[0] as string);
    raw.disconnect();
    assert.ok(ttl > 0 && ttl <= 10_000, `ttl ${ttl}`);
  });

  test('is degraded when Redis cannot be reached', async () => {
    assert.deepEqual(await check({ url: url(await deadPort()) }), {
      state: 'degraded',
      error: REDIS_DOWN_ERROR,
    });
  });

  test('names a cluster node behind a standalone url', async () => {
    const node = await startConfiguredRedis([
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
    ]);
    stops.push(node.stop);
    assert.deepEqual(await check({ url: url(node.port) }), {
      state: 'unhealthy',
      error: 'redis: this is a cluster node: configure `redis.cluster` with its address',
    });
  });

  test('names a non-cluster node configured as a cluster seed', async () => {
    const result = await check({ cluster: [`127.0.0.1:${plain}`] });
    assert.deepEqual(result, {
      state: 'unhealthy',
      error:
        'redis: not a cluster node (cluster support disabled): configure `redis.url` or `redis.sentinels`',
    });
  });

  test('names a Sentinel behind a standalone url', async () => {
    const sentinel = await startLoneSentinel();
    stops.push(sentinel.stop);
    assert.deepEqual(await check({ url: url(sentinel.port) }), {
      state: 'unhealthy',
      error: 'redis: this is a Sentinel, not a data node: configure `redis.sentinels` and `redis.name`',
    });
  });

  test('names a read-only replica behind a standalone url', async () => {
    const pair = await startStandalonePair();
    stops.push(pair.stop);
    await pair.demote();
    const result = await check({ url: url(pair.primary.port) });
    assert.equal(result.state, 'unhealthy');
    assert.match(
      result.state === 'unhealthy' ? result.error : '',
      /^redis: the server is a read-only replica/,
    );
  });

  test('names an ACL user without rights on the key prefix (NOPERM)', async () => {
    const server = await startConfiguredRedis(['--user', 'voidkey', 'on', '>acl-pw', '~other:*', '+@all']);
    stops.push(server.stop);
    const result = await check({ url: url(server.port), username: 'voidkey', password: 'acl-pw' });
    assert.equal(result.state, 'unhealthy');
    assert.match(
      result.state === 'unhealthy' ? result.error : '',
      /^redis: the ACL user lacks a permission .*\(NOPERM\)/,
    );
  });

  test('is healthy under the ACL that docs/operations.md recommends', async () => {
    const acl = `~${prefix}* resetchannels -@all +get +set +del +incr +pexpire +pttl +eval +evalsha +info +ping`;
    const server = await startConfiguredRedis(['--user', 'voidkey', 'on', '>acl-pw', ...acl.split(' ')]);
    stops.push(server.stop);
    const settings = { url: url(server.port), username: 'voidkey', password: 'acl-pw' };
    assert.deepEqual(await check(settings), { state: 'healthy' });
  });

  test('names a full noeviction memory (OOM)', async () => {
    const server = await startConfiguredRedis(['--maxmemory-policy', 'noeviction']);
    stops.push(server.stop);
    // Below what an empty server already uses: every write is refused.
    await onNode(server.port, undefined, 'CONFIG', 'SET', 'maxmemory', '1');
    assert.deepEqual(await check({ url: url(server.port) }), {
      state: 'unhealthy',
      error:
        'redis: the server is out of memory (maxmemory reached, noeviction): writes are refused; raise maxmemory',
    });
  });

  test('names an evicting maxmemory-policy, which could drop replay records', async () => {
    const server = await startConfiguredRedis(['--maxmemory', '64mb', '--maxmemory-policy', 'volatile-lru']);
    stops.push(server.stop);
    assert.deepEqual(await check({ url: url(server.port) }), {
      state: 'unhealthy',
      error:
        'redis: maxmemory-policy is volatile-lru: one-time-token records may be evicted before they expire (a replay would pass); set noeviction',
    });
  });

  test('names a wrong password', async () => {
    const server = await startConfiguredRedis(['--requirepass', 'right-pw']);
    stops.push(server.stop);
    const result = await check({ url: url(server.port), password: 'wrong-pw' });
    assert.deepEqual(result, {
      state: 'unhealthy',
      error: 'redis: authentication failed: check `redis.username` and `redis.password`',
    });
  });
});
