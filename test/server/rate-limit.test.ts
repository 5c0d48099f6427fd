import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/core/config/index.ts';
import { memoryCounterStore } from '../../src/server/state/index.ts';
import { TOKENS, testConfig } from './helpers.ts';
import { assertError, jsonPost } from './http.ts';
import { opsApp, patchConfig, samples } from './ops.ts';

const limited = (rateLimit: Record<string, unknown>, server: Record<string, unknown> = {}) =>
  patchConfig(testConfig(), { rateLimit, server });

const get = (url: string, extra: Record<string, unknown> = {}) => ({ method: 'GET' as const, url, ...extra });

describe('per-IP rate limit', () => {
  test('sends X-RateLimit-Limit/-Remaining and -Reset in Unix seconds by default', async () => {
    const h = opsApp({ config: limited({ windowMs: 60_000, max: 3 }) });
    const before = Date.now() / 1000;
    const first = await h.app.inject(get('/credentials/idp-providers'));
    const second = await h.app.inject(get('/credentials/idp-providers'));
    assert.equal(first.statusCode, 200);
    assert.equal(first.headers['x-ratelimit-limit'], '3');
    assert.equal(first.headers['x-ratelimit-remaining'], '2');
    assert.equal(second.headers['x-ratelimit-remaining'], '1');
    const reset = Number(first.headers['x-ratelimit-reset']);
    const after = Date.now() / 1000;
    assert.ok(reset >= before + 60 && reset <= after + 61, `reset ${reset} is the Unix time the window ends`);
    assert.equal(first.headers['ratelimit-limit'], undefined);
    await h.app.close();
  });

  test('answers 429 with the configured message, retryAfter and Retry-After once max is spent', async () => {
    const h = opsApp({ config: limited({ windowMs: 30_000, max: 1, message: 'Slow down, please' }) });
    await h.app.inject(get('/credentials/idp-providers'));
    const res = await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    const body = assertError(res, 'RATE_LIMIT_EXCEEDED', { message: 'Slow down, please', retryAfter: 30 });
    assert.equal(body.retryAfter, 30);
    assert.equal(res.headers['retry-after'], '30');
    assert.equal(res.headers['x-ratelimit-remaining'], '0');
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(h.w.verifier.calls.length, 0, 'a limited request never reaches verification');
    await h.app.close();
  });

  test('uses the deployment guide block as written: IETF headers only', async () => {
    const fixture = fileURLToPath(
      new URL('../fixtures/config/deployment-guide/production.yaml', import.meta.url),
    );
    const { config: guide } = await loadConfig({
      path: fixture,
      env: { PROD_BROKER_SECRET: 'guide-secret', PROD_AWS_EXTERNAL_ID: 'guide-external-id' },
    });
    assert.deepEqual(
      { ...guide.rateLimit },
      {
        enabled: true,
        windowMs: 900000,
        max: 1000,
        message: 'Too many requests from this IP',
        standardHeaders: true,
        legacyHeaders: false,
      },
    );
    const h = opsApp({ config: patchConfig(testConfig(), { rateLimit: guide.rateLimit }) });
    const res = await h.app.inject(get('/credentials/idp-providers'));
    assert.equal(res.headers['ratelimit-limit'], '1000');
    assert.equal(res.headers['ratelimit-remaining'], '999');
    assert.equal(res.headers['ratelimit-reset'], '900');
    assert.equal(res.headers['x-ratelimit-limit'], undefined);
    assert.equal(res.headers['x-ratelimit-reset'], undefined);
    await h.app.close();
  });

  test('sends both header sets when both are enabled', async () => {
    const h = opsApp({ config: limited({ max: 5, standardHeaders: true, legacyHeaders: true }) });
    const res = await h.app.inject(get('/credentials/idp-providers'));
    assert.equal(res.headers['x-ratelimit-limit'], '5');
    assert.equal(res.headers['ratelimit-limit'], '5');
    await h.app.close();
  });

  test('exempts /health, /health/live, /health/ready and /metrics', async () => {
    const h = opsApp({ config: limited({ max: 1 }) });
    for (const url of ['/health', '/health/live', '/health/ready', '/metrics']) {
      for (let i = 0; i < 3; i++) {
        const res = await h.app.inject(get(url));
        assert.equal(res.statusCode, 200, url);
        assert.equal(res.headers['x-ratelimit-limit'], undefined, url);
      }
    }
    assert.equal((await h.app.inject(get('/credentials/idp-providers'))).statusCode, 200);
    assert.equal((await h.app.inject(get('/credentials/idp-providers'))).statusCode, 429);
    await h.app.close();
  });

  test('counts unmatched routes too, so a scanner is limited', async () => {
    const h = opsApp({ config: limited({ max: 1 }) });
    assert.equal((await h.app.inject(get('/wp-admin'))).statusCode, 404);
    assert.equal((await h.app.inject(get('/.env'))).statusCode, 429);
    await h.app.close();
  });

  test('believes X-Forwarded-For only as far as server.trustProxy says', async () => {
    const proxy = { remoteAddress: '10.0.0.1' };
    const direct = opsApp({ config: limited({ max: 1 }) });
    const spoof = (ip: string) =>
      get('/credentials/idp-providers', { ...proxy, headers: { 'x-forwarded-for': ip } });
    assert.equal((await direct.app.inject(spoof('203.0.113.1'))).statusCode, 200);
    assert.equal(
      (await direct.app.inject(spoof('203.0.113.2'))).statusCode,
      429,
      'XFF ignored without trustProxy',
    );
    await direct.app.close();

    const behindOne = opsApp({ config: limited({ max: 1 }, { trustProxy: 1 }) });
    assert.equal((await behindOne.app.inject(spoof('203.0.113.1'))).statusCode, 200);
    assert.equal((await behindOne.app.inject(spoof('203.0.113.2'))).statusCode, 200, 'another client');
    assert.equal((await behindOne.app.inject(spoof('203.0.113.1'))).statusCode, 429, 'same client again');
    // One hop: what the client wrote before the proxy's own entry is not believed.
    const chained = get('/credentials/idp-providers', {
      ...proxy,
      headers: { 'x-forwarded-for': '198.51.100.7, 203.0.113.1' },
    });
    assert.equal((await behindOne.app.inject(chained)).statusCode, 429);
    await behindOne.app.close();
  });

  test('does nothing while rateLimit.enabled is false', async () => {
    const h = opsApp({ config: limited({ enabled: false, max: 1 }) });
    for (let i = 0; i < 3; i++) {
      const res = await h.app.inject(get('/credentials/idp-providers'));
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-ratelimit-limit'], undefined);
    }
    await h.app.close();
  });

  test('applies a reloaded rateLimit at once', async () => {
    const h = opsApp({ config: limited({ max: 1 }) });
    assert.equal((await h.app.inject(get('/credentials/idp-providers'))).statusCode, 200);
    h.state.config = limited({ max: 10 });
    const res = await h.app.inject(get('/credentials/idp-providers'));
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['x-ratelimit-limit'], '10');
    await h.app.close();
  });

  test('fails open when its Redis store errors: logged once, counted, request served', async () => {
    const broken = {
      increment: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
      },
    };
    const h = opsApp({ config: limited({ max: 1 }), counters: broken });
    for (let i = 0; i < 3; i++) {
      const res = await h.app.inject(get('/credentials/idp-providers'));
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['x-ratelimit-limit'], undefined);
    }
    const text = await h.metrics.registry.metrics();
    assert.deepEqual(samples(text, 'voidkey_rate_limit_store_errors_total'), [{ labels: {}, value: 3 }]);
    const warnings = h.lines.filter((l) => l.includes('rate-limit store failed'));
    assert.equal(warnings.length, 1, 'the log line is throttled');
    await h.app.close();
  });
});

