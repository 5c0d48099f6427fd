/**
 * The operations promises through the built binary against real peers:
 * /metrics as the alert rules need it, the audit file, rate-limit headers,
 * SIGHUP (refused and applied), SIGTERM with a drain delay and a mint in
 * flight — and, at the end, every byte the broker printed plus its audit
 * file searched for every token, secret and minted value the session used.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { BROKER_METRICS, metricNamesIn, REPO } from '../deploy/kit.ts';
import { assertError } from './helpers/assert.ts';
import { findLeaks, registerCredentials, registerSecret } from './helpers/secrets.ts';
import { LIMITED, ROLE, SUBJECT, startWorld, type World } from './helpers/world.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the broker printed a line containing `text` `count` times (reloads are asynchronous). */
async function waitForOutput(w: World, text: string, count = 1, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (w.broker.output().split(text).length - 1 >= count) return;
    await sleep(50);
  }
  throw new Error(`broker never printed ${JSON.stringify(text)}:\n${w.broker.output().slice(-2000)}`);
}

describe('operating the built broker', () => {
  let w: World;
  let config: Record<string, unknown>;

  before(async () => {
    w = await startWorld({
      configure: (c) => {
        c.server = { ...(c.server as object), drainDelay: 600, allowQueryToken: true };
        c.logging = { level: 'debug', audit: { file: 'audit.log', maxSize: '1MB', maxFiles: 2 } };
        c.rateLimit = { max: 500, perSubject: { windowMs: 60_000, max: 100 } };
      },
    });
    config = w.config;
  });
  after(async () => {
    await w?.close();
  });

  test('exposes on /metrics every series the alert rules and docs name', async () => {
    const token = await w.token(w.opA, SUBJECT);
    const res = await w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_READ'] } });
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
    const metrics = await w.api('GET', '/metrics');
    assert.equal(metrics.status, 200);
    const declared = new Set<string>();
    for (const m of metrics.text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
      declared.add(m[1] as string);
      if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) declared.add(`${m[1]}${s}`);
    }
    for (const name of Object.keys(BROKER_METRICS)) assert.ok(declared.has(name), name);
    const alerts = parse(readFileSync(join(REPO, 'deploy/prometheus/alerts.yml'), 'utf8'));
    const exprs: string[] = alerts.groups.flatMap((g: { rules: Array<{ expr: string }> }) =>
      g.rules.map((r) => r.expr),
    );
    const missing = [...new Set(exprs.flatMap(metricNamesIn))].filter((n) => n !== 'up' && !declared.has(n));
    assert.deepEqual(missing, []);
    assert.match(
      metrics.text,
      /credential_minting_total\{provider="aws-e2e",key="AWS_READ",status="success"\} 1/,
    );
    assert.match(
      metrics.text,
      /voidkey_broker_token_refreshes_total\{audience="https:\/\/sts\.voidkey\.test",result="success"\} 1/,
    );
  });

  test('writes the audit file (0600) with what matches the STS peer’s own records', async () => {
    const path = join(w.broker.dir, 'audit.log');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const events = (await readFile(path, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const mint = events.find((e) => e.eventType === 'MINT_SUCCESS');
    const call = w.proxy.calls.filter((c) => c.roleArn === ROLE.read && c.status === 200).at(-1);
    assert.equal(mint.subject, SUBJECT);
    assert.equal(mint.minted[0].role, ROLE.read);
    assert.equal(mint.minted[0].sessionName, call?.roleSessionName);
    assert.equal(mint.minted[0].accessKeyId, call?.credentials?.accessKeyId);
    assert.match(mint.minted[0].upstreamRequestId, /\S/);
  });

  test('sends rate-limit headers on the API and none on health', async () => {
    const api = await w.api('GET', '/credentials/idp-providers');
    assert.equal(api.headers.get('x-ratelimit-limit'), '500');
    assert.ok(Number(api.headers.get('x-ratelimit-reset')) > Date.now() / 1000);
    const health = await w.api('GET', '/health');
    assert.equal(health.status, 200, health.text);
    assert.equal(health.headers.get('x-ratelimit-limit'), null);
    assert.equal(health.body.checks.audit, 'healthy');
    assert.equal(health.headers.get('x-frame-options'), 'DENY');
  });

  test('survives the error paths a token can travel without printing it', async () => {
    const token = await w.token(w.opA, SUBJECT);
    const [head, payload] = token.split('.');
    const forged = `${head}.${payload}.${'A'.repeat(86)}`;
    registerSecret('forged token', forged);
    assert.equal(
      (await w.api('POST', '/credentials/mint', { token: forged, json: { keys: ['AWS_READ'] } })).status,
      401,
    );
    assert.equal(
      (await w.api('POST', '/credentials/mint', { json: { keys: ['AWS_READ'], oidcToken: forged } })).status,
      401,
    );
    assert.equal(
      (
        await w.api('POST', '/credentials/mint', {
          raw: `{"oidcToken":"${token}",`,
          headers: { 'content-type': 'application/json' },
        })
      ).status,
      400,
    );
    assert.equal((await w.api('GET', `/credentials/keys?token=${encodeURIComponent(token)}`)).status, 200);
    assert.equal((await w.api('GET', `/credentials/keys?token=${encodeURIComponent(forged)}`)).status, 401);
    assert.equal((await w.api('GET', `/no/such/route?token=${encodeURIComponent(token)}`)).status, 404);
    const refused = await w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_REFUSED'] } });
    assert.equal(refused.status, 502, refused.text);
  });

  test('refuses a broken config on SIGHUP, logs why, and keeps serving', async () => {
    await writeFile(w.broker.configPath, 'server: [broken', { mode: 0o600 });
    w.broker.kill('SIGHUP');
    await waitForOutput(w, 'config reload refused');
    const token = await w.token(w.opA, LIMITED);
    const res = await w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_READ'] } });
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
  });

  test('applies a changed config on SIGHUP', async () => {
    const identities = (config.clientIdentities as Array<{ subject: string }>).filter(
      (i) => i.subject !== LIMITED,
    );
    const changed = { ...config, clientIdentities: identities, rateLimit: { max: 400 } };
    await writeFile(w.broker.configPath, stringify(changed), { mode: 0o600 });
    w.broker.kill('SIGHUP');
    await waitForOutput(w, '"msg":"config reloaded"');
    const token = await w.token(w.opA, LIMITED);
    assertError(
      await w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_READ'] } }),
      'FORBIDDEN',
      {
        deniedKeys: ['AWS_READ'],
        reasons: { AWS_READ: 'no_identity_matched' },
      },
    );
    assert.equal((await w.api('GET', '/credentials/idp-providers')).headers.get('x-ratelimit-limit'), '400');
  });

  test('on SIGTERM: not ready during drainDelay, still serving, finishes the mint in flight, exits 0', async () => {
    const token = await w.token(w.opA, SUBJECT);
    w.proxy.latencyMs = 900;
    const pending = w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_DEPLOY'] } });
    await sleep(200);
    w.broker.kill('SIGTERM');
    await sleep(100);
    assert.equal((await w.api('GET', '/health/ready')).status, 503);
    assert.equal((await w.api('GET', '/health/live')).status, 200);
    const res = await pending;
    w.proxy.latencyMs = 0;
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
    assert.deepEqual(await w.broker.exited, { code: 0, signal: null });
    assert.ok(w.broker.output().includes('"msg":"stopped"'));
  });

  test('flushed the audit file before exiting, and left no token, secret or minted value in it or its output', async () => {
    const audit = await readFile(join(w.broker.dir, 'audit.log'), 'utf8');
    const last = JSON.parse(audit.trim().split('\n').at(-1) as string);
    assert.equal(last.eventType, 'MINT_SUCCESS');
    assert.deepEqual(last.keys, ['AWS_DEPLOY']);
    const { leaks, registered } = w.leaks();
    assert.ok(registered > 10, `only ${registered} secrets registered`);
    assert.deepEqual(leaks, []);
    assert.deepEqual(findLeaks(audit), []);
  });
});
