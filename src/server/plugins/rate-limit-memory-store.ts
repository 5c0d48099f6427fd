/**
 * The per-IP limit's in-memory counters. @fastify/rate-limit's own memory
 * store (11.x) answers every increment with the one mutable record it keeps
 * per key, and the plugin reads the count only after an `await`: the
 * requests of a concurrent burst then all read the count left by the last
 * increment, so every request of the burst — the first `max` included — was
 * refused. This store answers each increment with its own snapshot (fixed
 * window, least recently used keys dropped past `maxKeys`, as the plugin's).
 * Regression test: test/server/abuse.test.ts, the per-IP burst.
 */
import type { FastifyRateLimitStore } from '@fastify/rate-limit';

type Callback = (error: Error | null, result?: { current: number; ttl: number }) => void;

interface Window {
  count: number;
  startMs: number;
}

/** Keys kept by default (the plugin's `cache` option in rate-limit.ts). */
export const DEFAULT_MAX_KEYS = 10_000;

/** A fixed-window counter store for @fastify/rate-limit that never shares a record between callers. */
export class SnapshotMemoryStore implements FastifyRateLimitStore {
  readonly #windows = new Map<string, Window>();
  readonly #maxKeys: number;

  /** The plugin passes its options; only `maxKeys` (a number of keys, default 10,000) is read. */
  constructor(options?: { maxKeys?: number }) {
    this.#maxKeys = options?.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  /** Counts one request for `key` in a window of `timeWindow` ms; answers a snapshot. */
  incr(key: string, callback: Callback, timeWindow: number): void {
    const now = Date.now();
    const current = this.#windows.get(key);
    const window = current && current.startMs + timeWindow > now ? current : { count: 0, startMs: now };
    window.count++;
    this.#windows.delete(key);
    this.#windows.set(key, window);
    for (const oldest of this.#windows.keys()) {
      if (this.#windows.size <= this.#maxKeys) break;
      this.#windows.delete(oldest);
    }
    callback(null, { current: window.count, ttl: window.startMs + timeWindow - now });
  }

  /** The count for `key` without counting (the plugin's `{ increment: false }`). */
  read(key: string, callback: Callback, timeWindow: number): void {
    const now = Date.now();
    const window = this.#windows.get(key);
    if (!window || window.startMs + timeWindow <= now) callback(null, { current: 0, ttl: 0 });
    else callback(null, { current: window.count, ttl: window.startMs + timeWindow - now });
  }

  /** Route-level limits get counters of their own. */
  child(): FastifyRateLimitStore {
    return new SnapshotMemoryStore({ maxKeys: this.#maxKeys });
  }
}
