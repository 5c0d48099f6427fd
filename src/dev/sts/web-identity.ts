/**
 * Verifies a WebIdentityToken the way STS does for an OIDC provider: the
 * issuer must be the configured provider URL, the signature must verify
 * against its JWKS, `aud` must hold a configured client id, `exp` must be in
 * the future. A verified token is remembered (by SHA-256) until it expires so
 * a benchmark replaying one broker token pays for the signature once.
 */
import { createHash } from 'node:crypto';
import { decodeJwt, errors, type JWTPayload, jwtVerify } from 'jose';
import type { HttpClient } from '../../core/types.ts';
import { peerKeySet } from '../jwks.ts';
import { StsFault } from './xml.ts';

/** What STS learns from a valid token. */
export interface WebIdentity {
  iss: string;
  sub: string;
  /** The configured client id found in `aud`. */
  audience: string;
  /** ms since the epoch. */
  expiresAt: number;
  claims: JWTPayload;
}

/** Options of {@link createWebIdentityVerifier}. */
export interface WebIdentityOptions {
  issuer: string;
  jwksUri: string;
  audience: string | string[];
  http?: HttpClient;
  /** Counted as the verifier works. */
  stats: { jwksFetches: number; tokenVerifications: number };
}

const MAX_REMEMBERED = 10_000;
const MAX_JWKS_BYTES = 512 * 1024;

/** Builds the verifier; throws StsFault (InvalidIdentityToken, ExpiredTokenException, IDPCommunicationError). */
export function createWebIdentityVerifier(
  options: WebIdentityOptions,
): (token: string) => Promise<WebIdentity> {
  const audiences = Array.isArray(options.audience) ? options.audience : [options.audience];
  const jwks = peerKeySet((signal) => {
    options.stats.jwksFetches++;
    return options.http
      ? fetchWith(options.http, options.jwksUri, signal)
      : fetch(options.jwksUri, { signal });
  });
  const remembered = new Map<string, WebIdentity>();

  return async (token) => {
    const hash = createHash('sha256').update(token).digest('hex');
    const known = remembered.get(hash);
    if (known && known.expiresAt > Date.now()) return known;
    remembered.delete(hash);
    checkIssuer(token, options.issuer);
    options.stats.tokenVerifications++;
    const claims = await jwtVerify(token, jwks, {
      issuer: options.issuer,
      audience: audiences,
      requiredClaims: ['exp', 'sub'],
    })
      .then((r) => r.payload)
      .catch((err: unknown) => {
        throw toFault(err);
      });
    const aud = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
    const identity: WebIdentity = {
      iss: options.issuer,
      sub: claims.sub as string,
      audience: audiences.find((a) => aud.includes(a)) as string,
      expiresAt: (claims.exp as number) * 1000,
      claims,
    };
    remember(remembered, hash, identity);
    return identity;
  };
}

/** STS looks the provider up by `iss` before anything else. */
function checkIssuer(token: string, issuer: string): void {
  let iss: unknown;
  try {
    iss = decodeJwt(token).iss;
  } catch {
    throw new StsFault('InvalidIdentityToken', 'The web identity token that was passed is not a valid JWT.');
  }
  if (iss !== issuer) {
    throw new StsFault(
      'InvalidIdentityToken',
      'No OpenIDConnect provider found in your account for the token issuer.',
    );
  }
}

function toFault(err: unknown): StsFault {
  if (err instanceof errors.JWTExpired) {
    return new StsFault(
      'ExpiredTokenException',
      'Token expired: the current date/time must be before the expiration date/time.',
    );
  }
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') {
    return new StsFault('InvalidIdentityToken', 'Incorrect token audience');
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return new StsFault(
      'InvalidIdentityToken',
      'The signature of the web identity token could not be verified.',
    );
  }
  const jose = err instanceof errors.JOSEError && !(err instanceof errors.JWKSTimeout);
  if (jose && !(err instanceof errors.JWKSInvalid) && err.constructor !== errors.JOSEError) {
    return new StsFault(
      'InvalidIdentityToken',
      'The web identity token that was passed could not be validated.',
    );
  }
  // Timeouts, network failures, a non-200 or malformed key set: the IdP, not the token, is at fault.
  return new StsFault(
    'IDPCommunicationError',
    "Couldn't retrieve verification key from your identity provider",
  );
}

function remember(map: Map<string, WebIdentity>, hash: string, identity: WebIdentity): void {
  if (map.size >= MAX_REMEMBERED) {
    const now = Date.now();
    for (const [key, value] of map) if (value.expiresAt <= now) map.delete(key);
    if (map.size >= MAX_REMEMBERED) map.delete(map.keys().next().value as string);
  }
  map.set(hash, identity);
}

/** A fetch over the broker's HttpClient, for jose's remote key set. */
async function fetchWith(http: HttpClient, url: string, signal: AbortSignal): Promise<Response> {
  const res = await http(url, {
    timeoutMs: 5000,
    maxBytes: MAX_JWKS_BYTES,
    signal,
    headers: { accept: 'application/json' },
  });
  return new Response(new Uint8Array(res.body), { status: res.status, headers: res.headers });
}
