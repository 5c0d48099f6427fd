/**
 * The two per-request series of SPEC §7 — `http_requests_total{method,
 * route,status_code}` and `http_request_duration_seconds{method,route}` —
 * as plain metrics (plain-metrics.ts: prom-client's text, without its
 * per-call label validation and hashing).
 */
import type { Registry } from 'prom-client';
import { plainCounter, plainHistogram } from './plain-metrics.ts';

/** Records answered requests. */
export interface HttpMetrics {
  record(method: string, route: string, statusCode: number, seconds: number): void;
}

/** Registers both series on `registry` and returns the recorder. */
export function registerHttpMetrics(
  registry: Registry,
  options: { buckets: readonly number[] },
): HttpMetrics {
  const requests = plainCounter(registry, {
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template.',
    labelNames: ['method', 'route', 'status_code'],
  });
  const durations = plainHistogram(registry, {
    name: 'http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by route template.',
    labelNames: ['method', 'route'],
    buckets: options.buckets,
  });
  return {
    record(method, route, statusCode, seconds) {
      requests.inc([method, route, String(statusCode)]);
      durations.observe([method, route], seconds);
    },
  };
}
