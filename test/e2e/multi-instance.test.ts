/**
 * Three built brokers sharing the machine's Redis (SPEC §7, Scale): requests
 * are spread over them, and the state that must be global is — the per-IP
 * and per-subject rate limits count once for all instances, and a one-time
 * token minted on one instance is refused on every other. Listing keys does
 * not consume a one-time token; a mint that fails at every provider releases it.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { assertError, assertInvalidToken } from './helpers/assert.ts';
import { B_WORKLOAD, type Cluster, LIMITS, nextIp, startCluster, WORKLOADS } from './helpers/cluster.ts';
import type { ApiResponse } from './helpers/http.ts';
import { registerCredentials } from './helpers/secrets.ts';
import { keysUnder, rawClient, SHARED_REDIS_URL } from './peers/redis.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const READ = { json: { keys: ['AWS_READ'] } };
const ok = (res: ApiResponse) => {
  assert.equal(res.status, 200, res.text);
  registerCredentials(res.body.credentials);
};

describe('three brokers sharing one Redis', () => {
  let c: Cluster;
  const raw = rawClient(SHARED_REDIS_URL);
  before(async () => {
    await raw.connect();
    c = await startCluster({ instances: 3, redisUrl: SHARED_REDIS_URL });
  });
  after(async () => {
    await c?.close();
    raw.disconnect();
  });

  test('counts the per-IP limit across instances: request max+1 on any instance is 429', async () => {
    const ip = nextIp();
    const remaining: string[] = [];
    for (let i = 0; i < LIMITS.ipMax; i += 1) {
      const res = await c.call(i % 3, 'GET', '/credentials/idp-providers', { ip });
      assert.equal(res.status, 200, res.text);
      remaining.push(res.headers.get('x-ratelimit-remaining') ?? '');
    }
    assert.deepEqual(remaining, ['5', '4', '3', '2', '1', '0']);
    for (const i of [0, 1, 2]) {
      const res = await c.call(i, 'GET', '/credentials/idp-providers', { ip });
      assertError(res, 'RATE_LIMIT_EXCEEDED', null, 'Too many requests from this IP');
      assert.ok(res.body.retryAfter >= 1 && res.body.retryAfter <= 60, `retryAfter ${res.body.retryAfter}`);
      assert.equal(res.headers.get('retry-after'), String(res.body.retryAfter));
    }
    assert.equal(
      (await c.call(1, 'GET', '/credentials/idp-providers')).status,
      200,
      'another IP is not limited',
    );
    assert.deepEqual(await keysUnder(raw, `${c.prefix}rate-limit:ip:${ip}`), [
      `${c.prefix}rate-limit:ip:${ip}`,
    ]);
  });

  test('refuses on every other instance a one-time token minted on one; listing keys does not consume it', async () => {
    const token = await c.token(c.opA, WORKLOADS.replayer);
    for (const i of [1, 2]) {
      const listed = await c.call(i, 'GET', '/credentials/keys', { token });
      assert.equal(listed.status, 200, listed.text);
      assert.equal(listed.body.subject, WORKLOADS.replayer);
    }
    ok(await c.call(0, 'POST', '/credentials/mint', { token, ...READ }));
    assertInvalidToken(await c.call(1, 'POST', '/credentials/mint', { token, ...READ }), 'token_replayed');
    assertInvalidToken(
      await c.call(2, 'POST', '/credentials/mint', { json: { keys: ['AWS_READ'], oidcToken: token } }),
      'token_replayed',
    );
    assertInvalidToken(await c.call(0, 'POST', '/credentials/mint', { token, ...READ }), 'token_replayed');
    ok(
      await c.call(1, 'POST', '/credentials/mint', {
        token: await c.token(c.opA, WORKLOADS.replayer),
        ...READ,
      }),
    );

    const { iss, jti, exp } = decodeJwt(token);
    const key = `${c.prefix}replay:${sha256(String(iss))}:${sha256(String(jti))}`;
    const pttl = await raw.pttl(key);
    const expected = (Number(exp) + 30) * 1000 - Date.now();
    assert.ok(pttl > expected - 5000 && pttl <= expected + 1000, `PTTL ${pttl}, expected about ${expected}`);
    assert.match(c.brokers[1]?.output() ?? '', /token_replayed/);
  });

  test('releases a token whose mint failed at every provider, so it mints once more on another instance', async () => {
    const token = await c.token(c.opA, WORKLOADS.releaser);
    const refused = await c.call(0, 'POST', '/credentials/mint', { token, json: { keys: ['AWS_REFUSED'] } });
    assert.equal(refused.status, 502, refused.text);
    assert.equal(refused.body.error, 'CREDENTIAL_MINT_FAILED');
    ok(await c.call(1, 'POST', '/credentials/mint', { token, ...READ }));
    assertInvalidToken(await c.call(2, 'POST', '/credentials/mint', { token, ...READ }), 'token_replayed');
  });

  test('lets exactly one of six concurrent mints of one token across the instances succeed', async () => {
    const token = await c.token(c.opA, WORKLOADS.racer);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) => c.call(i % 3, 'POST', '/credentials/mint', { token, ...READ })),
    );
    const won = answers.filter((r) => r.status === 200);
    assert.equal(won.length, 1, answers.map((r) => r.status).join(' '));
    for (const r of won) registerCredentials(r.body.credentials);
    for (const r of answers.filter((x) => x.status !== 200)) assertInvalidToken(r, 'token_replayed');
  });

  test('mints a token of an IdP without oneTimeUse on several instances', async () => {
    const token = await c.token(c.opB, B_WORKLOAD);
    ok(await c.call(0, 'POST', '/credentials/mint', { token, ...READ }));
    ok(await c.call(2, 'POST', '/credentials/mint', { token, ...READ }));
  });

  test('counts the per-subject limit across instances: mint max+1 of one identity is 429', async () => {
    for (let i = 0; i < LIMITS.subjectMax; i += 1) {
      const token = await c.token(c.opA, WORKLOADS.busy);
      ok(await c.call(i % 3, 'POST', '/credentials/mint', { token, ...READ }));
    }
    const token = await c.token(c.opA, WORKLOADS.busy);
    const res = await c.call(1, 'POST', '/credentials/mint', { token, ...READ });
    assertError(res, 'RATE_LIMIT_EXCEEDED', { scope: 'identity' }, 'Too many requests for this identity');
    assert.ok(res.body.retryAfter >= 1 && res.body.retryAfter <= 60);
  });

  test('reports redis healthy on every instance and leaks no token or secret', async () => {
    for (const i of [0, 1, 2]) {
      const res = await c.call(i, 'GET', '/health');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.checks.redis, 'healthy', res.text);
      assert.equal(await c.metric(i, 'voidkey_rate_limit_store_errors_total'), 0);
    }
    assert.deepEqual(c.leaks(), []);
  });
});
