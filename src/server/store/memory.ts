/**
 * Fixed-window counters in this process's memory (SPEC §7: memory unless
 * `redis.url` is set). Expired windows are dropped as they are met, and the
 * map is bounded: past `maxKeys`, the oldest windows go first, so a flood of
 * distinct identities costs bounded memory (at worst, their counts restart).
 */
import type { CounterStore, WindowCount } from './types.ts';

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
