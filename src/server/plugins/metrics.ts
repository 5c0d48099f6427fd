/**
 * HTTP metrics and `GET /metrics` (SPEC §7). Requests are labelled by route
 * template (`/credentials/mint`), never by raw URL, and requests no route
 * matched (404, 405) share `route="unmatched"`, so a scanner cannot create
 * series. The endpoint is unauthenticated like the original's; keep it off
 * public ingress (the nginx example does not expose it).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { BrokerMetrics } from '../telemetry.ts';
import { rootPlugin } from './root.ts';

/** The path of the metrics endpoint. */
export const METRICS_PATH = '/metrics';

// Node's parser accepts a fixed set of methods; anything rare is folded anyway.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The route template of `request`, or `unmatched` when only the 404 handler saw it. */
export function routeOf(request: FastifyRequest): string {
  const { url } = request.routeOptions;
  return url === undefined || request.is404 ? 'unmatched' : url;
}

/** Records every answered request and serves `GET /metrics` from `metrics.registry`. */
export const metricsPlugin = rootPlugin(async (app: FastifyInstance, metrics: BrokerMetrics) => {
  app.addHook('onResponse', (request, reply, done) => {
    const method = METHODS.has(request.method) ? request.method : 'OTHER';
    metrics.httpRequest(method, routeOf(request), reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  app.get(METRICS_PATH, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
});
