/**
 * The Redis half of the shared state (store/index.ts), in a module of its
 * own so ioredis is loaded only by a broker that has `redis` configured.
 */
import type { Config } from '../../core/config/schema.ts';
import { createSharedRedis } from '../redis-client.ts';
import { redisReplayGuard } from '../replay/redis.ts';
import { withRedisCheck } from './health.ts';
import { IP_NAMESPACE, type SharedState, type SharedStateDeps, SUBJECT_NAMESPACE } from './index.ts';
import { redisCounterStore } from './redis.ts';

/** Rate-limit counters and one-time-token records in Redis. Throws TypeError for a bad `redis.url`. */
export function redisSharedState(
  settings: NonNullable<Readonly<Config>['redis']>,
  deps: SharedStateDeps,
): SharedState {
  const redis = createSharedRedis(settings, deps.logger, deps.tuning);
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
