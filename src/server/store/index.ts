/**
 * The broker's shared state (SPEC §7, Scale): rate-limit counters and
 * one-time-token records. With `redis.url` they live in Redis, shared by
 * every instance; without it, in this process's memory. Built once per
 * process and kept across config reloads (`redis.*` needs a restart).
 */
import type { Config } from '../../core/config/schema.ts';
import type { ReplayGuard } from '../../core/mint.ts';
import type { Logger } from '../../core/types.ts';
import type { Stores } from '../operations.ts';
import { createSharedRedis, type RedisTuning, type SharedRedis } from '../redis-client.ts';
import { redisReplayGuard } from '../replay/redis.ts';
import type { HealthProbe } from '../routes/health.ts';
import type { BrokerMetrics } from '../telemetry.ts';
import { memoryReplayGuard } from '../wiring.ts';
import { withRedisCheck } from './health.ts';
import { memoryCounterStore } from './memory.ts';
import { redisCounterStore } from './redis.ts';

/** Where the per-IP counters go below the client's key prefix. */
export const IP_NAMESPACE = 'rate-limit:ip:';
/** Where the per-subject counters go below the client's key prefix. */
export const SUBJECT_NAMESPACE = 'rate-limit:';

/** The stores of one process and their lifecycle. */
export interface SharedState {
  /** `memory` or `redis`. */
  readonly kind: 'memory' | 'redis';
  /** For createOperations: the per-IP Redis client and the per-subject counters. */
  readonly stores: Stores;
  /** For createBroker, on start and on every reload. */
  readonly replayGuard: ReplayGuard;
  /** The Redis connection, when configured. */
  readonly redis: SharedRedis | undefined;
  /** Adds the `redis` check to `probe` (unchanged without Redis). */
  withHealth<P extends HealthProbe>(probe: P): P;
  /** Connects to Redis (logged); never throws: an unreachable Redis is reported by health and retried. */
  start(): Promise<void>;
  /** Closes the Redis connection (after the server has stopped). */
  close(): Promise<void>;
}

/** What {@link createSharedState} needs. */
export interface SharedStateDeps {
  logger: Logger;
  metrics: Pick<BrokerMetrics, 'replayStoreError'>;
  /** Redis timeouts (defaults: fail fast, see redis-client.ts). */
  tuning?: RedisTuning;
}

/** Memory stores, or Redis stores when `config.redis` is set. Throws TypeError for a bad `redis.url`. */
export function createSharedState(config: Readonly<Config>, deps: SharedStateDeps): SharedState {
  if (!config.redis) {
    return {
      kind: 'memory',
      stores: { subjects: memoryCounterStore() },
      replayGuard: memoryReplayGuard(),
      redis: undefined,
      withHealth: (probe) => probe,
      start: async () => {},
      close: async () => {},
    };
  }
  const redis = createSharedRedis(config.redis, deps.logger, deps.tuning);
  return {
    kind: 'redis',
    stores: {
      redis: redis.client,
      redisNameSpace: IP_NAMESPACE,
      subjects: redisCounterStore(redis.client, { namespace: SUBJECT_NAMESPACE }),
    },
    replayGuard: redisReplayGuard(redis.client, {
      logger: deps.logger,
      onStoreError: (operation) => deps.metrics.replayStoreError(operation),
    }),
    redis,
    withHealth: (probe) => withRedisCheck(probe, () => redis.ping()),
    start: async () => {
      await redis.connect();
    },
    close: () => redis.close(),
  };
}
