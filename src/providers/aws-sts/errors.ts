/**
 * STS failures mapped to UpstreamError: the AWS error code plus a fixed
 * phrase, never the upstream message (an STS message can quote the token).
 * Throttling, IdP trouble, 5xx, timeouts and network errors are retryable
 * and end as 'unavailable'; everything else the upstream said is 'refused'.
 */
import { UpstreamError } from '../../core/errors.ts';

const REFUSED: Record<string, string> = {
  AccessDenied: 'the role does not trust this broker identity',
  InvalidIdentityToken: 'STS rejected the broker token',
  IDPRejectedClaim: 'STS rejected a claim of the broker token',
  ExpiredToken: 'the presented token or session has expired',
  MalformedPolicyDocument: 'the session policy is malformed',
  PackedPolicyTooLarge: 'the session policy is too large',
  ValidationError: 'STS rejected a request parameter',
  RegionDisabled: 'STS is not activated in this region',
  InvalidClientTokenId: 'STS did not accept the first hop credentials',
  SignatureDoesNotMatch: 'STS did not accept the request signature',
};

const UNAVAILABLE = new Set([
  'Throttling',
  'RequestLimitExceeded',
  'TooManyRequests',
  'IDPCommunicationError',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalError',
  'RequestTimeout',
]);

interface SdkError {
  name?: string;
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** The AWS error code of an SDK error, without the SDK's `Exception` suffix; undefined for transport errors. */
export function awsErrorCode(err: unknown): string | undefined {
  const e = err as SdkError;
  if (e?.$metadata?.httpStatusCode === undefined) return undefined;
  const raw = e.Code ?? e.name ?? '';
  const code = raw.replace(/Exception$/, '');
  return /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(code) ? code : 'UnknownError';
}

/** Whether another attempt may succeed: throttling, IdP trouble, 5xx, timeouts, network errors. */
export function isRetryableStsError(err: unknown): boolean {
  if ((err as SdkError)?.name === 'AbortError') return false;
  const code = awsErrorCode(err);
  if (code === undefined) return true;
  const status = (err as SdkError).$metadata?.httpStatusCode ?? 0;
  return UNAVAILABLE.has(code) || status >= 500;
}

/** Maps the final failure of an STS operation to an UpstreamError with a safe reason. */
export function toUpstreamError(err: unknown, operation: string, aborted: boolean): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const upstreamRequestId = (err as SdkError)?.$metadata?.requestId;
  const options = { cause: safeCause(err), ...(upstreamRequestId ? { upstreamRequestId } : {}) };
  if (aborted || (err as SdkError)?.name === 'AbortError') {
    return new UpstreamError('unavailable', `${operation} aborted at the request deadline`, options);
  }
  const code = awsErrorCode(err);
  if (code === undefined) {
    const transport = (err as SdkError)?.name === 'TimeoutError' ? 'timed out' : 'network error';
    return new UpstreamError('unavailable', `STS unreachable (${transport})`, options);
  }
  if (isRetryableStsError(err))
    return new UpstreamError('unavailable', `${code}: STS unavailable after retries`, options);
  return new UpstreamError('refused', `${code}: ${REFUSED[code] ?? 'STS refused the request'}`, options);
}

/** What may be logged of an SDK error: name, code, status, request id — no message. */
function safeCause(err: unknown): Record<string, unknown> {
  const e = err as SdkError;
  return {
    name: e?.name,
    code: awsErrorCode(err) ?? e?.code,
    status: e?.$metadata?.httpStatusCode,
    requestId: e?.$metadata?.requestId,
  };
}
