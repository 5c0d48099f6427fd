/**
 * The e2e peers themselves behave as the other e2e files assume: the OP's
 * tokens carry the claims each test relies on, its counters and JWKS outage
 * work, and the STS proxy records, holds calls, and goes down and up.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { type OidcPeer, startOidcProvider } from './peers/oidc.ts';
import { type StsProxy, startStsProxy } from './peers/sts-faults.ts';

const SUB = 'repo:acme/app:ref:refs/heads/main';

describe('the e2e OpenID Provider', () => {
  let op: OidcPeer;
  before(async () => {
    op = await startOidcProvider({
      defaultResource: 'https://voidkey.test',
      kid: 'k1',
      clients: [
        { clientId: SUB },
        { clientId: 'broker', auth: 'client_secret_basic', clientSecret: 'p@ss:w/rd+%2F=&x' },
      ],
    });
  });
  after(() => op.close());

  test('issues an RS256 at+jwt whose sub is the client id and aud the default resource', async () => {
    const token = await op.clientToken(SUB);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'RS256', typ: 'at+jwt', kid: 'k1' });
    const claims = decodeJwt(token);
    assert.equal(claims.sub, SUB);
    assert.equal(claims.iss, op.issuer);
    assert.equal(claims.aud, 'https://voidkey.test');
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 300);
    assert.equal(op.issued(SUB), 1);
  });

  test('applies the test tweaks: resource, shift, lifetime and a claimed iss', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = decodeJwt(
      await op.clientToken(SUB, {
        resource: 'https://x.test',
        shift: -3600,
        lifetime: 60,
        iss: 'http://other',
      }),
    );
    assert.equal(claims.aud, 'https://x.test');
    assert.equal(claims.iss, 'http://other');
    assert.ok(Math.abs((claims.iat ?? 0) - (now - 3600)) <= 2);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 60);
  });

  test('authenticates a client_secret_basic client whose secret holds reserved characters, form-encoded', async () => {
    const basic = Buffer.from(`broker:${encodeURIComponent(op.secretOf('broker'))}`).toString('base64');
    const res = await fetch(op.tokenEndpoint, {
      method: 'POST',
      headers: { authorization: `Basic ${basic}` },
      body: new URLSearchParams({ grant_type: 'client_credentials', resource: 'https://sts.test' }),
    });
    assert.equal(res.status, 200);
    assert.equal(
      decodeJwt(((await res.json()) as { access_token: string }).access_token).aud,
      'https://sts.test',
    );
  });

  test('counts JWKS requests by tag and answers 503 on the untagged URI during an outage', async () => {
    assert.equal((await fetch(op.jwksUri)).status, 200);
    assert.equal((await fetch(op.jwksUriFor('sts'))).status, 200);
    op.setJwksOutage(true);
    assert.equal((await fetch(op.jwksUri)).status, 503);
    assert.equal((await fetch(op.jwksUriFor('sts'))).status, 200);
    op.setJwksOutage(false);
    assert.equal(op.jwksHits(), 2);
    assert.equal(op.jwksHits('sts'), 2);
  });
});

describe('the STS fault proxy', () => {
  let upstream: Server;
  let proxy: StsProxy;
  const xml =
    '<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>' +
    '<AccessKeyId>ASIAE2E</AccessKeyId><SecretAccessKey>sk-e2e-123</SecretAccessKey>' +
    '<SessionToken>st-e2e-456</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>' +
    '</Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>';
  const call = (role: string) =>
    fetch(proxy.url, {
      method: 'POST',
      body: new URLSearchParams({
        Action: 'AssumeRoleWithWebIdentity',
        RoleArn: role,
        WebIdentityToken: 'a.b.c',
      }),
    });

  before(async () => {
    upstream = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/xml' }).end(xml));
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    proxy = await startStsProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`);
  });
  after(async () => {
    await proxy.close();
    upstream.closeAllConnections();
    upstream.close();
  });

  test('forwards and records the credentials, holds calls, and goes down and up again', async () => {
    assert.equal((await call('r1')).status, 200);
    assert.deepEqual(proxy.calls[0]?.credentials, {
      accessKeyId: 'ASIAE2E',
      secretAccessKey: 'sk-e2e-123',
      sessionToken: 'st-e2e-456',
      expiration: '2030-01-01T00:00:00Z',
    });
    proxy.latencyMs = 100;
    proxy.maxInFlight = 0;
    const both = await Promise.all([call('r2'), call('r3')]);
    proxy.latencyMs = 0;
    assert.deepEqual(
      both.map((r) => r.status),
      [200, 200],
    );
    assert.equal(proxy.maxInFlight, 2);
    await proxy.setDown(true);
    await assert.rejects(call('r1'));
    await proxy.setDown(false);
    assert.equal((await call('r1')).status, 200);
    assert.deepEqual(proxy.calls.map((c) => [c.roleArn, c.status, c.webIdentityToken]).sort(), [
      ['r1', 200, 'a.b.c'],
      ['r1', 200, 'a.b.c'],
      ['r2', 200, 'a.b.c'],
      ['r3', 200, 'a.b.c'],
    ]);
  });
});
