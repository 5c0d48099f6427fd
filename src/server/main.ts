/**
 * Runs the broker: builds the runtime, the operations layer and the app for
 * a loaded config, listens, warms broker tokens and key sets, and (for
 * `voidkey serve`) handles SIGTERM/SIGINT (graceful stop) and SIGHUP
 * (reload). Loading and validating the config happen before (cli/serve.ts),
 * so a broker never starts half-configured.
 */
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { Config, LoggingConfig } from '../core/config/schema.ts';
import type { ReplayGuard } from '../core/mint.ts';
import type { Telemetry } from '../core/types.ts';
import { createDispatcher, createHttpClient } from '../providers/http.ts';
import { type AppOptions, buildApp } from './app.ts';
import { createLogger } from './logger.ts';
import { createOperations, type Stores } from './operations.ts';
import { type ReloadOutcome, reloadConfig, serialized } from './reload.ts';
import { readPackageVersion } from './routes/health.ts';
import { drainAndClose, installSignalHandlers } from './signals.ts';
import { createSharedState } from './store/index.ts';
import { type BrokerMetrics, createMetrics } from './telemetry.ts';
import { applyTls, loadTls } from './tls.ts';
import { type BrokerRuntime, createBroker, memoryReplayGuard, type RuntimeDeps } from './wiring.ts';

export { createLogger } from './logger.ts';

/** Options of {@link startBroker}. */
export interface StartOptions {
  config: Readonly<Config>;
  /** The config file: relative paths, and what SIGHUP reloads; default: the working directory, no reload. */
  configPath?: string;
  /** Default `config.server.host`. */
  host?: string;
  /** Default `config.server.port`; 0 picks a free port. */
  port?: number;
  /** Default: a logger built from `config.logging`. */
  logger?: PinoLogger;
  /** Default: the prom-client metrics' telemetry. */
  telemetry?: Telemetry;
  /** Default: a fresh registry (createMetrics). */
  metrics?: BrokerMetrics;
  /** Environment for outbound proxies and for `${VAR}` on reload; default none. */
  env?: Record<string, string | undefined>;
  /** SIGTERM/SIGINT stop gracefully and exit, SIGHUP reloads (default false: tests and embedders decide). */
  handleSignals?: boolean;
  /** Shared stores; default from `config.redis` (Redis), else memory. */
  stores?: Stores & { replayGuard?: ReplayGuard };
  /** Passed to buildApp; a given health/observer replaces the built-in one, `extend` runs after it. */
  app?: Pick<AppOptions, 'health' | 'observer' | 'extend' | 'version'>;
}

/** A listening broker. */
export interface RunningBroker {
  /** Base URL, e.g. `http://127.0.0.1:3000` (an unspecified host is shown as loopback). */
  url: string;
  app: FastifyInstance;
  /** The current runtime (replaced by a reload). */
  readonly runtime: BrokerRuntime;
  metrics: BrokerMetrics;
  /** Reloads the config file (as SIGHUP does); never throws. */
  reload(): Promise<ReloadOutcome>;
  /** The graceful stop of SIGTERM, without exiting. */
  shutdown(signal?: NodeJS.Signals): Promise<void>;
  /** Stops at once: no drain delay; finishes in-flight requests, closes idle connections, flushes the audit file. */
  close(): Promise<void>;
}

