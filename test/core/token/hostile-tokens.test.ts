/**
 * An audit of the verifier against the jwt_tool attack list and RFC 8725 (and
 * its update draft): JWS/JWE confusion, JSON serialisations, `alg` confusion
 * with keys of another type, psychic and malformed signatures, `kid`
 * injection, text encodings (BOM, UTF-16, overlong UTF-8, lone surrogates),
 * deep nesting, member names that differ only in case, `__proto__`, explicit
 * typing. Cases that verifier-attacks.test.ts already covers are not repeated.
 *
 * Controls checked by disabling them (in a scratch copy of the repository,
 * one at a time, then restored), with the tests that then failed:
 * - keyset.ts, the e ≠ 65537 drop: keyset.test.ts "refuses a token forged for
 *   an e = 1 key that plain jose would accept" and the e = 1 / e = 3 drops;
 * - preparse.ts decodeSegment, the re-encoding check: verifier-attacks
 *   "refuses every other spelling …", "… that jose alone would accept", and
 *   the canonical-spelling property in preparse.test.ts;
 * - strict-json.ts, the duplicate-name check: verifier-attacks "refuses
 *   duplicate member names …", issuer-keys "… duplicate member names is a
 *   failed fetch", the strict JSON cases of preparse.test.ts;
 * - the `alg` allow-list, which has three layers: without the pre-parser's
 *   check, "refuses alg none … before any fetch" fails; without the verifier's
 *   per-IdP check too, jose's `algorithms` option still refuses everything
 *   else; without all three, the alg tests here and in verifier-attacks fail;
 * - verifier.ts selectIdp, the issuer allow-list (falling back to a configured
 *   IdP instead): the "… without any network request" tests here, in
 *   hostile-claims and in verifier-attacks fail;
 * - the typ deny-list of preparse.ts: "refuses explicitly typed JWTs …";
 * - the 16 KiB cap and the nesting bound: their tests here and in preparse;
 * - the pre-parser's fatal UTF-8 decoder: "refuses a header or payload that
 *   is not exactly UTF-8 JSON". (It had a second layer behind it while jose's
 *   jwtVerify decoded the claims again; the verifier now reads them once.)
 */
import assert from 'node:assert/strict';
import { createHash, sign as nodeSign } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { JWTPayload } from 'jose';
import type { ClientTokenVerifier } from '../../../src/core/token/index.ts';
import {
  b64,
  claims,
  idpConfig,
  type LocalIssuer,
  makeKey,
  makeVerifier,
  rejectsWith,
  sign,
  startIssuer,
  type TestKey,
} from './helpers.ts';

type Part = Buffer | string | object;
const segment = (part: Part): string => (Buffer.isBuffer(part) ? part.toString('base64url') : b64(part));

