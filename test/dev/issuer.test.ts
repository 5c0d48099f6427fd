import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, type JSONWebKeySet, jwtVerify } from 'jose';
import { type DevIssuer, startDevIssuer } from '../../src/dev/issuer.ts';

const CLIENT = { clientId: 'broker', clientSecret: 'pa:ss word+/' };
const MINT_SECRET = 'test-mint-secret';

function basic(id: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

async function postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('development issuer', () => {
  let issuer: DevIssuer;
  let jwks: ReturnType<typeof createLocalJWKSet>;

  before(async () => {
    issuer = await startDevIssuer({ clients: [CLIENT], mintSecret: MINT_SECRET, accessTokenTtl: 600 });
    const res = await fetch(issuer.jwksUri);
    jwks = createLocalJWKSet((await res.json()) as JSONWebKeySet);
  });
  after(() => issuer.close());

  test('listens on loopback and names its endpoints under its issuer URL', () => {
    assert.match(issuer.issuer, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(issuer.jwksUri, `${issuer.issuer}/jwks`);
    assert.equal(issuer.tokenEndpoint, `${issuer.issuer}/token`);
    assert.equal(issuer.devTokenEndpoint, `${issuer.issuer}/dev/token`);
  });

  test('serves a discovery document whose issuer equals its URL exactly', async () => {
    const res = await fetch(`${issuer.issuer}/.well-known/openid-configuration`);
    assert.equal(res.status, 200);
    const doc = await res.json();
    assert.deepEqual(doc, {
      issuer: issuer.issuer,
      jwks_uri: issuer.jwksUri,
      token_endpoint: issuer.tokenEndpoint,
      id_token_signing_alg_values_supported: ['ES256'],
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      response_types_supported: [],
      subject_types_supported: ['public'],
    });
  });

  test('publishes exactly one public P-256 key with a kid and no private part', async () => {
    const body = (await (await fetch(issuer.jwksUri)).json()) as JSONWebKeySet;
    assert.equal(body.keys.length, 1);
    const [key] = body.keys;
    assert.equal(key?.kty, 'EC');
    assert.equal(key?.crv, 'P-256');
    assert.equal(key?.alg, 'ES256');
    assert.equal(typeof key?.kid, 'string');
    assert.equal(key?.d, undefined);
  });

  test('generates a fresh key at every start', async () => {
    const other = await startDevIssuer();
    try {
      const a = (await (await fetch(issuer.jwksUri)).json()) as JSONWebKeySet;
      const b = (await (await fetch(other.jwksUri)).json()) as JSONWebKeySet;
      assert.notEqual(a.keys[0]?.kid, b.keys[0]?.kid);
      assert.notEqual(a.keys[0]?.x, b.keys[0]?.x);
    } finally {
      await other.close();
    }
  });

  test('issues an access token to a client authenticating with client_secret_basic', async () => {
    const res = await postForm(
      issuer.tokenEndpoint,
      { grant_type: 'client_credentials', audience: 'sts.example' },
      { authorization: basic(CLIENT.clientId, CLIENT.clientSecret) },
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.body.token_type, 'Bearer');
    assert.equal(res.body.expires_in, 600);
    const { payload, protectedHeader } = await jwtVerify(String(res.body.access_token), jwks, {
      issuer: issuer.issuer,
      audience: 'sts.example',
      algorithms: ['ES256'],
    });
    assert.equal(payload.sub, 'broker');
    assert.equal(payload.aud, 'sts.example');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 600);
    assert.equal(typeof payload.jti, 'string');
    assert.equal(typeof protectedHeader.kid, 'string');
  });

  test('issues an access token to a client authenticating with client_secret_post, audience from resource', async () => {
    const res = await postForm(issuer.tokenEndpoint, {
      grant_type: 'client_credentials',
      client_id: CLIENT.clientId,
      client_secret: CLIENT.clientSecret,
      resource: 'https://resource.example',
    });
    assert.equal(res.status, 200);
    const { payload } = await jwtVerify(String(res.body.access_token), jwks, { issuer: issuer.issuer });
    assert.equal(payload.aud, 'https://resource.example');
    assert.equal(payload.sub, 'broker');
  });

  test('answers 401 invalid_client with a Basic challenge for a wrong secret sent with Basic', async () => {
    const res = await postForm(
      issuer.tokenEndpoint,
      { grant_type: 'client_credentials', audience: 'a' },
      { authorization: basic(CLIENT.clientId, 'wrong') },
    );
    assert.equal(res.status, 401);
    assert.deepEqual(res.body, {
      error: 'invalid_client',
      error_description: 'client authentication failed',
    });
    assert.equal(res.headers.get('www-authenticate'), 'Basic realm="voidkey-dev"');
  });

  test('answers 401 invalid_client for a wrong secret or an unknown client in the form', async () => {
    for (const [id, secret] of [
      [CLIENT.clientId, 'wrong'],
      ['nobody', CLIENT.clientSecret],
    ] as const) {
      const res = await postForm(issuer.tokenEndpoint, {
        grant_type: 'client_credentials',
        client_id: id,
        client_secret: secret,
        audience: 'a',
      });
      assert.equal(res.status, 401);
      assert.equal(res.body.error, 'invalid_client');
      assert.equal(res.headers.get('www-authenticate'), null);
    }
  });

  test('answers 401 invalid_client when no client credentials are sent', async () => {
    const res = await postForm(issuer.tokenEndpoint, { grant_type: 'client_credentials', audience: 'a' });
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'invalid_client');
  });

  test('refuses two client authentication methods in one request', async () => {
    const res = await postForm(
      issuer.tokenEndpoint,
      { grant_type: 'client_credentials', audience: 'a', client_secret: CLIENT.clientSecret },
      { authorization: basic(CLIENT.clientId, CLIENT.clientSecret) },
    );
    assert.equal(res.status, 400);
    assert.equal(res.body.error, 'invalid_request');
  });

  test('refuses grants other than client_credentials and requests without an audience', async () => {
    const auth = { client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret };
    const password = await postForm(issuer.tokenEndpoint, { ...auth, grant_type: 'password', audience: 'a' });
    assert.equal(password.status, 400);
    assert.equal(password.body.error, 'unsupported_grant_type');
    const noAudience = await postForm(issuer.tokenEndpoint, { ...auth, grant_type: 'client_credentials' });
    assert.equal(noAudience.status, 400);
    assert.deepEqual(noAudience.body, {
      error: 'invalid_request',
      error_description: 'audience (or resource) is required',
    });
  });

  test('refuses a repeated parameter and a JSON body at the token endpoint', async () => {
    const repeated = await fetch(issuer.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=client_credentials&audience=a&audience=b&client_id=broker&client_secret=x`,
    });
    assert.equal(repeated.status, 400);
    assert.equal(((await repeated.json()) as { error: string }).error, 'invalid_request');
    const json = await fetch(issuer.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(json.status, 400);
  });

  test('answers 405 for a GET on the token endpoint and 404 elsewhere', async () => {
    const get = await fetch(issuer.tokenEndpoint);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
    const missing = await fetch(`${issuer.issuer}/nope`);
    assert.equal(missing.status, 404);
  });

  test('mints client tokens for any subject that verify against its JWKS', async () => {
    const token = await issuer.mintClientToken({
      sub: 'repo:example/app:ref:refs/heads/main',
      aud: 'voidkey',
      ttlSeconds: 120,
      claims: { repository: 'example/app', iss: 'https://evil.example' },
    });
    assert.equal(decodeProtectedHeader(token).alg, 'ES256');
    const { payload } = await jwtVerify(token, jwks, { issuer: issuer.issuer, audience: 'voidkey' });
    assert.equal(payload.sub, 'repo:example/app:ref:refs/heads/main');
    assert.equal(payload.repository, 'example/app');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 120);
  });

  test('refuses to mint a client token with an empty subject or a lifetime over a day', async () => {
    await assert.rejects(issuer.mintClientToken({ sub: '', aud: 'voidkey' }), RangeError);
    await assert.rejects(issuer.mintClientToken({ sub: 'a', aud: 'voidkey', ttlSeconds: 86401 }), RangeError);
  });

  test('mints a client token at /dev/token for a caller holding the sandbox secret', async () => {
    const res = await fetch(String(issuer.devTokenEndpoint), {
      method: 'POST',
      headers: { authorization: `Bearer ${MINT_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'alice', aud: 'voidkey', ttl: 300 }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = (await res.json()) as { token: string; expires_in: number };
    assert.equal(body.expires_in, 300);
    const { payload } = await jwtVerify(body.token, jwks, { issuer: issuer.issuer, audience: 'voidkey' });
    assert.equal(payload.sub, 'alice');
  });

  test('answers 401 at /dev/token without the sandbox secret and 400 for a bad ttl', async () => {
    const wrong = await fetch(String(issuer.devTokenEndpoint), {
      method: 'POST',
      headers: { authorization: 'Bearer nope', 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'alice', aud: 'voidkey' }),
    });
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: string }).error, 'invalid_token');
    const badTtl = await fetch(String(issuer.devTokenEndpoint), {
      method: 'POST',
      headers: { authorization: `Bearer ${MINT_SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sub: 'alice', aud: 'voidkey', ttl: 0 }),
    });
    assert.equal(badTtl.status, 400);
    assert.equal(((await badTtl.json()) as { error: string }).error, 'invalid_request');
  });

  test('has no /dev/token endpoint when started without a mint secret', async () => {
    const plain = await startDevIssuer();
    try {
      assert.equal(plain.devTokenEndpoint, undefined);
      const res = await fetch(`${plain.issuer}/dev/token`, { method: 'POST' });
      assert.equal(res.status, 404);
    } finally {
      await plain.close();
    }
  });
});
