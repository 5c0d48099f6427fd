/**
 * The operations layer around one app: metrics, audit, health, rate limits,
 * security headers and CORS, assembled for buildApp's plug points
 * (`headers`, `health`, `observer`, `extend`). Settings that may change on
 * reload are read through `config()`; the rest were fixed by the config at
 * start.
 */
import type { FastifyInstance } from 'fastify';
import type { Config, LoggingConfig } from '../core/config/schema.ts';
import { parseSize } from '../core/config/size.ts';
import type { Logger } from '../core/types.ts';
import { type AuditLog, createAuditLog } from './audit/log.ts';
import { createHealthProbe } from './health.ts';
import { createRequestObserver } from './plugins/audit.ts';
import { corsPlugin } from './plugins/cors.ts';
import { metricsPlugin } from './plugins/metrics.ts';
import { createSubjectLimiter, ipRateLimitPlugin } from './plugins/rate-limit.ts';
import type { RequestObserver } from './routes/credentials.ts';
import type { HealthProbe } from './routes/health.ts';
import { securityHeaders } from './security-headers.ts';
import { memoryCounterStore } from './store/memory.ts';
import type { CounterStore } from './store/types.ts';
import type { BrokerMetrics } from './telemetry.ts';
import type { BrokerRuntime } from './wiring.ts';

/** Shared state stores; memory when absent (the Redis issue supplies both). */
export interface Stores {
  /** An ioredis client for the per-IP counters. */
  redis?: unknown;
  /** Key prefix for the per-IP counters in Redis (default `voidkey:rate-limit:ip:`). */
  redisNameSpace?: string;
  /** Counters of the per-subject limit. */
  subjects?: CounterStore;
}

/** What {@link createOperations} needs. */
export interface OperationsOptions {
  /** The config the process started with. */
  started: Readonly<Config>;
  /** The current config (after reloads). */
  config: () => Readonly<Config>;
  runtime: () => BrokerRuntime | undefined;
  /** True once shutdown has begun (readiness false). */
  draining: () => boolean;
  logger: Logger;
  metrics: BrokerMetrics;
  configDir: string;
  stores?: Stores;
}

/** The pieces handed to buildApp, and what shutdown and reload need. */
export interface Operations {
  audit: AuditLog;
  health: HealthProbe & { invalidate(): void };
  observer: RequestObserver;
  /** For buildApp's `headers`: the security headers (HSTS when the broker serves TLS). */
  headers: Readonly<Record<string, string>>;
  /** For buildApp's `extend`: CORS, metrics, per-IP rate limit, in that order. */
  extend(app: FastifyInstance): void;
}

/** Assembles the operations layer. */
export function createOperations(options: OperationsOptions): Operations {
  const { started, config, logger, metrics } = options;
  metrics.seed(started);
  const auditSettings = (started.logging as LoggingConfig).audit;
  const audit = createAuditLog({ settings: auditSettings, configDir: options.configDir, logger, metrics });
  const health = createHealthProbe({
    runtime: options.runtime,
    audit,
    draining: options.draining,
    minFreeBytes: parseSize(auditSettings.maxSize as string | number) ?? 0,
  });
  const limitSubject = createSubjectLimiter({
    settings: () => config().rateLimit.perSubject,
    store: options.stores?.subjects ?? memoryCounterStore(),
    logger,
    metrics,
  });
  const observer = createRequestObserver({ audit, metrics, limitSubject });

  function extend(app: FastifyInstance): void {
    if (started.server.cors) app.register(corsPlugin, { origins: () => config().server.cors?.origins ?? [] });
    app.register(metricsPlugin, metrics);
    app.register(ipRateLimitPlugin, {
      settings: () => config().rateLimit,
      logger,
      metrics,
      ...(options.stores?.redis ? { redis: options.stores.redis } : {}),
      ...(options.stores?.redisNameSpace ? { nameSpace: options.stores.redisNameSpace } : {}),
    });
  }

  const headers = securityHeaders({ tls: started.server.tls !== undefined });
  return { audit, health, observer, headers, extend };
}
