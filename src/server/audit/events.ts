/**
 * The audit events of docs/operations.md: one per authentication and one per mint
 * request, with what is needed to match the cloud's own logs (role, session
 * name, access key id, upstream request id) and never a secret: no token
 * (a failed one is identified by its SHA-256), no secret key, no session token.
 */
import { createHash } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { BrokerError, ForbiddenError, InvalidTokenError, type MintFailure } from '../../core/errors.ts';
import type { MintedKeyAudit } from '../../core/mint/index.ts';
import type { VerifiedToken } from '../../core/types.ts';

export type AuditEventType = 'AUTH_SUCCESS' | 'AUTH_FAILURE' | 'MINT_SUCCESS' | 'MINT_FAILURE';

/** One minted key as audited; `discarded` when a multi-key mint failed after it was minted. */
export type AuditedKey = MintedKeyAudit & { discarded?: true };

/** One audit record. */
export interface AuditEvent {
  /** ISO 8601. */
  timestamp: string;
  eventType: AuditEventType;
  iss?: string;
  subject?: string;
  idp?: string;
  /** `jti`, or the SHA-256 of the canonical payload (docs/operations.md). */
  tokenId?: string;
  /** SHA-256 (hex) of a token that failed verification, to correlate with the verifier's log. */
  tokenSha256?: string;
  keys?: string[];
  clientIp: string;
  userAgent?: string;
  requestId: string;
  reason?: string;
  /** The error code answered (INVALID_TOKEN, FORBIDDEN, …). */
  error?: string;
  minted?: AuditedKey[];
  failures?: MintFailure[];
  deniedKeys?: string[];
  /** A policy denial: denied key → reason code. */
  reasons?: Record<string, string>;
  /** MINT_SUCCESS: names of the identities whose rules matched. */
  identities?: string[];
}

/** Why a request failed, as audited: a snake_case reason and the answered code. */
export function describeFailure(error: unknown): {
  reason: string;
  error: string;
  extra: Partial<AuditEvent>;
} {
  if (error instanceof InvalidTokenError) return { reason: error.reason, error: error.code, extra: {} };
  if (error instanceof ForbiddenError) {
    // The event's reason is the first denied key's; `reasons` has every key's.
    const first = error.deniedKeys[0];
    const reason = (first !== undefined && error.reasons?.[first]) || 'key_not_granted';
    const extra: Partial<AuditEvent> = { deniedKeys: error.deniedKeys };
    if (error.reasons) extra.reasons = { ...error.reasons };
    return { reason, error: error.code, extra };
  }
  if (error instanceof BrokerError) {
    const details = error.details ?? {};
    const failures = Array.isArray(details.failures) ? (details.failures as MintFailure[]) : undefined;
    // A provider's 503 carries a reason for clients (`unavailable`); its audit reason stays provider_unavailable.
    const reason =
      error.code === 'CREDENTIAL_MINT_FAILED'
        ? 'provider_refused'
        : failures
          ? 'provider_unavailable'
          : typeof details.reason === 'string'
            ? details.reason
            : error.code.toLowerCase();
    return { reason, error: error.code, extra: failures ? { failures } : {} };
  }
  return { reason: 'internal_error', error: 'INTERNAL_ERROR', extra: {} };
}

/** The mint body's key names, when the request is a mint. */
export function requestedKeys(request: FastifyRequest): string[] | undefined {
  const keys = (request.body as { keys?: unknown } | undefined)?.keys;
  return Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : undefined;
}

/** SHA-256 of the token the request presented (header, body or query), if any. */
function presentedTokenHash(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  const bearer = typeof header === 'string' ? /^bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
  const body = (request.body as { oidcToken?: unknown } | undefined)?.oidcToken;
  const query = (request.query as { token?: unknown } | undefined)?.token;
  const token = [bearer, body, query].find((t): t is string => typeof t === 'string' && t.length > 0);
  return token === undefined ? undefined : createHash('sha256').update(token).digest('hex');
}

/** Fields every event of `request` carries; the builders below add theirs in the order written. */
function base(request: FastifyRequest, eventType: AuditEventType): AuditEvent {
  const agent = request.headers['user-agent'];
  const event = { timestamp: new Date().toISOString(), eventType, clientIp: request.ip } as AuditEvent;
  if (typeof agent === 'string') event.userAgent = agent.slice(0, 256);
  event.requestId = request.id;
  return event;
}

function addIdentity(event: AuditEvent, verified: VerifiedToken): AuditEvent {
  event.iss = verified.iss;
  event.subject = verified.sub;
  event.idp = verified.idp;
  event.tokenId = verified.tokenId;
  return event;
}

/** AUTH_SUCCESS for `verified`. */
export function authSuccess(request: FastifyRequest, verified: VerifiedToken): AuditEvent {
  const event = addIdentity(base(request, 'AUTH_SUCCESS'), verified);
  const keys = requestedKeys(request);
  if (keys) event.keys = keys;
  return event;
}

/** AUTH_FAILURE for a token that did not verify (or was replayed, when `verified` is known). */
export function authFailure(request: FastifyRequest, error: unknown, verified?: VerifiedToken): AuditEvent {
  const failure = describeFailure(error);
  const hash = presentedTokenHash(request);
  const event = base(request, 'AUTH_FAILURE');
  if (verified) addIdentity(event, verified);
  if (hash) event.tokenSha256 = hash;
  const keys = requestedKeys(request);
  if (keys) event.keys = keys;
  event.reason = failure.reason;
  event.error = failure.error;
  return event;
}

/** MINT_SUCCESS with one entry per minted key. */
export function mintSuccess(
  request: FastifyRequest,
  verified: VerifiedToken,
  keys: readonly string[],
  minted: readonly MintedKeyAudit[],
  identities?: readonly string[],
): AuditEvent {
  const event = addIdentity(base(request, 'MINT_SUCCESS'), verified);
  event.keys = [...keys];
  if (identities) event.identities = [...identities];
  event.minted = [...minted];
  return event;
}

/** MINT_FAILURE for `error`; keys minted before the failure are listed as discarded. */
export function mintFailure(
  request: FastifyRequest,
  verified: VerifiedToken,
  keys: readonly string[],
  error: unknown,
  discarded: readonly MintedKeyAudit[] = [],
): AuditEvent {
  const failure = describeFailure(error);
  const event = addIdentity(base(request, 'MINT_FAILURE'), verified);
  event.keys = [...keys];
  event.reason = failure.reason;
  event.error = failure.error;
  Object.assign(event, failure.extra);
  if (discarded.length > 0) event.minted = discarded.map((entry) => ({ ...entry, discarded: true as const }));
  return event;
}
