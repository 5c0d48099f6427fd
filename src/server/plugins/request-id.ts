/**
 * Request ids and request logs. The id is the client's `X-Request-ID` when it
 * is short and plain, else a random UUID; fastify's `genReqId` makes it
 * `request.id`, so every log line of the request carries it as `requestId`,
 * and every response echoes it (app.ts's first hook and the error handler).
 * The completion line logs the path without its query string: a `?token=`
 * must never reach a log.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

const ACCEPTED = /^[A-Za-z0-9._:-]{1,128}$/;

/** The id for `raw`: its `X-Request-ID` when it matches SPEC §4's pattern, else a new UUID. */
export function requestIdFor(raw: Pick<IncomingMessage, 'headers'>): string {
  const offered = raw.headers['x-request-id'];
  return typeof offered === 'string' && ACCEPTED.test(offered) ? offered : randomUUID();
}

/** The URL path of `request`, without its query string. */
export function pathOf(request: Pick<FastifyRequest, 'url'>): string {
  const url = request.url;
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** True when `log` is a pino logger that would drop lines at `level`. */
function levelDisabled(log: FastifyRequest['log'], level: 'debug' | 'info'): boolean {
  return (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.(level) === false;
}

/** Fastify's per-request log lines, without query strings; health probes and scrapes at debug. */
class RequestLog extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'requestId' });
  }

  override incomingRequest(): void {}

  override routeNotFound(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    // Most brokers log at info; at warn and above a successful request writes nothing, so builds
    // nothing (debug is below info: a probe's line is off too).
    if (!error && levelDisabled(request.log, 'info')) return;
    const path = pathOf(request);
    const probe = path.startsWith('/health') || path === '/metrics';
    if (!error && probe && levelDisabled(request.log, 'debug')) return;
    const agent = request.headers['user-agent'];
    const facts = {
      method: request.method,
      // The template (bounded, no ids); `unmatched` when only the 404 handler saw it.
      route: request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched'),
      path,
      statusCode: reply.statusCode,
      responseTime: reply.elapsedTime,
      ...(typeof agent === 'string' ? { userAgent: agent.slice(0, 256) } : {}),
    };
    if (error) request.log.error({ ...facts, err: error }, 'request errored');
    else if (probe) request.log.debug(facts, 'request completed');
    else request.log.info(facts, 'request completed');
  }
}

/** Fastify constructor options that make `request.id` the request id and shape request logs. */
export function requestIdOptions() {
  return {
    // Fastify's own header handling would accept any value; genReqId validates.
    requestIdHeader: false as const,
    genReqId: requestIdFor,
    logController: new RequestLog(),
  };
}
