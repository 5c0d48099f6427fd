import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { errors } from 'jose';
import { DiscoveryError } from '../../../src/core/discovery.ts';
import { InvalidTokenError, ServiceUnavailableError } from '../../../src/core/errors.ts';
import {
  KeySetRefusedError,
  KeySetUnavailableError,
  mapVerificationError,
} from '../../../src/core/token/index.ts';
import { HttpError } from '../../../src/core/types.ts';

/** '401 <reason>' or '503' for what the mapper made of `err`. */
function outcome(err: unknown): string {
  const mapped = mapVerificationError(err);
  if (mapped instanceof InvalidTokenError) {
    assert.equal(mapped.status, 401);
    assert.equal(mapped.cause, err, 'the original error is kept as cause');
    return `401 ${mapped.reason}`;
  }
  assert.ok(mapped instanceof ServiceUnavailableError);
  assert.equal(mapped.status, 503);
  return '503';
}

const claimFailure = (claim: string, reason: 'check_failed' | 'missing' | 'invalid' = 'check_failed') =>
  new errors.JWTClaimValidationFailed('x', {}, claim, reason);

describe('mapping crypto-layer errors', () => {
  const cases: Array<[string, unknown, string]> = [
    ['JOSEError (generic: JWKS HTTP or JSON failure)', new errors.JOSEError('x'), '503'],
    ['JWKSTimeout', new errors.JWKSTimeout(), '503'],
    ['JWTExpired', new errors.JWTExpired('x', {}, 'exp', 'check_failed'), '401 token_expired'],
    ['JWTClaimValidationFailed nbf', claimFailure('nbf'), '401 token_not_yet_valid'],
    ['JWTClaimValidationFailed aud', claimFailure('aud'), '401 audience_mismatch'],
    ['JWTClaimValidationFailed aud missing', claimFailure('aud', 'missing'), '401 audience_mismatch'],
    ['JWTClaimValidationFailed iss', claimFailure('iss'), '401 issuer_not_trusted'],
    ['JWTClaimValidationFailed iat', claimFailure('iat'), '401 issued_in_future'],
    ['JWTClaimValidationFailed exp missing', claimFailure('exp', 'missing'), '401 claim_invalid'],
    ['JWTClaimValidationFailed nbf of the wrong type', claimFailure('nbf', 'invalid'), '401 claim_invalid'],
    ['JWTClaimValidationFailed typ', claimFailure('typ'), '401 malformed'],
    ['JWTClaimValidationFailed of another claim', claimFailure('jti'), '401 claim_invalid'],
    ['JOSEAlgNotAllowed', new errors.JOSEAlgNotAllowed(), '401 algorithm_not_allowed'],
    ['JOSENotSupported', new errors.JOSENotSupported(), '401 signature_invalid'],
    ['JWEDecryptionFailed', new errors.JWEDecryptionFailed(), '401 malformed'],
    ['JWEInvalid', new errors.JWEInvalid(), '401 malformed'],
    ['JWSInvalid', new errors.JWSInvalid(), '401 malformed'],
    ['JWTInvalid', new errors.JWTInvalid(), '401 malformed'],
    ['JWKInvalid', new errors.JWKInvalid(), '401 signature_invalid'],
    ['JWKSInvalid', new errors.JWKSInvalid(), '401 signature_invalid'],
    ['JWKSNoMatchingKey', new errors.JWKSNoMatchingKey(), '401 signature_invalid'],
    ['JWKSMultipleMatchingKeys', new errors.JWKSMultipleMatchingKeys(), '401 signature_invalid'],
    ['JWSSignatureVerificationFailed', new errors.JWSSignatureVerificationFailed(), '401 signature_invalid'],
    [
      'TypeError (e.g. a short RSA modulus)',
      new TypeError('RS256 requires key modulusLength'),
      '401 signature_invalid',
    ],
    ['DOMException DataError', new DOMException('Invalid keyData', 'DataError'), '401 signature_invalid'],
    ['DOMException NotSupportedError', new DOMException('x', 'NotSupportedError'), '401 signature_invalid'],
    ['DOMException OperationError', new DOMException('x', 'OperationError'), '401 signature_invalid'],
    ['DOMException InvalidAccessError', new DOMException('x', 'InvalidAccessError'), '401 signature_invalid'],
    ['DOMException AbortError', new DOMException('x', 'AbortError'), '503'],
    ['DOMException TimeoutError', new DOMException('x', 'TimeoutError'), '503'],
    ['SyntaxError', new SyntaxError('Unexpected token'), '401 malformed'],
    ['RangeError', new RangeError('x'), '401 signature_invalid'],
    ['a plain Error', new Error('x'), '401 signature_invalid'],
    ['a thrown string', 'boom', '401 signature_invalid'],
    ['undefined', undefined, '401 signature_invalid'],
    ['HttpError', new HttpError('network', 'network error'), '503'],
    ['DiscoveryError', new DiscoveryError('issuer mismatch'), '503'],
    ['KeySetUnavailableError', new KeySetUnavailableError('down'), '503'],
    ['KeySetRefusedError', new KeySetRefusedError('dup kid'), '503'],
  ];

  for (const [name, err, expected] of cases) {
    test(`maps ${name} to ${expected}`, () => assert.equal(outcome(err), expected));
  }

  test('covers every error class jose exports', () => {
    const covered = new Set(cases.map(([, err]) => (err as object | undefined)?.constructor));
    for (const [name, cls] of Object.entries(errors)) assert.ok(covered.has(cls), `${name} is not covered`);
  });

  test('passes broker errors through unchanged and adds retryAfter to a 503', () => {
    const invalid = new InvalidTokenError('token_expired');
    assert.equal(mapVerificationError(invalid), invalid);
    const mapped = mapVerificationError(new KeySetUnavailableError('down'), { retryAfter: 30 });
    assert.equal(mapped.retryAfter, 30);
    assert.deepEqual(mapped.details, { reason: 'keys_unavailable' });
    assert.ok(!mapped.message.includes('down'), 'internal detail stays out of the public message');
  });
});
