import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TOKENS, testConfig } from './helpers.ts';
import { assertError } from './http.ts';
import { opsApp, patchConfig } from './ops.ts';

const ORIGIN = 'https://app.example.com';
const withCors = () => patchConfig(testConfig(), { server: { cors: { origins: [ORIGIN] } } });
const preflight = (origin: string, method = 'POST') => ({
  method: 'OPTIONS' as const,
  url: '/credentials/mint',
  headers: {
    origin,
    'access-control-request-method': method,
    'access-control-request-headers': 'authorization, content-type',
  },
});

describe('CORS', () => {
  test('answers a preflight from a configured origin with the needed methods and headers only', async () => {
    const h = opsApp({ config: withCors() });
    const res = await h.app.inject(preflight(ORIGIN));
    assert.equal(res.statusCode, 204);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    assert.equal(res.headers['access-control-allow-methods'], 'GET, POST, OPTIONS');
    assert.equal(res.headers['access-control-allow-headers'], 'authorization, content-type, x-request-id');
    assert.equal(res.headers['access-control-max-age'], '600');
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    assert.match(String(res.headers.vary), /Origin/);
    await h.app.close();
  });

  test('lets a configured origin read the answer and its request id, never with credentials', async () => {
    const h = opsApp({ config: withCors() });
    const res = await h.app.inject({
      method: 'GET',
      url: '/credentials/keys',
      headers: { origin: ORIGIN, authorization: `Bearer ${TOKENS.main}` },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
    assert.match(String(res.headers['access-control-expose-headers']), /x-request-id/);
    assert.equal(res.headers['access-control-allow-credentials'], undefined);
    await h.app.close();
  });

  test('gives any other origin no CORS header and its preflight the answer it gets without CORS (405)', async () => {
    const h = opsApp({ config: withCors() });
    for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.com', 'null']) {
      const res = await h.app.inject(preflight(origin));
      assertError(res, 'METHOD_NOT_ALLOWED');
      assert.equal(res.headers['access-control-allow-origin'], undefined, origin);
      const get = await h.app.inject({
        method: 'GET',
        url: '/credentials/idp-providers',
        headers: { origin },
      });
      assert.equal(get.statusCode, 200);
      assert.equal(get.headers['access-control-allow-origin'], undefined, origin);
    }
    await h.app.close();
  });

  test('is closed when no origins are configured', async () => {
    const h = opsApp();
    const res = await h.app.inject(preflight(ORIGIN));
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    assert.equal(res.statusCode, 405);
    const get = await h.app.inject({
      method: 'GET',
      url: '/credentials/idp-providers',
      headers: { origin: ORIGIN },
    });
    assert.equal(get.headers['access-control-allow-origin'], undefined);
    await h.app.close();
  });

  test('follows a reloaded origin list', async () => {
    const h = opsApp({ config: withCors() });
    h.state.config = patchConfig(testConfig(), {
      server: { cors: { origins: ['https://new.example.com'] } },
    });
    assert.equal((await h.app.inject(preflight(ORIGIN))).statusCode, 405);
    const res = await h.app.inject(preflight('https://new.example.com'));
    assert.equal(res.headers['access-control-allow-origin'], 'https://new.example.com');
    await h.app.close();
  });
});
