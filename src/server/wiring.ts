/**
 * Builds the broker's runtime from one config snapshot: the client-token
 * verifier, the broker-token source, the providers and the use cases over
 * them. A config reload builds a new runtime and swaps it in whole.
 */
import { type BrokerTokens, createBrokerTokenSource } from '../core/broker-token/index.ts';
import type { BrokerIdpConfig, ClientIdpConfig, Config } from '../core/config/schema.ts';
import { type CredentialBroker, createCredentialBroker, type ReplayGuard } from '../core/mint/index.ts';
import type { Policy } from '../core/policy/index.ts';
import { type ClientTokenVerifier, createTokenVerifier } from '../core/token/index.ts';
import {
  type AccessProvider,
  type HttpClient,
  type Logger,
  noTelemetry,
  silentLogger,
  type Telemetry,
} from '../core/types.ts';
import { createDispatcher, createHttpClient, withIdempotentRetries } from '../providers/http.ts';
import { createProviders } from '../providers/index.ts';
import { memoryReplayGuard } from './state/index.ts';

/** Everything built from one config snapshot. */
export interface BrokerRuntime {
  readonly config: Readonly<Config>;
  readonly broker: CredentialBroker;
  readonly verifier: ClientTokenVerifier;
  readonly brokerTokens: BrokerTokens;
  readonly providers: ReadonlyMap<string, AccessProvider>;
  /** Distinct broker-token audiences of the configured providers. */
  readonly audiences: readonly string[];
  /** Obtains a broker token per audience now; failures are logged, never thrown (health reports them). */
  prefetch(signal?: AbortSignal): Promise<void>;
}

/** What {@link createBroker} needs besides the config. */
export interface RuntimeDeps {
  logger?: Logger;
  telemetry?: Telemetry;
  /** Environment for outbound proxies (`HTTPS_PROXY`, `NO_PROXY`). */
  env?: Record<string, string | undefined>;
  /** Directory of the config file (relative `privateKeyFile`); default the working directory. */
  configDir?: string;
  /** Outbound HTTP client; share one across reloads (default: a new keep-alive pool). */
  http?: HttpClient;
  /** One-time-token store (default: in memory, per instance). */
  replayGuard?: ReplayGuard;
}

/**
 * Builds the runtime for `config` (validated, defaults filled) and its compiled
 * `policy` (compiled here when not given). Throws TypeError on misconfiguration.
 */
export function createBroker(
  config: Readonly<Config>,
  deps: RuntimeDeps = {},
  policy?: Policy,
): BrokerRuntime {
  const logger = deps.logger ?? silentLogger;
  const telemetry = deps.telemetry ?? noTelemetry;
  const http = deps.http ?? createHttpClient(createDispatcher({ env: deps.env ?? {} }));
  const common = {
    http,
    httpTimeout: config.broker.httpTimeout,
    allowInsecureIssuers: config.server.allowInsecureIssuers,
    logger,
    telemetry,
  };
  // The schema's literal unions are typed loosely by TypeBox; validation made them exact.
  const idps = config.clientIdps as readonly ClientIdpConfig[];
  // JWKS and discovery are idempotent GETs: retried on network errors and 5xx (never on a 4xx).
  const verifier = createTokenVerifier({
    ...common,
    http: withIdempotentRetries(http, config.broker),
    idps,
    jwks: config.cache.jwks,
  });
  const brokerTokens = createBrokerTokenSource({
    ...common,
    idp: config.brokerIdp as BrokerIdpConfig,
    configDir: deps.configDir ?? process.cwd(),
    maxRetries: config.broker.maxRetries,
    retryDelay: config.broker.retryDelay,
  });
  const providers = createProviders(config, { logger, telemetry, http, env: deps.env ?? {} });
  const audiences = [...new Set([...providers.values()].map((p) => p.audience))];
  const broker = createCredentialBroker(
    config,
    { verifier, brokerTokens, providers, replayGuard: deps.replayGuard ?? memoryReplayGuard(), logger },
    policy,
  );

  async function prefetch(signal?: AbortSignal): Promise<void> {
    try {
      await brokerTokens.prefetch([...audiences], signal);
    } catch (error) {
      logger.warn(
        { err: error, audiences },
        'could not obtain every broker token at start; health reports it',
      );
    }
  }
  return { config, broker, verifier, brokerTokens, providers, audiences, prefetch };
}
