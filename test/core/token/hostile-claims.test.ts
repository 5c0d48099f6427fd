/**
 * Hostile claim values (RFC 8725 §3.8–3.10, jwt_tool's claim tampering):
 * numeric dates of the wrong type or at the edges of a double, subjects and
 * audiences of the wrong type or size, issuer spellings that only resemble a
 * configured one. Each must be refused with its documented reason, never
 * crash, and an untrusted issuer must never cause a network request. Time is
 * frozen at T0; tolerance 30 s; maxTokenLifetime 3600 s.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
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
  T0_SECONDS,
  type TestKey,
} from './helpers.ts';

const NOW = T0_SECONDS;

describe('hostile claim values', () => {
  let issuer: LocalIssuer;
  let key: TestKey;
  let verifier: ClientTokenVerifier;

  before(async () => {
    key = await makeKey('ES256');
    issuer = await startIssuer({ keys: [key.publicJwk] });
    verifier = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri, maxTokenLifetime: 3600 })]);
  });
  after(() => issuer.close());

  const token = (extra: Record<string, unknown>) => sign(key, claims(issuer.issuer, extra as never));

  const refused: Array<[string, Record<string, unknown>, string]> = [
    ['exp of null', { exp: null }, 'claim_invalid'],
    ['exp of true', { exp: true }, 'claim_invalid'],
    ['exp of an array', { exp: [NOW + 60] }, 'claim_invalid'],
    ['exp of an object', { exp: { $gt: 0 } }, 'claim_invalid'],
    ['exp of "NaN"', { exp: 'NaN' }, 'claim_invalid'],
    ['exp of "Infinity"', { exp: 'Infinity' }, 'claim_invalid'],
    ['exp of 0', { exp: 0 }, 'token_expired'],
    ['a negative exp', { exp: -1 }, 'token_expired'],
    ['exp of the largest double', { exp: Number.MAX_VALUE }, 'lifetime_too_long'],
    ['exp beyond 2^53', { exp: 2 ** 53 + 2 }, 'lifetime_too_long'],
    ['iat of a string', { iat: String(NOW) }, 'claim_invalid'],
    ['iat of null', { iat: null }, 'claim_invalid'],
    ['iat of the largest double', { iat: Number.MAX_VALUE }, 'issued_in_future'],
    ['iat of minus the largest double (lifetime spoofing)', { iat: -Number.MAX_VALUE }, 'lifetime_too_long'],
    ['a negative iat', { iat: -1 }, 'lifetime_too_long'],
    ['nbf of the largest double', { nbf: Number.MAX_VALUE }, 'token_not_yet_valid'],
    ['nbf of null', { nbf: null }, 'claim_invalid'],
    ['sub of null', { sub: null }, 'claim_invalid'],
    ['sub of true', { sub: true }, 'claim_invalid'],
    ['sub of an array', { sub: ['repo:org/app'] }, 'claim_invalid'],
    ['sub of an object', { sub: { toString: 'x' } }, 'claim_invalid'],
    ['sub of 256 astral characters', { sub: '\u{1D54A}'.repeat(256) }, 'claim_invalid'],
    ['aud of a number', { aud: 42 }, 'audience_mismatch'],
    ['aud of null', { aud: null }, 'audience_mismatch'],
    ['aud of an empty list', { aud: [] }, 'audience_mismatch'],
    ['aud of an object', { aud: { 0: 'voidkey' } }, 'audience_mismatch'],
    ['aud of a nested list', { aud: [['voidkey']] }, 'audience_mismatch'],
    ['aud spelt with another case', { aud: 'VoidKey' }, 'audience_mismatch'],
    ['aud with a trailing space', { aud: 'voidkey ' }, 'audience_mismatch'],
    ['aud as a prefix of the audience', { aud: 'void' }, 'audience_mismatch'],
  ];
  for (const [name, extra, reason] of refused) {
    test(`refuses ${name} as ${reason}`, async () => {
      await rejectsWith(verifier.verify(await token(extra)), reason);
    });
  }

  test('accepts a fractional exp and a whitespace-only subject, keeping them as sent', async () => {
    const verified = await verifier.verify(await token({ exp: NOW + 60.5, sub: ' ' }));
    assert.equal(verified.expiresAt, NOW + 60.5);
    assert.equal(verified.sub, ' ');
  });

  test('handles an aud list as large as the size cap allows, in either outcome', async () => {
    const many = Array.from({ length: 1200 }, (_, i) => `a${i}`);
    const lacking = await token({ aud: many });
    const holding = await token({ aud: [...many, 'voidkey'] });
    assert.ok(holding.length <= 16_384, `${holding.length} bytes`);
    await rejectsWith(verifier.verify(lacking), 'audience_mismatch');
    assert.equal((await verifier.verify(holding)).sub, 'repo:org/app:ref:refs/heads/main');
  });

  test('refuses issuer spellings that merely resemble the configured one, without any network request', async () => {
    const quiet = await startIssuer({ keys: [key.publicJwk] });
    try {
      const v = makeVerifier([idpConfig(quiet.issuer)]);
      const url = new URL(quiet.issuer);
      const spellings = [
        `${quiet.issuer}/`,
        `${quiet.issuer}//`,
        `${quiet.issuer} `,
        ` ${quiet.issuer}`,
        `${quiet.issuer}\u0000`,
        `${quiet.issuer}#`,
        `${quiet.issuer}?`,
        `${quiet.issuer}/.`,
        quiet.issuer.replace('http:', 'HTTP:'),
        quiet.issuer.replace('http://', 'http:/'),
        quiet.issuer.replace('127.0.0.1', '127.1'),
        quiet.issuer.replace('127.0.0.1', 'localhost'),
        `http://user@${url.host}`,
        `${quiet.issuer}\u200b`,
        quiet.issuer.normalize('NFKD').replace('1', '\uff11'),
      ];
      for (const iss of spellings) {
        const forged = `${b64({ alg: 'ES256', kid: key.kid })}.${b64(claims(quiet.issuer, { iss }))}.c2ln`;
        await rejectsWith(v.verify(forged), 'issuer_not_trusted');
        await rejectsWith(v.verify(await sign(key, claims(quiet.issuer, { iss }))), 'issuer_not_trusted');
      }
      for (const iss of [[quiet.issuer], { href: quiet.issuer }, null, true]) {
        await rejectsWith(
          v.verify(await sign(key, claims(quiet.issuer, { iss } as never))),
          'issuer_not_trusted',
        );
      }
      assert.equal(quiet.count(), 0);
    } finally {
      await quiet.close();
    }
  });
});
