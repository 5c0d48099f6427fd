import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { securityHeadersPlugin } from '../../src/server/plugins/security-headers.ts';
import { TOKENS } from './helpers.ts';
import { jsonPost } from './http.ts';
import { opsApp } from './ops.ts';

const EXPECTED = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none';frame-ancestors 'none'",
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

describe('security headers', () => {
  test('are on every answer: success, error, 404, health and metrics', async () => {
    const h = opsApp();
    const answers = await Promise.all([
      h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main)),
      h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, 'bad.token.sig')),
      h.app.inject({ method: 'GET', url: '/nowhere' }),
      h.app.inject({ method: 'GET', url: '/health/live' }),
      h.app.inject({ method: 'GET', url: '/metrics' }),
    ]);
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [200, 401, 404, 200, 200],
    );
    for (const res of answers) {
      for (const [name, value] of Object.entries(EXPECTED)) assert.equal(res.headers[name], value, name);
      assert.equal(res.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
      assert.equal(res.headers['x-powered-by'], undefined);
    }
    await h.app.close();
  });

  test('adds HSTS for a year with subdomains when the broker serves TLS itself', async () => {
    const app = Fastify();
    await app.register(securityHeadersPlugin, { tls: true });
    app.get('/', async () => ({ ok: true }));
    const res = await app.inject({ method: 'GET', url: '/' });
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    await app.close();
  });
});
