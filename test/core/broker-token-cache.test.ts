import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createBrokerTokenSource } from '../../src/core/broker-token/index.ts';
import { UpstreamError } from '../../src/core/errors.ts';
import {
  baseOptions,
  captureLogger,
  captureTelemetry,
  idpConfig,
  issue,
  startTokenEndpoint,
  type TokenEndpoint,
} from './broker-token-helpers.ts';

const T0 = 1_800_000_000_000;

describe('broker token cache, single flight and retries', () => {
  let endpoint: TokenEndpoint;
  let clock = T0;
  const now = () => clock;
  before(async () => {
    endpoint = await startTokenEndpoint();
  });
  beforeEach(() => {
    clock = T0;
    endpoint.requests.length = 0;
    endpoint.handler = (req) => issue(req, clock, 1000);
  });
  after(() => endpoint.close());

  const source = (extra: object = {}) =>
    createBrokerTokenSource({ ...baseOptions(idpConfig(endpoint)), now, ...extra });

  test('reuses one token for many sequential calls', async () => {
    const tokens = source();
    const first = await tokens.getToken('sts.example');
    for (let i = 0; i < 20; i++) assert.equal(await tokens.getToken('sts.example'), first);
    assert.equal(endpoint.tokenRequests().length, 1);
  });

  test('keeps one token per audience', async () => {
    const tokens = source();
    const a = await tokens.getToken('aud-a');
    const b = await tokens.getToken('aud-b');
    assert.notEqual(a, b);
    assert.equal(await tokens.getToken('aud-a'), a);
    assert.deepEqual(
      endpoint.tokenRequests().map((r) => r.form.get('audience')),
      ['aud-a', 'aud-b'],
    );
  });

  test('sends one request for 50 concurrent callers', async () => {
    endpoint.handler = async (req) => ({ ...(await issue(req, clock, 1000)), delay: 50 });
    const tokens = source();
    const results = await Promise.all(Array.from({ length: 50 }, () => tokens.getToken('sts.example')));
    assert.equal(new Set(results).size, 1);
    assert.equal(endpoint.tokenRequests().length, 1);
  });

  test('refreshes in the background once less than max(60 s, 10 %) of the lifetime remains', async () => {
    const tokens = source();
    const first = await tokens.getToken('sts.example');
    clock = T0 + 850_000; // 150 s left of 1000 s: outside the 100 s window
    assert.equal(await tokens.getToken('sts.example'), first);
    assert.equal(endpoint.tokenRequests().length, 1);
    clock = T0 + 910_000; // 90 s left: inside the window, still valid
    assert.equal(await tokens.getToken('sts.example'), first);
    await waitFor(() => endpoint.tokenRequests().length === 2);
    await waitFor(async () => (await tokens.getToken('sts.example')) !== first);
    assert.equal(endpoint.tokenRequests().length, 2);
  });

  test('hands out the token at hand without a promise while getToken would, and nothing otherwise', async () => {
    const tokens = source();
    assert.equal(tokens.cachedToken('sts.example'), undefined);
    const first = await tokens.getToken('sts.example');
    assert.equal(tokens.cachedToken('sts.example'), first);
    assert.equal(tokens.cachedToken('other.example'), undefined);
    clock = T0 + 910_000; // inside the refresh window: still handed out, a refresh starts
    assert.equal(tokens.cachedToken('sts.example'), first);
    await waitFor(() => endpoint.tokenRequests().length === 2);
    await waitFor(() => tokens.cachedToken('sts.example') !== first);
    clock = T0 + 910_000 + 995_000; // the new token has 5 s left: too little
    assert.equal(tokens.cachedToken('sts.example'), undefined);
    assert.equal(endpoint.tokenRequests().length, 2);
  });

  test('waits for a new token when the cached one is about to expire', async () => {
    const tokens = source();
    const first = await tokens.getToken('sts.example');
    clock = T0 + 995_000; // 5 s left: too little to hand out
    const second = await tokens.getToken('sts.example');
    assert.notEqual(second, first);
    assert.equal(endpoint.tokenRequests().length, 2);
  });

  test('keeps serving the cached token and reports degraded when a background refresh fails', async () => {
    const logger = captureLogger();
    const tokens = source({ logger, maxRetries: 0 });
    const first = await tokens.getToken('sts.example');
    endpoint.handler = () => ({ status: 503, body: {} });
    clock = T0 + 950_000;
    assert.equal(await tokens.getToken('sts.example'), first);
    await waitFor(() => tokens.status()['sts.example']?.status === 'degraded');
    assert.deepEqual(tokens.status(), {
      'sts.example': {
        status: 'degraded',
        expiresAt: (T0 + 1_000_000) / 1000,
        error: 'broker IdP unavailable (HTTP 503)',
      },
    });
  });

  test('retries a 503 and then succeeds', async () => {
    let calls = 0;
    endpoint.handler = (req) => (++calls === 1 ? { status: 503, body: {} } : issue(req, clock, 1000));
    const telemetry = captureTelemetry();
    await source({ telemetry }).getToken('sts.example');
    assert.equal(endpoint.tokenRequests().length, 2);
    assert.deepEqual(telemetry.refreshes, ['sts.example:success']);
  });

  test('retries 408 and 429 as well', async () => {
    const statuses = [408, 429];
    endpoint.handler = (req) => {
      const status = statuses.shift();
      return status ? { status, body: {} } : issue(req, clock, 1000);
    };
    await source().getToken('sts.example');
    assert.equal(endpoint.tokenRequests().length, 3);
  });

  test('does not retry a 400 and reports the client credentials as refused', async () => {
    endpoint.handler = () => ({ status: 400, body: { error: 'invalid_client' } });
    const telemetry = captureTelemetry();
    await assert.rejects(source({ telemetry }).getToken('sts.example'), (err) => {
      assert.ok(err instanceof UpstreamError);
      assert.equal(err.kind, 'refused');
      assert.equal(err.message, 'broker IdP refused the client credentials');
      return true;
    });
    assert.equal(endpoint.tokenRequests().length, 1);
    assert.deepEqual(telemetry.refreshes, ['sts.example:failure']);
  });

  test('reports unavailable after the retries are spent', async () => {
    endpoint.handler = () => ({ status: 502, body: {} });
    const tokens = source({ maxRetries: 2 });
    await assert.rejects(tokens.getToken('sts.example'), (err) => {
      return err instanceof UpstreamError && err.kind === 'unavailable';
    });
    assert.equal(endpoint.tokenRequests().length, 3);
    assert.deepEqual(tokens.status(), {
      'sts.example': { status: 'unhealthy', error: 'broker IdP unavailable (HTTP 502)' },
    });
  });

  test('reports an unreachable endpoint as unavailable', async () => {
    const idp = idpConfig(endpoint, { tokenEndpoint: 'http://127.0.0.1:1/token' });
    const tokens = createBrokerTokenSource({ ...baseOptions(idp), maxRetries: 1 });
    await assert.rejects(tokens.getToken('sts.example'), (err) => {
      return err instanceof UpstreamError && err.reason === 'broker IdP unreachable (network)';
    });
  });

  test('a caller whose signal fires stops waiting while the others get the token', async () => {
    endpoint.handler = async (req) => ({ ...(await issue(req, clock, 1000)), delay: 100 });
    const tokens = source();
    const controller = new AbortController();
    const impatient = tokens.getToken('sts.example', controller.signal);
    const patient = tokens.getToken('sts.example');
    controller.abort();
    await assert.rejects(impatient, (err) => {
      return err instanceof UpstreamError && err.reason === 'broker token request aborted';
    });
    assert.equal(typeof (await patient), 'string');
    assert.equal(endpoint.tokenRequests().length, 1);
  });

  test('prefetch obtains each audience once and rejects with a refusal', async () => {
    endpoint.handler = (req) =>
      req.form.get('audience') === 'bad' ? { status: 401, body: {} } : issue(req, clock, 1000);
    const tokens = source();
    await assert.rejects(tokens.prefetch(['good', 'bad', 'good']), (err) => {
      return err instanceof UpstreamError && err.kind === 'refused';
    });
    assert.equal(endpoint.tokenRequests().length, 2);
    assert.equal(tokens.status().good?.status, 'healthy');
    assert.deepEqual(tokens.status().bad, {
      status: 'unhealthy',
      error: 'broker IdP refused the client credentials',
    });
  });

  test('reports a lapsed token as unhealthy until prefetch refreshes it', async () => {
    const tokens = source();
    await tokens.getToken('sts.example');
    clock = T0 + 2_000_000;
    assert.deepEqual(tokens.status(), {
      'sts.example': { status: 'unhealthy', error: 'broker token expired and not yet refreshed' },
    });
    await tokens.prefetch(['sts.example']);
    assert.deepEqual(tokens.status(), {
      'sts.example': { status: 'healthy', expiresAt: (T0 + 3_000_000) / 1000 },
    });
  });

  test('never puts the client secret, the assertion or a token in an error or a log line', async () => {
    const logger = captureLogger();
    endpoint.handler = (req) => ({
      status: 400,
      body: { error: 'invalid_client', error_description: `bad ${req.headers.authorization}` },
    });
    const tokens = source({ logger });
    const err: UpstreamError = await tokens.getToken('sts.example').then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e as UpstreamError,
    );
    endpoint.handler = (req) => issue(req, clock, 1000);
    const token = await tokens.getToken('other');
    const basic = String(endpoint.requests[0]?.headers.authorization).slice('Basic '.length);
    const everything = [err.message, JSON.stringify(err.cause), ...logger.lines].join('\n');
    for (const secret of ['shh-very-secret', basic, token]) assert.ok(!everything.includes(secret));
    assert.ok(logger.lines.some((l) => l.includes('"error":"invalid_client"')));
  });
});

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 2000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
