/**
 * The broker's Prometheus metrics (SPEC §7), on a registry of their own so
 * several apps in one process (tests, the sandbox) never collide. Every
 * label value is bounded by the config or by code: configured names,
 * operations, reasons, results — never a subject, token id, URL path or
 * client-supplied key name.
 */
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Config } from '../core/config/schema.ts';
import type { Telemetry } from '../core/types.ts';
import { registerHttpMetrics } from './http-metrics.ts';
import { plainCounter, plainHistogram } from './plain-metrics.ts';

/** Result label of every counter that has one. */
export type Outcome = 'success' | 'failure';

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
  // Counters and histograms are plain metrics (plain-metrics.ts): the same text as
  // prom-client's, without its per-call label checks; a mint feeds several of them.
  const counter = (name: string, help: string, labelNames: readonly string[]) =>
    plainCounter(registry, { name, help, labelNames });
  return {
    http: registerHttpMetrics(registry, { buckets: HTTP_BUCKETS }),
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
    providerCalls: plainHistogram(registry, {
      name: 'voidkey_provider_call_duration_seconds',
      help: 'Calls to access providers (STS, IAM Credentials, Entra), seconds, retries included.',
      labelNames: ['provider', 'operation', 'result'],
      buckets: PROVIDER_BUCKETS,
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
      registers: [registry],
    }),
  };
}

/** Creates the registry with every broker metric, `voidkey_build_info{version}` = 1, and prom-client's defaults. */
export function createMetrics(options: { version: string; defaultMetrics?: boolean }): BrokerMetrics {
  const registry = new Registry();
  const m = defineMetrics(registry);
  m.buildInfo.set({ version: options.version }, 1);
  m.rateLimitErrors.inc([], 0);
  m.auditFailures.inc([], 0);
  for (const result of ['success', 'failure']) m.reloads.inc([result], 0);
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const telemetry: Telemetry = {
    tokenVerification: (idp, result, reason) => m.verifications.inc([idp, result, reason]),
    jwksFetch: (issuer, result) => m.jwks.inc([issuer, result]),
    brokerTokenRefresh: (audience, result) => m.refreshes.inc([audience, result]),
    providerCall: (provider, operation, result, seconds) =>
      m.providerCalls.observe([provider, operation, result], seconds),
  };

  return {
    registry,
    telemetry,
    httpRequest: (method, route, statusCode, seconds) => m.http.record(method, route, statusCode, seconds),
    mint: (provider, key, status) => m.minting.inc([provider, key, status]),
    rateLimitStoreError: () => m.rateLimitErrors.inc([]),
    replayStoreError: (operation) => m.replayErrors.inc([operation]),
    auditWriteFailure: () => m.auditFailures.inc([]),
    configReload: (result) => m.reloads.inc([result]),
    seed(config) {
      for (const identity of config.clientIdentities) {
        for (const [key, { provider }] of Object.entries(identity.keys)) {
          for (const status of ['success', 'failure']) m.minting.inc([provider, key, status], 0);
        }
      }
    },
  };
}
