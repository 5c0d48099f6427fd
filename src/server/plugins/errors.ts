/**
 * The one place errors become responses. Whatever is thrown — a BrokerError,
 * a fastify error (bad JSON, body too large, schema), or a bug — leaves as
 * `{error, message, details?, requestId, timestamp, retryAfter?}` with a code
 * from the closed table. Unknown errors answer a fixed 500 message; the real
 * error goes to the log only. Unknown routes are 404, known routes with
 * another method 405 with `Allow`.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BrokerError, type ErrorCode, InvalidRequestError } from '../../core/errors.ts';

/** The wire shape of every error (docs/errors.md). */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
  requestId: string;
  timestamp: string;
  retryAfter?: number;
}

const STATUS_CODES: Readonly<Record<number, ErrorCode>> = {
  400: 'INVALID_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMIT_EXCEEDED',
  503: 'SERVICE_UNAVAILABLE',
};

// Fastify's own messages may echo the URL (which can hold a query token).
const SAFE_MESSAGES: Readonly<Record<string, string>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'The request body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'The request body is empty',
  FST_ERR_BAD_URL: 'The request URL is malformed',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
};

/** Maps `error` into the closed set; undefined for anything unknown (a 500). */
export function toBrokerError(error: unknown): BrokerError | undefined {
  if (error instanceof BrokerError) return error;
  if (!isFastifyError(error)) return undefined;
  if (error.validation) return new InvalidRequestError(describeValidation(error));
  const code = STATUS_CODES[error.statusCode ?? 500];
  if (code === 'INVALID_REQUEST') {
    return new InvalidRequestError(SAFE_MESSAGES[error.code] ?? 'The request is malformed');
  }
  if (code) return new BrokerError(code);
  const status = error.statusCode ?? 500;
  return status >= 400 && status < 500 ? new InvalidRequestError('The request is malformed') : undefined;
}

function isFastifyError(error: unknown): error is FastifyError {
  if (!(error instanceof Error)) return false;
  const { code, validation } = error as Partial<FastifyError>;
  return Array.isArray(validation) || (typeof code === 'string' && code.startsWith('FST_'));
}

/** One safe line for the first schema violation (no values, names truncated). */
function describeValidation(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return 'The request fails validation';
  const where = `${error.validationContext ?? 'request'}${first.instancePath}`;
  const unknownField = (first.params as { additionalProperty?: unknown }).additionalProperty;
  if (first.keyword === 'additionalProperties' && typeof unknownField === 'string') {
    return `${where}: unknown field ${JSON.stringify(unknownField.slice(0, 64))}`;
  }
  return `${where} ${first.message ?? 'is invalid'}`;
}

/** Sends `error` as the docs/errors.md body with its headers (no-store, request id, auth challenge). */
export function sendError(request: FastifyRequest, reply: FastifyReply, error: BrokerError): FastifyReply {
  const body: ErrorBody = {
    error: error.code,
    message: error.message,
    ...(error.details === undefined ? {} : { details: error.details }),
    requestId: request.id,
    timestamp: new Date().toISOString(),
    ...(error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter }),
  };
  reply.code(error.status).header('cache-control', 'no-store').header('x-request-id', request.id);
  if (error.code === 'UNAUTHORIZED') reply.header('www-authenticate', 'Bearer');
  if (error.code === 'INVALID_TOKEN') reply.header('www-authenticate', 'Bearer error="invalid_token"');
  if (error.retryAfter !== undefined) reply.header('retry-after', String(Math.ceil(error.retryAfter)));
  return reply.type('application/json; charset=utf-8').send(body);
}

/** Maps, logs and sends any error; for the error handler and fastify's `frameworkErrors`. */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = toBrokerError(error);
  if (!mapped) {
    request.log.error({ err: error }, 'unhandled error');
    return sendError(request, reply, new BrokerError('INTERNAL_ERROR'));
  }
  const facts = { code: mapped.code, ...(mapped.details ? { details: mapped.details } : {}) };
  if (mapped.status >= 500) request.log.warn({ ...facts, err: mapped.cause ?? mapped }, 'request failed');
  else request.log.info(facts, 'request refused');
  return sendError(request, reply, mapped);
}

/** Installs the error handler and the 404/405 handler; call before any route is added. */
export function registerErrorHandling(app: FastifyInstance): void {
  const methodsByPath = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = methodsByPath.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    methodsByPath.set(route.url, methods);
  });

  app.setErrorHandler((error, request, reply) => handleError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    const methods = methodsByPath.get(request.url.split('?', 1)[0] as string);
    if (!methods) return sendError(request, reply, new BrokerError('NOT_FOUND'));
    reply.header('allow', [...methods].sort().join(', '));
    return sendError(request, reply, new BrokerError('METHOD_NOT_ALLOWED'));
  });
}
