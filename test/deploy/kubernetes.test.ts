import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { configProblems, envVarsOf } from './config-check.ts';
import { DEPLOY, ingressExposure, type K8s, loadManifests, one, parseDocs, selects } from './kit.ts';
import { which } from './shell.ts';

const byFile = loadManifests();
const all = [...byFile.values()].flat();
const deployment = one(all, 'Deployment', 'voidkey');
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const configMap = one(all, 'ConfigMap');
const configText = configMap.data['config.yaml'] as string;
const config = parse(configText);

describe('deploy/kubernetes manifests', () => {
  test('parse, and every object has apiVersion, kind, name and the voidkey namespace', () => {
    assert.ok(all.length >= 14);
    for (const o of all) {
      assert.ok(o.apiVersion && o.kind && o.metadata.name, JSON.stringify(o).slice(0, 80));
      if (o.kind !== 'Namespace')
        assert.equal(o.metadata.namespace, 'voidkey', `${o.kind}/${o.metadata.name}`);
    }
  });

  test('kustomization lists exactly the manifest files of the folder', () => {
    const k = parse(readFileSync(join(DEPLOY, 'kubernetes', 'kustomization.yaml'), 'utf8'));
    const files = readdirSync(join(DEPLOY, 'kubernetes')).filter(
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
    );
    assert.deepEqual([...k.resources].sort(), files.sort());
    assert.equal(k.namespace, 'voidkey');
  });

  test('builds with kubectl kustomize into the same objects, when kubectl is installed', (t) => {
    if (!which('kubectl')) {
      t.skip('kubectl not installed');
      return;
    }
    const r = spawnSync('kubectl', ['kustomize', join(DEPLOY, 'kubernetes')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const built = parseDocs(r.stdout, 'kubectl kustomize').map((o) => `${o.kind}/${o.metadata.name}`);
    assert.deepEqual(built.sort(), all.map((o) => `${o.kind}/${o.metadata.name}`).sort());
  });

  test('runs 3 replicas, rolling with no unavailable pod', () => {
    assert.equal(deployment.spec.replicas, 3);
    assert.deepEqual(deployment.spec.strategy.rollingUpdate, { maxUnavailable: 0, maxSurge: 1 });
  });

  test('serves on container port 3000 named http, which the Service targets', () => {
    assert.deepEqual(container.ports, [{ name: 'http', containerPort: 3000, protocol: 'TCP' }]);
    assert.deepEqual(
      container.env.find((e: { name: string }) => e.name === 'PORT'),
      { name: 'PORT', value: '3000' },
    );
    assert.equal(config.server.port, 3000);
    const service = one(all, 'Service', 'voidkey');
    assert.equal(service.spec.ports[0].targetPort, 'http');
    assert.ok(selects(service.spec.selector, deployment.spec.template.metadata.labels));
    assert.ok(
      !selects(service.spec.selector, one(all, 'Deployment', 'voidkey-redis').spec.template.metadata.labels),
    );
  });

  test('probes liveness and startup on /health/live and readiness on /health/ready', () => {
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/health/live', port: 'http' });
    assert.deepEqual(container.startupProbe.httpGet, { path: '/health/live', port: 'http' });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/health/ready', port: 'http' });
  });

  test('runs non-root with a read-only root filesystem, no capabilities and RuntimeDefault seccomp', () => {
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
    const sc = container.securityContext;
    assert.equal(sc.runAsNonRoot, true);
    assert.equal(sc.runAsUser, 10001);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.deepEqual(sc.capabilities.drop, ['ALL']);
    const tmp = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
    assert.ok(
      pod.volumes.find((v: { name: string; emptyDir?: object }) => v.name === tmp.name && v.emptyDir),
    );
  });

  test('sets resource requests and limits', () => {
    assert.ok(container.resources.requests.cpu && container.resources.requests.memory);
    assert.ok(container.resources.limits.memory);
  });

  test('spreads pods across zones and hosts', () => {
    const keys = pod.topologySpreadConstraints.map((t: { topologyKey: string }) => t.topologyKey);
    assert.deepEqual(keys, ['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    for (const t of pod.topologySpreadConstraints) {
      assert.ok(selects(t.labelSelector.matchLabels, deployment.spec.template.metadata.labels));
    }
  });

  test('gives the pod longer to stop than preStop + drainDelay + shutdownGracePeriod', () => {
    const [cmd, seconds] = container.lifecycle.preStop.exec.command;
    assert.equal(cmd, 'sleep');
    assert.equal(config.server.drainDelay, 10000);
    const needed = Number(seconds) + (config.server.drainDelay + config.server.shutdownGracePeriod) / 1000;
    assert.ok(
      pod.terminationGracePeriodSeconds > needed,
      `${pod.terminationGracePeriodSeconds} <= ${needed}`,
    );
  });

  test('mounts the ConfigMap at /etc/voidkey and starts serve with that config', () => {
    assert.deepEqual(container.args, ['serve', '--config', '/etc/voidkey/config.yaml']);
    const mount = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/etc/voidkey');
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    assert.equal(volume.configMap.name, configMap.metadata.name);
    assert.deepEqual(volume.configMap.items, [{ key: 'config.yaml', path: 'config.yaml' }]);
  });

  test('ships a config the schema accepts, with trustProxy 1 and drainDelay 10000', () => {
    assert.deepEqual(configProblems(config), []);
    assert.equal(config.server.trustProxy, 1);
    assert.equal(config.redis.url, '${REDIS_URL}');
  });

  test('defines every ${VAR} of the config in the container env, secrets from the Secret', () => {
    const secret = one(all, 'Secret');
    const env = new Map<string, K8s>(container.env.map((e: K8s) => [e.name, e]));
    for (const name of envVarsOf(configText))
      assert.ok(env.has(name), `config reads \${${name}}, env lacks it`);
    for (const e of container.env.filter((x: K8s) => x.valueFrom)) {
      assert.equal(e.valueFrom.secretKeyRef.name, secret.metadata.name);
      assert.ok(e.valueFrom.secretKeyRef.key in secret.stringData, e.valueFrom.secretKeyRef.key);
    }
    assert.match(env.get('REDIS_URL')?.value, /^redis:\/\/:\$\(REDIS_PASSWORD\)@voidkey-redis:6379\/0$/);
  });

  test('keeps the ServiceAccount token out of the pod and grants the broker nothing', () => {
    const sa = one(all, 'ServiceAccount');
    assert.equal(sa.automountServiceAccountToken, false);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.serviceAccountName, sa.metadata.name);
    assert.deepEqual(one(all, 'Role').rules, []);
    const rb = one(all, 'RoleBinding');
    assert.equal(rb.roleRef.name, one(all, 'Role').metadata.name);
    assert.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: 'voidkey' }]);
  });

  test('autoscales the Deployment from 3 to 20 pods at 70% CPU', () => {
    const hpa = one(all, 'HorizontalPodAutoscaler');
    assert.equal(hpa.apiVersion, 'autoscaling/v2');
    assert.equal(hpa.spec.scaleTargetRef.name, deployment.metadata.name);
    assert.equal(hpa.spec.minReplicas, 3);
    assert.equal(hpa.spec.maxReplicas, 20);
    assert.deepEqual(hpa.spec.metrics[0].resource, {
      name: 'cpu',
      target: { type: 'Utilization', averageUtilization: 70 },
    });
  });

  test('lets voluntary disruptions take one broker pod at a time', () => {
    const pdb = one(all, 'PodDisruptionBudget');
    assert.equal(pdb.spec.maxUnavailable, 1);
    assert.ok(selects(pdb.spec.selector.matchLabels, deployment.spec.template.metadata.labels));
  });

  test('admits traffic on the service port only and lets out DNS, Redis and HTTPS', () => {
    const np = one(all, 'NetworkPolicy', 'voidkey');
    assert.ok(selects(np.spec.podSelector.matchLabels, deployment.spec.template.metadata.labels));
    assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
    const inPorts = np.spec.ingress.flatMap((r: K8s) => r.ports);
    assert.deepEqual(inPorts, [{ protocol: 'TCP', port: 3000 }]);
    const out = np.spec.egress.flatMap((r: K8s) => r.ports.map((p: K8s) => `${p.protocol}/${p.port}`));
    assert.deepEqual(out.sort(), ['TCP/443', 'TCP/53', 'TCP/6379', 'UDP/53']);
  });

  test('runs Redis with noeviction, no persistence, reachable from broker pods only', () => {
    const redis = one(all, 'Deployment', 'voidkey-redis').spec.template.spec;
    const args: string[] = redis.containers[0].args;
    assert.equal(args[args.indexOf('--maxmemory-policy') + 1], 'noeviction');
    assert.equal(args[args.indexOf('--save') + 1], '');
    assert.equal(args[args.indexOf('--appendonly') + 1], 'no');
    assert.equal(redis.securityContext.runAsNonRoot, true);
    assert.equal(redis.containers[0].securityContext.readOnlyRootFilesystem, true);
    assert.equal(one(all, 'Service', 'voidkey-redis').spec.ports[0].port, 6379);
    const np = one(all, 'NetworkPolicy', 'voidkey-redis');
    const from = np.spec.ingress[0].from[0].podSelector.matchLabels;
    assert.ok(selects(from, deployment.spec.template.metadata.labels));
  });

  test('exposes only /credentials and /health through the Ingress, never /metrics or /', () => {
    const ingress = one(all, 'Ingress');
    assert.deepEqual(ingressExposure(ingress), { missing: [], exposed: [] });
    const service = one(all, 'Service', 'voidkey');
    for (const rule of ingress.spec.rules) {
      for (const p of rule.http.paths) {
        assert.equal(p.backend.service.name, service.metadata.name);
        assert.equal(p.backend.service.port.name, service.spec.ports[0].name);
      }
    }
    assert.equal(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-body-size'], '64k');
  });

  test('holds the namespace to the restricted Pod Security Standard', () => {
    assert.equal(one(all, 'Namespace').metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
  });
});
