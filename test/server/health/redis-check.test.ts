/** The `redis` check folded into /health: degraded when down, unhealthy when unfit, cached 1 s. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HealthProbe, HealthReport } from '../../../src/server/health/probe.ts';
import { addRedisCheck, REDIS_DOWN_ERROR, withRedisCheck } from '../../../src/server/health/probe.ts';

const healthy: HealthReport = { status: 'healthy', checks: { config: 'healthy' } };
const UP = { state: 'healthy' } as const;
const DOWN = { state: 'degraded', error: REDIS_DOWN_ERROR } as const;
const REPLICA = 'redis: the server is a read-only replica: writes go to the primary';

describe('redis health check', () => {
  test('adds redis: healthy and leaves a healthy report healthy', () => {
    assert.deepEqual(addRedisCheck(healthy, UP), {
      status: 'healthy',
      checks: { config: 'healthy', redis: 'healthy' },
    });
  });

  test('turns a healthy report degraded and says how each control fails when Redis is down', () => {
    assert.deepEqual(addRedisCheck(healthy, DOWN), {
      status: 'degraded',
      checks: { config: 'healthy', redis: 'degraded' },
      errors: [REDIS_DOWN_ERROR],
    });
    assert.match(REDIS_DOWN_ERROR, /rate limits are not enforced \(fail open\)/);
    assert.match(REDIS_DOWN_ERROR, /refused with 503/);
  });

  test('reads unhealthy, the overall status degraded (200), when Redis answers but cannot do the job', () => {
    assert.deepEqual(addRedisCheck(healthy, { state: 'unhealthy', error: REPLICA }), {
      status: 'degraded',
      checks: { config: 'healthy', redis: 'unhealthy' },
      errors: [REPLICA],
    });
  });

  test('never makes a report better or worse than degraded on its own', () => {
    const unhealthy: HealthReport = {
      status: 'unhealthy',
      checks: { config: 'healthy', 'broker_token:a': 'unhealthy' },
      errors: ['broker_token:a: refused'],
    };
    assert.deepEqual(addRedisCheck(unhealthy, DOWN), {
      status: 'unhealthy',
      checks: { config: 'healthy', 'broker_token:a': 'unhealthy', redis: 'degraded' },
      errors: ['broker_token:a: refused', REDIS_DOWN_ERROR],
    });
  });

  test('pings at most once a second however many reports are asked, and keeps readiness', async () => {
    let clock = 0;
    let pings = 0;
    let up = true;
    const probe: HealthProbe & { extra: string } = {
      report: async () => healthy,
      ready: async () => true,
      extra: 'kept',
    };
    const wrapped = withRedisCheck(
      probe,
      async () => {
        pings += 1;
        return up ? UP : DOWN;
      },
      () => clock,
    );
    assert.equal(wrapped.extra, 'kept');
    assert.equal(await wrapped.ready(), true);
    await Promise.all([wrapped.report(), wrapped.report(), wrapped.report()]);
    assert.equal(pings, 1);
    up = false;
    clock = 999;
    assert.equal((await wrapped.report()).checks.redis, 'healthy');
    clock = 1000;
    assert.equal((await wrapped.report()).checks.redis, 'degraded');
    assert.equal(pings, 2);
  });

  test('counts a check that throws as down', async () => {
    const wrapped = withRedisCheck({ report: async () => healthy, ready: async () => true }, async () => {
      throw new Error('boom');
    });
    assert.equal((await wrapped.report()).status, 'degraded');
  });
});
