/**
 * Rate limits (`rateLimit` in docs/configuration.md, 429 in docs/errors.md),
 * two layers over one counter store (state/):
 *
 * - per client IP, on every request except `/health*` and `/metrics`, with
 *   @fastify/rate-limit counting in the shared counters. The IP is
 *   fastify's `request.ip` (IPv6 by /64, the plugin's default), so
 *   `server.trustProxy` decides whose address counts. The plugin's own
 *   headers are off: the config may ask for the legacy and the IETF set
 *   together, and `X-RateLimit-Reset` is Unix seconds here (as the original
 *   API documents), not a delta.
 * - per verified identity (`rateLimit.perSubject`), a step of the mint
 *   route after the token is verified, so forged tokens cannot spend
 *   someone else's budget and one identity cannot spend a provider's quota.
 *
 * A store that fails never blocks traffic (fail open): the error is logged
 * (at most every 10 s) and counted. The plugin's `skipOnError` would
 * swallow it silently, so it stays off and the error is caught here.
 */
import fastifyRateLimit, { type FastifyRateLimitStore } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { RateLimitConfig } from '../../core/config/schema.ts';
import { BrokerError } from '../../core/errors.ts';
import type { Logger } from '../../core/types.ts';
import { type BrokerMetrics, METRICS_PATH } from '../metrics.ts';
import type { SubjectLimiter } from '../routes/credentials.ts';
import { type CounterStore, counterKey } from '../state/index.ts';

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
  /** The counters (memory for this instance, or Redis for every instance). */
  counters: CounterStore;
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

/**
 * @fastify/rate-limit's store contract over `counters`, keys `counterKey.ip`.
 * (Its own memory store answers a concurrent burst with one shared record,
 * refusing the whole burst; each increment here answers its own count.)
 */
function storeOver(counters: CounterStore, now: () => number = Date.now) {
  return class CounterStoreAdapter implements FastifyRateLimitStore {
    incr(
      address: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      timeWindow: number,
    ): void {
      counters.increment(counterKey.ip(address), timeWindow).then(
        ({ count, resetAt }) => callback(null, { current: count, ttl: Math.max(0, resetAt - now()) }),
        (error: Error) => callback(error),
      );
    }

    child(): FastifyRateLimitStore {
      return this;
    }
  };
}

/** Registers the per-IP limit on the root instance (a no-op per request while `enabled` is false). */
async function ipRateLimit(app: FastifyInstance, options: IpLimitOptions): Promise<void> {
  const { settings } = options;
  await app.register(fastifyRateLimit, {
    global: false,
    max: () => settings().max,
    timeWindow: () => settings().windowMs,
    skipOnError: false,
    store: storeOver(options.counters),
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
}

/** The per-IP limit, applying to every route of the instance that registers it. */
export const ipRateLimitPlugin = fp(ipRateLimit, { name: 'voidkey-ip-rate-limit', fastify: '5.x' });

/** What the per-subject limit needs; `settings` undefined turns it off. */
export interface SubjectLimitOptions {
  settings: () => Readonly<{ windowMs: number; max: number }> | undefined;
  counters: CounterStore;
  logger: Logger;
  metrics: Pick<BrokerMetrics, 'rateLimitStoreError'>;
  /** Clock, ms (default Date.now). */
  now?: () => number;
}

/**
 * A check to run once per verified mint: resolves while the identity is
 * within `rateLimit.perSubject`, else throws 429 RATE_LIMIT_EXCEEDED with
 * `retryAfter`. Store failures let the request through (logged, counted).
 */
export function createSubjectLimiter(options: SubjectLimitOptions): SubjectLimiter {
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
      ({ count, resetAt } = await options.counters.increment(
        counterKey.subject(verified),
        settings.windowMs,
      ));
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
