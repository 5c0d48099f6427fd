/**
 * The broker's closed set of errors. One table maps each code to its HTTP
 * status and the fixed public message; what goes on the wire never carries a
 * token, a secret or an upstream body. Details for operators go to logs.
 */

export const ERROR_TABLE = {
  INVALID_REQUEST: { status: 400, message: 'The request is malformed or fails validation' },
  UNAUTHORIZED: { status: 401, message: 'A bearer token is required' },
  INVALID_TOKEN: { status: 401, message: 'The token could not be verified' },
  FORBIDDEN: { status: 403, message: 'The identity is not granted the requested keys' },
  SUBJECT_NOT_FOUND: { status: 404, message: 'No identity is configured for this subject' },
  NOT_FOUND: { status: 404, message: 'Route not found' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed on this route' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'Request body too large' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Content-Type must be application/json' },
  RATE_LIMIT_EXCEEDED: { status: 429, message: 'Too many requests' },
  INTERNAL_ERROR: { status: 500, message: 'Internal error' },
  CREDENTIAL_MINT_FAILED: { status: 502, message: 'A provider refused to mint credentials' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'A dependency is unavailable; retry later' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_TABLE;

/** Reasons carried in `details.reason` of a 401 INVALID_TOKEN (docs/errors.md). */
export const TOKEN_REASONS = [
  'malformed',
  'token_too_large',
  'issuer_not_trusted',
  'signature_invalid',
  'algorithm_not_allowed',
  'token_expired',
  'token_not_yet_valid',
  'issued_in_future',
  'lifetime_too_long',
  'audience_mismatch',
  'claim_invalid',
  'token_replayed',
] as const;

export type TokenReason = (typeof TOKEN_REASONS)[number];

/** One failed key of a multi-key mint, as reported in `details.failures`. */
export interface MintFailure {
  key: string;
  provider: string;
  reason: string;
}

/** What a {@link BrokerError} may carry besides its code. */
export interface BrokerErrorOptions {
  /** Replaces the table's public message; must be safe for the wire. */
  message?: string;
  details?: Record<string, unknown>;
  /** Seconds, for 429/503 answers. */
  retryAfter?: number;
  /** For logs only. */
  cause?: unknown;
}

/** Base of every error the broker answers with; `code` decides status and message. */
export class BrokerError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Safe, structured details that may go on the wire. */
  readonly details: Record<string, unknown> | undefined;
  /** Seconds, for 429/503 answers. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, options: BrokerErrorOptions = {}) {
    super(options.message ?? ERROR_TABLE[code].message, { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = ERROR_TABLE[code].status;
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }
}

/** 400: the request's shape is wrong. `message` must be safe for the wire. */
export class InvalidRequestError extends BrokerError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('INVALID_REQUEST', { message, ...(details ? { details } : {}) });
  }
}

/** 401 UNAUTHORIZED: no token was presented. */
export class UnauthorizedError extends BrokerError {
  constructor() {
    super('UNAUTHORIZED');
  }
}

/** 401 INVALID_TOKEN: verification failed for `reason`; `cause` is for logs only. */
export class InvalidTokenError extends BrokerError {
  readonly reason: TokenReason;
  constructor(reason: TokenReason, options: { cause?: unknown; message?: string } = {}) {
    super('INVALID_TOKEN', {
      message: options.message ?? `The token could not be verified: ${reason.replaceAll('_', ' ')}`,
      details: { reason },
      cause: options.cause,
    });
    this.reason = reason;
  }
}

/**
 * 403: a verified identity asked for keys it is not granted. `reasons` maps
 * each denied key to its policy reason code; `explanation` is added only
 * where `server.explain` allows it.
 */
export class ForbiddenError extends BrokerError {
  readonly deniedKeys: string[];
  readonly reasons: Readonly<Record<string, string>> | undefined;
  constructor(deniedKeys: string[], reasons?: Readonly<Record<string, string>>, explanation?: unknown) {
    const details: Record<string, unknown> = { deniedKeys };
    if (reasons) details.reasons = { ...reasons };
    if (explanation !== undefined) details.explanation = explanation;
    super('FORBIDDEN', { details });
    this.deniedKeys = deniedKeys;
    this.reasons = reasons;
  }
}

/** 404 SUBJECT_NOT_FOUND: a verified subject has no identity under its IdP. */
export class SubjectNotFoundError extends BrokerError {
  constructor() {
    super('SUBJECT_NOT_FOUND');
  }
}

/** 502: a provider refused (the upstream body never reaches the message). */
export class MintFailedError extends BrokerError {
  constructor(failures: MintFailure[]) {
    super('CREDENTIAL_MINT_FAILED', { details: { failures } });
  }
}

/**
 * 503: an issuer, provider, or store is unavailable or throttling after
 * retries. `details` may carry `failures` (for mints) or a `reason`.
 */
export class ServiceUnavailableError extends BrokerError {
  constructor(options: BrokerErrorOptions = {}) {
    super('SERVICE_UNAVAILABLE', options);
  }
}

/**
 * An upstream (provider / IdP) call failed. `kind` says whether the upstream
 * refused (→ 502) or was unavailable/throttling after retries (→ 503).
 * `reason` is a short, safe phrase; `upstreamRequestId` is for audit/logs.
 */
export class UpstreamError extends Error {
  readonly kind: 'refused' | 'unavailable';
  readonly reason: string;
  readonly upstreamRequestId: string | undefined;
  constructor(
    kind: 'refused' | 'unavailable',
    reason: string,
    options: { cause?: unknown; upstreamRequestId?: string } = {},
  ) {
    super(reason, { cause: options.cause });
    this.name = 'UpstreamError';
    this.kind = kind;
    this.reason = reason;
    this.upstreamRequestId = options.upstreamRequestId;
  }
}
