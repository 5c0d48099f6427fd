import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { ForbiddenError, UpstreamError } from '../../src/core/errors.ts';
import { createMetrics } from '../../src/server/metrics.ts';
import { BROKER_HISTOGRAMS, BROKER_METRICS, metricNamesIn, REPO } from '../deploy/kit.ts';
import { defaultOutput, MAIN_SUBJECT, providerOf, TOKENS } from './helpers.ts';
import { jsonPost } from './http.ts';
import { type OpsApp, opsApp, samples } from './ops.ts';

/** Every metric name a /metrics answer declares (# TYPE), histogram series included. */
function declaredNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
  }
  return names;
}

/** PromQL expressions of a rules document. */
function ruleExprs(doc: unknown): string[] {
  const groups = (doc as { groups: Array<{ rules: Array<{ expr: string }> }> }).groups;
  return groups.flatMap((g) => g.rules.map((r) => r.expr));
}

describe('GET /metrics after real traffic', () => {
  let h: OpsApp;
  let text: string;

  before(async () => {
    h = opsApp();
    providerOf(h.w, 'minio-local').behaviour = async () => {
      throw new UpstreamError('refused', 'AccessDenied: not authorized');
    };
    const { telemetry } = h.metrics;
    telemetry.tokenVerification('github', 'failure', 'signature_invalid');
    telemetry.jwksFetch('https://token.actions.githubusercontent.com', 'success');
    telemetry.brokerTokenRefresh('sts.aws', 'success');
    telemetry.providerCall('aws-dev', 'AssumeRoleWithWebIdentity', 'success', 0.12);
    h.metrics.replayStoreError('claim');
    await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ', 'MINIO_STORAGE'] }, TOKENS.main));
    await h.app.inject(jsonPost('/credentials/mint', { keys: ['NOT_A_KEY_42'] }, TOKENS.main));
    await h.app.inject({ method: 'GET', url: '/no/such/thing-123?token=abc' });
    await h.app.inject({ method: 'DELETE', url: '/credentials/mint' });
    await h.app.inject({ method: 'GET', url: '/credentials/idp-providers?x=1' });
    const res = await h.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    text = res.body;
  });

  after(() => h.app.close());

  test('exposes every series the deployment kit expects, with exactly its labels', () => {
    for (const [name, labels] of Object.entries(BROKER_METRICS)) {
      const series = BROKER_HISTOGRAMS.includes(name) ? `${name}_count` : name;
      const found = samples(text, series);
      assert.ok(found.length > 0, `no sample of ${series}`);
      for (const s of found) assert.deepEqual(Object.keys(s.labels).sort(), [...labels].sort(), series);
    }
    for (const name of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
    ]) {
      assert.equal(samples(text, name).length, 1, name);
    }
    assert.deepEqual(samples(text, 'voidkey_build_info'), [{ labels: { version: '9.9.9-test' }, value: 1 }]);
  });

  test('labels requests by route template and every unmatched request as route="unmatched"', () => {
    const routes = new Set(samples(text, 'http_requests_total').map((s) => s.labels.route));
    assert.deepEqual([...routes].sort(), ['/credentials/idp-providers', '/credentials/mint', 'unmatched']);
    const unmatched = samples(text, 'http_requests_total').filter((s) => s.labels.route === 'unmatched');
    assert.deepEqual(unmatched.map((s) => `${s.labels.method} ${s.labels.status_code} ${s.value}`).sort(), [
      'DELETE 405 1',
      'GET 404 1',
    ]);
    assert.doesNotMatch(text, /no\/such|thing-123|token=abc|x=1/);
  });

  test('counts minted and failed keys by configured provider and key, and never a subject or unknown key', () => {
    const mints = samples(text, 'credential_minting_total').filter((s) => s.value > 0);
    assert.deepEqual(
      mints.map((s) => `${s.labels.provider}/${s.labels.key}/${s.labels.status}=${s.value}`).sort(),
      ['aws-dev/AWS_READ/success=2', 'minio-local/MINIO_STORAGE/failure=1'],
    );
    assert.equal(text.includes('NOT_A_KEY_42'), false);
    assert.equal(text.includes(MAIN_SUBJECT), false);
  });

  test('starts every configured (provider, key) pair at zero so rates exist before the first mint', () => {
    const zero = samples(text, 'credential_minting_total').find(
      (s) => s.labels.key === 'GCP_DEPLOY' && s.labels.status === 'failure',
    );
    assert.deepEqual(zero, {
      labels: { provider: 'gcp-prod', key: 'GCP_DEPLOY', status: 'failure' },
      value: 0,
    });
  });

  test('every metric named by deploy/prometheus/alerts.yml and docs/operations.md exists in the answer', () => {
    const declared = declaredNames(text);
    const alerts = parse(readFileSync(join(REPO, 'deploy/prometheus/alerts.yml'), 'utf8'));
    const docs = readFileSync(join(REPO, 'docs/operations.md'), 'utf8');
    const blocks = [...docs.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => parse(m[1] as string));
    const examples = blocks.filter((b) => b && typeof b === 'object' && 'groups' in b);
    assert.equal(examples.length, 1, 'docs/operations.md has one example rules block');
    const exprs = [...ruleExprs(alerts), ...examples.flatMap(ruleExprs)];
    assert.ok(exprs.length >= 10);
    const used = new Set(exprs.flatMap(metricNamesIn));
    used.delete('up'); // Prometheus' own series
    const missing = [...used].filter((name) => !declared.has(name));
    assert.deepEqual(missing, []);
    for (const name of [
      'http_requests_total',
      'http_request_duration_seconds_bucket',
      'credential_minting_total',
    ]) {
      assert.ok(used.has(name), `the rules use ${name}`);
    }
  });
});

