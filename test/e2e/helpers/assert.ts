/** Assertions shared by the e2e files: the SPEC §4 error body and headers. */
import assert from 'node:assert/strict';
import { ERROR_TABLE, type ErrorCode } from '../../../src/core/errors.ts';
import { type ApiResponse, isIsoTimestamp } from './http.ts';

/**
 * Asserts `res` is the error `code` with its table status and message, the
 * exact body keys, `requestId` equal to the `X-Request-ID` header, an ISO
 * `timestamp`, `Cache-Control: no-store`, and `WWW-Authenticate: Bearer` on 401s.
 * `details` is compared exactly when given, and must be absent when `null`.
 * `message` defaults to the table's (INVALID_REQUEST messages vary: any non-empty one).
 */
export function assertError(
  res: ApiResponse,
  code: ErrorCode,
  details?: Record<string, unknown> | null,
  message?: string,
): void {
  const { status } = ERROR_TABLE[code];
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.equal(res.body?.error, code, res.text);
  if (message !== undefined) assert.equal(res.body.message, message);
  else if (code === 'INVALID_REQUEST')
    assert.ok(typeof res.body.message === 'string' && res.body.message !== '');
  else assert.equal(res.body.message, ERROR_TABLE[code].message);
  assert.equal(res.body.requestId, res.headers.get('x-request-id'));
  assert.ok(isIsoTimestamp(res.body.timestamp), `timestamp ${res.body.timestamp}`);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  if (status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer\b/);
  const allowed = new Set(['error', 'message', 'details', 'requestId', 'timestamp', 'retryAfter']);
  for (const k of Object.keys(res.body)) assert.ok(allowed.has(k), `unexpected error body field ${k}`);
  if (details === null) assert.equal(res.body.details, undefined);
  else if (details !== undefined) assert.deepEqual(res.body.details, details);
}

/** Asserts a 401 INVALID_TOKEN with `details.reason` = `reason` and the reason's fixed wire message. */
export function assertInvalidToken(res: ApiResponse, reason: string): void {
  assertError(
    res,
    'INVALID_TOKEN',
    { reason },
    `The token could not be verified: ${reason.replaceAll('_', ' ')}`,
  );
}
