import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { BrokerError, ServiceUnavailableError } from '../../src/core/errors.ts';
import type { RequestObserver } from '../../src/server/app.ts';
import {
  appFor,
  defaultOutput,
  MAIN_SUBJECT,
  NOW,
  providerOf,
  sleep,
  TOKENS,
  testConfig,
  UpstreamError,
  world,
} from './helpers.ts';
import { assertError, captureLogger, jsonPost } from './http.ts';

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

describe('POST /credentials/mint: success', () => {
  test('answers 200 with credentials, expiries, subject and issue time, never cached', async () => {
    const { app } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_DEPLOY', 'AWS_READ'] }, TOKENS.main));
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const body = res.json();
    assert.deepEqual(Object.keys(body), ['credentials', 'expiresAt', 'subject', 'issuedAt', 'keyExpiresAt']);
    assert.deepEqual(body.credentials.AWS_DEPLOY, {
      AWS_ACCESS_KEY_ID: 'AKIAAWS_DEPLOY',
      AWS_SECRET_ACCESS_KEY: 'secret-AWS_DEPLOY',
      AWS_SESSION_TOKEN: 'session-AWS_DEPLOY',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
    });
    assert.deepEqual(body.credentials.AWS_READ, {
      AWS_ACCESS_KEY_ID: 'AKIAAWS_READ',
      AWS_SECRET_ACCESS_KEY: 'secret-AWS_READ',
      AWS_SESSION_TOKEN: 'session-AWS_READ',
    });
    assert.equal(body.subject, MAIN_SUBJECT);
    assert.equal(body.issuedAt, NOW.toISOString());
    assert.equal(body.expiresAt, new Date(NOW.getTime() + 1800_000).toISOString());
    assert.deepEqual(body.keyExpiresAt, {
      AWS_DEPLOY: new Date(NOW.getTime() + 1800_000).toISOString(),
      AWS_READ: new Date(NOW.getTime() + 3600_000).toISOString(),
    });
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

  test('mints the keys of one request concurrently', async () => {
    const { w, app } = setup();
    let inFlight = 0;
    let most = 0;
    for (const p of w.providers.values()) {
      p.behaviour = async (input) => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await sleep(50);
        inFlight -= 1;
        return defaultOutput(p.name, input);
      };
    }
    const res = await app.inject(
      jsonPost(MINT, { keys: ['AWS_DEPLOY', 'MINIO_STORAGE', 'GCP_DEPLOY'] }, TOKENS.main),
    );
    assert.equal(res.statusCode, 200);
    assert.equal(most, 3);
  });

  test('asks once for the broker token of each audience in a three-key mint', async () => {
    const { w, app } = setup();
    const res = await app.inject(
      jsonPost(MINT, { keys: ['AWS_DEPLOY', 'AWS_READ', 'MINIO_STORAGE'] }, TOKENS.main),
    );
    assert.equal(res.statusCode, 200);
    assert.deepEqual(w.brokerTokens.calls, ['sts.aws', 'minio']);
  });

  test('raises a requested duration below the provider minimum', async () => {
    const { w, app } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'], duration: 60 }, TOKENS.main));
    assert.equal(res.statusCode, 200);
    assert.equal(providerOf(w, 'aws-dev').calls[0]?.durationSeconds, 900);
    assert.equal(res.json().keyExpiresAt.AWS_READ, new Date(NOW.getTime() + 900_000).toISOString());
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

  test('accepts ten keys (the maximum) as far as the shape goes', async () => {
    const { app } = setup();
    const res = await app.inject(
      jsonPost(MINT, { keys: Array.from({ length: 10 }, (_, i) => `K${i}`) }, TOKENS.main),
    );
    const names = Array.from({ length: 10 }, (_, i) => `K${i}`);
    const reasons = Object.fromEntries(names.map((k) => [k, 'key_not_granted']));
    assertError(res, 'FORBIDDEN', { details: { deniedKeys: names, reasons } });
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

  test('refuses a duration above the key maximum with 400 naming key and maximum, minting nothing', async () => {
    const { app, minted, w } = setup();
    const res = await app.inject(
      jsonPost(MINT, { keys: ['AWS_READ', 'AWS_DEPLOY'], duration: 3600 }, TOKENS.main),
    );
    assertError(res, 'INVALID_REQUEST', {
      message: 'Requested duration 3600 s exceeds the maximum of 1800 s for key AWS_DEPLOY',
      details: { key: 'AWS_DEPLOY', maxDuration: 1800 },
    });
    assert.equal(minted(), 0);
    assert.deepEqual(w.brokerTokens.calls, []);
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

describe('POST /credentials/mint: policy (403)', () => {
  test('lists every denied key and mints nothing, not even the granted ones', async () => {
    const { app, minted, w } = setup();
    const res = await app.inject(
      jsonPost(MINT, { keys: ['AWS_READ', 'X1', 'AWS_DEPLOY', 'X2'] }, TOKENS.main),
    );
    assertError(res, 'FORBIDDEN', {
      details: { deniedKeys: ['X1', 'X2'], reasons: { X1: 'key_not_granted', X2: 'key_not_granted' } },
    });
    assert.equal(minted(), 0);
    assert.deepEqual(w.brokerTokens.calls, []);
  });

  test('gives nothing to a configured subject whose token comes from another IdP', async () => {
    const { app, minted } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_DEPLOY'] }, TOKENS.gitlabMain));
    assertError(res, 'FORBIDDEN', {
      details: { deniedKeys: ['AWS_DEPLOY'], reasons: { AWS_DEPLOY: 'no_identity_matched' } },
    });
    assert.equal(minted(), 0);
  });

  test('answers 403 for a verified subject with no identity at all', async () => {
    const { app } = setup();
    const res = await app.inject(jsonPost(MINT, { keys: ['AWS_READ'] }, TOKENS.stranger));
    assertError(res, 'FORBIDDEN', {
      details: { deniedKeys: ['AWS_READ'], reasons: { AWS_READ: 'no_identity_matched' } },
    });
  });
});

describe('POST /credentials/mint: upstream failures', () => {
  test('answers 502 CREDENTIAL_MINT_FAILED listing every refused key and no credentials', async () => {
    const { w, app } = setup();
    const refuse = async () => {
      throw new UpstreamError('refused', 'AccessDenied');
    };
    providerOf(w, 'aws-prod').behaviour = refuse;
    providerOf(w, 'minio-local').behaviour = refuse;
    const res = await app.inject(
      jsonPost(MINT, { keys: ['AWS_DEPLOY', 'AWS_READ', 'MINIO_STORAGE'] }, TOKENS.main),
    );
    assertError(res, 'CREDENTIAL_MINT_FAILED', {
      details: {
        failures: [
          { key: 'AWS_DEPLOY', provider: 'aws-prod', reason: 'AccessDenied' },
          { key: 'MINIO_STORAGE', provider: 'minio-local', reason: 'AccessDenied' },
        ],
      },
    });
    assert.doesNotMatch(res.body, /AKIA|secret-|session-/);
  });

  test('answers 503 SERVICE_UNAVAILABLE when a failed key was unavailable', async () => {
    const { w, app } = setup();
    providerOf(w, 'aws-prod').behaviour = async () => {
      throw new UpstreamError('refused', 'AccessDenied');
    };
    providerOf(w, 'gcp-prod').behaviour = async () => {
      throw new UpstreamError('unavailable', 'throttled after retries');
    };
    const res = await app.inject(
      jsonPost(MINT, { keys: ['AWS_DEPLOY', 'GCP_DEPLOY', 'AWS_READ'] }, TOKENS.main),
    );
    assertError(res, 'SERVICE_UNAVAILABLE', {
      details: {
        reason: 'unavailable',
        failures: [
          { key: 'AWS_DEPLOY', provider: 'aws-prod', reason: 'AccessDenied' },
          { key: 'GCP_DEPLOY', provider: 'gcp-prod', reason: 'throttled after retries' },
        ],
      },
    });
  });

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
