import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BASE_TOOLS, runScript, toolDir } from './shell.ts';

const CONFIG = 'server:\n  port: 3000\nbrokerIdp:\n  clientSecret: ${BROKER_CLIENT_SECRET}\n';
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Stand-ins for kubectl and helm: canned answers, every call logged. */
function installFakes(bin: string, log: string): void {
  const kubectl = `#!/bin/bash
echo "kubectl $*" >>"${log}"
case "$*" in
  "get configmap voidkey -n voidkey -o go-template={{range"*) printf 'config.yaml\\n' ;;
  'get configmap voidkey -n voidkey -o go-template={{index .data "config.yaml"}}') printf 'server:\\n  port: 4000\\n' ;;
  "get secret voidkey -n voidkey -o go-template={{range"*) printf 'BROKER_CLIENT_SECRET\\nREDIS_PASSWORD\\n' ;;
  'get secret voidkey -n voidkey -o go-template={{index .data "BROKER_CLIENT_SECRET"}}') printf '${b64('k8s-secret-bcs')}' ;;
  'get secret voidkey -n voidkey -o go-template={{index .data "REDIS_PASSWORD"}}') printf '${b64('k8s-secret-rp')}' ;;
  "create "*) echo "kind: made-by-create" ;;
  "apply -n voidkey -f -") cat >>"${log}" ;;
  *) echo "fake kubectl: unexpected $*" >&2; exit 1 ;;
esac
`;
  const helm = `#!/bin/bash
echo "helm $*" >>"${log}"
printf 'secrets:\\n  brokerClientSecret: helm-secret-value\\n  existingSecret: ""\\nconfig:\\n  brokerIdp:\\n    clientSecret: \${BROKER_CLIENT_SECRET}\\n'
`;
  writeFileSync(join(bin, 'kubectl'), kubectl);
  writeFileSync(join(bin, 'helm'), helm);
  chmodSync(join(bin, 'kubectl'), 0o755);
  chmodSync(join(bin, 'helm'), 0o755);
}

/** Every file under dir, as relative paths. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath ?? d.path, d.name).slice(dir.length + 1))
    .sort();
}

describe('restore-config.sh --restart', () => {
  let tools: { dir: string; bin: string };
  let backup = '';
  const log = () => join(tools.dir, 'calls.log');
  /** A kubectl that logs its call and answers with this exit code (1 prints an error, like a refused context). */
  const fakeKubectl = (code: number) => {
    writeFileSync(
      join(tools.bin, 'kubectl'),
      `#!/bin/bash\necho "kubectl $*" >>"${log()}"\n[ ${code} = 0 ] || echo "error: You must be logged in to the server" >&2\nexit ${code}\n`,
    );
    chmodSync(join(tools.bin, 'kubectl'), 0o755);
  };
  before(() => {
    tools = toolDir(BASE_TOOLS);
    backup = join(tools.dir, 'backup');
    mkdirSync(backup);
    writeFileSync(join(backup, 'config.yaml'), CONFIG);
    writeFileSync(join(backup, 'manifest.txt'), 'namespace=voidkey\nrelease=voidkey\n');
  });
  after(() => rmSync(tools.dir, { recursive: true, force: true }));
  const restore = (...extra: string[]) =>
    runScript(
      'restore-config.sh',
      [backup, '--config-file', join(tools.dir, 'out.yaml'), '--restart', ...extra],
      {
        env: { PATH: tools.bin },
      },
    );

  test('exits 1 and says so when kubectl rollout restart fails', async () => {
    fakeKubectl(1);
    const r = await restore();
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^restored - local config file /m);
    assert.match(r.stdout, /^FAILED {3}- kubectl rollout restart deployment\/voidkey -n voidkey exited 1;/m);
    assert.match(
      r.stderr,
      /^restore-config: kubectl rollout restart deployment\/voidkey -n voidkey exited 1;/m,
    );
    assert.match(r.stdout, /^restore FAILED: 1 requested step\(s\) failed/m);
    assert.doesNotMatch(r.stdout, /rolled deployment|restore done/);
    assert.match(readFileSync(log(), 'utf8'), /^kubectl rollout restart deployment\/voidkey -n voidkey$/m);
  });

  test('exits 1 when kubectl is missing, and 0 when the restart succeeds', async () => {
    rmSync(join(tools.bin, 'kubectl'), { force: true });
    const missing = await restore();
    assert.equal(missing.code, 1, missing.stdout + missing.stderr);
    assert.match(missing.stderr, /cannot restart deployment voidkey\/voidkey: kubectl is not installed/);
    fakeKubectl(0);
    const ok = await restore('--deployment', 'prod-voidkey');
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^restored - rolled deployment voidkey\/prod-voidkey$/m);
    assert.equal(ok.stderr, '');
  });

  test('refuses --restart with --no-kubernetes', async () => {
    const r = await restore('--no-kubernetes');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--restart needs kubectl: drop --no-kubernetes/);
  });
});

