/**
 * Entra token-endpoint failures mapped to UpstreamError. Entra answers
 * `{error, error_description, error_codes, trace_id, correlation_id}`; the
 * reason is the OAuth error, the AADSTS number from `error_codes` and a fixed
 * phrase, never the description (it quotes the assertion's issuer, subject
 * and audience).
 */
import { UpstreamError } from '../../core/errors.ts';
import { HttpError, type HttpResponse } from '../../core/types.ts';
import { isRetryableHttpError, isRetryableStatus } from '../retry.ts';

const BY_AADSTS: Readonly<Record<number, string>> = {
  700211: 'no federated credential matches the broker token issuer',
  700212: 'no federated credential matches the broker token audience',
  700213: 'no federated credential matches the broker token subject',
  7002138: 'no federated credential matches the broker token subject (case differs)',
  700024: 'the broker token is outside its valid time range',
  700027: 'the broker token signature could not be verified',
  50027: 'the broker token is malformed',
  700016: 'the application (clientId) was not found in the tenant',
  90002: 'the tenant was not found',
  1002012: 'the scope must be one resource ending /.default',
  70011: 'the scope is not valid',
  500011: 'the resource of the scope was not found in the tenant',
};

const BY_ERROR: Readonly<Record<string, string>> = {
  invalid_client: 'Entra did not accept the broker token as client assertion',
  invalid_grant: 'Entra rejected the grant',
  unauthorized_client: 'the application may not use this grant',
  invalid_scope: 'the scope is not valid for this application',
  invalid_request: 'Entra rejected the request',
  invalid_resource: 'the resource of the scope is not valid',
  unsupported_grant_type: 'Entra rejected the grant type',
};

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A non-2xx answer from Entra, reduced to what may be logged. */
export class EntraStatusError extends Error {
  readonly status: number;
  /** `invalid_client (AADSTS700213)`, `invalid_client`, or `HTTP <status>`. */
  readonly code: string;
  /** The OAuth error word, when the body has one. */
  readonly error: string | undefined;
  readonly aadsts: number | undefined;
  readonly requestId: string | undefined;
  constructor(res: HttpResponse) {
    const { error, aadsts, correlationId } = parseEntraError(res.body);
    const word = error ?? `HTTP ${res.status}`;
    const code = aadsts === undefined ? word : `${word} (AADSTS${aadsts})`;
    super(`Entra answered ${res.status} ${code}`);
    this.name = 'EntraStatusError';
    this.status = res.status;
    this.code = code;
    this.error = error;
    this.aadsts = aadsts;
    this.requestId = entraRequestId(res.headers, correlationId);
  }
}

/** The safe parts of an Entra error body: the OAuth error word, the first AADSTS number, the correlation id. */
export function parseEntraError(body: Buffer): {
  error?: string;
  aadsts?: number;
  correlationId?: string;
} {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body.toString('utf8')) ?? {};
  } catch {
    return {};
  }
  const error =
    typeof parsed.error === 'string' && /^[a-z_]{1,64}$/.test(parsed.error) ? parsed.error : undefined;
  const first = Array.isArray(parsed.error_codes) ? parsed.error_codes[0] : undefined;
  const aadsts = Number.isSafeInteger(first) && (first as number) > 0 ? (first as number) : undefined;
  const correlation = parsed.correlation_id;
  return {
    ...(error ? { error } : {}),
    ...(aadsts !== undefined ? { aadsts } : {}),
    ...(typeof correlation === 'string' && SAFE_ID.test(correlation) ? { correlationId: correlation } : {}),
  };
}

/** Entra's request id: the `x-ms-request-id` header, else the body's correlation id. */
export function entraRequestId(
  headers: Readonly<Record<string, string>>,
  correlationId?: string,
): string | undefined {
  const header = headers['x-ms-request-id'];
  if (header !== undefined && SAFE_ID.test(header)) return header;
  return correlationId;
}

/** Whether another attempt may succeed: 408/429/5xx answers, timeouts and network errors. */
export function isRetryableEntraError(err: unknown): boolean {
  if (err instanceof EntraStatusError) return isRetryableStatus(err.status);
  return isRetryableHttpError(err);
}

/** Maps the final failure of the token request to an UpstreamError with a safe reason; rethrows bugs. */
export function toUpstreamError(err: unknown, aborted: boolean): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (aborted || (err instanceof HttpError && err.kind === 'aborted')) {
    return new UpstreamError('unavailable', 'EntraTokenRequest aborted at the request deadline');
  }
  if (err instanceof HttpError) {
    if (err.kind === 'too_large') return new UpstreamError('refused', 'Entra answer exceeds the size cap');
    const transport = err.kind === 'timeout' ? 'timed out' : 'network error';
    return new UpstreamError('unavailable', `Entra unreachable (${transport})`);
  }
  if (!(err instanceof EntraStatusError)) throw err;
  const options = {
    cause: { status: err.status, code: err.code },
    ...(err.requestId ? { upstreamRequestId: err.requestId } : {}),
  };
  if (isRetryableStatus(err.status)) {
    return new UpstreamError('unavailable', `${err.code}: Entra unavailable after retries`, options);
  }
  const phrase =
    (err.aadsts !== undefined ? BY_AADSTS[err.aadsts] : undefined) ??
    (err.error !== undefined ? BY_ERROR[err.error] : undefined) ??
    'Entra refused the token request';
  return new UpstreamError('refused', `${err.code}: ${phrase}`, options);
}
