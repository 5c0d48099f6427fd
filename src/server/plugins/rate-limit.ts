/**
 * Rate limits (SPEC §2 `rateLimit`, §4 429). Two layers:
 *
 * - per client IP, on every request except `/health*` and `/metrics`, with
 *   @fastify/rate-limit's stores (memory, or Redis when a client is given).
 *   The IP is fastify's `request.ip`, so `server.trustProxy` decides whose
 *   address counts. The plugin's own headers are off: the config may ask
 *   for the legacy and the IETF set together, and `X-RateLimit-Reset` is
 *   Unix seconds here (as the original API documents), not a delta.
 * - per verified identity (`rateLimit.perSubject`), keyed by (iss, sub)
 *   after the token is verified, so forged tokens cannot spend someone
 *   else's budget and one identity cannot spend a provider's quota.
 *
 * A store that fails never blocks traffic (fail open, SPEC §7): the error
 * is logged (at most every 10 s) and counted. The plugin's `skipOnError`
 * would swallow it silently, so it stays off and the error is caught here.
 */
import { createHash } from 'node:crypto';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RateLimitConfig } from '../../core/config/schema.ts';
import { BrokerError } from '../../core/errors.ts';
import type { Logger, VerifiedToken } from '../../core/types.ts';
import type { CounterStore } from '../store/types.ts';
import type { BrokerMetrics } from '../telemetry.ts';
import { METRICS_PATH } from './metrics.ts';
import { SnapshotMemoryStore } from './rate-limit-memory-store.ts';
import { rootPlugin } from './root.ts';

/** Routes no limit applies to (load balancers and Prometheus poll them). */
export const EXEMPT_ROUTES: ReadonlySet<string> = new Set([
  '/health',
  '/health/live',
  '/health/ready',
  METRICS_PATH,
]);

/** What the IP limit needs. `settings` is read per request, so a reload applies at once. */
export interface IpLimitOptions {
  settings: () => Readonly<RateLimitConfig>;
  logger: Logger;
  metrics: Pick<BrokerMetrics, 'rateLimitStoreError'>;
  /** An ioredis client: counters shared by every instance (default: memory, per instance). */
  redis?: unknown;
  /** Redis key prefix (default `voidkey:rate-limit:ip:`). */
  nameSpace?: string;
}

interface Window {
  limit: number;
  remaining: number;
  /** ms until the window resets. */
  ttl: number;
}

/** A logger call that speaks at most once per `intervalMs`. */
function throttled(log: (facts: object) => void, intervalMs = 10_000): (facts: object) => void {
  let last = Number.NEGATIVE_INFINITY;
  return (facts) => {
    const t = Date.now();
    if (t - last < intervalMs) return;
    last = t;
    log(facts);
  };
}

function setHeaders(reply: FastifyReply, settings: Readonly<RateLimitConfig>, w: Window): void {
  const ttlSeconds = Math.max(0, Math.ceil(w.ttl / 1000));
  if (settings.legacyHeaders) {
    reply.header('x-ratelimit-limit', w.limit);
    reply.header('x-ratelimit-remaining', w.remaining);
    reply.header('x-ratelimit-reset', Math.ceil((Date.now() + w.ttl) / 1000));
  }
  if (settings.standardHeaders) {
    reply.header('ratelimit-limit', w.limit);
    reply.header('ratelimit-remaining', w.remaining);
    reply.header('ratelimit-reset', ttlSeconds);
  }
}

/** Registers the per-IP limit on the root instance (a no-op per request while `enabled` is false). */
export const ipRateLimitPlugin = rootPlugin(async (app: FastifyInstance, options: IpLimitOptions) => {
  const { settings } = options;
  await app.register(fastifyRateLimit, {
    global: false,
    max: () => settings().max,
    timeWindow: () => settings().windowMs,
    skipOnError: false,
    cache: 10_000,
    ...(options.redis
      ? { redis: options.redis as never, nameSpace: options.nameSpace ?? 'voidkey:rate-limit:ip:' }
      : // The plugin's memory store refuses a whole concurrent burst (see the store's comment).
        { store: SnapshotMemoryStore }),
  });
  const limit = app.createRateLimit();
  const storeFailed = throttled((facts) =>
    options.logger.warn(facts, 'rate-limit store failed; the request is let through'),
  );

  async function check(request: FastifyRequest, reply: FastifyReply, current: Readonly<RateLimitConfig>) {
    let state: Awaited<ReturnType<typeof limit>>;
    try {
      state = await limit(request);
    } catch (error) {
      options.metrics.rateLimitStoreError();
      storeFailed({ err: error, scope: 'ip' });
      return;
    }
    if (state.isAllowed) return;
    setHeaders(reply, current, { limit: state.max, remaining: state.remaining, ttl: state.ttl });
    if (!state.isExceeded) return;
    throw new BrokerError('RATE_LIMIT_EXCEEDED', {
      message: current.message,
      retryAfter: Math.max(1, state.ttlInSeconds),
    });
  }

  app.addHook('onRequest', (request, reply, done) => {
    const current = settings();
    if (!current.enabled || EXEMPT_ROUTES.has(request.routeOptions.url ?? '')) return done();
    check(request, reply, current).then(() => done(), done);
  });
});

/** What the per-subject limit needs; `settings` undefined turns it off. */
export interface SubjectLimitOptions {
  settings: () => Readonly<{ windowMs: number; max: number }> | undefined;
  store: CounterStore;
  logger: Logger;
  metrics: Pick<BrokerMetrics, 'rateLimitStoreError'>;
  /** Clock, ms (default Date.now). */
  now?: () => number;
}

/** The store key of an identity: a hash, so no subject is written to a shared store. */
export function subjectKey(verified: Pick<VerifiedToken, 'iss' | 'sub'>): string {
  return `subject:${createHash('sha256').update(`${verified.iss}\n${verified.sub}`).digest('hex')}`;
}

/**
 * A check to run once per verified mint: resolves while the identity is
 * within `rateLimit.perSubject`, else throws 429 RATE_LIMIT_EXCEEDED with
 * `retryAfter`. Store failures let the request through (logged, counted).
 */
export function createSubjectLimiter(
  options: SubjectLimitOptions,
): (verified: VerifiedToken) => Promise<void> {
  const now = options.now ?? Date.now;
  const storeFailed = throttled((facts) =>
    options.logger.warn(facts, 'rate-limit store failed; the request is let through'),
  );
  return async (verified) => {
    const settings = options.settings();
    if (!settings) return;
    let count: number;
    let resetAt: number;
    try {
      ({ count, resetAt } = await options.store.increment(subjectKey(verified), settings.windowMs));
    } catch (error) {
      options.metrics.rateLimitStoreError();
      storeFailed({ err: error, scope: 'subject' });
      return;
    }
    if (count <= settings.max) return;
    throw new BrokerError('RATE_LIMIT_EXCEEDED', {
      message: 'Too many requests for this identity',
      details: { scope: 'identity' },
      retryAfter: Math.max(1, Math.ceil((resetAt - now()) / 1000)),
    });
  };
}
