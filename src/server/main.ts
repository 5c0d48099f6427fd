/**
 * Runs the broker: builds the runtime, the operations layer and the app for
 * a loaded config, listens, warms broker tokens and key sets, and (for
 * `voidkey serve`) handles SIGTERM/SIGINT (graceful stop) and SIGHUP
 * (reload). Loading and validating the config happen before (cli/serve.ts),
 * so a broker never starts half-configured.
 */
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { dirname, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { Config, LoggingConfig } from '../core/config/schema.ts';
import type { Policy } from '../core/policy/index.ts';
import type { Telemetry } from '../core/types.ts';
import { createDispatcher, createHttpClient } from '../providers/http.ts';
import { type AppOptions, buildApp } from './app.ts';
import { type HealthProbe, withRedisCheck } from './health/probe.ts';
import { checkRedis } from './health/redis.ts';
import { createLogger } from './logger.ts';
import { type BrokerMetrics, createMetrics } from './metrics.ts';
import { createOperations, type Operations } from './operations.ts';
import { applyTls, loadTls, type TlsMaterial } from './options.ts';
import { type ReloadOutcome, reloadConfig, serialized } from './reload.ts';
import { drainAndClose, installSignalHandlers } from './signals.ts';
import { createSharedState, type SharedState } from './state/index.ts';
import { readPackageVersion } from './version.ts';
import { type BrokerRuntime, createBroker, type RuntimeDeps } from './wiring.ts';

export { createLogger } from './logger.ts';

/** Options of {@link startBroker}. */
export interface StartOptions {
  config: Readonly<Config>;
  /** The config's compiled policy, as loadConfig returned it; default: compiled from `config`. */
  policy?: Policy;
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

/** What the steps of {@link startBroker} share. */
interface Context {
  options: StartOptions;
  started: Readonly<Config>;
  logger: PinoLogger;
  configDir: string;
  version: string;
  metrics: BrokerMetrics;
  env: Record<string, string | undefined>;
  shared: SharedState;
  deps: RuntimeDeps;
  /** What a reload swaps and a stop flips. */
  state: { config: Readonly<Config>; runtime: BrokerRuntime; draining: boolean };
  ops: Operations;
}

/** Builds the runtime and app for `options.config`, listens, and warms broker tokens and key sets in the background. */
export async function startBroker(options: StartOptions): Promise<RunningBroker> {
  const ctx = await createContext(options);
  const { started, configDir, shared } = ctx;
  const tls = started.server.tls ? await loadTls(started.server.tls, configDir) : undefined;
  const app = buildFor(ctx, tls);
  const host = options.host ?? started.server.host;
  try {
    await openAudit(ctx);
    // Connected before the first request; an unreachable Redis is logged, retried and reported by health.
    await shared.start();
    await app.listen({ host, port: options.port ?? started.server.port });
  } catch (error) {
    await ctx.ops.audit.close();
    await shared.close();
    throw error;
  }
  const url = baseUrl(app, host, Boolean(tls));
  ctx.logger.info({ url, version: ctx.version }, `voidkey broker listening on ${url}`);
  void warm(ctx.state.runtime, ctx.logger);

  const reload = reloader(ctx, app, Boolean(tls));
  const { shutdown, close } = stopper(ctx, app);
  if (options.handleSignals) {
    installSignalHandlers({ shutdown, reload }, { logger: ctx.logger, flush: () => ctx.logger.flush() });
  }
  return {
    url,
    app,
    get runtime() {
      return ctx.state.runtime;
    },
    metrics: ctx.metrics,
    reload,
    shutdown,
    close,
  };
}

/** Logger, metrics, stores, the first runtime and the operations layer. */
async function createContext(options: StartOptions): Promise<Context> {
  const started = options.config;
  const logger = options.logger ?? createLogger(started.logging as LoggingConfig);
  const configDir = options.configPath ? dirname(resolve(options.configPath)) : process.cwd();
  const version = options.app?.version ?? readPackageVersion();
  const metrics = options.metrics ?? createMetrics({ version });
  const env = options.env ?? {};
  // Redis (when configured) lives as long as the process: `redis.*` changes need a restart.
  const shared = await createSharedState(started, { logger, metrics });
  const deps: RuntimeDeps = {
    logger,
    telemetry: options.telemetry ?? metrics.telemetry,
    env,
    configDir,
    // Shared across reloads: one keep-alive pool, one replay memory.
    http: createHttpClient(createDispatcher({ env })),
    replayGuard: shared.replayGuard,
  };
  const state = { config: started, runtime: createBroker(started, deps, options.policy), draining: false };
  const ops = createOperations({
    started,
    config: () => state.config,
    runtime: () => state.runtime,
    draining: () => state.draining,
    logger,
    metrics,
    configDir,
    counters: shared.counters,
  });
  return { options, started, logger, configDir, version, metrics, env, shared, deps, state, ops };
}

/**
 * Opens the audit file before the broker listens. Under `failClosed` a file
 * that cannot be opened for append stops the start, with the path and the
 * system error; without it the start goes on, logged, and health shows it.
 */
async function openAudit(ctx: Context): Promise<void> {
  const { audit } = ctx.ops;
  try {
    await audit.ready();
  } catch (error) {
    const reason = systemError(error);
    if (audit.failClosed) {
      throw new Error(`logging.audit.file: cannot open ${audit.file} for append: ${reason}`);
    }
    ctx.logger.error(
      { file: audit.file, code: (error as { code?: string }).code },
      `the audit file cannot be opened for append (${reason}); audit events go to the log stream only`,
    );
  }
}

/** `EACCES: permission denied` from Node's `EACCES: permission denied, open '/path'`. */
function systemError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/, \w+ '.*'$/s, '');
}

