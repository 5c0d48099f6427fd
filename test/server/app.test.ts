import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { BrokerError } from '../../src/core/errors.ts';
import type { HealthProbe } from '../../src/server/app.ts';
import { appFor, TOKENS, world } from './helpers.ts';
import { assertError, assertSameAnswer, captureLogger, isUuid, jsonPost } from './http.ts';

const w = world();
const app = appFor(w);
after(() => app.close());

describe('request ids', () => {
  test('echoes a well-formed client X-Request-ID on success and in error bodies', async () => {
    const ok = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'ci-run:42.a_b-c' } });
    assert.equal(ok.headers['x-request-id'], 'ci-run:42.a_b-c');
    const err = await app.inject({ url: '/nowhere', headers: { 'x-request-id': 'trace-1' } });
    assert.equal(err.headers['x-request-id'], 'trace-1');
    assert.equal(assertError(err, 'NOT_FOUND').requestId, 'trace-1');
  });

  for (const [name, value] of [
    ['spaces', 'bad id'],
    ['a slash', 'a/b'],
    ['more than 128 characters', 'a'.repeat(129)],
    ['an empty value', ''],
  ] as const) {
    test(`replaces a client X-Request-ID with ${name} by a generated UUID`, async () => {
      const res = await app.inject({ url: '/health/live', headers: { 'x-request-id': value } });
      assert.ok(isUuid(res.headers['x-request-id']), String(res.headers['x-request-id']));
    });
  }

  test('generates a UUID when the client sends none, unique per request', async () => {
    const a = await app.inject({ url: '/health/live' });
    const b = await app.inject({ url: '/health/live' });
    assert.ok(isUuid(a.headers['x-request-id']));
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
  });

  test('accepts an id of exactly 128 characters', async () => {
    const id = 'x'.repeat(128);
    const res = await app.inject({ url: '/health/live', headers: { 'x-request-id': id } });
    assert.equal(res.headers['x-request-id'], id);
  });
});

describe('routing errors', () => {
  test('answers 404 NOT_FOUND for an unknown route', async () => {
    assertError(await app.inject({ url: '/credentials/other' }), 'NOT_FOUND', { message: 'Route not found' });
  });

  test('answers 405 with Allow for a known route and another method', async () => {
    const get = await app.inject({ url: '/credentials/mint' });
    assertError(get, 'METHOD_NOT_ALLOWED');
    assert.equal(get.headers.allow, 'POST');
    const del = await app.inject({ method: 'DELETE', url: '/credentials/keys?x=1' });
    assertError(del, 'METHOD_NOT_ALLOWED');
    assert.equal(del.headers.allow, 'GET, HEAD');
    const post = await app.inject({ method: 'POST', url: '/health' });
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  test('answers a malformed URL with 400 INVALID_REQUEST without echoing it', async () => {
    const res = await app.inject({ url: '/%zz?token=secret-looking' });
    assertError(res, 'INVALID_REQUEST', { message: 'The request URL is malformed' });
    assert.doesNotMatch(res.body, /secret-looking|%zz/);
  });
});

describe('request bodies', () => {
  test('answers malformed JSON with 400 INVALID_REQUEST', async () => {
    assertError(await app.inject(jsonPost('/credentials/mint', '{"keys": [')), 'INVALID_REQUEST', {
      message: 'The request body is not valid JSON',
    });
  });

  test('refuses a JSON body with a __proto__ member', async () => {
    const res = await app.inject(
      jsonPost('/credentials/mint', '{"keys":["AWS_READ"],"__proto__":{"x":1}}', TOKENS.main),
    );
    assertError(res, 'INVALID_REQUEST');
  });

  test('answers an empty JSON body with 400', async () => {
    assertError(await app.inject(jsonPost('/credentials/mint', '')), 'INVALID_REQUEST');
  });

  for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
    test(`answers a ${type.split(';')[0]} body with 415 UNSUPPORTED_MEDIA_TYPE`, async () => {
      const verified = w.verifier.calls.length;
      const res = await app.inject({
        method: 'POST',
        url: '/credentials/mint',
        headers: { 'content-type': type, authorization: `Bearer ${TOKENS.main}` },
        payload: 'keys=AWS_READ',
      });
      assertError(res, 'UNSUPPORTED_MEDIA_TYPE');
      assert.equal(w.verifier.calls.length, verified);
    });
  }

  test('accepts application/json with a charset parameter', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/credentials/mint',
      headers: { 'content-type': 'application/json; charset=utf-8', authorization: `Bearer ${TOKENS.main}` },
      payload: JSON.stringify({ keys: ['AWS_READ'] }),
    });
    assert.equal(res.statusCode, 200);
  });

  test('answers a body over server.bodyLimit with 413 PAYLOAD_TOO_LARGE', async () => {
    const small = world({ config: { ...w.config, server: { ...w.config.server, bodyLimit: 256 } } });
    const smallApp = appFor(small);
    const res = await smallApp.inject(
      jsonPost('/credentials/mint', { keys: ['AWS_READ'], oidcToken: 'x'.repeat(300) }),
    );
    assertError(res, 'PAYLOAD_TOO_LARGE', { message: 'Request body too large' });
    await smallApp.close();
  });
});

