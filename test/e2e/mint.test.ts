/**
 * The happy paths of the HTTP API through the built broker against a real OP
 * and the STS peer: a full mint, multi-key mints, all-or-nothing, the key and
 * IdP listings, and the caches (JWKS once per issuer, one broker token per
 * audience).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { assertError } from './helpers/assert.ts';
import { isIsoTimestamp } from './helpers/http.ts';
import { registerCredentials } from './helpers/secrets.ts';
import {
  AUD,
  B_SUBJECT,
  BROKER_CLIENT,
  LIMITED,
  ROLE,
  STRANGER,
  STS_AUD,
  SUBJECT,
  startWorld,
  type World,
} from './helpers/world.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The successful STS calls for `roleArn`, newest last. */
const okCalls = (w: World, roleArn: string) =>
  w.proxy.calls.filter((c) => c.roleArn === roleArn && c.status === 200);

function expectedCredentials(w: World, roleArn: string): Record<string, string> {
  const c = okCalls(w, roleArn).at(-1)?.credentials;
  assert.ok(c, `no successful STS call for ${roleArn}`);
  return {
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
    AWS_SESSION_TOKEN: c.sessionToken,
  };
}

describe('minting through the built broker', () => {
  let w: World;
  before(async () => {
    w = await startWorld();
  });
  after(async () => {
    await w?.close();
  });

  test('mints AWS_DEPLOY with the credentials the STS peer issued', async () => {
    const token = await w.token(w.opA, SUBJECT);
    const verificationsBefore = w.sts.stats.tokenVerifications;
    const before = Date.now();
    const res = await w.api('POST', '/credentials/mint', {
      token,
      json: { keys: ['AWS_DEPLOY'] },
      headers: { 'x-request-id': 'e2e-mint-1' },
    });
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.headers.get('x-request-id'), 'e2e-mint-1');
    assert.deepEqual(Object.keys(res.body).sort(), [
      'credentials',
      'expiresAt',
      'issuedAt',
      'keyExpiresAt',
      'subject',
    ]);
    assert.deepEqual(res.body.credentials, { AWS_DEPLOY: expectedCredentials(w, ROLE.deploy) });
    assert.equal(res.body.subject, SUBJECT);
    const call = okCalls(w, ROLE.deploy).at(-1);
    assert.ok(call?.credentials);
    assert.deepEqual(Object.keys(res.body.keyExpiresAt), ['AWS_DEPLOY']);
    assert.ok(isIsoTimestamp(res.body.keyExpiresAt.AWS_DEPLOY));
    assert.equal(Date.parse(res.body.keyExpiresAt.AWS_DEPLOY), Date.parse(call.credentials.expiration));
    assert.equal(res.body.expiresAt, res.body.keyExpiresAt.AWS_DEPLOY);
    assert.ok(isIsoTimestamp(res.body.issuedAt));
    const issued = Date.parse(res.body.issuedAt);
    assert.ok(issued >= before - 1000 && issued <= Date.now() + 1000, res.body.issuedAt);
    assert.ok(w.sts.stats.tokenVerifications > verificationsBefore);
  });

  test('asks STS AssumeRoleWithWebIdentity with the role, 900 s and the derived session name', () => {
    const call = okCalls(w, ROLE.deploy).at(-1);
    assert.ok(call);
    assert.equal(call.action, 'AssumeRoleWithWebIdentity');
    assert.equal(call.durationSeconds, 900);
    const hash = createHash('sha256').update(`${w.opA.issuer}|${SUBJECT}`).digest('hex').slice(0, 8);
    assert.match(call.roleSessionName, /^voidkey-[\w+=,.@-]+$/);
    assert.ok(call.roleSessionName.endsWith(`-${hash}`), call.roleSessionName);
    assert.ok(call.roleSessionName.length >= 2 && call.roleSessionName.length <= 64);
  });

  test('presents STS a broker token from the broker IdP with the STS audience', () => {
    const call = okCalls(w, ROLE.deploy).at(-1);
    assert.ok(call?.webIdentityToken);
    const claims = decodeJwt(call.webIdentityToken);
    assert.equal(claims.iss, w.opA.issuer);
    assert.equal(claims.sub, BROKER_CLIENT.client_secret_basic);
    assert.equal(claims.aud, STS_AUD);
    const seen = w.sts.calls.filter((c) => c.params.RoleArn === ROLE.deploy).at(-1);
    assert.equal(seen?.action, 'AssumeRoleWithWebIdentity');
    assert.equal(seen?.subject, BROKER_CLIENT.client_secret_basic);
  });

  test('generates a UUID X-Request-ID when the client sends none or an invalid one', async () => {
    const none = await w.api('GET', '/credentials/idp-providers');
    assert.match(none.headers.get('x-request-id') ?? '', UUID);
    const bad = await w.api('GET', '/credentials/idp-providers', {
      headers: { 'x-request-id': 'bad id/<>' },
    });
    assert.match(bad.headers.get('x-request-id') ?? '', UUID);
  });

  test('mints three keys in parallel with one broker token and returns the earliest expiry', async () => {
    const token = await w.token(w.opA, SUBJECT);
    w.proxy.latencyMs = 400;
    w.proxy.maxInFlight = 0;
    const res = await w.api('POST', '/credentials/mint', {
      token,
      json: { keys: ['AWS_DEPLOY', 'AWS_READ', 'AWS_AUDIT'] },
    });
    w.proxy.latencyMs = 0;
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
    assert.deepEqual(res.body.credentials, {
      AWS_DEPLOY: expectedCredentials(w, ROLE.deploy),
      AWS_READ: expectedCredentials(w, ROLE.read),
      AWS_AUDIT: expectedCredentials(w, ROLE.audit),
    });
    assert.equal(w.proxy.maxInFlight, 3);
    const expiries = Object.values(res.body.keyExpiresAt as Record<string, string>).map((e) => Date.parse(e));
    assert.equal(expiries.length, 3);
    assert.equal(Date.parse(res.body.expiresAt), Math.min(...expiries));
    const tokens = new Set(w.proxy.calls.slice(-3).map((c) => c.webIdentityToken));
    assert.equal(tokens.size, 1);
  });

  test('refuses the whole mint with 502 when STS refuses one key, returning no credentials', async () => {
    const token = await w.token(w.opA, SUBJECT);
    const callsBefore = w.proxy.calls.length;
    const res = await w.api('POST', '/credentials/mint', {
      token,
      json: { keys: ['AWS_DEPLOY', 'AWS_REFUSED'] },
    });
    assertError(res, 'CREDENTIAL_MINT_FAILED');
    const failures = res.body.details?.failures;
    assert.ok(Array.isArray(failures) && failures.length === 1, res.text);
    assert.deepEqual(
      { ...failures[0], reason: typeof failures[0].reason },
      {
        key: 'AWS_REFUSED',
        provider: 'aws-e2e',
        reason: 'string',
      },
    );
    assert.equal(res.body.credentials, undefined);
    const deployCall = w.proxy.calls.slice(callsBefore).find((c) => c.roleArn === ROLE.deploy);
    assert.ok(deployCall?.credentials, 'the AWS_DEPLOY call should have reached STS');
    assert.ok(!res.text.includes(deployCall.credentials.secretAccessKey));
    assert.ok(!res.text.includes(deployCall.credentials.accessKeyId));
  });

  test('lists the keys of the caller with provider, description and maxDuration', async () => {
    const res = await w.api('GET', '/credentials/keys', { token: await w.token(w.opA, SUBJECT) });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.deepEqual(res.body, {
      subject: SUBJECT,
      idp: 'op-a',
      keys: [
        { name: 'AWS_DEPLOY', provider: 'aws-e2e', description: 'Deploy to production', maxDuration: 900 },
        { name: 'AWS_READ', provider: 'aws-e2e', maxDuration: 900 },
        { name: 'AWS_AUDIT', provider: 'aws-e2e', maxDuration: 900 },
        { name: 'AWS_REFUSED', provider: 'aws-e2e', maxDuration: 900 },
      ],
    });
  });

  test('lists the client IdPs with their first audience, without authentication', async () => {
    const res = await w.api('GET', '/credentials/idp-providers');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {
      providers: [
        { name: 'op-a', issuer: w.opA.issuer, type: 'oidc', audience: AUD },
        { name: 'op-b', issuer: w.opB.issuer, type: 'oidc', audience: AUD },
      ],
    });
  });

  test('answers 404 SUBJECT_NOT_FOUND on /credentials/keys for a subject with no identity', async () => {
    const res = await w.api('GET', '/credentials/keys', { token: await w.token(w.opA, STRANGER) });
    assertError(res, 'SUBJECT_NOT_FOUND');
  });

  test('mints for an identity of the second IdP with its token', async () => {
    const token = await w.token(w.opB, B_SUBJECT);
    const res = await w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_DEPLOY'] } });
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
    assert.equal(res.body.subject, B_SUBJECT);
    assert.deepEqual(res.body.credentials, { AWS_DEPLOY: expectedCredentials(w, ROLE.deploy) });
  });

  test('fetches each JWKS once and one broker token per audience over many mints', async () => {
    const tokens = await Promise.all(
      [SUBJECT, SUBJECT, LIMITED, SUBJECT, LIMITED].map((s) => w.token(w.opA, s)),
    );
    const results = await Promise.all(
      tokens.map((token) => w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_READ'] } })),
    );
    for (const r of results) {
      assert.equal(r.status, 200, r.text);
      registerCredentials(r.body.credentials);
    }
    assert.equal(w.opA.jwksHits(), 1);
    assert.equal(w.opB.jwksHits(), 1);
    assert.equal(w.opA.issued(BROKER_CLIENT.client_secret_basic), 1);
  });

  test('leaves no token, client secret or credential in the broker output', () => {
    const { leaks, registered, outputBytes } = w.leaks();
    assert.ok(registered > 10, `only ${registered} secrets registered`);
    assert.ok(outputBytes > 0, 'the broker printed nothing: the check would prove nothing');
    assert.deepEqual(leaks, []);
  });
});
