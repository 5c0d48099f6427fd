import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { appFor, MAIN_SUBJECT, TOKENS, testConfig, world } from './helpers.ts';
import { assertError, captureLogger } from './http.ts';

const KEYS = '/credentials/keys';
const apps: Array<{ close(): Promise<unknown> }> = [];
after(async () => {
  for (const app of apps) await app.close();
});

function setup(allowQueryToken = false, logger?: ReturnType<typeof captureLogger>['logger']) {
  const w = world({ config: testConfig({ server: { allowQueryToken } }) });
  const app = appFor(w, logger ? { logger } : {});
  apps.push(app);
  return { w, app };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('GET /credentials/keys', () => {
  test('lists the caller’s keys with maxDuration, never cached', async () => {
    const { app } = setup();
    const res = await app.inject({ url: KEYS, headers: bearer(TOKENS.main) });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.deepEqual(res.json(), {
      subject: MAIN_SUBJECT,
      idp: 'github',
      keys: [
        { name: 'AWS_DEPLOY', provider: 'aws-prod', description: 'Deploy to production', maxDuration: 1800 },
        { name: 'AWS_READ', provider: 'aws-dev', maxDuration: 43200 },
        { name: 'AWS_CHAINED', provider: 'aws-dev', maxDuration: 3600 },
        { name: 'MINIO_STORAGE', provider: 'minio-local', maxDuration: 3600 },
        { name: 'GCP_DEPLOY', provider: 'gcp-prod', maxDuration: 43200 },
        { name: 'AZURE_DEPLOY', provider: 'azure-prod', maxDuration: null },
      ],
    });
  });

  test('answers 404 SUBJECT_NOT_FOUND for a verified subject without identity', async () => {
    const { app } = setup();
    assertError(await app.inject({ url: KEYS, headers: bearer(TOKENS.stranger) }), 'SUBJECT_NOT_FOUND');
  });

  test('answers 404 for a configured subject presented by another IdP', async () => {
    const { app } = setup();
    assertError(await app.inject({ url: KEYS, headers: bearer(TOKENS.gitlabMain) }), 'SUBJECT_NOT_FOUND');
  });

  test('answers 401 UNAUTHORIZED with WWW-Authenticate without a token', async () => {
    const { app } = setup();
    const res = await app.inject({ url: KEYS });
    assertError(res, 'UNAUTHORIZED');
    assert.equal(res.headers['www-authenticate'], 'Bearer');
  });

  test('answers 401 INVALID_TOKEN with its reason for a bad token', async () => {
    const { app } = setup();
    const res = await app.inject({ url: KEYS, headers: bearer('forged.token.sig') });
    assertError(res, 'INVALID_TOKEN', { details: { reason: 'signature_invalid' } });
    assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
  });

  test('ignores ?token= unless server.allowQueryToken is set', async () => {
    const { app, w } = setup(false);
    const res = await app.inject({ url: `${KEYS}?token=${TOKENS.main}` });
    assertError(res, 'UNAUTHORIZED');
    assert.equal(w.verifier.calls.length, 0);
    const withHeader = await app.inject({
      url: `${KEYS}?token=whatever&token=twice`,
      headers: bearer(TOKENS.main),
    });
    assert.equal(withHeader.statusCode, 200);
  });

  test('accepts ?token= when server.allowQueryToken is set, and keeps it out of the logs', async () => {
    const { lines, logger } = captureLogger();
    const { app } = setup(true, logger);
    const res = await app.inject({ url: `${KEYS}?token=${TOKENS.main}` });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().subject, MAIN_SUBJECT);
    assert.ok(lines.some((line) => line.includes('"path":"/credentials/keys"')));
    assert.ok(!lines.join('').includes(TOKENS.main));
  });

  test('refuses a query token together with a header token (400)', async () => {
    const { app, w } = setup(true);
    const res = await app.inject({ url: `${KEYS}?token=${TOKENS.main}`, headers: bearer(TOKENS.main) });
    assertError(res, 'INVALID_REQUEST');
    assert.equal(w.verifier.calls.length, 0);
  });

  test('refuses a repeated query token (400)', async () => {
    const { app } = setup(true);
    assertError(await app.inject({ url: `${KEYS}?token=a.b.c&token=d.e.f` }), 'INVALID_REQUEST');
  });

  test('answers an oversized query token with 401 token_too_large', async () => {
    const { app } = setup(true);
    const res = await app.inject({ url: `${KEYS}?token=${'a'.repeat(17_000)}.b.c` });
    assertError(res, 'INVALID_TOKEN', { details: { reason: 'token_too_large' } });
  });
});
