/**
 * The broker's shared state (docs/operations.md, Scale): rate-limit counters
 * and one-time-token records. With `redis` they live in Redis, shared by
 * every instance; without it, in this process's memory. Built once per
 * process and kept across config reloads (`redis.*` needs a restart).
 *
 * Nothing here imports the rest of the server: state/ sits below it.
 */
import { createHash } from 'node:crypto';
import type { Config } from '../../core/config/schema.ts';
import type { VerifiedToken } from '../../core/types.ts';
import { memorySharedState } from './memory.ts';
import type { SharedState, SharedStateDeps } from './types.ts';

export { memoryCounterStore, memoryReplayGuard } from './memory.ts';
export type * from './types.ts';

/**
 * The one key scheme of the counters, below Redis's `keyPrefix`:
 * `rate-limit:<scope>:<id>`. Subjects are hashed, so no subject is written
 * to a shared store.
 */
export const counterKey = {
  /** The per-IP limit's key for a client address (as the rate-limit plugin normalizes it). */
  ip: (address: string): string => `rate-limit:ip:${address}`,
  /** The per-subject limit's key for a verified identity. */
  subject: (verified: Pick<VerifiedToken, 'iss' | 'sub'>): string =>
    `rate-limit:subject:${createHash('sha256').update(`${verified.iss}\n${verified.sub}`).digest('hex')}`,
};

/**
 * Memory state, or Redis state when `config.redis` is set (ioredis is
 * imported then). Rejects with a TypeError for a bad `redis.url`.
 */
export async function createSharedState(
  config: Readonly<Config>,
  deps: SharedStateDeps,
): Promise<SharedState> {
  if (!config.redis) return memorySharedState();
  const { redisSharedState } = await import('./redis.ts');
  return redisSharedState(config.redis, deps);
}
