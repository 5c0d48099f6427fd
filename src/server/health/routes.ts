/**
 * `/health`, `/health/live`, `/health/ready` (docs/operations.md). What is
 * checked comes from a HealthProbe (probe.ts). `/health` answers 200 for
 * healthy and degraded and 503 only for unhealthy, so one broken IdP never
 * takes every instance out of rotation.
 */
import type { FastifyInstance } from 'fastify';
import { ServiceUnavailableError } from '../../core/errors.ts';
import type { HealthProbe } from './probe.ts';

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
