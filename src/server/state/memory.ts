/**
 * Shared state in this process's memory (`redis.url` not set): counters and
 * one-time-token records seen by this instance only.
 *
 * Counters drop expired windows as they are met, and the map is bounded:
 * past `maxKeys`, the oldest windows go first, so a flood of distinct
 * addresses or identities costs bounded memory (at worst, counts restart).
 * Each increment answers its own snapshot, so the requests of a concurrent
 * burst each see a distinct count.
 */
import { InvalidTokenError } from '../../core/errors.ts';
import type { ReplayGuard } from '../../core/mint/index.ts';
import type { CounterStore, SharedState, WindowCount } from './types.ts';

/** Options of {@link memoryCounterStore}. */
export interface MemoryStoreOptions {
  /** Most keys kept (default 100 000). */
  maxKeys?: number;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
}

/** A CounterStore in a Map (insertion order = window start order). */
export function memoryCounterStore(options: MemoryStoreOptions = {}): CounterStore & { size(): number } {
  const maxKeys = options.maxKeys ?? 100_000;
  const now = options.now ?? Date.now;
  const windows = new Map<string, WindowCount>();

  function prune(at: number): void {
    for (const [key, window] of windows) {
      if (window.resetAt > at && windows.size < maxKeys) break;
      windows.delete(key);
    }
  }

  return {
    async increment(key, windowMs) {
      const at = now();
      const current = windows.get(key);
      if (current && current.resetAt > at) {
        current.count += 1;
        return { ...current };
      }
      windows.delete(key);
      prune(at);
      const fresh = { count: 1, resetAt: at + windowMs };
      windows.set(key, fresh);
      return { ...fresh };
    },
    size: () => windows.size,
  };
}

/** One-time-token records keyed by (iss, token id), never the raw token. */
export function memoryReplayGuard(now: () => number = Date.now): ReplayGuard {
  const seen = new Map<string, number>();
  const keyOf = (v: { iss: string; tokenId: string }) => `${v.iss}\n${v.tokenId}`;
  return {
    async claim(verified, ttlMs) {
      const at = now();
      for (const [key, until] of seen) if (until <= at) seen.delete(key);
      const key = keyOf(verified);
      if (seen.has(key)) throw new InvalidTokenError('token_replayed');
      seen.set(key, at + ttlMs);
    },
    async release(verified) {
      seen.delete(keyOf(verified));
    },
  };
}

/** The memory state: nothing to connect, nothing to close. */
export function memorySharedState(): SharedState {
  return {
    kind: 'memory',
    counters: memoryCounterStore(),
    replayGuard: memoryReplayGuard(),
    ping: async () => true,
    redis: undefined,
    start: async () => {},
    close: async () => {},
  };
}
