/**
 * The broker's shared state behind one interface: fixed-window counters for
 * both rate limits, and the one-time-token records. In memory (one instance)
 * or in Redis (every instance), chosen once per process from `redis`.
 */
import type { ReplayGuard } from '../../core/mint/index.ts';
import type { Logger } from '../../core/types.ts';
import type { RedisTuning, SharedRedis } from './redis-client.ts';

/** Where a key's current window stands after one increment. */
export interface WindowCount {
  /** Hits in the current window, this one included. */
  count: number;
  /** When the current window ends, ms since the epoch. */
  resetAt: number;
}

/** Fixed-window counters. Implementations may throw; the limiters then fail open. */
export interface CounterStore {
  /** Counts one hit for `key` in a window of `windowMs` that starts with the key's first hit. */
  increment(key: string, windowMs: number): Promise<WindowCount>;
}

/** Which replay-store command failed (the `operation` label of `voidkey_replay_store_errors_total`). */
export type ReplayStoreOperation = 'claim' | 'release';

/** The stores of one process and their lifecycle. */
export interface SharedState {
  readonly kind: 'memory' | 'redis';
  /** Counters of the per-IP and per-subject limits (keys: state/index.ts). */
  readonly counters: CounterStore;
  /** One-time-token records, for createBroker on start and on every reload. */
  readonly replayGuard: ReplayGuard;
  /** True while the store answers (memory always does). */
  ping(): Promise<boolean>;
  /** The Redis connection (for its health check), when Redis is configured. */
  readonly redis: SharedRedis | undefined;
  /** Connects (logged); never throws: an unreachable Redis is reported by health and retried. */
  start(): Promise<void>;
  /** Closes the connection (after the server has stopped). */
  close(): Promise<void>;
}

/** What a shared state needs besides the config. */
export interface SharedStateDeps {
  logger: Logger;
  metrics: { replayStoreError(operation: ReplayStoreOperation): void };
  /** Redis timeouts (defaults: fail fast, see redis-client.ts). */
  tuning?: RedisTuning;
}
