/**
 * Fixed-window counters in Redis, shared by every instance (SPEC §7), behind
 * the same CounterStore contract as the memory store. One Lua script counts
 * and reads the window atomically, so concurrent hits on several instances
 * each see a distinct count. Errors propagate: the limiter fails open.
 */
import type { Redis } from 'ioredis';
import type { CounterStore, WindowCount } from './types.ts';

// INCR starts a window on the first hit; a key that somehow lost its expiry
// gets one again rather than counting forever.
const INCREMENT = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

/** Options of {@link redisCounterStore}. */
export interface RedisCounterStoreOptions {
  /** Added before each key, after the client's own `keyPrefix` (default `rate-limit:`). */
  namespace?: string;
  /** Clock, ms since the epoch (default Date.now). */
  now?: () => number;
}

/** A CounterStore over `client`; keys are `<keyPrefix><namespace><key>`. */
export function redisCounterStore(client: Redis, options: RedisCounterStoreOptions = {}): CounterStore {
  const namespace = options.namespace ?? 'rate-limit:';
  const now = options.now ?? Date.now;
  return {
    async increment(key, windowMs): Promise<WindowCount> {
      const window = Math.max(1, Math.ceil(windowMs));
      const answer = await client.eval(INCREMENT, 1, `${namespace}${key}`, window);
      if (!Array.isArray(answer) || answer.length !== 2) {
        throw new TypeError('unexpected answer from the rate-limit script');
      }
      return { count: Number(answer[0]), resetAt: now() + Number(answer[1]) };
    },
  };
}
