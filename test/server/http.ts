/** Assertions on broker HTTP answers, shared by the server tests. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { BrokerError, ERROR_TABLE, type ErrorCode } from '../../src/core/errors.ts';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Asserts the exact error body and headers of docs/errors.md; returns the body. */
export function assertError(
  res: LightMyRequestResponse,
  code: ErrorCode,
  expected: { details?: unknown; message?: string | RegExp; retryAfter?: number } = {},
): Record<string, unknown> {
  const body = res.json() as Record<string, unknown>;
  assert.equal(res.statusCode, ERROR_TABLE[code].status, `status for ${code}: ${res.body}`);
  assert.equal(body.error, code);
  const keys = ['error', 'message', 'requestId', 'timestamp'];
  if (expected.details !== undefined) keys.push('details');
  if (expected.retryAfter !== undefined) keys.push('retryAfter');
  assert.deepEqual(Object.keys(body).sort(), keys.sort());
  if (expected.details !== undefined) assert.deepEqual(body.details, expected.details);
  if (typeof expected.message === 'string') assert.equal(body.message, expected.message);
  else if (expected.message) assert.match(String(body.message), expected.message);
  else assert.equal(typeof body.message, 'string');
  assert.equal(body.requestId, res.headers['x-request-id']);
  assert.match(String(body.timestamp), ISO);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.match(String(res.headers['content-type']), /^application\/json/);
  return body;
}

/**
 * Asserts that `res` is the core's `error` passed through: the error body of
 * its code with its message, details and retryAfter as they are on the wire.
 */
export function assertSameError(res: LightMyRequestResponse, error: unknown): Record<string, unknown> {
  assert.ok(error instanceof BrokerError, `the core answered ${String(error)}`);
  return assertError(res, error.code, {
    message: error.message,
    ...(error.details === undefined ? {} : { details: JSON.parse(JSON.stringify(error.details)) }),
    ...(error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter }),
  });
}

/** Asserts a 200 whose body is the core's `answer` serialised unchanged, never cached. */
export function assertSameAnswer(res: LightMyRequestResponse, answer: unknown): void {
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.match(String(res.headers['content-type']), /^application\/json/);
  assert.equal(res.body, JSON.stringify(answer));
}

/** True for a generated request id. */
export function isUuid(value: unknown): boolean {
  return typeof value === 'string' && UUID.test(value);
}

/** A pino logger writing into `lines` (debug level), to assert what logs contain. */
export function captureLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, stream) };
}

/** JSON request options with an optional bearer token. */
export function jsonPost(url: string, payload: unknown, token?: string) {
  return {
    method: 'POST' as const,
    url,
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
  };
}
