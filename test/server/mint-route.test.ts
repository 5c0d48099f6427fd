import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { BrokerError, ServiceUnavailableError } from '../../src/core/errors.ts';
import type { RequestObserver } from '../../src/server/app.ts';
import {
  appFor,
  MAIN_SUBJECT,
  mintAnswer,
  mintRefusal,
  providerOf,
  TOKENS,
  testConfig,
  UpstreamError,
  world,
} from './helpers.ts';
import { assertError, assertSameAnswer, assertSameError, captureLogger, jsonPost } from './http.ts';

const MINT = '/credentials/mint';
const apps: Array<{ close(): Promise<unknown> }> = [];
after(async () => {
  for (const app of apps) await app.close();
});

function setup(options: Parameters<typeof world>[0] = {}, appOptions: Parameters<typeof appFor>[1] = {}) {
  const w = world(options);
  const app = appFor(w, appOptions);
  apps.push(app);
  const minted = () => [...w.providers.values()].reduce((n, p) => n + p.calls.length, 0);
  return { w, app, minted };
}

// What credentials, expiries, reasons and failures a mint answers is test/core/mint.test.ts's;
// here, that the route hands the request to the core and its answer or refusal back unchanged.
describe('POST /credentials/mint: success', () => {
  test('answers 200 with the core’s answer unchanged, never cached', async () => {
    const { w, app } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_DEPLOY', 'AWS_READ'] }, TOKENS.main));
    assertSameAnswer(res, await mintAnswer(w, TOKENS.main, { keys: ['AWS_DEPLOY', 'AWS_READ'] }));
  });

  test('accepts the token in the body as oidcToken', async () => {
    const { app } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'], oidcToken: TOKENS.main }));
    assert.equal(res.statusCode, 200);
  });

  for (const scheme of ['bearer', 'BEARER', 'BeArEr']) {
    test(`accepts the Authorization scheme spelt ${scheme}`, async () => {
      const { app } = setup();
      const res = await app.inject({
        ...jsonPost(MINT, { keys: ['AWS_READ'] }),
        headers: { 'content-type': 'application/json', authorization: `${scheme} ${TOKENS.main}` },
      });
      assert.equal(res.statusCode, 200);
    });
  }

  test('hands the requested duration to the core', async () => {
    const { w, app } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'], duration: 60 }, TOKENS.main));
    assertSameAnswer(res, await mintAnswer(w, TOKENS.main, { keys: ['AWS_READ'], duration: 60 }));
  });

  test('logs neither the token nor any credential', async () => {
    const { lines, logger } = captureLogger();
    const { app } = setup({}, { logger });
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'], oidcToken: TOKENS.main }));
    assert.equal(res.statusCode, 200);
    assert.ok(lines.length > 0);
    const log = lines.join('');
    assert.ok(!log.includes(TOKENS.main));
    assert.doesNotMatch(log, /secret-AWS_READ|session-AWS_READ/);
  });
});

describe('POST /credentials/mint: request shape (400)', () => {
  const shapes: Array<[string, unknown, RegExp?]> = [
    ['an unknown field', { keys: ['AWS_READ'], extra: true }, /unknown field "extra"/],
    ['no keys field', { duration: 900 }],
    ['an empty key list', { keys: [] }],
    ['eleven keys', { keys: Array.from({ length: 11 }, (_, i) => `K${i}`) }, /more than 10/],
    ['a key name with a space', { keys: ['AWS READ'] }],
    ['a key name of 65 characters', { keys: ['A'.repeat(65)] }],
    ['a key name that is not a string', { keys: [42] }],
    ['keys as a string', { keys: 'AWS_READ' }],
    ['a key named twice', { keys: ['AWS_READ', 'AWS_READ'] }],
    ['a string duration', { keys: ['AWS_READ'], duration: '900' }],
    ['a zero duration', { keys: ['AWS_READ'], duration: 0 }],
    ['a fractional duration', { keys: ['AWS_READ'], duration: 900.5 }],
    ['a non-string oidcToken', { keys: ['AWS_READ'], oidcToken: 7 }],
    ['a JSON array body', ['AWS_READ']],
  ];
  for (const [name, body, message] of shapes) {
    test(`refuses ${name}, before looking at the token`, async () => {
      const { w, app, minted } = setup();
      const res = await app.inject(jsonPost(MINT, body, TOKENS.main));
      assertError(res, 'INVALID_REQUEST', message ? { message } : {});
      assert.equal(w.verifier.calls.length, 0);
      assert.equal(minted(), 0);
    });
  }

  test('accepts ten keys (the maximum) as far as the shape goes, and hands them to the core', async () => {
    const { w, app } = setup();
    const keys = Array.from({ length: 10 }, (_, i) => `K${i}`);
    const res = await app.inject(jsonPost(MINT, { keys }, TOKENS.main));
    assertSameError(res, await mintRefusal(w, TOKENS.main, { keys }));
  });

  test('refuses a token in both the header and the body with 400, verifying neither', async () => {
    const { w, app } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'], oidcToken: TOKENS.main }, TOKENS.main));
    assertError(res, 'INVALID_REQUEST', { message: /one place only/ });
    assert.equal(w.verifier.calls.length, 0);
  });

  test('answers a request that is both malformed and unauthenticated with 400', async () => {
    const { app } = setup();
    assertError(await app.inject(jsonPost(MINT, { keys: ['AWS_READ'], nope: 1 })), 'INVALID_REQUEST');
  });

  test('answers the core’s 400 for a duration above a key’s maximum unchanged', async () => {
    const { w, app } = setup();
    const request = { keys: ['AWS_READ', 'AWS_DEPLOY'], duration: 3600 };
    const res = await app.inject(jsonPost(MINT, request, TOKENS.main));
    assertSameError(res, await mintRefusal(w, TOKENS.main, request));
  });
});

