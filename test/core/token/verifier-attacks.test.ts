import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type CryptoKey, compactVerify, exportSPKI, importJWK, SignJWT } from 'jose';
import type { ClientTokenVerifier } from '../../../src/core/token/index.ts';
import {
  b64,
  claims,
  idpConfig,
  type LocalIssuer,
  makeKey,
  makeVerifier,
  recorder,
  rejectsWith,
  sign,
  signRaw,
  startIssuer,
  type TestKey,
} from './helpers.ts';

/** Sets the lowest unused bit of a segment's last character: same bytes, another spelling. */
function respell(segment: string): string | undefined {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  if (segment.length % 4 < 2) return undefined;
  const last = alphabet.indexOf(segment.at(-1) as string);
  return `${segment.slice(0, -1)}${alphabet[last | 1]}`;
}

describe('client token verification: attacks and malformed tokens', () => {
  let issuer: LocalIssuer;
  let other: LocalIssuer;
  let attackerSite: LocalIssuer;
  let rsa: TestKey;
  let es: TestKey;
  let otherKey: TestKey;
  let verifier: ClientTokenVerifier;

  before(async () => {
    rsa = await makeKey('RS256', 'rsa-1');
    es = await makeKey('ES256', 'es-1');
    otherKey = await makeKey('ES256', 'other-1');
    issuer = await startIssuer({ keys: [rsa.publicJwk, es.publicJwk] });
    other = await startIssuer({ keys: [otherKey.publicJwk] });
    attackerSite = await startIssuer({ keys: [] });
    verifier = makeVerifier([
      idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri }),
      idpConfig(other.issuer, { name: 'other-idp', jwksUri: other.jwksUri }),
    ]);
  });
  after(async () => {
    await Promise.all([issuer.close(), other.close(), attackerSite.close()]);
  });

  test('refuses alg none, with or without a signature, before any fetch', async () => {
    const unsigned = `${b64({ alg: 'none' })}.${b64(claims(issuer.issuer))}`;
    const fresh = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })]);
    const before = issuer.count();
    await rejectsWith(fresh.verify(`${unsigned}.`), 'algorithm_not_allowed');
    await rejectsWith(fresh.verify(`${unsigned}.c2ln`), 'algorithm_not_allowed');
    await rejectsWith(
      fresh.verify(`${b64({ alg: 'NONE' })}.${b64(claims(issuer.issuer))}.c2ln`),
      'algorithm_not_allowed',
    );
    assert.equal(issuer.count(), before);
  });

  test('refuses an HS256 token whose secret is the issuer RSA public key', async () => {
    const pem = await exportSPKI((await importJWK(rsa.publicJwk, 'RS256')) as CryptoKey);
    const token = await new SignJWT(claims(issuer.issuer))
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid })
      .sign(new TextEncoder().encode(pem));
    await rejectsWith(verifier.verify(token), 'algorithm_not_allowed');
  });

  test('refuses an algorithm outside the IdP’s own list even if globally allowed', async () => {
    const narrow = makeVerifier([
      idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri, algorithms: ['RS256'] }),
    ]);
    await rejectsWith(narrow.verify(await sign(es, claims(issuer.issuer))), 'algorithm_not_allowed');
    await narrow.verify(await sign(rsa, claims(issuer.issuer)));
  });

  test('refuses a token whose payload was altered after signing', async () => {
    const [h, , s] = (await sign(rsa, claims(issuer.issuer))).split('.');
    const forged = `${h}.${b64(claims(issuer.issuer, { sub: 'repo:org/admin' }))}.${s}`;
    await rejectsWith(verifier.verify(forged), 'signature_invalid');
  });

  test('never verifies with a key embedded in the header (jwk)', async () => {
    const attacker = await makeKey('ES256', es.kid);
    for (const kid of [es.kid, undefined]) {
      const token = await sign(attacker, claims(issuer.issuer), { kid, jwk: attacker.publicJwk });
      await rejectsWith(verifier.verify(token), 'signature_invalid');
    }
  });

  test('never fetches a key URL named by the header (jku, x5u) nor uses x5c', async () => {
    const attacker = await makeKey('ES256', 'attacker');
    attackerSite.jwks = { keys: [attacker.publicJwk] };
    const headers = [
      { jku: attackerSite.jwksUri },
      { x5u: `${attackerSite.issuer}/cert.pem` },
      { x5c: [Buffer.from('not a certificate').toString('base64')] },
    ];
    for (const header of headers) {
      await rejectsWith(
        verifier.verify(await sign(attacker, claims(issuer.issuer), header)),
        'signature_invalid',
      );
    }
    assert.equal(attackerSite.count(), 0);
  });

  test('refuses a token from another trusted issuer that claims this issuer', async () => {
    const token = await sign(otherKey, claims(issuer.issuer));
    await rejectsWith(verifier.verify(token), 'signature_invalid');
    await verifier.verify(await sign(otherKey, claims(other.issuer)));
  });

  test('refuses an untrusted or absent iss without any network request', async () => {
    const quiet = await startIssuer({ keys: [es.publicJwk] });
    try {
      const v = makeVerifier([idpConfig(quiet.issuer)]);
      const cases = [
        { iss: 'https://evil.example' },
        { iss: undefined },
        { iss: 42 },
        { iss: `${quiet.issuer}/` },
        { iss: quiet.issuer.toUpperCase() },
      ];
      for (const extra of cases) {
        const token = await sign(es, claims(quiet.issuer, extra as never), { jku: quiet.jwksUri });
        await rejectsWith(v.verify(token), 'issuer_not_trusted');
      }
      assert.equal(quiet.count(), 0);
    } finally {
      await quiet.close();
    }
  });

  test('refuses a token over 16 KiB as token_too_large before decoding it', async () => {
    const atLimit = 'a'.repeat(16_384);
    await rejectsWith(verifier.verify(atLimit), 'malformed');
    await rejectsWith(verifier.verify(`${atLimit}a`), 'token_too_large');
    await rejectsWith(verifier.verify(`${'é'.repeat(8_192)}.`), 'token_too_large');
    const big = await sign(rsa, claims(issuer.issuer, { pad: 'x'.repeat(16_384) }));
    await rejectsWith(verifier.verify(big), 'token_too_large');
  });

  test('refuses every other spelling of a valid token', async () => {
    const token = await sign(es, claims(issuer.issuer));
    await verifier.verify(token);
    const [h, p, s] = token.split('.') as [string, string, string];
    const variants: Record<string, string> = {
      'padding on the payload': `${h}.${p}${'='.repeat((4 - (p.length % 4)) % 4 || 1)}.${s}`,
      'padding on the signature': `${h}.${p}.${s}==`,
      'leading space': ` ${token}`,
      'trailing newline': `${token}\n`,
      'space inside the payload': `${h}.${p.slice(0, 5)} ${p.slice(5)}.${s}`,
      'standard base64 alphabet': `${h}.${p}.${s.replaceAll('-', '+').replaceAll('_', '/')}`,
      'a fourth segment': `${token}.`,
      'two segments': `${h}.${p}`,
      'a non-ASCII character': `${h}.${p}é.${s}`,
    };
    for (const segment of [0, 1, 2]) {
      const parts = [h, p, s];
      const changed = respell(parts[segment] as string);
      if (!changed) continue;
      parts[segment] = changed;
      variants[`non-canonical last character in segment ${segment}`] = parts.join('.');
    }
    assert.ok(Object.keys(variants).some((name) => name.startsWith('non-canonical')));
    for (const [name, variant] of Object.entries(variants)) {
      if (variant === token) continue;
      await rejectsWith(verifier.verify(variant), 'malformed').catch((err: unknown) => {
        throw new Error(`variant "${name}" was not refused as malformed`, { cause: err });
      });
    }
  });

  test('refuses a non-canonical spelling that jose alone would accept', async () => {
    const token = await sign(es, claims(issuer.issuer));
    const [h, p, s] = token.split('.') as [string, string, string];
    const respelled = `${h}.${p}.${respell(s) ?? s}`;
    assert.notEqual(respelled, token);
    await compactVerify(respelled, await importJWK(es.publicJwk, 'ES256'));
    await rejectsWith(verifier.verify(respelled), 'malformed');
  });

  test('refuses duplicate member names in the header or the payload, at any depth', async () => {
    const payload = JSON.stringify(claims(issuer.issuer));
    const header = `{"alg":"RS256","kid":"${rsa.kid}"}`;
    await verifier.verify(signRaw(rsa, payload, header));
    const cases: Array<[string, string]> = [
      [`{"alg":"RS256","kid":"${rsa.kid}","kid":"${rsa.kid}"}`, payload],
      [`{"alg":"RS256","kid":"${rsa.kid}","\\u0061lg":"RS256"}`, payload],
      [header, `${payload.slice(0, -1)},"sub":"repo:org/admin"}`],
      [header, `${payload.slice(0, -1)},"x":{"a":1,"b":[{"c":1,"c":2}]}}`],
      [header, `${payload.slice(0, -1)},"exp":1e400}`],
      [header, `[${payload}]`],
      [header, `${payload} x`],
    ];
    for (const [h, p] of cases) await rejectsWith(verifier.verify(signRaw(rsa, p, h)), 'malformed');
  });

  test('refuses crit, b64 and nested JWTs in the header', async () => {
    const payload = JSON.stringify(claims(issuer.issuer));
    const headers = [
      { alg: 'RS256', kid: rsa.kid, crit: ['exp'], exp: 1 },
      { alg: 'RS256', kid: rsa.kid, b64: false, crit: ['b64'] },
      { alg: 'RS256', kid: rsa.kid, b64: true },
      { alg: 'RS256', kid: rsa.kid, cty: 'JWT' },
      { alg: 'RS256', kid: rsa.kid, cty: 'application/jwt' },
      { alg: 'RS256', kid: 7 },
    ];
    for (const header of headers) {
      await rejectsWith(verifier.verify(signRaw(rsa, payload, JSON.stringify(header))), 'malformed');
    }
  });

  test('logs only a fingerprint of a refused token, never the token', async () => {
    const rec = recorder();
    const v = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })], { rec });
    const token = await sign(otherKey, claims(issuer.issuer));
    await rejectsWith(v.verify(token), 'signature_invalid');
    const text = rec.logs.join('\n');
    assert.match(text, /client token refused .*"tokenSha256":"[0-9a-f]{16}"/);
    for (const part of token.split('.')) assert.ok(!text.includes(part), 'a token segment reached the logs');
    assert.deepEqual(rec.verifications, ['test-idp failure signature_invalid']);
  });
});
