/**
 * The broker's Prometheus metrics and `GET /metrics` (docs/operations.md),
 * on prom-client, with a registry of their own so several apps in one
 * process (tests, the sandbox) never collide. Every label value is bounded
 * by the config or by code: configured names, operations, reasons, results,
 * route templates — never a subject, token id, URL path or client-supplied
 * key name. Requests no route matched (404, 405) share `route="unmatched"`,
 * so a scanner cannot create series. The endpoint is unauthenticated; keep
 * it off public ingress (the nginx example does not expose it).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../core/config/schema.ts';
import type { Telemetry } from '../core/types.ts';

/** Result label of every counter that has one. */
export type Outcome = 'success' | 'failure';

/** The path of the metrics endpoint. */
export const METRICS_PATH = '/metrics';

/** The metrics of one broker process and the hooks that feed them. */
export interface BrokerMetrics {
  readonly registry: Registry;
  /** The core Telemetry port (verifier, broker tokens, providers). */
  readonly telemetry: Telemetry;
  /** One answered HTTP request; `route` is the template or `unmatched`, seconds. */
  httpRequest(method: string, route: string, statusCode: number, seconds: number): void;
  /** One key of a mint request; `key` must be a configured key name. */
  mint(provider: string, key: string, status: Outcome): void;
  /** A rate-limit store (memory or Redis) failed; the limit failed open. */
  rateLimitStoreError(): void;
  /** The one-time-token store failed (`operation`: claim | release). */
  replayStoreError(operation: string): void;
  /** An audit record could not be written to the audit file. */
  auditWriteFailure(): void;
  /** A SIGHUP reload was applied or refused. */
  configReload(result: Outcome): void;
  /** Creates the zero series of every configured (provider, key) so rates exist before the first mint. */
  seed(config: Readonly<Config>): void;
}

const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];
const PROVIDER_BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10];

/** Every instrument, registered on `registry`. */
function defineMetrics(registry: Registry) {
  const registers = [registry];
  const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Counter<L>({ name, help, labelNames, registers });
  return {
    requests: counter('http_requests_total', 'HTTP requests answered, by route template.', [
      'method',
      'route',
      'status_code',
    ]),
    durations: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by route template.',
      labelNames: ['method', 'route'] as const,
      buckets: HTTP_BUCKETS,
      registers,
    }),
    minting: counter('credential_minting_total', 'Keys minted or failed, by provider and key name.', [
      'provider',
      'key',
      'status',
    ]),
    verifications: counter(
      'voidkey_token_verifications_total',
      'Client token verifications by client IdP, result and reason.',
      ['idp', 'result', 'reason'],
    ),
    jwks: counter('voidkey_jwks_fetches_total', 'JWKS and discovery fetches by issuer and result.', [
      'issuer',
      'result',
    ]),
    providerCalls: new Histogram({
      name: 'voidkey_provider_call_duration_seconds',
      help: 'Calls to access providers (STS, IAM Credentials, Entra), seconds, retries included.',
      labelNames: ['provider', 'operation', 'result'] as const,
      buckets: PROVIDER_BUCKETS,
      registers,
    }),
    refreshes: counter(
      'voidkey_broker_token_refreshes_total',
      'Broker-token requests at the broker IdP by audience and result.',
      ['audience', 'result'],
    ),
    replayErrors: counter('voidkey_replay_store_errors_total', 'One-time-token store errors.', ['operation']),
    rateLimitErrors: counter(
      'voidkey_rate_limit_store_errors_total',
      'Rate-limit store errors (the limit failed open).',
      [],
    ),
    auditFailures: counter(
      'voidkey_audit_write_failures_total',
      'Audit records that could not be written.',
      [],
    ),
    reloads: counter('voidkey_config_reloads_total', 'SIGHUP config reloads by result.', ['result']),
    buildInfo: new Gauge({
      name: 'voidkey_build_info',
      help: 'Always 1; the version label says which build runs.',
      labelNames: ['version'] as const,
      registers,
    }),
  };
}

/** Creates the registry with every broker metric, `voidkey_build_info{version}` = 1, and prom-client's defaults. */
export function createMetrics(options: { version: string; defaultMetrics?: boolean }): BrokerMetrics {
  const registry = new Registry();
  const m = defineMetrics(registry);
  m.buildInfo.set({ version: options.version }, 1);
  for (const result of ['success', 'failure']) m.reloads.inc({ result }, 0);
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const telemetry: Telemetry = {
    tokenVerification: (idp, result, reason) => m.verifications.inc({ idp, result, reason }),
    jwksFetch: (issuer, result) => m.jwks.inc({ issuer, result }),
    brokerTokenRefresh: (audience, result) => m.refreshes.inc({ audience, result }),
    providerCall: (provider, operation, result, seconds) =>
      m.providerCalls.observe({ provider, operation, result }, seconds),
  };

  return {
    registry,
    telemetry,
    httpRequest(method, route, statusCode, seconds) {
      m.requests.inc({ method, route, status_code: statusCode });
      m.durations.observe({ method, route }, seconds);
    },
    mint: (provider, key, status) => m.minting.inc({ provider, key, status }),
    rateLimitStoreError: () => m.rateLimitErrors.inc(),
    replayStoreError: (operation) => m.replayErrors.inc({ operation }),
    auditWriteFailure: () => m.auditFailures.inc(),
    configReload: (result) => m.reloads.inc({ result }),
    seed(config) {
      for (const identity of config.clientIdentities) {
        for (const [key, { provider }] of Object.entries(identity.keys)) {
          for (const status of ['success', 'failure']) m.minting.inc({ provider, key, status }, 0);
        }
      }
    },
  };
}

// Node's parser accepts a fixed set of methods; anything rare is folded anyway.
const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The route template of `request`, or `unmatched` when only the 404 handler saw it. */
export function routeOf(request: FastifyRequest): string {
  const { url } = request.routeOptions;
  return url === undefined || request.is404 ? 'unmatched' : url;
}

/** Records every answered request and serves `GET /metrics` from `metrics.registry`. */
export const metricsPlugin = fp(
  async (app: FastifyInstance, metrics: BrokerMetrics) => {
    app.addHook('onResponse', (request, reply, done) => {
      const method = METHODS.has(request.method) ? request.method : 'OTHER';
      metrics.httpRequest(method, routeOf(request), reply.statusCode, reply.elapsedTime / 1000);
      done();
    });

    app.get(METRICS_PATH, async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    });
  },
  { name: 'voidkey-metrics', fastify: '5.x' },
);
