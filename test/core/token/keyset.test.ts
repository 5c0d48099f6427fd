import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { compactVerify, importJWK, type JWK } from 'jose';
import { checkKeySet, isRocaWeakModulus, KeySetRefusedError } from '../../../src/core/token/index.ts';
import { detachKeyPair } from '../../../src/dev/keys.ts';
import {
  b64,
  claims,
  idpConfig,
  type LocalIssuer,
  makeKey,
  makeVerifier,
  recorder,
  rejectsUnavailable,
  rejectsWith,
  sign,
  signRaw,
  startIssuer,
  type TestKey,
} from './helpers.ts';

const vectors = JSON.parse(
  readFileSync(new URL('../../fixtures/wycheproof/json_web_key_test.json', import.meta.url), 'utf8'),
) as { testGroups: Array<{ comment: string; public?: { keys: JWK[] } }> };
const rocaJwk = vectors.testGroups.find((g) => g.comment === 'jws_rsa_roca_key')?.public?.keys[0] as JWK;

/** A 1024-bit RSA key: jose refuses to make one, node:crypto does not. */
function shortRsaKey(): TestKey {
  const { privateKey, publicKey } = detachKeyPair(generateKeyPairSync('rsa', { modulusLength: 1024 }));
  const publicJwk = {
    ...(publicKey.export({ format: 'jwk' }) as JWK),
    kid: 'short',
    alg: 'RS256',
    use: 'sig',
  };
  return { alg: 'RS256', kid: 'short', privateKey, publicJwk };
}

function withoutAlg({ alg: _alg, ...rest }: JWK): JWK {
  return rest;
}

/** An RS256 "signature" that verifies under e = 1: the PKCS#1 v1.5 encoding of the digest itself. */
function forgeForExponentOne(signingInput: string, modulusBytes: number): string {
  const digestInfo = Buffer.from('3031300d060960864801650304020105000420', 'hex');
  const digest = createHash('sha256').update(signingInput).digest();
  const padding = Buffer.alloc(modulusBytes - 3 - digestInfo.length - digest.length, 0xff);
  return Buffer.concat([Buffer.from([0, 1]), padding, Buffer.from([0]), digestInfo, digest]).toString(
    'base64url',
  );
}

