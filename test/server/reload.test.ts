import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { restartRequired } from '../../src/server/reload.ts';
import { testConfig } from './helpers.ts';
import { ALICE, type Live, mint, READ_ROLE, startLive, startLiveBroker } from './live.ts';
import { patchConfig, samples } from './ops.ts';

describe('restartRequired', () => {
  test('names the fields read only at start, and nothing for fields a reload applies', () => {
    const base = testConfig();
    const next = patchConfig(base, {
      server: { port: 4000, trustProxy: 1, requestTimeout: 9000, tls: { cert: 'c.pem', key: 'k.pem' } },
      rateLimit: { max: 5 },
      logging: { level: 'debug', redact: ['req.headers.x'] },
      redis: { url: 'redis://:pw@127.0.0.1:6379' },
    });
    assert.deepEqual(restartRequired(base, next), [
      'server.port',
      'server.trustProxy',
      'server.tls (on/off)',
      'redis.url',
      'redis.keyPrefix',
      'redis.tls',
      'logging.redact',
    ]);
    assert.deepEqual(restartRequired(base, patchConfig(base, { rateLimit: { max: 5 } })), []);
    const sentinel = patchConfig(base, {
      redis: { sentinels: ['s:26379'], name: 'm', sentinelPassword: 'x', username: 'u', password: 'p' },
    });
    assert.deepEqual(restartRequired(base, sentinel), [
      'redis.sentinels',
      'redis.name',
      'redis.sentinelPassword',
      'redis.username',
      'redis.password',
      'redis.keyPrefix',
      'redis.tls',
    ]);
    assert.deepEqual(restartRequired(sentinel, patchConfig(base, { redis: { cluster: ['n:6379'] } })), [
      'redis.sentinels',
      'redis.name',
      'redis.sentinelPassword',
      'redis.cluster',
      'redis.username',
      'redis.password',
    ]);
  });
});

describe('reloading a running broker', () => {
  let live: Live;
  before(async () => {
    live = await startLive();
  });
  after(() => live.close());

  test('refuses a config that fails validation, logs why, counts it, and keeps serving the old one', async () => {
    await live.write(live.config());
    const { broker, lines } = await startLiveBroker(live);
    try {
      await live.write(live.config({ clientIdentities: [{ subject: ALICE, idp: 'nope', keys: {} }] }));
      const outcome = await broker.reload();
      assert.equal(outcome.ok, false);
      assert.deepEqual(!outcome.ok && outcome.problems, [
        'clientIdentities[0].idp: unknown idp "nope" (configured: dev)',
      ]);
      const logged = lines.map((l) => JSON.parse(l)).find((l) => l.msg.startsWith('config reload refused'));
      assert.equal(logged?.level, 50);
      assert.deepEqual(logged?.problems, outcome.ok ? [] : outcome.problems);
      await live.write('server: [this is not: valid');
      assert.equal((await broker.reload()).ok, false);
      assert.equal((await mint(broker.url, await live.token())).status, 200, 'the old config still serves');
      const text = await broker.metrics.registry.metrics();
      assert.deepEqual(
        samples(text, 'voidkey_config_reloads_total').map((s) => [s.labels.result, s.value]),
        [
          ['success', 0],
          ['failure', 2],
        ],
      );
    } finally {
      await broker.close();
    }
  });

  test('applies a changed config at once and names the fields that need a restart', async () => {
    await live.write(live.config());
    const { broker, lines } = await startLiveBroker(live);
    try {
      assert.equal((await mint(broker.url, await live.token('bob'))).status, 403);
      const bob = {
        subject: 'bob',
        idp: 'dev',
        keys: { AWS_READ: { provider: 'aws-dev', roleArn: READ_ROLE } },
      };
      const base = live.config();
      await live.write({
        ...base,
        server: { ...(base.server as object), trustProxy: 1 },
        clientIdentities: [...(base.clientIdentities as object[]), bob],
        rateLimit: { max: 7 },
      });
      const outcome = await broker.reload();
      assert.equal(outcome.ok, true);
      assert.deepEqual(outcome.ok && outcome.restartRequired, ['server.trustProxy']);
      const res = await mint(broker.url, await live.token('bob'));
      assert.equal(res.status, 200);
      const limited = await fetch(`${broker.url}/credentials/idp-providers`);
      assert.equal(limited.headers.get('x-ratelimit-limit'), '7');
      assert.ok(lines.some((l) => l.includes('these fields need a restart to change: server.trustProxy')));
      assert.ok(broker.runtime.config.clientIdentities.some((i) => i.subject === 'bob'));
    } finally {
      await broker.close();
    }
  });

  test('lets a mint in flight finish on the config it started with', async () => {
    await live.write(live.config());
    const { broker } = await startLiveBroker(live);
    try {
      const token = await live.token();
      await mint(broker.url, token);
      live.proxy.latencyMs = 600;
      const pending = mint(broker.url, await live.token());
      await new Promise((r) => setTimeout(r, 150));
      await live.write(live.config({ clientIdentities: [] }));
      assert.equal((await broker.reload()).ok, true);
      const res = await pending;
      live.proxy.latencyMs = 0;
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(
        (await mint(broker.url, await live.token())).status,
        403,
        'new mints follow the new config',
      );
    } finally {
      live.proxy.latencyMs = 0;
      await broker.close();
    }
  });
});
