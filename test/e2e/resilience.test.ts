/**
 * Upstream failures through the built broker: a JWKS outage after the first
 * fetch (stale keys keep working), an issuer whose keys were never had (503),
 * STS throttling (retried), STS down (503 with the failed keys), and
 * recovery. OP B's JWKS is down from before the broker starts. The broker
 * runs with a 1 s JWKS TTL and a 2 s cool-down.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError } from './helpers/assert.ts';
import { registerCredentials } from './helpers/secrets.ts';
import { B_SUBJECT, ROLE, SUBJECT, startWorld, type World } from './helpers/world.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const TTL_S = 1;
// The broker spends at most one JWKS attempt per cool-down, successful or not: a refresh needs both to pass.
const COOLDOWN_S = 2;

describe('resilience to upstream failures', () => {
  let w: World;
  before(async () => {
    w = await startWorld({
      configure: (c) => {
        c.cache = { jwks: { ttl: TTL_S, cooldown: COOLDOWN_S, staleIfError: 3600 } };
      },
      // OP B never serves its keys until the second test turns this off.
      beforeBroker: ({ opB }) => opB.setJwksOutage(true),
    });
  });
  after(async () => {
    await w?.close();
  });

  const mint = async (keys = ['AWS_READ']) =>
    w.api('POST', '/credentials/mint', { token: await w.token(w.opA, SUBJECT), json: { keys } });
  const ok = (res: Awaited<ReturnType<typeof mint>>) => {
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
  };

  test('keeps minting on the last good key set while the JWKS endpoint fails', async () => {
    ok(await mint());
    const fetched = w.opA.jwksHits();
    assert.ok(fetched >= 1);
    w.opA.setJwksOutage(true);
    try {
      await sleep(Math.max(TTL_S, COOLDOWN_S) * 1000 + 300);
      ok(await mint());
      ok(await mint());
      await sleep(100);
      // One refetch attempt after the TTL (a 503 is retried: broker.maxRetries is 2), then the cool-down.
      assert.equal(w.opA.jwksHits(), fetched + 3, 'one refetch attempt after the TTL, then the cool-down');
    } finally {
      w.opA.setJwksOutage(false);
    }
  });

  test('answers 503 while an issuer has never served its keys, and recovers after the cool-down', async () => {
    try {
      const token = await w.token(w.opB, B_SUBJECT);
      const res = await w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_DEPLOY'] } });
      assertError(
        res,
        'SERVICE_UNAVAILABLE',
        undefined,
        "The issuer's signing keys are unavailable; retry later",
      );
      assert.ok(w.opB.jwksHits() >= 1);
    } finally {
      w.opB.setJwksOutage(false);
    }
    await sleep(COOLDOWN_S * 1000 + 300);
    const token = await w.token(w.opB, B_SUBJECT);
    const res = await w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_DEPLOY'] } });
    ok(res);
  });

  test('retries a throttled STS call and mints', async () => {
    const before = w.proxy.calls.length;
    w.sts.failNext('Throttling', 2);
    ok(await mint(['AWS_AUDIT']));
    const statuses = w.proxy.calls.slice(before).map((c) => [c.roleArn, c.status]);
    assert.deepEqual(statuses, [
      [ROLE.audit, 400],
      [ROLE.audit, 400],
      [ROLE.audit, 200],
    ]);
  });

  test('answers 503 with the failed key when STS keeps throttling past the retries', async () => {
    const before = w.proxy.calls.length;
    w.sts.failNext('Throttling', 3);
    const res = await mint(['AWS_AUDIT']);
    assertError(res, 'SERVICE_UNAVAILABLE');
    assertFailures(res.body, ['AWS_AUDIT']);
    assert.equal(w.proxy.calls.length - before, 3);
    assert.equal(res.body.credentials, undefined);
  });

  test('answers 503 with every failed key when STS is down, and mints again once it is back', async () => {
    await w.proxy.setDown(true);
    let res: Awaited<ReturnType<typeof mint>>;
    try {
      res = await mint(['AWS_DEPLOY', 'AWS_READ']);
    } finally {
      await w.proxy.setDown(false);
    }
    assertError(res, 'SERVICE_UNAVAILABLE');
    assertFailures(res.body, ['AWS_DEPLOY', 'AWS_READ']);
    ok(await mint(['AWS_DEPLOY']));
  });

  test('leaves no token, client secret or credential in the broker output', () => {
    const { leaks, registered, outputBytes } = w.leaks();
    assert.ok(registered > 10, `only ${registered} secrets registered`);
    assert.ok(outputBytes > 0, 'the broker printed nothing: the check would prove nothing');
    assert.deepEqual(leaks, []);
  });
});

/** `details.failures` names exactly `keys` (any order), each on provider aws-e2e with a string reason. */
function assertFailures(body: { details?: { failures?: unknown } }, keys: string[]): void {
  const failures = body.details?.failures as { key: string; provider: string; reason: unknown }[] | undefined;
  assert.ok(Array.isArray(failures), JSON.stringify(body));
  const shape = failures
    .map((f) => ({ key: f.key, provider: f.provider, reason: typeof f.reason }))
    .sort((a, b) => a.key.localeCompare(b.key));
  assert.deepEqual(
    shape,
    [...keys].sort().map((key) => ({ key, provider: 'aws-e2e', reason: 'string' })),
  );
}
