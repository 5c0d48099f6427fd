import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { JWTPayload } from 'jose';
import type { ClientTokenVerifier } from '../../../src/core/token/index.ts';
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

const NOW = T0_SECONDS;

describe('client token verification: claims (time frozen at T0, tolerance 30 s, max lifetime 3600 s)', () => {
  let issuer: LocalIssuer;
  let key: TestKey;
  let verifier: ClientTokenVerifier;
  const rec = recorder();

  before(async () => {
    key = await makeKey('ES256');
    issuer = await startIssuer({ keys: [key.publicJwk] });
    const idp = idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri, maxTokenLifetime: 3600 });
    verifier = makeVerifier([idp], { rec });
  });
  after(() => issuer.close());

  const refused: Array<[string, JWTPayload, string]> = [
    ['an expired token', { exp: NOW - 31, iat: NOW - 600 }, 'token_expired'],
    ['a token expiring exactly at now − tolerance', { exp: NOW - 30, iat: NOW - 600 }, 'token_expired'],
    ['a token not valid before a future nbf', { nbf: NOW + 31 }, 'token_not_yet_valid'],
    ['a token issued in the future', { iat: NOW + 31 }, 'issued_in_future'],
    [
      'a token valid for longer than maxTokenLifetime',
      { iat: NOW - 10, exp: NOW - 10 + 3601 },
      'lifetime_too_long',
    ],
    [
      'a token without iat whose exp is too far ahead',
      { iat: undefined, exp: NOW + 3601 },
      'lifetime_too_long',
    ],
    ['a token without exp', { exp: undefined }, 'claim_invalid'],
    ['a token whose exp is a string', { exp: String(NOW + 60) as unknown as number }, 'claim_invalid'],
    ['a token whose nbf is not a number', { nbf: 'soon' as unknown as number }, 'claim_invalid'],
    ['a token for another audience', { aud: 'someone-else' }, 'audience_mismatch'],
    ['a token with no audience', { aud: undefined }, 'audience_mismatch'],
    ['a token whose aud list lacks the audience', { aud: ['a', 'b'] }, 'audience_mismatch'],
    ['a token with an empty sub', { sub: '' }, 'claim_invalid'],
    ['a token with a sub of 256 characters', { sub: 's'.repeat(256) }, 'claim_invalid'],
    ['a token without sub', { sub: undefined }, 'claim_invalid'],
    ['a token whose sub is a number', { sub: 42 as unknown as string }, 'claim_invalid'],
  ];

  for (const [name, extra, reason] of refused) {
    test(`refuses ${name} as ${reason}`, async () => {
      await rejectsWith(verifier.verify(await sign(key, claims(issuer.issuer, extra))), reason);
    });
  }

  const accepted: Array<[string, JWTPayload]> = [
    ['a token expired by less than the tolerance', { exp: NOW - 29, iat: NOW - 600 }],
    ['a token whose nbf is within the tolerance', { nbf: NOW + 30 }],
    ['a token whose iat is within the tolerance', { iat: NOW + 30, exp: NOW + 600 }],
    ['a token whose lifetime is exactly maxTokenLifetime', { iat: NOW - 10, exp: NOW - 10 + 3600 }],
    ['a token with a sub of 255 characters', { sub: 's'.repeat(255) }],
    ['a token with a 255-character sub of astral characters', { sub: '𝕊'.repeat(255) }],
  ];

  for (const [name, extra] of accepted) {
    test(`accepts ${name}`, async () => {
      const verified = await verifier.verify(await sign(key, claims(issuer.issuer, extra)));
      assert.equal(verified.sub, extra.sub ?? 'repo:org/app:ref:refs/heads/main');
    });
  }

  test('reports each outcome to telemetry under the IdP name with its reason', async () => {
    rec.verifications.length = 0;
    await verifier.verify(await sign(key, claims(issuer.issuer)));
    await verifier.verify(await sign(key, claims(issuer.issuer, { exp: NOW - 100 }))).catch(() => {});
    await verifier.verify(await sign(key, claims('https://unknown.example'))).catch(() => {});
    await verifier.verify('not-a-token').catch(() => {});
    assert.deepEqual(rec.verifications, [
      'test-idp success ok',
      'test-idp failure token_expired',
      'unknown failure issuer_not_trusted',
      'unknown failure malformed',
    ]);
  });
});
