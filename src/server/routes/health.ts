/**
 * `/health`, `/health/live`, `/health/ready` (SPEC §7). What is checked comes
 * from a HealthProbe; without one, the broker reports only that its config
 * is loaded. `/health` answers 200 for healthy and degraded and 503 only for
 * unhealthy, so one broken IdP never takes every instance out of rotation.
 */
import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { ServiceUnavailableError } from '../../core/errors.ts';

export type HealthState = 'healthy' | 'degraded' | 'unhealthy';

/** The verdict of a probe. */
export interface HealthReport {
  status: HealthState;
  checks: Record<string, HealthState>;
  errors?: string[];
}

/** What the health routes ask; the operations layer supplies the real one. */
export interface HealthProbe {
  /** Runs (or returns cached) checks. */
  report(): Promise<HealthReport>;
  /** Ready to take traffic: config loaded, broker identity obtainable, not draining. */
  ready(): Promise<boolean>;
}

/** The probe used when none is given: config loaded, always ready. */
export const configOnlyProbe: HealthProbe = {
  report: async () => ({ status: 'healthy', checks: { config: 'healthy' } }),
  ready: async () => true,
};

/** The package version from package.json (same relative path from src/ and dist/). */
export function readPackageVersion(): string {
  const url = new URL('../../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

/** Options of {@link registerHealthRoutes}. */
export interface HealthRouteOptions {
  version: string;
  probe: HealthProbe;
}

/** Registers the three health routes. */
export function registerHealthRoutes(app: FastifyInstance, options: HealthRouteOptions): void {
  app.get('/health', async (_request, reply) => {
    const report = await options.probe.report();
    reply.code(report.status === 'unhealthy' ? 503 : 200);
    return {
      status: report.status,
      timestamp: new Date().toISOString(),
      version: options.version,
      uptime: Math.floor(process.uptime()),
      checks: report.checks,
      ...(report.errors && report.errors.length > 0 ? { errors: report.errors } : {}),
    };
  });

  app.get('/health/live', async () => ({ status: 'alive', timestamp: new Date().toISOString() }));

  app.get('/health/ready', async () => {
    if (!(await options.probe.ready())) {
      throw new ServiceUnavailableError({ message: 'Not ready to serve', details: { reason: 'not_ready' } });
    }
    return { status: 'ready', timestamp: new Date().toISOString() };
  });
}
