/**
 * Google failures mapped to UpstreamError. Google STS answers OAuth-style
 * `{error, error_description}`; IAM Credentials (and Google's front end, for
 * 429/5xx on either service) answers `{error: {code, message, status}}`. The
 * reason carries the error word and a fixed phrase, never the description or
 * message: Google quotes token claims and account names in them.
 */
import { UpstreamError } from '../../core/errors.ts';
import { HttpError, type HttpResponse } from '../../core/types.ts';
import { isRetryableHttpError, isRetryableStatus } from '../retry.ts';

/** The two Google services a mint calls. */
export type GoogleService = 'sts' | 'iam';

/** How each service is named in reasons. */
export const SERVICE_NAME: Readonly<Record<GoogleService, string>> = {
  sts: 'Google STS',
  iam: 'IAM Credentials',
};

const PHRASES: Readonly<Record<string, string>> = {
  invalid_grant: 'Google STS rejected the broker token',
  invalid_request: 'Google STS rejected the request (check workloadIdentityProvider)',
  invalid_target: 'the workload identity pool or provider does not exist or is disabled',
  unauthorized_client: 'the pool provider does not accept this broker identity',
  invalid_scope: 'Google STS rejected the requested scope',
  unsupported_grant_type: 'Google STS rejected the grant type',
  INVALID_ARGUMENT: 'a request parameter was rejected (lifetime, scope or delegates)',
  UNAUTHENTICATED: 'the presented token was not accepted',
  PERMISSION_DENIED: 'the broker identity may not impersonate this service account',
  'sts:PERMISSION_DENIED': 'Google STS denied the token exchange',
  NOT_FOUND: 'the service account does not exist',
  'sts:NOT_FOUND': 'Google STS does not know the pool provider',
  FAILED_PRECONDITION: 'the service account cannot be used (disabled or restricted)',
};

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A non-2xx answer from Google, reduced to what may be logged. */
export class GoogleStatusError extends Error {
  readonly status: number;
  /** The OAuth error or RPC status word, or `HTTP <status>` when the body has neither. */
  readonly code: string;
  readonly requestId: string | undefined;
  constructor(res: HttpResponse) {
    const code = errorWordOf(res);
    super(`Google answered ${res.status} ${code}`);
    this.name = 'GoogleStatusError';
    this.status = res.status;
    this.code = code;
    this.requestId = requestIdOf(res.headers);
  }
}

/** The error word of a Google error body: `invalid_grant`, `PERMISSION_DENIED`, else `HTTP <status>`. */
export function errorWordOf(res: HttpResponse): string {
  let body: unknown;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch {
    return `HTTP ${res.status}`;
  }
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'string' && /^[a-z_]{1,64}$/.test(error)) return error;
  const status = (error as { status?: unknown } | null | undefined)?.status;
  if (typeof status === 'string' && /^[A-Z_]{1,64}$/.test(status)) return status;
  return `HTTP ${res.status}`;
}

/** A request id from Google's headers when one is present and well-formed. */
export function requestIdOf(headers: Readonly<Record<string, string>>): string | undefined {
  const id = headers['x-goog-request-id'] ?? headers['x-request-id'];
  return id !== undefined && SAFE_REQUEST_ID.test(id) ? id : undefined;
}

/** Whether another attempt may succeed: 408/429/5xx answers, timeouts and network errors. */
export function isRetryableGoogleError(err: unknown): boolean {
  if (err instanceof GoogleStatusError) return isRetryableStatus(err.status);
  return isRetryableHttpError(err);
}

/** Maps the final failure of a Google call to an UpstreamError with a safe reason; rethrows bugs. */
export function toUpstreamError(
  err: unknown,
  service: GoogleService,
  operation: string,
  aborted: boolean,
): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const name = SERVICE_NAME[service];
  if (aborted || (err instanceof HttpError && err.kind === 'aborted')) {
    return new UpstreamError('unavailable', `${operation} aborted at the request deadline`);
  }
  if (err instanceof HttpError) {
    if (err.kind === 'too_large') return new UpstreamError('refused', `${name} answer exceeds the size cap`);
    const transport = err.kind === 'timeout' ? 'timed out' : 'network error';
    return new UpstreamError('unavailable', `${name} unreachable (${transport})`);
  }
  if (!(err instanceof GoogleStatusError)) throw err;
  const options = {
    cause: { status: err.status, code: err.code },
    ...(err.requestId ? { upstreamRequestId: err.requestId } : {}),
  };
  if (isRetryableStatus(err.status)) {
    return new UpstreamError('unavailable', `${err.code}: ${name} unavailable after retries`, options);
  }
  const phrase = PHRASES[`${service}:${err.code}`] ?? PHRASES[err.code] ?? `${name} refused the request`;
  return new UpstreamError('refused', `${err.code}: ${phrase}`, options);
}