/** Signs exactly these header and payload bytes with `key` (RS256 or ES256, JOSE signature encoding). */
function signBytes(key: TestKey, header: Part, payload: Part): string {
  const input = `${segment(header)}.${segment(payload)}`;
  const { privateKey } = key;
  const signature = nodeSign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** A JSON payload text with `raw` spliced in as the last member (for texts JSON.stringify cannot make). */
const withRawMember = (payload: object, raw: string): string =>
  `${JSON.stringify(payload).slice(0, -1)},${raw}}`;

describe('hostile tokens: JOSE structure and signatures', () => {
  let issuer: LocalIssuer;
  let attackerSite: LocalIssuer;
  let rsa: TestKey;
  let es: TestKey;
  let verifier: ClientTokenVerifier;
  let good: JWTPayload;

  before(async () => {
    rsa = await makeKey('RS256', 'rsa-1');
    es = await makeKey('ES256', 'es-1');
    issuer = await startIssuer({ keys: [rsa.publicJwk, es.publicJwk] });
    attackerSite = await startIssuer({ keys: [] });
    verifier = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })]);
    good = claims(issuer.issuer);
  });
  after(() => Promise.all([issuer.close(), attackerSite.close()]));

  test('refuses a five-segment JWE compact token as malformed, whatever its alg', async () => {
    const rest = ['ZW5jcnlwdGVka2V5', 'aXY', 'Y2lwaGVydGV4dA', 'dGFn'].join('.');
    for (const header of [
      { alg: 'RSA-OAEP-256', enc: 'A256GCM' },
      { alg: 'ES256', kid: es.kid },
    ]) {
      await rejectsWith(verifier.verify(`${b64(header)}.${rest}`), 'malformed');
    }
  });

  test('refuses JWE key-management algorithms in a three-segment token as algorithm_not_allowed', async () => {
    for (const alg of ['RSA-OAEP', 'RSA1_5', 'dir', 'ECDH-ES', 'A128KW', 'PBES2-HS256+A128KW']) {
      const token = `${b64({ alg, enc: 'A128GCM' })}.${b64(good)}.c2ln`;
      await rejectsWith(verifier.verify(token), 'algorithm_not_allowed');
    }
  });

  test('refuses the JWS JSON serialisations (flattened and general) as malformed', async () => {
    const [h, p, s] = (await sign(es, good)).split('.') as [string, string, string];
    const flattened = JSON.stringify({ protected: h, payload: p, signature: s });
    const general = JSON.stringify({ payload: p, signatures: [{ protected: h, signature: s }] });
    await rejectsWith(verifier.verify(flattened), 'malformed');
    await rejectsWith(verifier.verify(general), 'malformed');
  });

  test('refuses alg spellings that only resemble allowed ones, and fully-specified algs not listed', async () => {
    for (const alg of ['rs256', 'RS256 ', 'RS256\u0000', 'ＲＳ256', 'Ed25519', 'ES256K', 'ES512', 'HS256']) {
      await rejectsWith(
        verifier.verify(`${b64({ alg, kid: rsa.kid })}.${b64(good)}.c2ln`),
        'algorithm_not_allowed',
      );
    }
  });

  test('refuses a token whose alg does not fit the key its kid names (alg confusion)', async () => {
    const esHeaderRsaKid = signBytes(es, { alg: 'ES256', kid: rsa.kid }, good);
    const rsHeaderEsKid = signBytes(rsa, { alg: 'RS256', kid: es.kid }, good);
    const ps = await makeKey('PS256', rsa.kid);
    const psUnderRs256Key = await sign(ps, good, { alg: 'PS256', kid: rsa.kid });
    const eddsaHeader = `${b64({ alg: 'EdDSA', kid: es.kid })}.${b64(good)}.${Buffer.alloc(64, 1).toString('base64url')}`;
    for (const token of [esHeaderRsaKid, rsHeaderEsKid, psUnderRs256Key, eddsaHeader]) {
      await rejectsWith(verifier.verify(token), 'signature_invalid');
    }
  });

  test('refuses psychic, DER-encoded, truncated and over-long signatures (CVE-2022-21449 and kin)', async () => {
    const [h, p, s] = (await sign(es, good)).split('.') as [string, string, string];
    const order = Buffer.from('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551', 'hex');
    const derSigned = nodeSign('sha256', Buffer.from(`${h}.${p}`), {
      key: es.privateKey,
      dsaEncoding: 'der',
    });
    const rsaToken = await sign(rsa, good);
    const [rh, rp, rs] = rsaToken.split('.') as [string, string, string];
    const rsaSig = Buffer.from(rs, 'base64url');
    const variants: Record<string, string> = {
      'r = s = 0': `${h}.${p}.${Buffer.alloc(64).toString('base64url')}`,
      'r = s = n': `${h}.${p}.${Buffer.concat([order, order]).toString('base64url')}`,
      'DER instead of r || s': `${h}.${p}.${derSigned.toString('base64url')}`,
      'ES256 truncated by a byte': `${h}.${p}.${Buffer.from(s, 'base64url').subarray(1).toString('base64url')}`,
      'RSA with a leading zero byte': `${rh}.${rp}.${Buffer.concat([Buffer.alloc(1), rsaSig]).toString('base64url')}`,
      'RSA of all zero bytes': `${rh}.${rp}.${Buffer.alloc(rsaSig.length).toString('base64url')}`,
      'RSA truncated by a byte': `${rh}.${rp}.${rsaSig.subarray(1).toString('base64url')}`,
    };
    for (const [name, token] of Object.entries(variants)) {
      await rejectsWith(verifier.verify(token), 'signature_invalid').catch((err: unknown) => {
        throw new Error(`signature variant "${name}" was not refused as signature_invalid`, { cause: err });
      });
    }
  });

  test('treats kid only as a lookup key: traversal, SQL, commands and URLs find nothing and fetch nothing else', async () => {
    const attacker = await makeKey('ES256', 'attacker');
    const kids = [
      '../../../../../../dev/null',
      "' OR '1'='1",
      'x|sleep 5',
      '$(id)',
      attackerSite.jwksUri,
      '',
      'k'.repeat(4096),
      '__proto__',
      'constructor',
    ];
    for (const kid of kids) {
      await rejectsWith(verifier.verify(await sign(attacker, good, { kid })), 'signature_invalid');
    }
    assert.equal(attackerSite.count(), 0);
    assert.ok(
      issuer.requests.every((path) => path === '/jwks'),
      issuer.requests.join(', '),
    );
  });

  test('refuses explicitly typed JWTs of kinds that are never identity assertions', async () => {
    for (const typ of ['logout+jwt', 'application/logout+jwt', 'secevent+jwt', 'DPoP+JWT']) {
      await rejectsWith(verifier.verify(await sign(es, good, { typ })), 'malformed');
    }
    for (const typ of ['JWT', 'jwt', 'at+jwt', 'application/jwt; charset=x']) {
      await verifier.verify(await sign(es, good, { typ }));
    }
  });
});