describe('per-subject rate limit', () => {
  const perSubject = (max: number) => limited({ max: 1000, perSubject: { windowMs: 60_000, max } });

  test('limits verified mints per (iss, sub) with 429, retryAfter and an audit event', async () => {
    const h = opsApp({ config: perSubject(2) });
    const mint = (token: string) =>
      h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, token));
    assert.equal((await mint(TOKENS.main)).statusCode, 200);
    assert.equal((await mint(TOKENS.main)).statusCode, 200);
    const res = await mint(TOKENS.main);
    assertError(res, 'RATE_LIMIT_EXCEEDED', {
      message: 'Too many requests for this identity',
      details: { scope: 'identity' },
      retryAfter: 60,
    });
    assert.equal(res.headers['retry-after'], '60');
    assert.equal(h.w.providers.get('aws-dev')?.calls.length, 2, 'the third mint reached no provider');
    const last = h.audits().at(-1);
    assert.equal(last?.eventType, 'MINT_FAILURE');
    assert.equal(last?.reason, 'rate_limit_exceeded');
    assert.equal(h.audits().filter((e) => e.eventType === 'AUTH_FAILURE').length, 0);
    await h.app.close();
  });

  test('keeps identities apart: the same subject under another issuer has its own budget', async () => {
    const config = patchConfig(perSubject(1), {});
    config.clientIdentities.push({
      subject: 'repo:acme/app:ref:refs/heads/main',
      idp: 'gitlab',
      keys: { AWS_READ: { provider: 'aws-dev', roleArn: 'arn:aws:iam::123456789012:role/Read' } },
    });
    const h = opsApp({ config });
    const mint = (token: string) =>
      h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, token));
    assert.equal((await mint(TOKENS.main)).statusCode, 200);
    assert.equal((await mint(TOKENS.main)).statusCode, 429);
    assert.equal((await mint(TOKENS.gitlabMain)).statusCode, 200);
    await h.app.close();
  });

  test('lets forged tokens spend nothing of anyone’s budget', async () => {
    const h = opsApp({ config: perSubject(1) });
    for (let i = 0; i < 5; i++) {
      const forged = await h.app.inject(
        jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, 'forged.token.sig'),
      );
      assert.equal(forged.statusCode, 401);
    }
    const res = await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    assert.equal(res.statusCode, 200);
    await h.app.close();
  });

  test('does not count listing keys', async () => {
    const h = opsApp({ config: perSubject(1) });
    for (let i = 0; i < 3; i++) {
      const res = await h.app.inject(
        get('/credentials/keys', { headers: { authorization: `Bearer ${TOKENS.main}` } }),
      );
      assert.equal(res.statusCode, 200);
    }
    assert.equal(
      (await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main))).statusCode,
      200,
    );
    await h.app.close();
  });

  test('fails open when its store throws, counting the error', async () => {
    // The per-IP limit counts in the same store: only the subject keys fail here.
    const memory = memoryCounterStore();
    const store = {
      increment: async (key: string, windowMs: number) => {
        if (key.startsWith('rate-limit:subject:')) throw new Error('store down');
        return memory.increment(key, windowMs);
      },
    };
    const h = opsApp({ config: perSubject(1), counters: store });
    for (let i = 0; i < 2; i++) {
      const res = await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
      assert.equal(res.statusCode, 200);
    }
    const text = await h.metrics.registry.metrics();
    assert.deepEqual(samples(text, 'voidkey_rate_limit_store_errors_total'), [{ labels: {}, value: 2 }]);
    await h.app.close();
  });
});