/** `probe` with the `redis` check when Redis is configured. */
function withRedisHealth(probe: HealthProbe, shared: SharedState): HealthProbe {
  const { redis } = shared;
  return redis ? withRedisCheck(probe, () => checkRedis(redis)) : probe;
}

/** The app over the current runtime, with the operations layer at buildApp's plug points. */
function buildFor(ctx: Context, tls: TlsMaterial | undefined): FastifyInstance {
  const { options, ops, state, shared } = ctx;
  return buildApp({
    version: ctx.version,
    broker: () => state.runtime.broker,
    config: ctx.started,
    logger: ctx.logger,
    health: options.app?.health ?? withRedisHealth(ops.health, shared),
    observer: options.app?.observer ?? ops.observer,
    limitSubject: ops.limitSubject,
    headers: ops.headers,
    extend: (instance) => {
      ops.extend(instance);
      options.app?.extend?.(instance);
    },
    ...(tls ? { https: tls } : {}),
  });
}

/** SIGHUP: load, build and warm the new runtime (and certificate), then swap them in at once. */
function reloader(ctx: Context, app: FastifyInstance, servesTls: boolean): () => Promise<ReloadOutcome> {
  const { options, logger, metrics, state } = ctx;
  return serialized(() =>
    reloadConfig({
      configPath: options.configPath ?? '',
      env: ctx.env,
      started: ctx.started,
      logger,
      metrics,
      async prepare(config, policy) {
        if (!options.configPath) throw new Error('(root): no config file to reload');
        const runtime = createBroker(config, ctx.deps, policy);
        const tls =
          config.server.tls && servesTls ? await loadTls(config.server.tls, ctx.configDir) : undefined;
        await warm(runtime, logger, AbortSignal.timeout(5000));
        return () => {
          state.config = config;
          state.runtime = runtime;
          metrics.seed(config);
          logger.level = (config.logging as LoggingConfig).level;
          if (tls) applyTls(app.server as HttpsServer, tls);
          ctx.ops.health.invalidate();
        };
      },
    }),
  );
}

/** The graceful stop (SIGTERM) and the immediate one; both flush the audit file and close Redis, once. */
function stopper(ctx: Context, app: FastifyInstance) {
  let stopping: Promise<void> | undefined;
  const flush = async () => {
    await ctx.ops.audit.close();
    await ctx.shared.close();
  };
  const shutdown = (signal: NodeJS.Signals = 'SIGTERM') => {
    stopping ??= drainAndClose(
      {
        app,
        logger: ctx.logger,
        startDraining: () => {
          ctx.state.draining = true;
        },
        timings: () => ctx.state.config.server,
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
  return { shutdown, close };
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

/** The V8 heap-growth percent `voidkey serve` sets unless the operator set one. */
export const HEAP_GROWING_PERCENT = 50;

/** The V8 flag to set, or undefined when the process was started with its own. */
export function heapGrowthFlag(execArgv: readonly string[]): string | undefined {
  const given = execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg));
  return given ? undefined : `--heap-growing-percent=${HEAP_GROWING_PERCENT}`;
}

/**
 * Lets the heap grow by half its live size between full collections instead
 * of V8's default (up to about four times): a broker allocates fast while
 * little of it lives, so this keeps peak RSS lower for no measurable CPU
 * (docs/operations.md). An operator's own `--heap-growing-percent` wins.
 */
export function tuneHeapGrowth(execArgv: readonly string[] = process.execArgv): void {
  const flag = heapGrowthFlag(execArgv);
  if (flag) setFlagsFromString(flag);
}
