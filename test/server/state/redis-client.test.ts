/**
 * The shared Redis connection: options read from `redis` (URL, TLS, auth,
 * prefix, fail-fast tuning), and its behaviour against the machine's Redis,
 * a private password-protected redis-server, and a port nothing listens on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Cluster } from 'ioredis';
import type { Logger } from '../../../src/core/types.ts';
import {
  createRedisClient,
  createSharedRedis,
  redisOptions,
  redisTarget,
} from '../../../src/server/state/redis-client.ts';
import {
  deadPort,
  deleteUnder,
  rawClient,
  redisServerAvailable,
  SHARED_REDIS_URL,
  startPrivateRedis,
  uniquePrefix,
} from '../../e2e/peers/redis.ts';

function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (obj: object, msg?: string) => lines.push(JSON.stringify({ ...obj, msg }));
  return { lines, debug: push, info: push, warn: push, error: push };
}

const settings = (url: string, extra: { keyPrefix?: string; tls?: boolean } = {}) => ({
  url,
  keyPrefix: extra.keyPrefix ?? 'voidkey:',
  tls: extra.tls ?? false,
});

describe('redis options', () => {
  test('reads host, port, database, user and password from the URL, and fails fast', () => {
    const options = redisOptions(settings('redis://ops:p%40ss%3Aw0rd@cache.internal:6380/2'));
    assert.equal(options.host, 'cache.internal');
    assert.equal(options.port, 6380);
    assert.equal(options.db, 2);
    assert.equal(options.username, 'ops');
    assert.equal(options.password, 'p@ss:w0rd');
    assert.equal(options.tls, undefined);
    assert.equal(options.keyPrefix, 'voidkey:');
    assert.equal(options.enableOfflineQueue, false);
    assert.equal(options.maxRetriesPerRequest, 1);
    assert.equal(options.lazyConnect, true);
    assert.equal(options.connectTimeout, 2000);
    assert.equal(options.commandTimeout, 1000);
    assert.equal(options.autoResendUnfulfilledCommands, false);
    assert.equal(options.protocol, 2);
  });

  test('defaults to port 6379, database 0 and no credentials', () => {
    const options = redisOptions(settings('redis://127.0.0.1'));
    assert.equal(options.port, 6379);
    assert.equal(options.db, 0);
    assert.equal('username' in options, false);
    assert.equal('password' in options, false);
  });

  test('uses TLS for rediss:// and for redis.tls, checking the host name', () => {
    assert.deepEqual(redisOptions(settings('rediss://:pw@cache.internal:6380')).tls, {
      servername: 'cache.internal',
    });
    assert.deepEqual(redisOptions(settings('redis://cache.internal', { tls: true })).tls, {
      servername: 'cache.internal',
    });
  });

  test('takes a password-only URL (redis://:password@host)', () => {
    const options = redisOptions(settings('redis://:only-password@127.0.0.1:6379'));
    assert.equal(options.password, 'only-password');
    assert.equal('username' in options, false);
  });

  test('refuses other schemes and non-numeric databases without echoing the URL', () => {
    for (const url of ['http://:hunter22@cache:6379', 'not a url hunter22', 'redis://:hunter22@cache/x']) {
      assert.throws(
        () => redisOptions(settings(url)),
        (error: unknown) => error instanceof TypeError && !error.message.includes('hunter22'),
      );
    }
  });

  test('describes the target without credentials', () => {
    assert.equal(redisTarget(settings('redis://u:hunter22@cache:6380/3')), 'redis://cache:6380/3');
    assert.equal(redisTarget(settings('redis://cache', { tls: true })), 'rediss://cache:6379/0');
  });
});

describe('topologies', () => {
  const base = { keyPrefix: 'voidkey:', tls: false as const };

  test('a READONLY answer (a demoted primary) drops the connection to reconnect, without resending', () => {
    const options = redisOptions(settings('redis://cache:6379'));
    const reconnect = options.reconnectOnError as (error: Error) => unknown;
    assert.equal(reconnect(new Error("READONLY You can't write against a read only replica.")), 1);
    assert.equal(reconnect(new Error('ERR unknown command')), false);
    assert.equal(options.autoResendUnfulfilledCommands, false);
  });

  test('explicit username and password win over the URL', () => {
    const options = redisOptions({ ...base, url: 'redis://a:b@cache', username: 'voidkey', password: 'pw' });
    assert.equal(options.username, 'voidkey');
    assert.equal(options.password, 'pw');
  });

  test('Sentinel: asks the Sentinels for the primary named `name` on every reconnect, never queues', () => {
    const client = createRedisClient({
      ...base,
      sentinels: ['10.0.0.1:26379', '[fd00::2]:26380'],
      name: 'mymaster',
      sentinelPassword: 'spw',
      password: 'pw',
    });
    const options = client.options as Record<string, unknown>;
    assert.deepEqual(options.sentinels, [
      { host: '10.0.0.1', port: 26379 },
      { host: 'fd00::2', port: 26380 },
    ]);
    assert.equal(options.name, 'mymaster');
    assert.equal(options.role, 'master');
    assert.equal(options.sentinelPassword, 'spw');
    assert.equal(options.password, 'pw');
    // ioredis 6's +switch-master detector can end a client that is reconnecting after a killed primary
    // (test/e2e/redis-topologies.test.ts); reconnects and READONLY find the new primary instead.
    assert.equal(options.failoverDetector, false);
    assert.equal(options.enableOfflineQueue, false);
    assert.equal(options.autoResendUnfulfilledCommands, false);
    assert.equal(
      redisTarget({ ...base, sentinels: ['10.0.0.1:26379'], name: 'mymaster' }),
      'sentinel://10.0.0.1:26379/mymaster',
    );
    client.disconnect();
  });

  test('Cluster: follows redirections but never retries a command whose connection closed', () => {
    const client = createRedisClient({ ...base, cluster: ['n1:7000', 'n2:7000'], password: 'pw' }) as Cluster;
    assert.equal(client.isCluster, true);
    assert.equal(client.options.retryDelayOnFailover, 0);
    assert.equal(client.options.enableOfflineQueue, false);
    assert.equal(client.options.keyPrefix, 'voidkey:');
    assert.equal(client.options.redisOptions?.autoResendUnfulfilledCommands, false);
    assert.equal(client.options.redisOptions?.password, 'pw');
    assert.equal(redisTarget({ ...base, cluster: ['n1:7000', 'n2:7000'] }), 'cluster://n1:7000,n2:7000');
    client.disconnect();
  });

  test('TLS files are read at construction; an unreadable one is named without its contents', () => {
    assert.throws(
      () => createRedisClient({ ...base, url: 'rediss://cache', tls: { ca: '/nonexistent/ca.pem' } }),
      { name: 'TypeError', message: 'redis.tls.ca: cannot read /nonexistent/ca.pem (ENOENT)' },
    );
  });
});

describe('shared Redis connection', () => {
  const prefix = uniquePrefix();
  const raw = rawClient();
  before(async () => {
    await raw.connect();
  });
  after(async () => {
    await deleteUnder(raw, prefix);
    raw.disconnect();
  });

  test('connects to the machine Redis, logs it, and prefixes every key', async () => {
    const logger = captureLogger();
    const shared = createSharedRedis(settings(SHARED_REDIS_URL, { keyPrefix: prefix }), logger);
    try {
      assert.equal(await shared.connect(), true);
      assert.equal(await shared.ping(), true);
      await shared.client.set('probe', '1', 'PX', 10_000);
      assert.equal(await raw.get(`${prefix}probe`), '1');
      assert.match(logger.lines.join('\n'), /"msg":"connected to Redis"/);
      assert.equal(shared.target, 'redis://127.0.0.1:6379/0');
    } finally {
      await shared.close();
    }
    assert.equal(shared.client.status, 'end');
  });

  test('against a dead port: connect reports false, commands fail fast, one warning per outage', async () => {
    const logger = captureLogger();
    const port = await deadPort();
    const shared = createSharedRedis(settings(`redis://127.0.0.1:${port}`), logger, {
      connectTimeout: 300,
      commandTimeout: 300,
      maxReconnectDelay: 50,
    });
    try {
      assert.equal(await shared.connect(), false);
      const started = Date.now();
      await assert.rejects(shared.client.get('anything'));
      assert.ok(Date.now() - started < 200, `took ${Date.now() - started} ms`);
      assert.equal(await shared.ping(), false);
      await new Promise((r) => setTimeout(r, 400));
      const warnings = logger.lines.filter((l) => l.includes('Redis is unreachable'));
      assert.equal(warnings.length, 1, logger.lines.join('\n'));
    } finally {
      await shared.close();
    }
  });

  test('authenticates with the URL password and never logs it', async (t) => {
    if (!redisServerAvailable()) {
      t.skip('redis-server is not on PATH');
      return;
    }
    const password = 'pw-9f3b:c2/e+d1!';
    const server = await startPrivateRedis({ password });
    const logger = captureLogger();
    const good = createSharedRedis(settings(server.url), logger, { maxReconnectDelay: 50 });
    const bad = createSharedRedis(
      settings(`redis://:${encodeURIComponent(`wrong-${password}`)}@127.0.0.1:${server.port}`),
      logger,
      {
        maxReconnectDelay: 50,
      },
    );
    try {
      assert.equal(await good.connect(), true);
      assert.equal(await good.ping(), true);
      assert.equal(await bad.connect(), false);
      await server.kill();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(await good.ping(), false);
      const text = logger.lines.join('\n');
      assert.match(text, /lost the connection to Redis|Redis is unreachable/);
      assert.ok(!text.includes(password) && !text.includes(encodeURIComponent(password)), text);
    } finally {
      await good.close();
      await bad.close();
      await server.kill();
    }
  });
});