describe('backup-config.sh and restore-config.sh', () => {
  let bare: { dir: string; bin: string };
  let kube: { dir: string; bin: string };
  before(() => {
    bare = toolDir(BASE_TOOLS);
    kube = toolDir(BASE_TOOLS);
    installFakes(kube.bin, join(kube.dir, 'calls.log'));
    for (const t of [bare, kube]) {
      mkdirSync(join(t.dir, 'config'));
      writeFileSync(join(t.dir, 'config', 'config.yaml'), CONFIG);
    }
  });
  after(() => {
    rmSync(bare.dir, { recursive: true, force: true });
    rmSync(kube.dir, { recursive: true, force: true });
  });

  test('backs up the local file without kubectl and helm, saying so', async () => {
    const r = await runScript('backup-config.sh', [], {
      cwd: bare.dir,
      env: { PATH: bare.bin, CONFIG_PATH: '' },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^skipped - ConfigMap and Secret: kubectl is not installed/m);
    assert.match(r.stdout, /^skipped - Helm values: helm is not installed/m);
    const [folder, ...more] = readdirSync(join(bare.dir, 'backups'));
    assert.deepEqual(more, []);
    assert.match(folder ?? '', /^voidkey-\d{8}-\d{6}$/);
    const dest = join(bare.dir, 'backups', folder as string);
    assert.equal(statSync(dest).mode & 0o777, 0o700);
    assert.deepEqual(files(dest), ['config.yaml', 'manifest.txt']);
    assert.equal(readFileSync(join(dest, 'config.yaml'), 'utf8'), CONFIG);
    assert.match(readFileSync(join(dest, 'manifest.txt'), 'utf8'), /^config_file=.*\/config\/config\.yaml$/m);
  });

  test('restores the local file without kubectl and helm, keeping the current one aside', async () => {
    const [folder] = readdirSync(join(bare.dir, 'backups'));
    writeFileSync(join(bare.dir, 'config', 'config.yaml'), 'broken: true\n');
    const r = await runScript('restore-config.sh', [join('backups', folder as string)], {
      cwd: bare.dir,
      env: { PATH: bare.bin },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^restored - local config file .*config\/config\.yaml$/m);
    assert.equal(readFileSync(join(bare.dir, 'config', 'config.yaml'), 'utf8'), CONFIG);
    const aside = readdirSync(join(bare.dir, 'config')).filter((f) => f.includes('.before-restore-'));
    assert.equal(aside.length, 1);
    assert.equal(readFileSync(join(bare.dir, 'config', aside[0] as string), 'utf8'), 'broken: true\n');
  });

  test('fails when nothing can be backed up, leaving no folder', async () => {
    const out = join(bare.dir, 'empty-out');
    const r = await runScript('backup-config.sh', ['-o', out], {
      cwd: '/',
      env: { PATH: bare.bin, CONFIG_PATH: '' },
    });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /backup FAILED: nothing could be backed up/);
    assert.deepEqual(existsSync(out) ? readdirSync(out) : [], []);
  });

  test('refuses a folder that is not a backup', async () => {
    const r = await runScript('restore-config.sh', [bare.dir], { env: { PATH: bare.bin } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /is not a backup folder/);
  });

  test('saves the ConfigMap, Secret key names and redacted Helm values, no secret value', async () => {
    const out = join(kube.dir, 'plain');
    const r = await runScript('backup-config.sh', ['-o', out], {
      cwd: kube.dir,
      env: { PATH: kube.bin, CONFIG_PATH: '' },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const dest = join(out, readdirSync(out)[0] as string);
    assert.deepEqual(files(dest), [
      'config.yaml',
      'configmap/config.yaml',
      'helm-values.yaml',
      'manifest.txt',
      'secret-keys.txt',
    ]);
    assert.equal(readFileSync(join(dest, 'configmap', 'config.yaml'), 'utf8'), 'server:\n  port: 4000\n');
    assert.equal(
      readFileSync(join(dest, 'secret-keys.txt'), 'utf8'),
      'BROKER_CLIENT_SECRET\nREDIS_PASSWORD\n',
    );
    const values = readFileSync(join(dest, 'helm-values.yaml'), 'utf8');
    assert.match(values, /brokerClientSecret: REDACTED/);
    assert.match(values, /clientSecret: \$\{BROKER_CLIENT_SECRET\}/);
    for (const f of files(dest)) {
      const text = readFileSync(join(dest, f), 'utf8');
      for (const secret of ['k8s-secret', 'helm-secret-value', b64('k8s-secret-bcs')]) {
        assert.ok(!text.includes(secret), `${f} holds a secret value`);
      }
    }
  });

  test('saves secret values only with --include-secret-values, and restores them with kubectl', async () => {
    const out = join(kube.dir, 'full');
    const args = ['-o', out, '--include-secret-values'];
    const r = await runScript('backup-config.sh', args, {
      cwd: kube.dir,
      env: { PATH: kube.bin, CONFIG_PATH: '' },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const dest = join(out, readdirSync(out)[0] as string);
    assert.equal(readFileSync(join(dest, 'secret', 'BROKER_CLIENT_SECRET'), 'utf8'), 'k8s-secret-bcs');
    assert.match(
      readFileSync(join(dest, 'helm-values.yaml'), 'utf8'),
      /brokerClientSecret: helm-secret-value/,
    );

    writeFileSync(join(kube.dir, 'calls.log'), '');
    const restored = await runScript(
      'restore-config.sh',
      [dest, '--config-file', join(kube.dir, 'restored.yaml')],
      {
        env: { PATH: kube.bin },
      },
    );
    assert.equal(restored.code, 0, restored.stdout + restored.stderr);
    assert.match(restored.stdout, /^restored - ConfigMap voidkey\/voidkey$/m);
    assert.match(restored.stdout, /^restored - Secret voidkey\/voidkey \(values from the backup\)$/m);
    assert.match(
      restored.stdout,
      /^note {5}- Helm values not applied; to apply: helm upgrade --install voidkey CHART/m,
    );
    const calls = readFileSync(join(kube.dir, 'calls.log'), 'utf8');
    assert.match(
      calls,
      /^kubectl create configmap voidkey -n voidkey --from-file=.*\/configmap --dry-run=client -o yaml$/m,
    );
    assert.match(
      calls,
      /^kubectl create secret generic voidkey -n voidkey --from-file=.*\/secret --dry-run=client -o yaml$/m,
    );
    assert.equal(readFileSync(join(kube.dir, 'restored.yaml'), 'utf8'), CONFIG);
  });
});
