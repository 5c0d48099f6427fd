/**
 * One client-credentials request to the broker IdP and the checks on its
 * answer: a JWT (never an opaque token) whose `aud` holds the audience asked
 * for, with a known expiry. Failures are UpstreamErrors with fixed reasons;
 * the only upstream detail kept (for logs) is the status and OAuth error code.
 */
import { decodeJwt, type JWTPayload } from 'jose';
import type { BrokerIdpConfig } from '../config/schema.ts';
import { UpstreamError } from '../errors.ts';
import { isRetryableStatus } from '../retry.ts';
import type { HttpClient } from '../types.ts';
import type { ClientAuthenticator } from './client-auth.ts';

/** The fixed reason of a 4xx from the token endpoint. */
export const REFUSED_CREDENTIALS = 'broker IdP refused the client credentials';

const MAX_TOKEN_RESPONSE_BYTES = 256 * 1024;

/** A broker token and when it stops being valid. */
export interface ObtainedToken {
  token: string;
  /** ms since the epoch. */
  expiresAt: number;
  /** ms since the epoch, when it was received (local clock). */
  receivedAt: number;
}

/** The token endpoint answered 408, 429 or 5xx: worth another attempt. */
export class RetryableStatusError extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`broker IdP answered HTTP ${status}`);
    this.name = 'RetryableStatusError';
    this.status = status;
  }
}

/** What {@link requestBrokerToken} needs. */
export interface TokenRequest {
  endpoint: string;
  audience: string;
  idp: BrokerIdpConfig;
  http: HttpClient;
  /** ms for the exchange. */
  httpTimeout: number;
  authenticate: ClientAuthenticator;
  now: () => number;
}

/** Form fields that ask for `audience` the way `audienceParam` says, plus `scopes`. */
export function audienceFields(idp: BrokerIdpConfig, audience: string): Record<string, string> {
  const scopes = idp.scopes ?? [];
  if (idp.audienceParam === 'scope') return { scope: [audience, ...scopes].join(' ') };
  const fields: Record<string, string> = { [idp.audienceParam]: audience };
  if (scopes.length > 0) fields.scope = scopes.join(' ');
  return fields;
}

/** POSTs one client-credentials request and checks the answer. Throws UpstreamError, RetryableStatusError or HttpError. */
export async function requestBrokerToken(req: TokenRequest): Promise<ObtainedToken> {
  const auth = await req.authenticate(req.endpoint);
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: req.idp.clientId,
    ...audienceFields(req.idp, req.audience),
    ...auth.fields,
  });
  const res = await req.http(req.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
      ...auth.headers,
    },
    body: form.toString(),
    timeoutMs: req.httpTimeout,
    maxBytes: MAX_TOKEN_RESPONSE_BYTES,
  });
  if (isRetryableStatus(res.status)) throw new RetryableStatusError(res.status);
  if (res.status >= 400 && res.status < 500) {
    throw new UpstreamError('refused', REFUSED_CREDENTIALS, {
      cause: { status: res.status, error: oauthErrorCode(res.body) },
    });
  }
  if (res.status !== 200) {
    throw new UpstreamError('refused', `broker IdP answered an unexpected HTTP ${res.status}`);
  }
  return checkTokenResponse(res.body, req.audience, req.now());
}

/** Parses a token response and applies the checks in docs/security.md (JWT, aud, expiry). */
export function checkTokenResponse(body: Buffer, audience: string, nowMs: number): ObtainedToken {
  const parsed = parseJson(body);
  const token = parsed?.access_token;
  if (typeof token !== 'string' || token.length === 0) {
    throw new UpstreamError('refused', 'broker IdP answered an invalid token response');
  }
  let claims: JWTPayload;
  try {
    claims = decodeJwt(token);
  } catch {
    throw new UpstreamError('refused', 'broker IdP issued an opaque token; a JWT is required');
  }
  const aud = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
  if (!aud.includes(audience)) {
    throw new UpstreamError('refused', 'broker token audience does not contain the requested audience');
  }
  const expiresAt = expiryOf(claims, parsed?.expires_in, nowMs);
  if (expiresAt === undefined) throw new UpstreamError('refused', 'broker token has no expiry');
  if (expiresAt <= nowMs) throw new UpstreamError('refused', 'broker IdP issued an expired token');
  return { token, expiresAt, receivedAt: nowMs };
}

function expiryOf(claims: JWTPayload, expiresIn: unknown, nowMs: number): number | undefined {
  if (typeof claims.exp === 'number' && Number.isFinite(claims.exp)) return claims.exp * 1000;
  if (typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0) {
    return nowMs + expiresIn * 1000;
  }
  return undefined;
}

function parseJson(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(body.toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The OAuth `error` code of an error body, only when it looks like one (safe to log). */
function oauthErrorCode(body: Buffer): string | undefined {
  const error = parseJson(body)?.error;
  return typeof error === 'string' && /^[a-z_]{1,64}$/.test(error) ? error : undefined;
}