describe('unexpected errors', () => {
  test('answer 500 INTERNAL_ERROR with the fixed message; the real error goes only to the log', async () => {
    const { lines, logger } = captureLogger();
    const broken = world();
    const provider = broken.providers.get('aws-dev');
    assert.ok(provider);
    provider.behaviour = async () => {
      throw new Error('ECONNRESET at /srv/voidkey/src/providers/aws.ts:42 secret=hunter2');
    };
    const brokenApp = appFor(broken, { logger });
    const res = await brokenApp.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    assertError(res, 'INTERNAL_ERROR', { message: 'Internal error' });
    assert.doesNotMatch(res.body, /ECONNRESET|hunter2|\/srv|\.ts|stack/);
    assert.ok(lines.some((line) => line.includes('ECONNRESET')));
    assert.ok(!lines.some((line) => line.includes(TOKENS.main)));
    await brokenApp.close();
  });

  test('carry Retry-After and retryAfter when a BrokerError says so', async () => {
    const limited = appFor(world(), {
      extend: (instance) => {
        instance.addHook('onRequest', async (request) => {
          if (request.url === '/credentials/idp-providers') {
            throw new BrokerError('RATE_LIMIT_EXCEEDED', {
              message: 'Too many requests from this IP',
              retryAfter: 12,
            });
          }
        });
      },
    });
    const res = await limited.inject({ url: '/credentials/idp-providers' });
    assertError(res, 'RATE_LIMIT_EXCEEDED', { retryAfter: 12, message: 'Too many requests from this IP' });
    assert.equal(res.headers['retry-after'], '12');
    await limited.close();
  });
});

describe('extension', () => {
  test('applies hooks of plugins registered through `extend` to every route', async () => {
    const plugin = Object.assign(
      async (instance: FastifyInstance) => {
        instance.addHook('onSend', async (_request, reply) => {
          reply.header('x-extended', 'yes');
        });
      },
      { [Symbol.for('skip-override')]: true },
    );
    const extended = appFor(world(), { extend: (instance) => instance.register(plugin) });
    for (const url of ['/credentials/idp-providers', '/health', '/credentials/keys', '/nowhere']) {
      const res = await extended.inject({ url });
      assert.equal(res.headers['x-extended'], 'yes', url);
    }
    await extended.close();
  });
});

describe('public routes', () => {
  test('lists client IdPs as the core describes them, never cached', async () => {
    assertSameAnswer(await app.inject({ url: '/credentials/idp-providers' }), w.broker.idpProviders());
  });

  test('reports health with status, timestamp, version, uptime and checks', async () => {
    const res = await app.inject({ url: '/health' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(Object.keys(body), ['status', 'timestamp', 'version', 'uptime', 'checks']);
    assert.equal(body.status, 'healthy');
    assert.equal(body.version, '9.9.9-test');
    assert.equal(typeof body.uptime, 'number');
    assert.deepEqual(body.checks, { config: 'healthy' });
  });

  test('answers 503 on /health only when the probe says unhealthy, 200 when degraded', async () => {
    let status: 'degraded' | 'unhealthy' = 'degraded';
    const probe: HealthProbe = {
      report: async () => ({ status, checks: { config: 'healthy', brokerToken: status }, errors: ['x'] }),
      ready: async () => false,
    };
    const probed = appFor(world(), { health: probe });
    const degraded = await probed.inject({ url: '/health' });
    assert.equal(degraded.statusCode, 200);
    assert.deepEqual(degraded.json().errors, ['x']);
    status = 'unhealthy';
    assert.equal((await probed.inject({ url: '/health' })).statusCode, 503);
    assertError(await probed.inject({ url: '/health/ready' }), 'SERVICE_UNAVAILABLE', {
      details: { reason: 'not_ready' },
    });
    await probed.close();
  });

  test('answers liveness and readiness with 200', async () => {
    const live = await app.inject({ url: '/health/live' });
    assert.equal(live.statusCode, 200);
    assert.equal(live.json().status, 'alive');
    const ready = await app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    assert.equal(ready.json().status, 'ready');
  });
});