/** Builds the runtime and app for `options.config`, listens, and warms broker tokens and key sets in the background. */
export async function startBroker(options: StartOptions): Promise<RunningBroker> {
  const started = options.config;
  const logger = options.logger ?? createLogger(started.logging as LoggingConfig);
  const configDir = options.configPath ? dirname(resolve(options.configPath)) : process.cwd();
  const version = options.app?.version ?? readPackageVersion();
  const metrics = options.metrics ?? createMetrics({ version });
  const env = options.env ?? {};
  // Redis (when configured) lives as long as the process: `redis.*` changes need a restart.
  const shared = options.stores ? undefined : createSharedState(started, { logger, metrics });
  const stores = options.stores ?? (shared && { ...shared.stores, replayGuard: shared.replayGuard });
  const deps: RuntimeDeps = {
    logger,
    telemetry: options.telemetry ?? metrics.telemetry,
    env,
    configDir,
    // Shared across reloads: one keep-alive pool, one replay memory.
    http: createHttpClient(createDispatcher({ env })),
    replayGuard: stores?.replayGuard ?? memoryReplayGuard(),
  };
  const state = { config: started, runtime: createBroker(started, deps), draining: false };
  metrics.seed(started);
  const ops = createOperations({
    started,
    config: () => state.config,
    runtime: () => state.runtime,
    draining: () => state.draining,
    logger,
    metrics,
    configDir,
    ...(stores ? { stores } : {}),
  });
  const tls = started.server.tls ? await loadTls(started.server.tls, configDir) : undefined;
  const app = buildApp({
    version,
    broker: () => state.runtime.broker,
    config: started,
    logger,
    health: options.app?.health ?? shared?.withHealth(ops.health) ?? ops.health,
    observer: options.app?.observer ?? ops.observer,
    extend: (instance) => {
      ops.extend(instance);
      options.app?.extend?.(instance);
    },
    ...(tls ? { https: tls } : {}),
  });
  const host = options.host ?? started.server.host;
  try {
    // Connected before the first request; an unreachable Redis is logged, retried and reported by health.
    await shared?.start();
    await app.listen({ host, port: options.port ?? started.server.port });
  } catch (error) {
    await shared?.close();
    throw error;
  }
  const url = baseUrl(app, host, Boolean(tls));
  logger.info({ url, version }, `voidkey broker listening on ${url}`);
  void warm(state.runtime, logger);

  const reload = serialized(() =>
    reloadConfig({
      configPath: options.configPath ?? '',
      env,
      started,
      logger,
      metrics,
      async prepare(config) {
        if (!options.configPath) throw new Error('(root): no config file to reload');
        const runtime = createBroker(config, deps);
        const material = config.server.tls && tls ? await loadTls(config.server.tls, configDir) : undefined;
        await warm(runtime, logger, AbortSignal.timeout(5000));
        return () => {
          state.config = config;
          state.runtime = runtime;
          metrics.seed(config);
          logger.level = (config.logging as LoggingConfig).level;
          if (material) applyTls(app.server as import('node:https').Server, material);
          ops.health.invalidate();
        };
      },
    }),
  );

  let stopping: Promise<void> | undefined;
  const flush = async () => {
    await ops.audit.close();
    await shared?.close();
  };
  const shutdown = (signal: NodeJS.Signals = 'SIGTERM') => {
    stopping ??= drainAndClose(
      {
        app,
        logger,
        startDraining: () => {
          state.draining = true;
        },
        timings: () => state.config.server,
        flush,
      },
      signal,
    );
    return stopping;
  };
  const close = () => {
    stopping ??= app.close().then(flush);
    return stopping;
  };
  if (options.handleSignals) {
    installSignalHandlers({ shutdown, reload }, { logger, flush: () => logger.flush() });
  }
  return {
    url,
    app,
    get runtime() {
      return state.runtime;
    },
    metrics,
    reload,
    shutdown,
    close,
  };
}

/** Obtains broker tokens and client IdP key sets now; failures are logged (health reports them), never thrown. */
async function warm(runtime: BrokerRuntime, logger: PinoLogger, signal?: AbortSignal): Promise<void> {
  const keySets = runtime.config.clientIdps.map(({ name }) =>
    runtime.verifier.refreshKeys(name, signal).catch((error: unknown) => {
      logger.warn({ idp: name, error: (error as Error).message }, 'could not fetch a client IdP key set');
    }),
  );
  await Promise.all([runtime.prefetch(signal), ...keySets]);
}

function baseUrl(app: FastifyInstance, host: string, tls: boolean): string {
  const { port } = app.server.address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host;
  const bracketed = shown.includes(':') && !shown.startsWith('[') ? `[${shown}]` : shown;
  return `${tls ? 'https' : 'http'}://${bracketed}:${port}`;
}
