/**
 * The broker's shared state (SPEC §7, Scale): rate-limit counters and
 * one-time-token records. With `redis.url` they live in Redis, shared by
 * every instance; without it, in this process's memory. Built once per
 * process and kept across config reloads (`redis.*` needs a restart).
 * The Redis client (ioredis) is loaded only when `redis` is configured.
 */
import type { Config } from '../../core/config/schema.ts';
import type { ReplayGuard } from '../../core/mint.ts';
import type { Logger } from '../../core/types.ts';
import type { Stores } from '../operations.ts';
import type { RedisTuning, SharedRedis } from '../redis-client.ts';
import type { HealthProbe } from '../routes/health.ts';
import type { BrokerMetrics } from '../telemetry.ts';
import { memoryReplayGuard } from '../wiring.ts';
import { memoryCounterStore } from './memory.ts';

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

/**
 * Memory stores, or Redis stores when `config.redis` is set (ioredis is
 * imported then). Rejects with a TypeError for a bad `redis.url`.
 */
export async function createSharedState(
  config: Readonly<Config>,
  deps: SharedStateDeps,
): Promise<SharedState> {
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
  const { redisSharedState } = await import('./redis-state.ts');
  return redisSharedState(config.redis, deps);
}
