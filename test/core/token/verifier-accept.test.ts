import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { canonicalJson } from '../../../src/core/token/index.ts';
import {
  claims,
  idpConfig,
  type LocalIssuer,
  makeKey,
  makeVerifier,
  recorder,
  rejectsWith,
  sign,
  startIssuer,
  T0_SECONDS,
  type TestKey,
} from './helpers.ts';

const ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const;

describe('client token verification: accepted tokens', () => {
  let issuer: LocalIssuer;
  const keys = new Map<string, TestKey>();

  before(async () => {
    for (const alg of ALGS) keys.set(alg, await makeKey(alg));
    issuer = await startIssuer({ keys: [...keys.values()].map((k) => k.publicJwk) });
  });
  after(() => issuer.close());

  for (const alg of ALGS) {
    test(`accepts a valid ${alg} token and returns its identity`, async () => {
      const rec = recorder();
      const verifier = makeVerifier([idpConfig(issuer.issuer)], { rec });
      const key = keys.get(alg) as TestKey;
      const verified = await verifier.verify(await sign(key, claims(issuer.issuer, { jti: `id-${alg}` })));
      assert.deepEqual(
        { iss: verified.iss, sub: verified.sub, idp: verified.idp, tokenId: verified.tokenId },
        {
          iss: issuer.issuer,
          sub: 'repo:org/app:ref:refs/heads/main',
          idp: 'test-idp',
          tokenId: `id-${alg}`,
        },
      );
      assert.equal(verified.expiresAt, T0_SECONDS + 600);
      assert.deepEqual(rec.verifications, ['test-idp success ok']);
    });
  }

  test('finds the keys through discovery when no jwksUri is configured', async () => {
    const before = issuer.count('/.well-known/openid-configuration');
    const verifier = makeVerifier([idpConfig(issuer.issuer)]);
    await verifier.verify(await sign(keys.get('ES256') as TestKey, claims(issuer.issuer)));
    assert.equal(issuer.count('/.well-known/openid-configuration'), before + 1);
  });

  test('uses the configured jwksUri without fetching discovery', async () => {
    const before = issuer.count('/.well-known/openid-configuration');
    const verifier = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })]);
    await verifier.verify(await sign(keys.get('ES256') as TestKey, claims(issuer.issuer)));
    assert.equal(issuer.count('/.well-known/openid-configuration'), before);
  });

  test('fetches the key set once for many verifications within its ttl', async () => {
    const verifier = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })]);
    const token = await sign(keys.get('RS256') as TestKey, claims(issuer.issuer));
    const before = issuer.count('/jwks');
    await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    await verifier.verify(token);
    assert.equal(issuer.count('/jwks'), before + 1);
  });

  test('accepts an aud list containing one configured audience, and a configured audience list', async () => {
    const key = keys.get('ES256') as TestKey;
    const single = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })]);
    await single.verify(await sign(key, claims(issuer.issuer, { aud: ['other', 'voidkey'] })));
    const list = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri, audience: ['a', 'b'] })]);
    await list.verify(await sign(key, claims(issuer.issuer, { aud: 'b' })));
    await rejectsWith(
      list.verify(await sign(key, claims(issuer.issuer, { aud: 'voidkey' }))),
      'audience_mismatch',
    );
  });

  test('skips the audience check only with allowAnyAudience', async () => {
    const key = keys.get('ES256') as TestKey;
    const idp = idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri, allowAnyAudience: true });
    delete (idp as { audience?: unknown }).audience;
    const verifier = makeVerifier([idp]);
    await verifier.verify(await sign(key, claims(issuer.issuer, { aud: 'anything' })));
    await verifier.verify(await sign(key, claims(issuer.issuer, { aud: undefined })));
  });

  test('refuses to be built with an IdP that has neither audience nor allowAnyAudience', () => {
    const idp = idpConfig(issuer.issuer);
    delete (idp as { audience?: unknown }).audience;
    assert.throws(() => makeVerifier([idp]), TypeError);
  });

  test('refuses to be built with two IdPs sharing one issuer', () => {
    assert.throws(
      () => makeVerifier([idpConfig(issuer.issuer), idpConfig(issuer.issuer, { name: 'twin' })]),
      TypeError,
    );
  });

  test('identifies a token without jti by the SHA-256 of its canonical decoded payload', async () => {
    const verifier = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })]);
    const payload = claims(issuer.issuer, { nested: { b: 1, a: [2, { d: 3, c: 4 }] } });
    const verified = await verifier.verify(await sign(keys.get('ES256') as TestKey, payload));
    const expected = createHash('sha256').update(canonicalJson(payload)).digest('hex');
    assert.equal(verified.tokenId, expected);
    assert.match(verified.tokenId, /^[0-9a-f]{64}$/);
  });

  test('gives two ECDSA spellings of one token the same tokenId', async () => {
    const key = keys.get('ES256') as TestKey;
    const verifier = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })]);
    const payload = claims(issuer.issuer);
    const [first, second] = [await sign(key, payload), await sign(key, payload)];
    assert.notEqual(first, second, 'ECDSA signatures are randomised');
    const [a, b] = [await verifier.verify(first), await verifier.verify(second)];
    assert.equal(a.tokenId, b.tokenId);
  });

  test('picks the right key among several without a kid in the token', async () => {
    const other = await makeKey('ES256', 'other');
    const target = await makeKey('ES256', 'target');
    const kidless = (k: TestKey) => {
      const { kid: _kid, ...rest } = k.publicJwk;
      return rest;
    };
    const local = await startIssuer({ keys: [kidless(other), kidless(target)] });
    try {
      const verifier = makeVerifier([idpConfig(local.issuer, { jwksUri: local.jwksUri })]);
      const token = await sign(target, claims(local.issuer), { kid: undefined });
      assert.equal((await verifier.verify(token)).iss, local.issuer);
    } finally {
      await local.close();
    }
  });
});
