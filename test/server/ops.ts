/**
 * An app with the operations layer (metrics, audit, health, rate limits,
 * headers, CORS) over the fake use cases of helpers.ts, plus a fake runtime
 * whose broker-token and key-set health a test sets.
 */
import { Value } from '@sinclair/typebox/value';
import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import type { BrokerTokenStatus } from '../../src/core/broker-token/index.ts';
import { type Config, ConfigSchema } from '../../src/core/config/schema.ts';
import type { KeySetHealth } from '../../src/core/token/issuer-keys.ts';
import { type BrokerMetrics, createMetrics } from '../../src/server/metrics.ts';
import { createOperations, type Operations } from '../../src/server/operations.ts';
import type { CounterStore } from '../../src/server/state/index.ts';
import type { BrokerRuntime } from '../../src/server/wiring.ts';
import { appFor, type World, world } from './helpers.ts';
import { captureLogger } from './http.ts';

/** Deep-merges `patch` into a copy of `config` (objects merge, anything else replaces). */
export function patchConfig(config: Config, patch: Record<string, unknown>): Config {
  const merge = (base: unknown, over: unknown): unknown => {
    if (typeof base !== 'object' || base === null || Array.isArray(base)) return over;
    if (typeof over !== 'object' || over === null || Array.isArray(over)) return over;
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [k, v] of Object.entries(over)) out[k] = merge(out[k], v);
    return out;
  };
  return Value.Default(ConfigSchema, merge(structuredClone(config), patch)) as Config;
}

/** What a test controls in the fake runtime. */
export interface FakeRuntimeState {
  tokens: Record<string, BrokerTokenStatus>;
  keySets: Record<string, KeySetHealth>;
  /** Called by health when a token is missing; default resolves at once. */
  prefetch: () => Promise<void>;
  calls: { keySetHealth: number; prefetch: number };
}

/** A BrokerRuntime for health checks: audiences from `tokens`, IdPs from `keySets`. */
export function fakeRuntime(w: World, state: FakeRuntimeState): BrokerRuntime {
  return {
    config: w.config,
    broker: w.broker,
    providers: new Map(),
    get audiences() {
      return Object.keys(state.tokens);
    },
    verifier: {
      verify: async () => {
        throw new Error('not used');
      },
      keySetHealth: () => {
        state.calls.keySetHealth += 1;
        return state.keySets;
      },
      refreshKeys: async () => ({ keys: 1 }),
    },
    brokerTokens: {
      getToken: async () => 'unused',
      cachedToken: () => undefined,
      status: () => state.tokens,
      prefetch: async () => {},
    },
    prefetch: () => {
      state.calls.prefetch += 1;
      return state.prefetch();
    },
  } as BrokerRuntime;
}

/** A healthy fake runtime state: one audience, the config's IdPs. */
export function healthyState(w: World): FakeRuntimeState {
  return {
    tokens: { 'sts.aws': { status: 'healthy', expiresAt: 2_000_000_000 } },
    keySets: Object.fromEntries(w.config.clientIdps.map((i) => [i.name, { status: 'healthy' as const }])),
    prefetch: async () => {},
    calls: { keySetHealth: 0, prefetch: 0 },
  };
}

/** An app with the operations layer. */
export interface OpsApp {
  w: World;
  app: FastifyInstance;
  ops: Operations;
  metrics: BrokerMetrics;
  lines: string[];
  /** Audit events logged so far, parsed. */
  audits(): Array<Record<string, unknown>>;
  /** Replace to simulate a reload. */
  state: { config: Config; draining: boolean };
  runtime: FakeRuntimeState;
}

/** Builds the app over `config` (default testConfig()) with a capturing logger (or the given one and its lines). */
export function opsApp(
  options: {
    config?: Config;
    counters?: CounterStore;
    configDir?: string;
    world?: World;
    logger?: { lines: string[]; logger: PinoLogger };
  } = {},
): OpsApp {
  const w = options.world ?? world(options.config ? { config: options.config } : {});
  const config = options.config ?? w.config;
  const metrics = createMetrics({ version: '9.9.9-test' });
  const { lines, logger } = options.logger ?? captureLogger();
  const state = { config, draining: false };
  const runtimeState = healthyState(w);
  const runtime = fakeRuntime(w, runtimeState);
  const ops = createOperations({
    started: config,
    config: () => state.config,
    runtime: () => runtime,
    draining: () => state.draining,
    logger,
    metrics,
    configDir: options.configDir ?? process.cwd(),
    ...(options.counters ? { counters: options.counters } : {}),
  });
  const app = appFor(w, {
    config,
    logger,
    health: ops.health,
    observer: ops.observer,
    limitSubject: ops.limitSubject,
    headers: ops.headers,
    extend: ops.extend,
  });
  const audits = () =>
    lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((entry) => entry.audit === true);
  return { w, app, ops, metrics, lines, audits, state, runtime: runtimeState };
}

/** Sample lines of `text` (Prometheus exposition) for metric `name` (exact), as label maps and values. */
export function samples(
  text: string,
  name: string,
): Array<{ labels: Record<string, string>; value: number }> {
  const out: Array<{ labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] as string] = pair[2] as string;
    }
    out.push({ labels, value: Number(m[4]) });
  }
  return out;
}
