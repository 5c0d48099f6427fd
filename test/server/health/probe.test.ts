import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { AuditLog } from '../../../src/server/audit/log.ts';
import {
  createHealthProbe,
  type HealthSources,
  runChecks,
  TOKEN_WAIT_MS,
} from '../../../src/server/health/probe.ts';
import { world } from '../helpers.ts';
import { type FakeRuntimeState, fakeRuntime, healthyState, opsApp } from '../ops.ts';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function sources(state: FakeRuntimeState, extra: Partial<HealthSources> = {}): HealthSources {
  const runtime = fakeRuntime(world(), state);
  return { runtime: () => runtime, draining: () => false, heap: () => ({ used: 10, limit: 100 }), ...extra };
}

describe('GET /health', () => {
  test('answers 200 healthy with every check, version and uptime', async () => {
    const h = opsApp();
    const res = await h.app.inject({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ['checks', 'status', 'timestamp', 'uptime', 'version']);
    assert.equal(body.status, 'healthy');
    assert.equal(body.version, '9.9.9-test');
    assert.match(body.timestamp, ISO);
    assert.equal(typeof body.uptime, 'number');
    assert.deepEqual(body.checks, {
      config: 'healthy',
      'broker_token:sts.aws': 'healthy',
      'idp:github': 'healthy',
      'idp:gitlab': 'healthy',
      'idp:anyaud': 'healthy',
      memory: 'healthy',
    });
    await h.app.close();
  });

  test('is degraded (200) when one client IdP has no keys: one broken IdP never empties the load balancer', async () => {
    const h = opsApp();
    h.runtime.keySets.gitlab = {
      status: 'unhealthy',
      error: 'keys of https://gitlab.example.com unavailable',
    };
    const res = await h.app.inject({ method: 'GET', url: '/health' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().status, 'degraded');
    assert.equal(res.json().checks['idp:gitlab'], 'unhealthy');
    assert.deepEqual(res.json().errors, ['idp:gitlab: keys of https://gitlab.example.com unavailable']);
    const ready = await h.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    await h.app.close();
  });

  test('is unhealthy (503) only when no broker token can be had for any audience', async () => {
    const state = healthyState(world());
    state.tokens = {
      'sts.aws': { status: 'unhealthy', error: 'broker IdP answered HTTP 401' },
      minio: { status: 'healthy', expiresAt: 2_000_000_000 },
    };
    assert.equal((await runChecks(sources(state))).status, 'degraded');
    state.tokens.minio = { status: 'unhealthy', error: 'broker token request aborted' };
    const report = await runChecks(sources(state));
    assert.equal(report.status, 'unhealthy');
    assert.deepEqual(report.errors, [
      'broker_token:sts.aws: broker IdP answered HTTP 401',
      'broker_token:minio: broker token request aborted',
    ]);
  });

  test('is unhealthy without a config', async () => {
    const report = await runChecks({ runtime: () => undefined, draining: () => false });
    assert.deepEqual(report, {
      status: 'unhealthy',
      checks: { config: 'unhealthy' },
      errors: ['config: no configuration loaded'],
    });
  });

  test('asks for a missing broker token in the background and waits for it at most 2 s', async () => {
    const state = healthyState(world());
    state.tokens = { 'sts.aws': { status: 'unhealthy', error: 'no broker token obtained yet' } };
    let release: () => void = () => {};
    state.prefetch = () =>
      new Promise<void>((resolve) => {
        release = resolve;
      });
    const started = Date.now();
    const report = await runChecks(sources(state));
    const waited = Date.now() - started;
    release();
    assert.equal(state.calls.prefetch, 1);
    assert.ok(waited >= TOKEN_WAIT_MS - 50 && waited < TOKEN_WAIT_MS + 500, `waited ${waited} ms`);
    assert.equal(report.status, 'unhealthy');
  });

  test('reports a token fetched during the check', async () => {
    const state = healthyState(world());
    state.tokens = { 'sts.aws': { status: 'unhealthy', error: 'no broker token obtained yet' } };
    state.prefetch = async () => {
      state.tokens['sts.aws'] = { status: 'healthy', expiresAt: 2_000_000_000 };
    };
    const report = await runChecks(sources(state));
    assert.equal(report.status, 'healthy');
  });

  test('is degraded when the heap passes 90 % of its limit', async () => {
    const report = await runChecks(
      sources(healthyState(world()), { heap: () => ({ used: 95, limit: 100 }) }),
    );
    assert.equal(report.status, 'degraded');
    assert.equal(report.checks.memory, 'degraded');
    assert.deepEqual(report.errors, ['memory: heap at 95% of its limit']);
  });

  test('never shows credentials of a URL in an error', async () => {
    const state = healthyState(world());
    state.keySets.github = {
      status: 'unhealthy',
      error: 'fetch of https://user:pa55@idp.example/jwks failed',
    };
    const report = await runChecks(sources(state));
    assert.deepEqual(report.errors, ['idp:github: fetch of https://idp.example/jwks failed']);
  });
});

describe('the audit checks', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voidkey-health-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const audit = (file: string, ok = true): Pick<AuditLog, 'file' | 'fileStatus'> => ({
    file,
    fileStatus: () => (ok ? { ok: true } : { ok: false, error: 'ENOSPC', failedAt: 'x' }),
  });

  test('checks the audit directory and its free space against the rotation size', async () => {
    const state = healthyState(world());
    const healthy = await runChecks(sources(state, { audit: audit(join(dir, 'a.log')), minFreeBytes: 1 }));
    assert.equal(healthy.checks.audit, 'healthy');
    assert.equal(healthy.checks.disk, 'healthy');
    const full = await runChecks(
      sources(state, { audit: audit(join(dir, 'a.log')), minFreeBytes: 1000, freeBytes: async () => 10 }),
    );
    assert.equal(full.status, 'degraded');
    assert.equal(full.checks.disk, 'unhealthy');
    assert.deepEqual(full.errors, ['disk: 10 bytes free for the audit file']);
  });

  test('reports a failed write and a directory that does not exist', async () => {
    const state = healthyState(world());
    const failed = await runChecks(sources(state, { audit: audit(join(dir, 'a.log'), false) }));
    assert.equal(failed.checks.audit, 'unhealthy');
    assert.deepEqual(failed.errors, ['audit: last audit write failed (ENOSPC)']);
    const missing = await runChecks(sources(state, { audit: audit('/nonexistent-voidkey/a.log') }));
    assert.equal(missing.checks.audit, 'unhealthy');
    assert.equal(missing.checks.disk, 'unhealthy');
  });
});

describe('createHealthProbe', () => {
  test('reuses a healthy report for 5 s and computes it once for concurrent probes', async () => {
    let now = 0;
    const state = healthyState(world());
    const probe = createHealthProbe(sources(state, { now: () => now }));
    await Promise.all([probe.report(), probe.report(), probe.report()]);
    assert.equal(state.calls.keySetHealth, 1);
    now = 4_999;
    await probe.report();
    assert.equal(state.calls.keySetHealth, 1);
    now = 5_000;
    await probe.report();
    assert.equal(state.calls.keySetHealth, 2);
  });

  test('reuses a report that is not healthy for 1 s only', async () => {
    let now = 0;
    const state = healthyState(world());
    state.keySets.github = { status: 'degraded', error: 'keys not fetched yet' };
    const probe = createHealthProbe(sources(state, { now: () => now }));
    await probe.report();
    now = 1_000;
    await probe.report();
    assert.equal(state.calls.keySetHealth, 2);
  });

  test('is not ready while draining, without a runtime, or without any broker token', async () => {
    const state = healthyState(world());
    let draining = false;
    const probe = createHealthProbe(sources(state, { draining: () => draining }));
    assert.equal(await probe.ready(), true);
    draining = true;
    assert.equal(await probe.ready(), false);
    assert.equal(await createHealthProbe({ runtime: () => undefined, draining: () => false }).ready(), false);
    const noToken = healthyState(world());
    noToken.tokens = { 'sts.aws': { status: 'unhealthy', error: 'x' } };
    assert.equal(await createHealthProbe(sources(noToken)).ready(), false);
  });

  test('turns /health/ready into 503 not_ready while draining, and leaves /health/live alone', async () => {
    const h = opsApp();
    h.state.draining = true;
    const ready = await h.app.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 503);
    assert.deepEqual(ready.json().details, { reason: 'not_ready' });
    assert.equal((await h.app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
    await h.app.close();
  });
});