describe('createMetrics', () => {
  test('feeds the core Telemetry port into the voidkey_ series', async () => {
    const m = createMetrics({ version: '1.2.3', defaultMetrics: false });
    m.telemetry.tokenVerification('github', 'success', 'ok');
    m.telemetry.jwksFetch('https://issuer.example', 'stale');
    m.telemetry.brokerTokenRefresh('sts.aws', 'failure');
    m.telemetry.providerCall('aws-prod', 'AssumeRole', 'failure', 0.3);
    m.configReload('failure');
    m.auditWriteFailure();
    m.rateLimitStoreError();
    const text = await m.registry.metrics();
    const one = (name: string) => samples(text, name).filter((s) => s.value > 0);
    assert.deepEqual(one('voidkey_token_verifications_total'), [
      { labels: { idp: 'github', result: 'success', reason: 'ok' }, value: 1 },
    ]);
    assert.deepEqual(one('voidkey_jwks_fetches_total'), [
      { labels: { issuer: 'https://issuer.example', result: 'stale' }, value: 1 },
    ]);
    assert.deepEqual(one('voidkey_broker_token_refreshes_total'), [
      { labels: { audience: 'sts.aws', result: 'failure' }, value: 1 },
    ]);
    assert.deepEqual(one('voidkey_provider_call_duration_seconds_sum'), [
      { labels: { provider: 'aws-prod', operation: 'AssumeRole', result: 'failure' }, value: 0.3 },
    ]);
    assert.deepEqual(one('voidkey_config_reloads_total'), [{ labels: { result: 'failure' }, value: 1 }]);
    assert.deepEqual(one('voidkey_audit_write_failures_total'), [{ labels: {}, value: 1 }]);
    assert.deepEqual(one('voidkey_rate_limit_store_errors_total'), [{ labels: {}, value: 1 }]);
    assert.equal(samples(text, 'process_cpu_seconds_total').length, 0);
  });

  test('keeps registries apart, so two apps in one process do not collide', async () => {
    const a = createMetrics({ version: 'a', defaultMetrics: false });
    const b = createMetrics({ version: 'b', defaultMetrics: false });
    a.httpRequest('GET', '/health', 200, 0.001);
    assert.equal(samples(await b.registry.metrics(), 'http_requests_total').length, 0);
    assert.equal(samples(await a.registry.metrics(), 'http_requests_total').length, 1);
  });
});

describe('credential_minting_total around a multi-key failure', () => {
  test('counts keys minted before the failure as success and the failed key as failure', async () => {
    const h = opsApp();
    providerOf(h.w, 'minio-local').behaviour = async () => {
      throw new UpstreamError('unavailable', 'ServiceUnavailable');
    };
    providerOf(h.w, 'aws-prod').behaviour = async (input) => defaultOutput('aws-prod', input);
    const res = await h.app.inject(
      jsonPost('/credentials/mint', { keys: ['AWS_DEPLOY', 'MINIO_STORAGE'] }, TOKENS.main),
    );
    assert.equal(res.statusCode, 503);
    const text = await h.metrics.registry.metrics();
    const counted = samples(text, 'credential_minting_total').filter((s) => s.value > 0);
    assert.deepEqual(counted.map((s) => `${s.labels.key}:${s.labels.status}`).sort(), [
      'AWS_DEPLOY:success',
      'MINIO_STORAGE:failure',
    ]);
    await h.app.close();
  });

  test('does not count a policy denial', async () => {
    const h = opsApp();
    const res = await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.stranger));
    assert.equal(res.statusCode, new ForbiddenError([]).status);
    const text = await h.metrics.registry.metrics();
    assert.equal(samples(text, 'credential_minting_total').filter((s) => s.value > 0).length, 0);
    await h.app.close();
  });
});

describe('http metrics', () => {
  test('count every answer by route template and status, and place its duration in the right bucket', async () => {
    const metrics = createMetrics({ version: '9.9.9-test', defaultMetrics: false });
    metrics.httpRequest('POST', '/credentials/mint', 200, 0.01);
    metrics.httpRequest('POST', '/credentials/mint', 200, 0.3);
    metrics.httpRequest('POST', '/credentials/mint', 401, 20);
    const text = await metrics.registry.metrics();
    assert.match(
      text,
      /^http_requests_total\{method="POST",route="\/credentials\/mint",status_code="200"\} 2$/m,
    );
    assert.match(
      text,
      /^http_requests_total\{method="POST",route="\/credentials\/mint",status_code="401"\} 1$/m,
    );
    const bucket = (le: string) =>
      new RegExp(
        `^http_request_duration_seconds_bucket\\{le="${le}",method="POST",route="/credentials/mint"\\} (\\d+)$`,
        'm',
      ).exec(text)?.[1];
    assert.deepEqual(
      [bucket('0.005'), bucket('0.01'), bucket('0.25'), bucket('0.5'), bucket('10'), bucket('\\+Inf')],
      ['0', '1', '1', '2', '2', '3'],
    );
    assert.match(
      text,
      /^http_request_duration_seconds_count\{method="POST",route="\/credentials\/mint"\} 3$/m,
    );
  });
});