describe('key-set checks', () => {
  let good: TestKey;
  let rsa: TestKey;

  before(async () => {
    good = await makeKey('ES256', 'good');
    rsa = await makeKey('RS256', 'rsa');
  });

  const drops: Array<[string, () => Promise<JWK> | JWK, RegExp]> = [
    ['a private RSA key', async () => ({ ...rsa.publicJwk, d: 'AQAB' }), /^private key$/],
    ['a symmetric key', () => ({ kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }), /^symmetric key$/],
    ['a 1024-bit RSA key', () => shortRsaKey().publicJwk, /modulus of 1024 bits is under 2048/],
    ['an RSA key with e = 1', () => ({ ...rsa.publicJwk, e: 'AQ' }), /exponent is not 65537/],
    ['an RSA key with e = 3', () => ({ ...rsa.publicJwk, e: 'Aw' }), /exponent is not 65537/],
    ['an RSA key with a ROCA modulus', () => rocaJwk, /ROCA/],
    [
      'a P-521 key',
      async () => withoutAlg((await makeKey('ES512', 'p521')).publicJwk),
      /curve "P-521" is not allowed/,
    ],
    ['an X25519 key', () => ({ kty: 'OKP', crv: 'X25519', x: good.publicJwk.x }), /curve "X25519"/],
    ['an unknown kty', () => ({ kty: 'AKP', kid: 'pq' }), /kty "AKP" is not supported/],
    [
      'a key without kty',
      () => ({ kid: 'none', x: good.publicJwk.x }) as JWK,
      /kty undefined is not supported/,
    ],
    ['an EC key without crv', () => ({ ...good.publicJwk, kid: 'nocrv', crv: undefined }), /curve undefined/],
    ['an encryption key', () => ({ ...good.publicJwk, kid: 'enc', use: 'enc' }), /use is not "sig"/],
    [
      'a key whose key_ops lack verify',
      () => ({ ...good.publicJwk, kid: 'ops', key_ops: ['encrypt'] }),
      /key_ops/,
    ],
    ['a key for a disallowed alg', () => ({ ...rsa.publicJwk, alg: 'RS1' }), /alg "RS1" is not allowed/],
    [
      'a key whose alg does not fit its curve',
      () => ({ ...good.publicJwk, kid: 'c', alg: 'ES384' }),
      /does not match/,
    ],
    [
      'an EC point that is not on the curve',
      () => ({ ...good.publicJwk, kid: 'off', y: Buffer.alloc(32, 1).toString('base64url') }),
      /invalid public key/,
    ],
    ['a non-object entry', () => 'key' as unknown as JWK, /not a JSON object/],
  ];

  for (const [name, build, reason] of drops) {
    test(`drops ${name} and keeps the rest of the set`, async () => {
      const bad = await build();
      const { keys, dropped } = checkKeySet({ keys: [good.publicJwk, bad] });
      assert.deepEqual(keys, [good.publicJwk]);
      assert.equal(dropped.length, 1);
      assert.equal(dropped[0]?.index, 1);
      assert.match(dropped[0]?.reason ?? '', reason);
    });
  }

  test('keeps only public members of a usable key', () => {
    const { keys } = checkKeySet({ keys: [{ ...good.publicJwk, x5c: ['MIIB'], extra: 1 }] });
    assert.deepEqual(Object.keys(keys[0] ?? {}).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
  });

  test('refuses a whole set of more than 100 keys, a duplicate kid, or something that is not a set', () => {
    const many = Array.from({ length: 101 }, (_, i) => ({ ...good.publicJwk, kid: `k${i}` }));
    assert.equal(checkKeySet({ keys: many.slice(0, 100) }).keys.length, 100);
    assert.throws(() => checkKeySet({ keys: many }), KeySetRefusedError);
    assert.throws(
      () => checkKeySet({ keys: [good.publicJwk, { ...rsa.publicJwk, kid: 'good' }] }),
      /share one kid/,
    );
    for (const value of [null, [], { keys: 'x' }, 'keys'])
      assert.throws(() => checkKeySet(value), KeySetRefusedError);
  });

  test('detects the ROCA fingerprint in the Wycheproof modulus and not in generated ones', async () => {
    const modulus = (jwk: JWK) => BigInt(`0x${Buffer.from(jwk.n as string, 'base64url').toString('hex')}`);
    assert.equal(isRocaWeakModulus(modulus(rocaJwk)), true);
    for (let i = 0; i < 3; i++) {
      assert.equal(isRocaWeakModulus(modulus((await makeKey('RS256', `r${i}`)).publicJwk)), false);
    }
    assert.equal(isRocaWeakModulus(modulus(rsa.publicJwk) * 3n), false);
  });
});

describe('key-set checks through the verifier', () => {
  let issuer: LocalIssuer;
  let good: TestKey;
  let rsa: TestKey;

  before(async () => {
    good = await makeKey('ES256', 'good');
    rsa = await makeKey('RS256', 'victim');
    issuer = await startIssuer();
  });
  after(() => issuer.close());

  test('refuses a token forged for an e = 1 key that plain jose would accept', async () => {
    const weak = { ...rsa.publicJwk, e: 'AQ' };
    const input = `${b64({ alg: 'RS256', kid: 'victim' })}.${b64(claims(issuer.issuer, { sub: 'repo:org/admin' }))}`;
    const forged = `${input}.${forgeForExponentOne(input, 256)}`;
    await compactVerify(forged, await importJWK(weak, 'RS256'));
    issuer.jwks = { keys: [weak, good.publicJwk] };
    const rec = recorder();
    const verifier = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })], { rec });
    await rejectsWith(verifier.verify(forged), 'signature_invalid');
    await verifier.verify(await sign(good, claims(issuer.issuer)));
    const warning = rec.logs.find((line) => line.includes('dropped a key'));
    assert.match(warning ?? '', /"kid":"victim","reason":"RSA public exponent is not 65537"/);
    assert.ok(!rec.logs.join('\n').includes(rsa.publicJwk.n as string), 'key material reached the logs');
  });

  const dropped: Array<[string, () => Promise<TestKey>, (k: TestKey) => JWK]> = [
    ['a private key', () => makeKey('RS256', 'priv'), (k) => ({ ...k.publicJwk, d: 'AQAB' })],
    ['a 1024-bit key', async () => shortRsaKey(), (k) => k.publicJwk],
    ['a P-521 key', () => makeKey('ES512', 'p521'), (k) => k.publicJwk],
  ];
  for (const [name, make, publish] of dropped) {
    test(`refuses a token signed by ${name} served in the JWKS`, async () => {
      const key = await make();
      issuer.jwks = { keys: [publish(key), good.publicJwk] };
      const verifier = makeVerifier([
        idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri, algorithms: undefined }),
      ]);
      const token =
        key.kid === 'short' ? signRaw(key, claims(issuer.issuer)) : await sign(key, claims(issuer.issuer));
      const reason = key.alg === 'ES512' ? 'algorithm_not_allowed' : 'signature_invalid';
      await rejectsWith(verifier.verify(token), reason);
    });
  }

  test('a JWKS with 101 keys or a duplicate kid is refused whole: no keys, 503', async () => {
    const many = Array.from({ length: 101 }, (_, i) => ({ ...good.publicJwk, kid: `k${i}` }));
    for (const keys of [many, [good.publicJwk, { ...good.publicJwk }]]) {
      issuer.jwks = { keys };
      const verifier = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })]);
      await rejectsUnavailable(verifier.verify(await sign(good, claims(issuer.issuer))));
    }
  });
});
