/**
 * Token verification and policy through the built broker with real OP
 * tokens: each 401 reason, 403 with every denied key, and an identity bound
 * to its IdP. A third, untrusted OP proves the broker never fetches from an
 * issuer it does not know.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertError, assertInvalidToken } from './helpers/assert.ts';
import { registerCredentials, registerSecret } from './helpers/secrets.ts';
import { AUD, B_SUBJECT, LIMITED, STRANGER, SUBJECT, startWorld, type World } from './helpers/world.ts';
import { type OidcPeer, startOidcProvider } from './peers/oidc.ts';

const mint = (w: World, token: string, keys: string[] = ['AWS_DEPLOY']) =>
  w.api('POST', '/credentials/mint', { token, json: { keys } });

describe('token verification and policy', () => {
  let w: World;
  let opC: OidcPeer;
  before(async () => {
    w = await startWorld();
    opC = await startOidcProvider({ defaultResource: AUD, clients: [{ clientId: SUBJECT }] });
    registerSecret('client secret at OP C', opC.secretOf(SUBJECT));
  });
  after(async () => {
    await opC?.close();
    await w?.close();
  });

  test('answers 401 UNAUTHORIZED when no token is presented', async () => {
    const res = await w.api('POST', '/credentials/mint', { json: { keys: ['AWS_DEPLOY'] } });
    assertError(res, 'UNAUTHORIZED', null);
  });

  test('refuses a garbage bearer token as malformed', async () => {
    assertInvalidToken(await mint(w, 'not-a-jwt'), 'malformed');
  });

  test('refuses a garbage oidcToken in the body as malformed, not as a schema error', async () => {
    const res = await w.api('POST', '/credentials/mint', {
      json: { keys: ['AWS_DEPLOY'], oidcToken: 'a.b.c' },
    });
    assertInvalidToken(res, 'malformed');
  });

  test('refuses a token from an untrusted issuer without fetching anything', async () => {
    const jwksA = w.opA.jwksHits();
    const jwksB = w.opB.jwksHits();
    const token = await w.token(opC, SUBJECT);
    assertInvalidToken(await mint(w, token), 'issuer_not_trusted');
    assert.equal(opC.jwksHits(), 0);
    assert.equal(opC.counts.discovery, 0);
    assert.equal(w.opA.jwksHits(), jwksA);
    assert.equal(w.opB.jwksHits(), jwksB);
  });

  test('refuses an expired token', async () => {
    assertInvalidToken(await mint(w, await w.token(w.opA, SUBJECT, { shift: -3600 })), 'token_expired');
  });

  test('refuses a token issued in the future', async () => {
    assertInvalidToken(await mint(w, await w.token(w.opA, SUBJECT, { shift: 3600 })), 'issued_in_future');
  });

  test('refuses a token valid for longer than maxTokenLifetime', async () => {
    const token = await w.token(w.opA, SUBJECT, { lifetime: 2 * 86400 });
    assertInvalidToken(await mint(w, token), 'lifetime_too_long');
  });

  test('refuses a token whose aud is not configured for its issuer', async () => {
    const token = await w.token(w.opA, SUBJECT, { resource: 'https://wrong.voidkey.test' });
    assertInvalidToken(await mint(w, token), 'audience_mismatch');
  });

  test("refuses a token signed by one trusted issuer that claims the other's iss", async () => {
    const token = await w.token(w.opB, SUBJECT, { iss: w.opA.issuer });
    assertInvalidToken(await mint(w, token), 'signature_invalid');
  });

  test('accepts the second audience of an IdP configured with a list', async () => {
    const token = await w.token(w.opB, B_SUBJECT, { resource: 'https://alt.voidkey.test' });
    const res = await mint(w, token);
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
  });

  test('answers 403 with every key the identity is not granted and mints none', async () => {
    const calls = w.proxy.calls.length;
    const res = await mint(w, await w.token(w.opA, LIMITED), ['AWS_READ', 'AWS_DEPLOY', 'AWS_AUDIT']);
    assertError(res, 'FORBIDDEN', {
      deniedKeys: ['AWS_DEPLOY', 'AWS_AUDIT'],
      reasons: { AWS_DEPLOY: 'key_not_granted', AWS_AUDIT: 'key_not_granted' },
    });
    assert.equal(w.proxy.calls.length, calls);
  });

  test('answers 403 for a verified subject with no identity at all', async () => {
    const res = await mint(w, await w.token(w.opA, STRANGER), ['AWS_DEPLOY', 'AWS_READ']);
    assertError(res, 'FORBIDDEN', {
      deniedKeys: ['AWS_DEPLOY', 'AWS_READ'],
      reasons: { AWS_DEPLOY: 'no_identity_matched', AWS_READ: 'no_identity_matched' },
    });
  });

  test('binds an identity to its IdP: the same subject from the other issuer gets 403 and 404', async () => {
    const calls = w.proxy.calls.length;
    const token = await w.token(w.opB, SUBJECT);
    assertError(await mint(w, token), 'FORBIDDEN', {
      deniedKeys: ['AWS_DEPLOY'],
      reasons: { AWS_DEPLOY: 'no_identity_matched' },
    });
    assertError(await w.api('GET', '/credentials/keys', { token }), 'SUBJECT_NOT_FOUND');
    assert.equal(w.proxy.calls.length, calls);
  });

  test('answers 400 when a token comes in both the header and the body', async () => {
    const token = await w.token(w.opA, SUBJECT);
    const res = await w.api('POST', '/credentials/mint', {
      token,
      json: { keys: ['AWS_DEPLOY'], oidcToken: token },
    });
    assertError(res, 'INVALID_REQUEST');
  });

  test('mints with the token in the body', async () => {
    const token = await w.token(w.opA, SUBJECT);
    const res = await w.api('POST', '/credentials/mint', { json: { keys: ['AWS_READ'], oidcToken: token } });
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
    assert.deepEqual(Object.keys(res.body.credentials), ['AWS_READ']);
  });

  test('leaves no token, client secret or credential in the broker output', () => {
    const { leaks, registered, outputBytes } = w.leaks();
    assert.ok(registered > 10, `only ${registered} secrets registered`);
    assert.ok(outputBytes > 0, 'the broker printed nothing: the check would prove nothing');
    assert.deepEqual(leaks, []);
  });
});
