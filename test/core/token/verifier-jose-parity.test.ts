/**
 * The verifier checks the registered claims itself (jose only checks the
 * signature). This compares it, case by case, with what jose's jwtVerify
 * decides for the same token and the options the verifier used to give it:
 * a combination of present, absent, mistyped, early, late and boundary
 * values of `iss`, `aud`, `iat`, `nbf` and `exp`, under three audience
 * settings. Every combination must be refused for the same reason, or
 * accepted by both. (`sub` is always valid and `iat` never in the future,
 * so the broker's own rules, applied after these, never decide.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { importJWK, type JWTPayload, type JWTVerifyOptions, jwtVerify, type KeyObject } from 'jose';
import type { ClientIdpConfig } from '../../../src/core/config/schema.ts';
import { InvalidTokenError } from '../../../src/core/errors.ts';
import { mapVerificationError } from '../../../src/core/token/map-error.ts';
import {
  idpConfig,
  type LocalIssuer,
  makeKey,
  makeVerifier,
  sign,
  startIssuer,
  T0,
  T0_SECONDS,
  type TestKey,
} from './helpers.ts';

const NOW = T0_SECONDS;
const ABSENT = Symbol('absent');
type Value = unknown | typeof ABSENT;

const AUD: Value[] = [ABSENT, 'voidkey', 'other', ['other', 'voidkey'], ['other'], [], 42, null];
const IAT: Value[] = [ABSENT, NOW - 10, NOW + 20, 'x', null];
const NBF: Value[] = [ABSENT, NOW - 10, NOW + 30, NOW + 31, 'x', null];
const EXP: Value[] = [ABSENT, NOW + 600, NOW - 29, NOW - 30, '1', null];

function outcome(error: unknown): string {
  if (error === undefined) return 'accepted';
  const mapped = mapVerificationError(error);
  return mapped instanceof InvalidTokenError ? mapped.reason : `unavailable`;
}

describe('registered claims: the verifier decides as jose jwtVerify does', () => {
  let issuer: LocalIssuer;
  let key: TestKey;
  let publicKey: KeyObject;

  before(async () => {
    key = await makeKey('ES256');
    publicKey = (await importJWK(key.publicJwk, 'ES256')) as KeyObject;
    issuer = await startIssuer({ keys: [key.publicJwk] });
  });
  after(() => issuer.close());

  const settings: Array<[string, Partial<ClientIdpConfig>]> = [
    ['one audience', { audience: 'voidkey' }],
    ['a list of audiences', { audience: ['elsewhere', 'voidkey'] }],
    ['any audience', { audience: undefined, allowAnyAudience: true }],
  ];
  for (const [name, extra] of settings) {
    test(`with ${name}`, async () => {
      const idp = idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri, maxTokenLifetime: 1e9, ...extra });
      const verifier = makeVerifier([idp]);
      const joseOptions: JWTVerifyOptions = {
        algorithms: ['ES256'],
        issuer: idp.issuer,
        audience: idp.allowAnyAudience ? undefined : idp.audience,
        clockTolerance: idp.clockTolerance,
        requiredClaims: ['exp'],
        currentDate: new Date(T0),
      };
      const seen = new Map<string, number>();
      for (const aud of AUD)
        for (const iat of IAT)
          for (const nbf of NBF)
            for (const exp of EXP) {
              const payload: JWTPayload = { iss: issuer.issuer, sub: 'user-1' };
              for (const [claim, value] of [
                ['aud', aud],
                ['iat', iat],
                ['nbf', nbf],
                ['exp', exp],
              ] as const) {
                if (value !== ABSENT) (payload as Record<string, unknown>)[claim] = value;
              }
              const token = await sign(key, payload);
              const expected = outcome(
                await jwtVerify(token, publicKey, joseOptions).then(
                  () => undefined,
                  (error: unknown) => error,
                ),
              );
              const actual = outcome(
                await verifier.verify(token).then(
                  () => undefined,
                  (error: unknown) => error,
                ),
              );
              assert.equal(actual, expected, `claims ${JSON.stringify(payload)}`);
              seen.set(actual, (seen.get(actual) ?? 0) + 1);
            }
      // The grid reaches every outcome it is meant to compare.
      const outcomes = [...seen.keys()].sort();
      const expectedOutcomes = ['accepted', 'claim_invalid', 'token_expired', 'token_not_yet_valid'];
      if (!idp.allowAnyAudience) expectedOutcomes.push('audience_mismatch');
      assert.deepEqual(outcomes, expectedOutcomes.sort());
    });
  }
});
