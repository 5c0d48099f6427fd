/**
 * The counter store behind the per-subject rate limit. Memory (one
 * instance) is here; a shared implementation (Redis, SPEC §7) plugs in with
 * the same two-line contract.
 */

/** Where a key's current window stands after one increment. */
export interface WindowCount {
  /** Hits in the current window, this one included. */
  count: number;
  /** When the current window ends, ms since the epoch. */
  resetAt: number;
}

/** Fixed-window counters. Implementations may throw; the limiter then fails open. */
export interface CounterStore {
  /** Counts one hit for `key` in a window of `windowMs` that starts with the key's first hit. */
  increment(key: string, windowMs: number): Promise<WindowCount>;
}
