/**
 * The one place where whatever the crypto layer throws becomes a broker
 * error: 401 INVALID_TOKEN with a reason, or 503 when the issuer's keys cannot
 * be had. Nothing raw escapes verification, so a library surprise is a 401,
 * never a 500. The original error stays as `cause`, for logs only.
 */
import { errors } from 'jose';
import { BrokerError, InvalidTokenError, ServiceUnavailableError, type TokenReason } from '../errors.ts';
import { HttpError } from '../types.ts';

/** The issuer's keys cannot be had (first fetch failed, or the stale window passed). */
export class KeySetUnavailableError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'KeySetUnavailableError';
  }
}

/** Reason reported in telemetry for a 503 (not a token reason). */
export const KEYS_UNAVAILABLE = 'keys_unavailable';

const CLAIM_REASONS: Record<string, TokenReason> = {
  nbf: 'token_not_yet_valid',
  exp: 'claim_invalid',
  aud: 'audience_mismatch',
  iat: 'issued_in_future',
  iss: 'issuer_not_trusted',
  sub: 'claim_invalid',
  typ: 'malformed',
};

const JOSE_REASONS: Record<string, TokenReason> = {
  ERR_JWT_EXPIRED: 'token_expired',
  ERR_JOSE_ALG_NOT_ALLOWED: 'algorithm_not_allowed',
  ERR_JOSE_NOT_SUPPORTED: 'signature_invalid',
  ERR_JWS_INVALID: 'malformed',
  ERR_JWT_INVALID: 'malformed',
  ERR_JWE_INVALID: 'malformed',
  ERR_JWE_DECRYPTION_FAILED: 'malformed',
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: 'signature_invalid',
  ERR_JWKS_NO_MATCHING_KEY: 'signature_invalid',
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: 'signature_invalid',
  ERR_JWK_INVALID: 'signature_invalid',
  ERR_JWKS_INVALID: 'signature_invalid',
};

/** jose errors that mean the key set could not be fetched, not that the token is bad. */
const JOSE_UNAVAILABLE = new Set(['ERR_JWKS_TIMEOUT', 'ERR_JOSE_GENERIC']);
const UNAVAILABLE_NAMES = new Set(['KeySetUnavailableError', 'KeySetRefusedError', 'DiscoveryError']);

/**
 * Maps any error thrown while verifying a token to InvalidTokenError (401) or
 * ServiceUnavailableError (503, with `retryAfter` seconds when given).
 */
export function mapVerificationError(
  err: unknown,
  options: { retryAfter?: number } = {},
): InvalidTokenError | ServiceUnavailableError {
  if (err instanceof InvalidTokenError || err instanceof ServiceUnavailableError) return err;
  const invalid = (reason: TokenReason) => new InvalidTokenError(reason, { cause: err });
  const unavailable = () =>
    new ServiceUnavailableError({
      message: "The issuer's signing keys are unavailable; retry later",
      details: { reason: KEYS_UNAVAILABLE },
      cause: err,
      ...(options.retryAfter === undefined ? {} : { retryAfter: options.retryAfter }),
    });
  if (err instanceof errors.JWTClaimValidationFailed) {
    // 'invalid' means a claim of the wrong type (a string nbf), whichever claim it is.
    return invalid(
      err.reason === 'invalid' ? 'claim_invalid' : (CLAIM_REASONS[err.claim] ?? 'claim_invalid'),
    );
  }
  if (err instanceof errors.JOSEError) {
    if (JOSE_UNAVAILABLE.has(err.code)) return unavailable();
    return invalid(JOSE_REASONS[err.code] ?? 'signature_invalid');
  }
  if (err instanceof HttpError || (err instanceof Error && UNAVAILABLE_NAMES.has(err.name)))
    return unavailable();
  if (isDomException(err)) {
    return err.name === 'AbortError' || err.name === 'TimeoutError'
      ? unavailable()
      : invalid('signature_invalid');
  }
  if (err instanceof SyntaxError) return invalid('malformed');
  if (err instanceof BrokerError) return unavailable();
  // TypeError (jose's key checks, e.g. a short RSA modulus) and anything unforeseen: refuse the token.
  return invalid('signature_invalid');
}

function isDomException(err: unknown): err is DOMException {
  return typeof DOMException !== 'undefined' && err instanceof DOMException;
}
