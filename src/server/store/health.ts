/**
 * The `redis` health check (SPEC §7). Redis down is "degraded", never
 * "unhealthy": the instance still serves (rate limits fail open, tokens of
 * IdPs without `oneTimeUse` still mint), and a shared Redis outage must not
 * take every instance out of the load balancer. The error says which way
 * each control fails. The Redis address is not shown: `/health` is public.
 */
import type { HealthProbe, HealthReport } from '../routes/health.ts';

/** How long a PING result is reused, ms. */
export const REDIS_CHECK_CACHE_MS = 1000;

/** The health answer's line for an unreachable Redis. */
export const REDIS_DOWN_ERROR =
  'redis: unreachable; rate limits are not enforced (fail open), ' +
  'one-time tokens (oneTimeUse) are refused with 503 until it is back';

/** Folds a Redis check into `report`: `checks.redis`, and healthy → degraded when it is down. */
export function addRedisCheck(report: HealthReport, up: boolean): HealthReport {
  const checks = { ...report.checks, redis: up ? ('healthy' as const) : ('degraded' as const) };
  if (up) return { ...report, checks };
  return {
    status: report.status === 'healthy' ? 'degraded' : report.status,
    checks,
    errors: [...(report.errors ?? []), REDIS_DOWN_ERROR],
  };
}

/**
 * `probe` with the `redis` check added to its reports (readiness unchanged).
 * `ping` is asked at most once per {@link REDIS_CHECK_CACHE_MS}, however many probes ask.
 */
export function withRedisCheck<P extends HealthProbe>(
  probe: P,
  ping: () => Promise<boolean>,
  now: () => number = Date.now,
): P {
  let last: { up: boolean; at: number } | undefined;
  let running: Promise<boolean> | undefined;
  const isUp = (): Promise<boolean> => {
    if (last && now() - last.at < REDIS_CHECK_CACHE_MS) return Promise.resolve(last.up);
    running ??= ping()
      .catch(() => false)
      .then((up) => {
        last = { up, at: now() };
        return up;
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
