import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { securityHeaders } from '../../src/server/security-headers.ts';
import { appFor, TOKENS, world } from './helpers.ts';
import { jsonPost } from './http.ts';
import { opsApp } from './ops.ts';
import { rawExchange, rawHeader } from './socket.ts';

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

  // Regression: these refusals come before (or instead of) the later hooks, and went out without them.
  test('are on answers refused before any route: unframeable body, malformed URL', async () => {
    const h = opsApp();
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = h.app.server.address() as AddressInfo;
    const heads = [
      'POST /credentials/mint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
      'GET /credentials/%E0%A4%A HTTP/1.1\r\nHost: x\r\n\r\n',
    ];
    try {
      for (const head of heads) {
        const res = await rawExchange(port, { chunks: [head], untilResponse: true });
        assert.equal(res.status, 400, JSON.stringify(head));
        assert.match(res.text, /"error":"INVALID_REQUEST"/);
        for (const [name, value] of Object.entries(EXPECTED)) {
          assert.equal(rawHeader(res.text, name), value, `${name} on ${JSON.stringify(head)}`);
        }
        assert.equal(rawHeader(res.text, 'cache-control'), 'no-store');
        assert.ok(rawHeader(res.text, 'x-request-id'));
      }
    } finally {
      h.app.server.closeAllConnections();
      await h.app.close();
    }
  });

  test('add HSTS for a year with subdomains when the broker serves TLS itself', async () => {
    const tls = securityHeaders({ tls: true });
    assert.equal(tls['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    assert.equal(securityHeaders({ tls: false })['strict-transport-security'], undefined);
    const app = appFor(world(), { headers: tls });
    const res = await app.inject({ method: 'GET', url: '/health/live' });
    assert.equal(res.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    await app.close();
  });
});
