/**
 * Shared state in Redis (`redis`: standalone, Sentinel or Cluster), seen by every instance. This module
 * is imported only when Redis is configured, so a broker without it never
 * loads ioredis.
 *
 * - Counters: one Lua script counts and reads the window atomically, so
 *   concurrent hits on several instances each see a distinct count. Errors
 *   propagate: the limiters fail open.
 * - One-time tokens: a claim is one atomic `SET key value NX PX ttl`: of two
 *   instances seeing the same token at once, exactly one wins. A release
 *   deletes the record only while it still holds the value this claim wrote
 *   (compare-and-delete in Lua), so a late release never frees a record
 *   someone else made. Redis down fails closed: the mint is refused with 503
 *   rather than unprotected.
 * - Every script and command takes one key, so in a Redis Cluster each key
 *   may sit on any slot: no hash tag, and the same key names in every
 *   topology (a rolling upgrade shares the records).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Config } from '../../core/config/schema.ts';
import { InvalidTokenError, ServiceUnavailableError } from '../../core/errors.ts';
import type { ReplayGuard } from '../../core/mint/index.ts';
import { type Logger, silentLogger, type VerifiedToken } from '../../core/types.ts';
import { createSharedRedis, type RedisClient } from './redis-client.ts';
import type {
  CounterStore,
  ReplayStoreOperation,
  SharedState,
  SharedStateDeps,
  WindowCount,
} from './types.ts';

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

const RELEASE_IF_OURS = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

/** A CounterStore over `client`; keys are `<keyPrefix><key>`. `now`: clock, ms (default Date.now). */
export function redisCounterStore(client: RedisClient, now: () => number = Date.now): CounterStore {
  return {
    async increment(key, windowMs): Promise<WindowCount> {
      const window = Math.max(1, Math.ceil(windowMs));
      const answer = await client.eval(INCREMENT, 1, key, window);
      if (!Array.isArray(answer) || answer.length !== 2) {
        throw new TypeError('unexpected answer from the rate-limit script');
      }
      return { count: Number(answer[0]), resetAt: now() + Number(answer[1]) };
    },
  };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * The record's key below the client's prefix: `replay:<sha256(iss)>:<sha256(tokenId)>`.
 * Hashes bound the key's length whatever the claims hold, and keep token ids out of Redis.
 * Never change it without a migration: a rolling upgrade would accept a token twice.
 */
export function replayKey(token: Pick<VerifiedToken, 'iss' | 'tokenId'>): string {
  return `replay:${sha256(token.iss)}:${sha256(token.tokenId)}`;
}

/** The 503 of a replay store that cannot answer. */
export function replayStoreUnavailable(cause: unknown): ServiceUnavailableError {
  return new ServiceUnavailableError({
    message: 'The replay store is unavailable; retry later',
    details: { reason: 'replay_store_unavailable' },
    cause,
  });
}

/** Options of {@link redisReplayGuard}. */
export interface RedisReplayGuardOptions {
  logger?: Logger;
  /** Counts a failed store command (a metric). */
  onStoreError?: (operation: ReplayStoreOperation) => void;
}

/** A ReplayGuard over `client` (its `keyPrefix` applies); store failures throw 503 ServiceUnavailableError. */
export function redisReplayGuard(client: RedisClient, options: RedisReplayGuardOptions = {}): ReplayGuard {
  const logger = options.logger ?? silentLogger;
  const countError = options.onStoreError ?? (() => {});
  // What each claim wrote, by the VerifiedToken the mint holds: gone with the request.
  const claims = new WeakMap<VerifiedToken, { key: string; value: string }>();

  const releaseIfOurs = async (key: string, value: string): Promise<boolean> =>
    (await client.eval(RELEASE_IF_OURS, 1, key, value)) === 1;

  return {
    async claim(verified, ttlMs, signal) {
      signal.throwIfAborted();
      const key = replayKey(verified);
      const value = randomUUID();
      let answer: string | null;
      try {
        answer = await client.set(key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
      } catch (error) {
        countError('claim');
        logger.warn(
          { idp: verified.idp, error: errorMessage(error) },
          'replay store unavailable: one-time token refused (fail closed)',
        );
        // The SET may have landed before the answer was lost: undo it if we can.
        releaseIfOurs(key, value).catch(() => {});
        throw replayStoreUnavailable(error);
      }
      if (answer !== 'OK') throw new InvalidTokenError('token_replayed');
      claims.set(verified, { key, value });
    },
    async release(verified) {
      const claim = claims.get(verified);
      if (!claim) return;
      claims.delete(verified);
      try {
        await releaseIfOurs(claim.key, claim.value);
      } catch (error) {
        countError('release');
        throw error;
      }
    },
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Counters and one-time-token records in Redis. Throws TypeError for a bad `redis.url` or an unreadable TLS file. */
export function redisSharedState(
  settings: NonNullable<Readonly<Config>['redis']>,
  deps: SharedStateDeps,
): SharedState {
  const redis = createSharedRedis(settings, deps.logger, deps.tuning);
  return {
    kind: 'redis',
    counters: redisCounterStore(redis.client),
    replayGuard: redisReplayGuard(redis.client, {
      logger: deps.logger,
      onStoreError: (operation) => deps.metrics.replayStoreError(operation),
    }),
    ping: () => redis.ping(),
    redis,
    start: async () => {
      await redis.connect();
    },
    close: () => redis.close(),
  };
}
