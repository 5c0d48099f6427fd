/**
 * The health checks behind `/health` and `/health/ready` (docs/operations.md).
 *
 * Checks: `config`; `broker_token:<audience>` per provider audience (from
 * the cache; one not healthy triggers a background fetch that the answer
 * waits for at most 2 s); `idp:<name>` per client IdP key set; `memory`
 * (heap used below 90 % of V8's heap limit); with an audit file, `audit`
 * (last write, directory writable) and `disk` (free space where it lives).
 *
 * Overall: unhealthy (503) only when this instance can serve no one — no
 * config, or no broker token for any audience. Anything else that fails is
 * degraded (200): one broken IdP or provider never empties a load balancer.
 * Results are cached (5 s when healthy, 1 s otherwise) and computed once
 * however many probes ask, so a load balancer polling every second costs nothing.
 *
 * With Redis, a `redis` check joins (health/redis.ts): unreachable is
 * "degraded", unfit for the job "unhealthy", and either leaves the overall
 * status no lower than "degraded": the instance still serves (rate limits
 * fail open, tokens of IdPs without `oneTimeUse` still mint), and a shared
 * Redis problem must not take every instance out of the load balancer.
 */
import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import type { AuditLog } from '../audit/log.ts';
import type { BrokerRuntime } from '../wiring.ts';

export type HealthState = 'healthy' | 'degraded' | 'unhealthy';

/** The verdict of a probe. */
export interface HealthReport {
  status: HealthState;
  checks: Record<string, HealthState>;
  errors?: string[];
}

/** What the health routes ask. */
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

/** Heap used above this share of V8's limit is degraded (no config field sets it). */
export const HEAP_LIMIT_SHARE = 0.9;
/** Longest a health answer waits for a broker token, ms. */
export const TOKEN_WAIT_MS = 2000;
/** How long a healthy / not healthy report is reused, ms. */
export const CACHE_MS = { healthy: 5000, other: 1000 } as const;
/** Least time between broker-token fetches started by health checks, ms. */
export const FETCH_INTERVAL_MS = 5000;

/** What the probe looks at. */
export interface HealthSources {
  /** The current runtime (swapped on reload); undefined before one exists. */
  runtime: () => BrokerRuntime | undefined;
  audit?: Pick<AuditLog, 'file' | 'fileStatus'> | undefined;
  /** True once shutdown has begun. */
  draining: () => boolean;
  /** Free bytes below which `disk` is unhealthy (default: the audit file's rotation size). */
  minFreeBytes?: number;
  /** Clock, ms (default Date.now). */
  now?: () => number;
  /** Heap figures (default from node:v8 / process). */
  heap?: () => { used: number; limit: number };
  /** Free bytes at a path (default fs.statfs). */
  freeBytes?: (path: string) => Promise<number>;
}

type Check = { name: string; state: HealthState; error?: string };

// An issuer or endpoint URL may carry userinfo; a health answer never shows it.
const stripUserinfo = (text: string) => text.replace(/\/\/[^/@\s]*@/g, '//');

async function brokerTokenChecks(runtime: BrokerRuntime, mayFetch: boolean): Promise<Check[]> {
  const { audiences, brokerTokens } = runtime;
  const healthy = (status: ReturnType<typeof brokerTokens.status>) =>
    audiences.every((a) => status[a]?.status === 'healthy');
  if (mayFetch && !healthy(brokerTokens.status())) {
    const signal = AbortSignal.timeout(TOKEN_WAIT_MS);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      runtime.prefetch(signal),
      new Promise((resolve) => {
        timer = setTimeout(resolve, TOKEN_WAIT_MS);
      }),
    ]);
    clearTimeout(timer);
  }
  const status = brokerTokens.status();
  return audiences.map((audience) => {
    const entry = status[audience] ?? { status: 'unhealthy' as const, error: 'no broker token obtained yet' };
    return {
      name: `broker_token:${audience}`,
      state: entry.status,
      ...(entry.error ? { error: entry.error } : {}),
    };
  });
}

function idpChecks(runtime: BrokerRuntime): Check[] {
  return Object.entries(runtime.verifier.keySetHealth()).map(([name, h]) => ({
    name: `idp:${name}`,
    state: h.status,
    ...(h.error ? { error: h.error } : {}),
  }));
}

function memoryCheck(heap: () => { used: number; limit: number }): Check {
  const { used, limit } = heap();
  const share = used / limit;
  return share < HEAP_LIMIT_SHARE
    ? { name: 'memory', state: 'healthy' }
    : { name: 'memory', state: 'degraded', error: `heap at ${Math.round(share * 100)}% of its limit` };
}

async function auditChecks(
  sources: HealthSources,
  freeBytes: (p: string) => Promise<number>,
): Promise<Check[]> {
  const file = sources.audit?.file;
  if (!file) return [];
  const dir = dirname(file);
  const status = sources.audit?.fileStatus();
  const writable = await access(dir, constants.W_OK).then(
    () => undefined,
    (e: { code?: string }) => e.code ?? 'not writable',
  );
  const audit: Check =
    status && !status.ok
      ? { name: 'audit', state: 'unhealthy', error: `last audit write failed (${status.error})` }
      : writable
        ? { name: 'audit', state: 'unhealthy', error: `audit directory not writable (${writable})` }
        : { name: 'audit', state: 'healthy' };
  const min = sources.minFreeBytes ?? 0;
  const disk: Check = await freeBytes(dir).then(
    (free) =>
      free >= min
        ? { name: 'disk', state: 'healthy' as const }
        : { name: 'disk', state: 'unhealthy' as const, error: `${free} bytes free for the audit file` },
    (e: { code?: string }) => ({
      name: 'disk',
      state: 'unhealthy' as const,
      error: e.code ?? 'statfs failed',
    }),
  );
  return [audit, disk];
}