describe('hostile tokens: text encodings and JSON shapes', () => {
  let issuer: LocalIssuer;
  let es: TestKey;
  let verifier: ClientTokenVerifier;
  let good: Record<string, unknown>;

  before(async () => {
    es = await makeKey('ES256', 'es-1');
    issuer = await startIssuer({ keys: [es.publicJwk] });
    verifier = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })]);
    good = claims(issuer.issuer) as Record<string, unknown>;
  });
  after(() => issuer.close());

  const header = () => ({ alg: 'ES256', kid: es.kid });

  test('refuses a header or payload that is not exactly UTF-8 JSON', async () => {
    const json = Buffer.from(JSON.stringify(good));
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    const inSub = (bytes: number[]) => {
      const [before, after] = JSON.stringify({ ...good, sub: 'a#b' }).split('#') as [string, string];
      return Buffer.concat([Buffer.from(before), Buffer.from(bytes), Buffer.from(after)]);
    };
    const cases: Record<string, [Part, Part]> = {
      'a UTF-8 BOM before the payload': [header(), Buffer.concat([bom, json])],
      'a UTF-8 BOM before the header': [Buffer.concat([bom, Buffer.from(JSON.stringify(header()))]), good],
      'a UTF-16LE payload with its BOM': [
        header(),
        Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(good), 'utf16le')]),
      ],
      'a UTF-16BE payload without BOM': [header(), Buffer.from(JSON.stringify(good), 'utf16le').swap16()],
      'an overlong encoding of "/" in sub': [header(), inSub([0xc0, 0xaf])],
      'a CESU-8 surrogate in sub': [header(), inSub([0xed, 0xa0, 0x80])],
      'a stray continuation byte in sub': [header(), inSub([0x80])],
    };
    // The same construction with a well-formed character verifies, so only the bytes are at fault.
    assert.equal((await verifier.verify(signBytes(es, header(), inSub([0xc3, 0xa9])))).sub, 'a\u00e9b');
    for (const [name, [h, p]] of Object.entries(cases)) {
      await rejectsWith(verifier.verify(signBytes(es, h, p)), 'malformed').catch((err: unknown) => {
        throw new Error(`"${name}" was not refused as malformed`, { cause: err });
      });
    }
  });

  test('keeps the subject exactly as sent: no normalisation, no replacement characters', async () => {
    const subjects = ['repo:org/caf\u00e9', 'repo:org/cafe\u0301', '\ud800', 'a\u0000b', 'line\nbreak'];
    const seen = new Set<string>();
    for (const sub of subjects) {
      const verified = await verifier.verify(signBytes(es, header(), { ...good, sub }));
      assert.equal(verified.sub, sub);
      seen.add(verified.sub);
    }
    assert.equal(seen.size, subjects.length, 'two different subjects were read as one');
  });

  test('refuses deep nesting in a claim or the header quickly, without overflowing the stack', async () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    const started = process.hrtime.bigint();
    await rejectsWith(
      verifier.verify(signBytes(es, header(), withRawMember(good, `"x":${deep(5000)}`))),
      'malformed',
    );
    const deepHeader = withRawMember(header(), `"x":${deep(4000)}`);
    await rejectsWith(verifier.verify(signBytes(es, deepHeader, good)), 'malformed');
    await rejectsWith(
      verifier.verify(
        signBytes(es, header(), withRawMember(good, `"x":${'{"a":'.repeat(1500)}1${'}'.repeat(1500)}`)),
      ),
      'malformed',
    );
    assert.ok(process.hrtime.bigint() - started < 2_000_000_000n);
  });

  test('treats member names case-sensitively: Sub, ISS, Exp and Alg are other members', async () => {
    const cased = signBytes(
      es,
      { ...header(), Alg: 'none', ALG: 'HS256' },
      { ...good, Sub: 'repo:org/admin', SUB: 'x' },
    );
    assert.equal((await verifier.verify(cased)).sub, good.sub);
    await rejectsWith(
      verifier.verify(signBytes(es, header(), { ...good, exp: undefined, Exp: good.exp })),
      'claim_invalid',
    );
    await rejectsWith(
      verifier.verify(signBytes(es, header(), { ...good, iss: undefined, ISS: good.iss })),
      'issuer_not_trusted',
    );
  });

  test('reads __proto__ and constructor members as plain data, never as prototypes', async () => {
    const poisoned = withRawMember(
      { ...good, sub: undefined },
      '"__proto__":{"sub":"repo:org/admin","polluted":true},"constructor":{"prototype":{"polluted":true}}',
    );
    await rejectsWith(verifier.verify(signBytes(es, header(), poisoned)), 'claim_invalid');
    const withSub = withRawMember(good, '"__proto__":{"admin":true}');
    const headerText = withRawMember(header(), '"__proto__":{"alg":"none"}');
    const verified = await verifier.verify(signBytes(es, headerText, withSub));
    assert.equal(Object.getPrototypeOf(verified.claims), Object.prototype);
    assert.equal((verified.claims as Record<string, unknown>).admin, undefined);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).admin, undefined);
  });

  test('never identifies a token by a digest of its raw string', async () => {
    const token = signBytes(es, header(), { ...good, jti: undefined });
    const verified = await verifier.verify(token);
    assert.notEqual(verified.tokenId, createHash('sha256').update(token).digest('hex'));
    assert.match(verified.tokenId, /^[0-9a-f]{64}$/);
  });
});