describe('POST /credentials/mint: authentication (401)', () => {
  test('answers 401 UNAUTHORIZED with WWW-Authenticate: Bearer when no token is presented', async () => {
    const { app } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'] }));
    assertError(res, 'UNAUTHORIZED');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  test('treats an Authorization header of another scheme as no token', async () => {
    const { app } = setup();
    const res = await app.inject({
      ...jsonPost(MINT, { keys: ['AWS_READ'] }),
      headers: { 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' },
    });
    assertError(res, 'UNAUTHORIZED');
  });

  for (const header of ['Bearer', 'Bearer ', 'Bearer  a.b.c', 'Bearer a.b.c extra']) {
    test(`answers a malformed Authorization header ${JSON.stringify(header)} with 401 INVALID_TOKEN malformed`, async () => {
      const { app, w } = setup();
      const res = await app.inject({
        ...jsonPost(MINT, { keys: ['AWS_READ'] }),
        headers: { 'content-type': 'application/json', authorization: header },
      });
      assertError(res, 'INVALID_TOKEN', { details: { reason: 'malformed' } });
      assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
      assert.equal(w.verifier.calls.length, 0);
    });
  }

  test('answers an oversized body token with 401 token_too_large, not a schema 400', async () => {
    const { app } = setup();
    const huge = `${'a'.repeat(20_000)}.b.c`;
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'], oidcToken: huge }));
    assertError(res, 'INVALID_TOKEN', { details: { reason: 'token_too_large' } });
    assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
  });

  test('answers a malformed body token with 401 malformed', async () => {
    const { app } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'], oidcToken: 'not a jwt' }));
    assertError(res, 'INVALID_TOKEN', { details: { reason: 'malformed' } });
  });

  test('checks the token before the keys: a bad token asking for ungranted keys is 401', async () => {
    const { app, minted } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['NOT_GRANTED'] }, 'forged.token.sig'));
    assertError(res, 'INVALID_TOKEN', { details: { reason: 'signature_invalid' } });
    assert.equal(minted(), 0);
  });
});

describe('POST /credentials/mint: refusals of the core', () => {
  test('answers the core’s 403 FORBIDDEN unchanged', async () => {
    const { w, app } = setup();
    const request = { keys: ['AWS_READ', 'X1', 'AWS_DEPLOY', 'X2'] };
    const res = await app.inject(jsonPost(MINT, request, TOKENS.main));
    assertSameError(res, await mintRefusal(w, TOKENS.main, request));
  });

  test('answers the core’s 502 CREDENTIAL_MINT_FAILED unchanged, with no credentials', async () => {
    const { w, app } = setup();
    const refuse = async () => {
      throw new UpstreamError('refused', 'AccessDenied');
    };
    providerOf(w, 'aws-prod').behaviour = refuse;
    providerOf(w, 'minio-local').behaviour = refuse;
    const request = { keys: ['AWS_DEPLOY', 'AWS_READ', 'MINIO_STORAGE'] };
    const res = await app.inject(jsonPost(MINT, request, TOKENS.main));
    assertSameError(res, await mintRefusal(w, TOKENS.main, request));
    assert.doesNotMatch(res.body, /AKIA|secret-|session-/);
  });

  test('answers the core’s 503 SERVICE_UNAVAILABLE unchanged', async () => {
    const { w, app } = setup();
    providerOf(w, 'gcp-prod').behaviour = async () => {
      throw new UpstreamError('unavailable', 'throttled after retries');
    };
    const request = { keys: ['GCP_DEPLOY', 'AWS_READ'] };
    const res = await app.inject(jsonPost(MINT, request, TOKENS.main));
    assertSameError(res, await mintRefusal(w, TOKENS.main, request));
  });
});