const defaultHeap = () => ({
  used: process.memoryUsage().heapUsed,
  limit: getHeapStatistics().heap_size_limit,
});
const defaultFree = async (path: string) => {
  const s = await statfs(path);
  return s.bavail * s.bsize;
};

/**
 * Runs every check once and folds them into a report. `mayFetch` lets it ask
 * the broker IdP for missing tokens (the probe allows that every 5 s at most).
 */
export async function runChecks(sources: HealthSources, mayFetch = true): Promise<HealthReport> {
  const runtime = sources.runtime();
  if (!runtime) {
    return {
      status: 'unhealthy',
      checks: { config: 'unhealthy' },
      errors: ['config: no configuration loaded'],
    };
  }
  const tokens = await brokerTokenChecks(runtime, mayFetch);
  const checks: Check[] = [
    { name: 'config', state: 'healthy' },
    ...tokens,
    ...idpChecks(runtime),
    memoryCheck(sources.heap ?? defaultHeap),
    ...(await auditChecks(sources, sources.freeBytes ?? defaultFree)),
  ];
  const noToken = tokens.length > 0 && tokens.every((c) => c.state === 'unhealthy');
  const status: HealthState = noToken
    ? 'unhealthy'
    : checks.every((c) => c.state === 'healthy')
      ? 'healthy'
      : 'degraded';
  const errors = checks.filter((c) => c.error).map((c) => stripUserinfo(`${c.name}: ${c.error}`));
  return {
    status,
    checks: Object.fromEntries(checks.map((c) => [c.name, c.state])),
    ...(errors.length > 0 ? { errors } : {}),
  };
}

/** The probe handed to buildApp: cached, single-flight checks and the readiness rule. */
export function createHealthProbe(sources: HealthSources): HealthProbe & { invalidate(): void } {
  const now = sources.now ?? Date.now;
  let cached: { report: HealthReport; until: number } | undefined;
  let running: Promise<HealthReport> | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;

  const report = (): Promise<HealthReport> => {
    if (cached && now() < cached.until) return Promise.resolve(cached.report);
    if (running) return running;
    const mayFetch = now() - fetchedAt >= FETCH_INTERVAL_MS;
    if (mayFetch) fetchedAt = now();
    running = runChecks(sources, mayFetch)
      .then((fresh) => {
        const ttl = fresh.status === 'healthy' ? CACHE_MS.healthy : CACHE_MS.other;
        cached = { report: fresh, until: now() + ttl };
        return fresh;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    report,
    // Ready: config loaded, a broker identity obtainable, not draining. Never "every IdP warmed".
    async ready() {
      if (sources.draining() || !sources.runtime()) return false;
      return (await report()).status !== 'unhealthy';
    },
    // After a reload: the next answer looks at the new runtime and may fetch at once.
    invalidate() {
      cached = undefined;
      fetchedAt = Number.NEGATIVE_INFINITY;
    },
  };
}

/** What one Redis check (health/redis.ts) found. */
export type RedisCheck = { state: 'healthy' } | { state: 'degraded' | 'unhealthy'; error: string };

/** How long a Redis check's result is reused, ms. */
export const REDIS_CHECK_CACHE_MS = 1000;

/** The health answer's line for an unreachable Redis. */
export const REDIS_DOWN_ERROR =
  'redis: unreachable; rate limits are not enforced (fail open), ' +
  'one-time tokens (oneTimeUse) are refused with 503 until it is back';

/** Folds a Redis check (health/redis.ts) into `report`: `checks.redis`, its error, and healthy → degraded unless healthy. */
export function addRedisCheck(report: HealthReport, check: RedisCheck): HealthReport {
  const checks = { ...report.checks, redis: check.state };
  if (check.state === 'healthy') return { ...report, checks };
  return {
    status: report.status === 'healthy' ? 'degraded' : report.status,
    checks,
    errors: [...(report.errors ?? []), check.error],
  };
}

/**
 * `probe` with the `redis` check added to its reports (readiness unchanged).
 * `check` runs at most once per {@link REDIS_CHECK_CACHE_MS}, however many probes ask.
 */
export function withRedisCheck<P extends HealthProbe>(
  probe: P,
  check: () => Promise<RedisCheck>,
  now: () => number = Date.now,
): P {
  let last: { result: RedisCheck; at: number } | undefined;
  let running: Promise<RedisCheck> | undefined;
  const isUp = (): Promise<RedisCheck> => {
    if (last && now() - last.at < REDIS_CHECK_CACHE_MS) return Promise.resolve(last.result);
    running ??= check()
      .catch((): RedisCheck => ({ state: 'degraded', error: REDIS_DOWN_ERROR }))
      .then((result) => {
        last = { result, at: now() };
        return result;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  return {
    ...probe,
    report: async () => {
      const [report, up] = await Promise.all([probe.report(), isUp()]);
      return addRedisCheck(report, up);
    },
  };
}
