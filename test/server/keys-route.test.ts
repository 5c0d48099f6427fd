import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { appFor, callerOf, errorOf, MAIN_SUBJECT, TOKENS, testConfig, world } from './helpers.ts';
import { assertError, assertSameAnswer, assertSameError, captureLogger } from './http.ts';

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

// What the key list holds, and who gets SUBJECT_NOT_FOUND, is test/core/mint.test.ts's.
describe('GET /credentials/keys', () => {
  test('answers 200 with the core’s key list unchanged, never cached', async () => {
    const { app, w } = setup();
    const res = await app.inject({ url: KEYS, headers: bearer(TOKENS.main) });
    assertSameAnswer(res, w.broker.listKeys(await callerOf(w, TOKENS.main)));
  });

  test('answers the core’s 404 SUBJECT_NOT_FOUND unchanged', async () => {
    const { app, w } = setup();
    const res = await app.inject({ url: KEYS, headers: bearer(TOKENS.stranger) });
    const caller = await callerOf(w, TOKENS.stranger);
    assertSameError(res, await errorOf(() => w.broker.listKeys(caller)));
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