describe('POST /credentials/mint: the request deadline', () => {
  test('answers 503 when the mint is still running at the request deadline', async () => {
    const config = testConfig({ server: { requestTimeout: 100 } });
    const { w, app } = setup({ config });
    // A provider that ignores its signal must not hold the answer past the deadline.
    providerOf(w, 'aws-dev').behaviour = () => new Promise(() => {});
    const started = Date.now();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'] }, TOKENS.main));
    assertError(res, 'SERVICE_UNAVAILABLE', { details: { reason: 'deadline_exceeded' } });
    assert.ok(Date.now() - started < 1000);
  });

  test('hands the provider a signal that aborts at the deadline', async () => {
    const config = testConfig({ server: { requestTimeout: 100 } });
    const { w, app } = setup({ config });
    let aborted = false;
    providerOf(w, 'aws-dev').behaviour = (input) =>
      new Promise((_, reject) => {
        input.signal.addEventListener('abort', () => {
          aborted = true;
          reject(new UpstreamError('unavailable', 'aborted'));
        });
      });
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'] }, TOKENS.main));
    assert.equal(res.statusCode, 503);
    assert.equal(aborted, true);
  });
});

describe('POST /credentials/mint: observer hooks', () => {
  test('reports authentication and the mint with its audit entries', async () => {
    const events: string[] = [];
    const observer: RequestObserver = {
      authenticated: (_r, v) => {
        events.push(`auth ${v.sub}`);
      },
      minted: (_r, e) => {
        events.push(`minted ${e.keys.join()} ${e.result.audit.map((a) => a.accessKeyId).join()}`);
      },
    };
    const { app } = setup({}, { observer });
    await app.inject(jsonPost(MINT, { keys: ['AWS_READ'] }, TOKENS.main));
    assert.deepEqual(events, [`auth ${MAIN_SUBJECT}`, 'minted AWS_READ AKIAAWS_READ']);
  });

  test('reports failures, and a failing `minted` hook withholds the credentials', async () => {
    const events: string[] = [];
    const observer: RequestObserver = {
      authenticationFailed: (_r, e) => {
        events.push(`auth-failed ${(e as Error).name}`);
      },
      mintFailed: (_r, e) => {
        events.push(`mint-failed ${(e.error as Error).name}`);
      },
      minted: () => {
        throw new ServiceUnavailableError({ message: 'The audit record could not be written' });
      },
    };
    const { app } = setup({}, { observer });
    await app.inject(jsonPost(MINT, { keys: ['AWS_READ'] }, 'bad.token.sig'));
    await app.inject(jsonPost(MINT, { keys: ['NOPE'] }, TOKENS.main));
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'] }, TOKENS.main));
    assertError(res, 'SERVICE_UNAVAILABLE', { message: 'The audit record could not be written' });
    assert.doesNotMatch(res.body, /AKIA/);
    assert.deepEqual(events, ['auth-failed InvalidTokenError', 'mint-failed ForbiddenError']);
  });
});

describe('POST /credentials/mint: the per-subject limit step', () => {
  test("refuses with the limiter's 429 after verification, before any provider call, and tells mintFailed", async () => {
    const w = world();
    const limited: string[] = [];
    const failed: unknown[] = [];
    const app = appFor(w, {
      limitSubject: async (verified) => {
        limited.push(verified.sub);
        throw new BrokerError('RATE_LIMIT_EXCEEDED', {
          message: 'Too many requests for this identity',
          details: { scope: 'identity' },
          retryAfter: 7,
        });
      },
      observer: { mintFailed: (_request, event) => void failed.push(event) },
    });
    const res = await app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    assertError(res, 'RATE_LIMIT_EXCEEDED', { details: { scope: 'identity' }, retryAfter: 7 });
    assert.deepEqual(limited, [MAIN_SUBJECT]);
    assert.equal(providerOf(w, 'aws-dev').calls.length, 0);
    assert.equal(failed.length, 1);
    assert.deepEqual((failed[0] as { keys: string[]; discarded: unknown[] }).keys, ['AWS_READ']);
    assert.deepEqual((failed[0] as { discarded: unknown[] }).discarded, []);
    const keys = await app.inject({
      method: 'GET',
      url: '/credentials/keys',
      headers: { authorization: `Bearer ${TOKENS.main}` },
    });
    assert.equal(keys.statusCode, 200, 'listing keys is not a mint');
    assert.deepEqual(limited, [MAIN_SUBJECT]);
    await app.close();
  });
});
