import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { configProblems, envVarsOf } from './config-check.ts';
import { CHART, DEPLOY, ingressExposure, type K8s, one, renderChart, selects } from './kit.ts';

const SECRETS = { secrets: { brokerClientSecret: 'test-broker-secret', redisPassword: 'test-redis-pw' } };
const ALL_ON = {
  ...SECRETS,
  serviceMonitor: { enabled: true },
  prometheusRule: { enabled: true },
  ingress: { enabled: true },
};
const kinds = (docs: K8s[]) => docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
const containerOf = (docs: K8s[]) => one(docs, 'Deployment', 'voidkey').spec.template.spec.containers[0];

describe('deploy/helm/voidkey', () => {
  test('renders the broker, its Redis and their policies by default, and no monitoring objects', () => {
    const { docs } = renderChart(SECRETS);
    assert.deepEqual(kinds(docs), [
      'ConfigMap/voidkey',
      'Deployment/voidkey',
      'Deployment/voidkey-redis',
      'HorizontalPodAutoscaler/voidkey',
      'NetworkPolicy/voidkey',
      'NetworkPolicy/voidkey-redis',
      'PodDisruptionBudget/voidkey',
      'Role/voidkey',
      'RoleBinding/voidkey',
      'Secret/voidkey',
      'Service/voidkey',
      'Service/voidkey-redis',
      'ServiceAccount/voidkey',
    ]);
  });

  test('renders a config the schema accepts, with drainDelay 10000 and trustProxy 1', () => {
    const { docs } = renderChart(SECRETS);
    const text = one(docs, 'ConfigMap').data['config.yaml'];
    const config = parse(text);
    assert.deepEqual(configProblems(config), []);
    assert.equal(config.server.drainDelay, 10000);
    assert.equal(config.server.trustProxy, 1);
    const env = new Set(containerOf(docs).env.map((e: K8s) => e.name));
    for (const name of envVarsOf(text)) assert.ok(env.has(name), `config reads \${${name}}, env lacks it`);
  });

  test('derives terminationGracePeriodSeconds from preStop, drainDelay and shutdownGracePeriod', () => {
    const spec = one(renderChart(SECRETS).docs, 'Deployment', 'voidkey').spec.template.spec;
    assert.equal(spec.terminationGracePeriodSeconds, 5 + 10 + 15 + 10);
    assert.deepEqual(spec.containers[0].lifecycle.preStop.exec.command, ['sleep', '5']);
    const longer = renderChart({ ...SECRETS, config: { server: { drainDelay: 30000 } } });
    assert.equal(
      one(longer.docs, 'Deployment', 'voidkey').spec.template.spec.terminationGracePeriodSeconds,
      60,
    );
  });

  test('probes /health/live and /health/ready on the http port that the Service targets', () => {
    const { docs } = renderChart(SECRETS);
    const c = containerOf(docs);
    assert.deepEqual(c.ports, [{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
    assert.equal(c.livenessProbe.httpGet.path, '/health/live');
    assert.equal(c.startupProbe.httpGet.path, '/health/live');
    assert.equal(c.readinessProbe.httpGet.path, '/health/ready');
    const svc = one(docs, 'Service', 'voidkey');
    assert.equal(svc.spec.ports[0].targetPort, 'http');
    const podLabels = one(docs, 'Deployment', 'voidkey').spec.template.metadata.labels;
    assert.ok(selects(svc.spec.selector, podLabels));
    assert.ok(
      !selects(svc.spec.selector, one(docs, 'Deployment', 'voidkey-redis').spec.template.metadata.labels),
    );
    assert.ok(selects(one(docs, 'PodDisruptionBudget').spec.selector.matchLabels, podLabels));
    assert.ok(selects(one(docs, 'NetworkPolicy', 'voidkey').spec.podSelector.matchLabels, podLabels));
  });

  test('runs the broker restricted: non-root, read-only, no capabilities, no API token, empty Role', () => {
    const { docs } = renderChart(SECRETS);
    const pod = one(docs, 'Deployment', 'voidkey').spec.template.spec;
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(one(docs, 'ServiceAccount').automountServiceAccountToken, false);
    assert.deepEqual(one(docs, 'Role').rules, []);
    const sc = pod.containers[0].securityContext;
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  });

  test('scales 3 to 20 at 70% CPU and lets out DNS on UDP and TCP', () => {
    const { docs } = renderChart(SECRETS);
    const hpa = one(docs, 'HorizontalPodAutoscaler');
    assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [3, 20]);
    assert.equal(hpa.spec.metrics[0].resource.target.averageUtilization, 70);
    assert.equal(one(docs, 'Deployment', 'voidkey').spec.replicas, undefined);
    const egress = one(docs, 'NetworkPolicy', 'voidkey').spec.egress.flatMap((r: K8s) => r.ports);
    assert.ok(egress.some((p: K8s) => p.protocol === 'UDP' && p.port === 53));
    assert.ok(egress.some((p: K8s) => p.protocol === 'TCP' && p.port === 53));
    const fixed = renderChart({ ...SECRETS, autoscaling: { enabled: false } }).docs;
    assert.equal(one(fixed, 'Deployment', 'voidkey').spec.replicas, 3);
  });

  test('renders ServiceMonitor and PrometheusRule when enabled, with the rules of alerts.yml', () => {
    const { docs } = renderChart(ALL_ON);
    const sm = one(docs, 'ServiceMonitor');
    assert.equal(sm.spec.jobLabel, 'app.kubernetes.io/name');
    assert.deepEqual(sm.spec.endpoints[0].port, 'http');
    assert.equal(sm.spec.endpoints[0].path, '/metrics');
    assert.ok(selects(sm.spec.selector.matchLabels, one(docs, 'Service', 'voidkey').metadata.labels));
    const alerts = parse(readFileSync(join(DEPLOY, 'prometheus', 'alerts.yml'), 'utf8'));
    assert.deepEqual(one(docs, 'PrometheusRule').spec, alerts);
    assert.equal(one(docs, 'Ingress').spec.rules[0].http.paths[0].backend.service.name, 'voidkey');
  });

  test('routes only /credentials and /health through the Ingress, never /metrics or /', () => {
    const { docs, notes } = renderChart({
      ...ALL_ON,
      ingress: { enabled: true, hosts: [{ host: 'a.example' }, { host: 'b.example' }] },
    });
    const ingress = one(docs, 'Ingress');
    assert.deepEqual(
      ingress.spec.rules.map((r: K8s) => r.host),
      ['a.example', 'b.example'],
    );
    assert.deepEqual(ingressExposure(ingress), { missing: [], exposed: [] });
    for (const rule of ingress.spec.rules)
      for (const p of rule.http.paths) assert.equal(p.backend.service.port.name, 'http');
    assert.match(notes, /https:\/\/a\.example/);
    // Values that still carry paths (the old form routed "/") are refused, not silently narrowed.
    assert.throws(
      () =>
        renderChart({
          ...ALL_ON,
          ingress: {
            enabled: true,
            hosts: [{ host: 'a.example', paths: [{ path: '/', pathType: 'Prefix' }] }],
          },
        }),
      /ingress\.hosts\[\]\.paths is not supported/,
    );
  });

  test('finds an Ingress that routes / or /metrics', () => {
    const ingress = one(renderChart(ALL_ON).docs, 'Ingress');
    const withPath = (path: string, pathType: string) => ({
      ...ingress,
      spec: { ...ingress.spec, rules: [{ host: 'x', http: { paths: [{ path, pathType }] } }] },
    });
    assert.deepEqual(ingressExposure(withPath('/', 'Prefix')).exposed, [
      '/',
      '/metrics',
      '/metrics/',
      '/index.html',
      '/healthz',
      '/credentialsx',
    ]);
    assert.deepEqual(ingressExposure(withPath('/metrics', 'Exact')).exposed, ['/metrics']);
    assert.deepEqual(ingressExposure(withPath('/', 'Exact')).exposed, ['/']);
    assert.ok(ingressExposure(withPath('/health', 'ImplementationSpecific')).exposed.includes('/healthz'));
  });

  test("keeps the chart's alert copy identical to deploy/prometheus/alerts.yml", () => {
    assert.equal(
      readFileSync(join(CHART, 'files', 'alerts.yml'), 'utf8'),
      readFileSync(join(DEPLOY, 'prometheus', 'alerts.yml'), 'utf8'),
    );
  });

  test('refuses to render without the secrets it needs', () => {
    assert.throws(() => renderChart({}), /secrets\.brokerClientSecret is required/);
    assert.throws(
      () => renderChart({ secrets: { brokerClientSecret: 'x' } }),
      /secrets\.redisPassword is required/,
    );
  });

  test('uses an existing Secret instead of creating one', () => {
    const { docs } = renderChart({ secrets: { existingSecret: 'vault-synced' } });
    assert.equal(
      docs.find((d) => d.kind === 'Secret'),
      undefined,
    );
    for (const e of containerOf(docs).env.filter((x: K8s) => x.valueFrom)) {
      assert.equal(e.valueFrom.secretKeyRef.name, 'vault-synced');
    }
  });

  test('points REDIS_URL at the in-cluster Redis, an external one, or none', () => {
    const env = (docs: K8s[]) => new Map(containerOf(docs).env.map((e: K8s) => [e.name, e.value]));
    assert.equal(
      env(renderChart(SECRETS).docs).get('REDIS_URL'),
      'redis://:$(REDIS_PASSWORD)@voidkey-redis:6379/0',
    );
    const external = { ...SECRETS, redis: { enabled: false, externalUrl: 'rediss://r.example:6380/0' } };
    assert.equal(env(renderChart(external).docs).get('REDIS_URL'), 'rediss://r.example:6380/0');
    assert.throws(() => renderChart({ ...SECRETS, redis: { enabled: false } }), /set redis\.enabled/);
    const none = renderChart({ ...SECRETS, redis: { enabled: false }, config: { redis: null } });
    assert.equal(env(none.docs).has('REDIS_URL'), false);
    assert.equal(parse(one(none.docs, 'ConfigMap').data['config.yaml']).redis, undefined);
  });

  test('names objects RELEASE-voidkey, or RELEASE when that is voidkey', () => {
    const prod = renderChart(SECRETS, { Name: 'prod', Namespace: 'broker' });
    assert.ok(one(prod.docs, 'Deployment', 'prod-voidkey'));
    assert.equal(one(prod.docs, 'RoleBinding').subjects[0].namespace, 'broker');
    assert.match(prod.notes, /rollout status deployment\/prod-voidkey/);
    assert.match(prod.notes, /scripts\/smoke-tests\.sh/);
  });

  test('only references values that values.yaml declares', () => {
    const values = parse(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    const dir = join(CHART, 'templates');
    for (const f of readdirSync(dir)) {
      for (const m of readFileSync(join(dir, f), 'utf8').matchAll(/\.Values\.([\w.]+)/g)) {
        let v: unknown = values;
        for (const k of (m[1] as string).split('.')) v = (v as Record<string, unknown>)?.[k];
        assert.notEqual(v, undefined, `${f}: .Values.${m[1]} is not in values.yaml`);
      }
    }
  });

  test('documents every value with a comment on it or on an enclosing key', () => {
    const lines = readFileSync(join(CHART, 'values.yaml'), 'utf8').split('\n');
    const stack: Array<{ indent: number; documented: boolean }> = [];
    lines.forEach((line, i) => {
      const m = /^(\s*)([A-Za-z][\w.-]*):\s*([^#\s].*)?$/.exec(line);
      if (!m) return;
      const indent = (m[1] as string).length;
      while (stack.length > 0 && (stack[stack.length - 1]?.indent ?? 0) >= indent) stack.pop();
      const documented = /^\s*#/.test(lines[i - 1] ?? '') || stack.some((s) => s.documented);
      // A key holding a nested map is documented through its children.
      if (m[3] !== undefined)
        assert.ok(documented, `values.yaml line ${i + 1}: ${line.trim()} has no comment`);
      stack.push({ indent, documented });
    });
  });
});
