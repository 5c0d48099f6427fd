/**
 * The operations layer around one app: metrics, audit, health, rate limits,
 * security headers and CORS, assembled for buildApp's plug points
 * (`headers`, `health`, `observer`, `limitSubject`, `extend`). Settings that may change on
 * reload are read through `config()`; the rest were fixed by the config at
 * start.
 */
import type { FastifyInstance } from 'fastify';
import type { Config, LoggingConfig } from '../core/config/schema.ts';
import { parseSize } from '../core/config/size.ts';
import type { Logger } from '../core/types.ts';
import { type AuditLog, createAuditLog } from './audit/log.ts';
import { createHealthProbe, type HealthProbe } from './health/probe.ts';
import { type BrokerMetrics, metricsPlugin } from './metrics.ts';
import { createRequestObserver } from './plugins/audit.ts';
import { corsPlugin } from './plugins/cors.ts';
import { createSubjectLimiter, ipRateLimitPlugin } from './plugins/rate-limit.ts';
import type { RequestObserver, SubjectLimiter } from './routes/credentials.ts';
import { securityHeaders } from './security-headers.ts';
import { type CounterStore, memoryCounterStore } from './state/index.ts';
import type { BrokerRuntime } from './wiring.ts';

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
  /** Where audit lines go on the log stream (default: a child of `logger` fixed at `info`). */
  auditChannel?: Logger;
  metrics: BrokerMetrics;
  configDir: string;
  /** The counters of both rate limits (default: memory, this instance). */
  counters?: CounterStore;
}

/** The pieces handed to buildApp, and what shutdown and reload need. */
export interface Operations {
  audit: AuditLog;
  health: HealthProbe & { invalidate(): void };
  observer: RequestObserver;
  /** For buildApp's `limitSubject`: `rateLimit.perSubject`, read per request. */
  limitSubject: SubjectLimiter;
  /** For buildApp's `headers`: the security headers (HSTS when the broker serves TLS). */
  headers: Readonly<Record<string, string>>;
  /** For buildApp's `extend`: CORS, metrics, per-IP rate limit, in that order. */
  extend(app: FastifyInstance): void;
}

/**
 * A logger for audit lines on the same stream as `logger`, fixed at `info`:
 * a pino child keeps its own level, so neither `logging.level` nor a reload
 * changing it filters the audit trail. A logger without children is used as is.
 */
export function auditChannelOf(logger: Logger): Logger {
  const child = (logger as { child?: (bindings: object, options: { level: string }) => Logger }).child;
  return typeof child === 'function' ? child.call(logger, {}, { level: 'info' }) : logger;
}

/** Assembles the operations layer. */
export function createOperations(options: OperationsOptions): Operations {
  const { started, config, logger, metrics } = options;
  metrics.seed(started);
  const auditSettings = (started.logging as LoggingConfig).audit;
  const audit = createAuditLog({
    settings: auditSettings,
    configDir: options.configDir,
    logger,
    channel: options.auditChannel ?? auditChannelOf(logger),
    metrics,
  });
  const health = createHealthProbe({
    runtime: options.runtime,
    audit,
    draining: options.draining,
    minFreeBytes: parseSize(auditSettings.maxSize as string | number) ?? 0,
  });
  const counters = options.counters ?? memoryCounterStore();
  const limitSubject = createSubjectLimiter({
    settings: () => config().rateLimit.perSubject,
    counters,
    logger,
    metrics,
  });
  const observer = createRequestObserver({ audit, metrics });

  function extend(app: FastifyInstance): void {
    if (started.server.cors) app.register(corsPlugin, { origins: () => config().server.cors?.origins ?? [] });
    app.register(metricsPlugin, metrics);
    app.register(ipRateLimitPlugin, { settings: () => config().rateLimit, logger, metrics, counters });
  }

  const headers = securityHeaders({ tls: started.server.tls !== undefined });
  return { audit, health, observer, limitSubject, headers, extend };
}
