/**
 * Claim rules, deny rules and templates through the built binary: real
 * oidc-provider tokens carrying GitHub-, GitLab- and Kubernetes-shaped claims
 * (test/fixtures/claims/) against the STS peer, and a SIGHUP with a bad rule
 * that the running broker refuses while the old policy keeps serving.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { freePort } from '../helpers/process.ts';
import { assertError } from './helpers/assert.ts';
import { runCli, writeConfig } from './helpers/broker.ts';
import { registerCredentials } from './helpers/secrets.ts';
import { ROLE, STRANGER, startWorld, type World } from './helpers/world.ts';

type Claims = Record<string, unknown>;
const fixture = (name: string): Claims =>
  JSON.parse(readFileSync(join(import.meta.dirname, '../fixtures/claims', `${name}.json`), 'utf8'));
const GITHUB_PUSH = fixture('github-actions-push-main');
const GITHUB_PR = fixture('github-actions-pull-request');
const GITLAB_TAG = fixture('gitlab-ci-tag');
const KUBERNETES = fixture('kubernetes-projected-service-account');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const POLICY = {
  keys: {
    GH_DEPLOY: {
      provider: 'aws-e2e',
      roleArn: ROLE.deploy,
      duration: 900,
      roleSessionName: 'gha-{{ claims.repository_id }}-{{ claims.run_id }}',
      assumeRole: {
        roleArn: ROLE.audit,
        tags: { repository: '{{ claims.repository_id }}', identity: '{{ identity.name }}' },
      },
    },
    GL_READ: {
      provider: 'aws-e2e',
      roleArn: ROLE.read,
      duration: 900,
      roleSessionName: 'gl-{{ claims.project_path | sessionName }}',
    },
    K8S_DEPLOY: {
      provider: 'aws-e2e',
      roleArn: ROLE.deploy,
      duration: 900,
      roleSessionName: 'k8s-{{ match.team }}',
    },
  },
  identities: [
    {
      name: 'github-org',
      idp: 'op-a',
      match: {
        repository_owner_id: '49812345',
        repository_id: ['612345678', '612345679'],
        ref: { glob: 'refs/heads/*' },
      },
      grants: ['GH_DEPLOY'],
    },
    {
      name: 'gitlab-platform',
      idp: 'op-a',
      match: { project_path: { glob: 'acme/platform/**' }, ref_protected: true },
      grants: ['GL_READ'],
    },
    {
      name: 'kubernetes-teams',
      idp: 'op-a',
      match: {
        sub: { regex: 'system:serviceaccount:(?P<team>team-[a-z0-9]{2,20}):deployer' },
        '/kubernetes.io/namespace': { glob: 'team-*' },
      },
      grants: ['K8S_DEPLOY'],
    },
  ],
  denyRules: [
    {
      name: 'no-pull-requests',
      idp: 'op-a',
      match: { event_name: ['pull_request', 'pull_request_target'] },
      keys: ['*'],
      message: 'Pull-request workflows never receive cloud credentials.',
      onMissingClaim: 'skip',
    },
  ],
};

describe('policy through the built broker', () => {
  let w: World;
  let config: Record<string, unknown>;
  const mint = async (claims: Claims, keys: string[]) =>
    w.api('POST', '/credentials/mint', { token: await w.token(w.opA, STRANGER, { claims }), json: { keys } });
  const lastCalls = (n: number) => w.proxy.calls.slice(-n);

  before(async () => {
    w = await startWorld({
      configure: (c) => {
        c.keys = POLICY.keys;
        c.clientIdentities = [...(c.clientIdentities as object[]), ...POLICY.identities];
        c.denyRules = POLICY.denyRules;
      },
    });
    config = w.config;
  });
  after(async () => {
    await w?.close();
  });

  test('a GitHub push to main is granted by the organisation rule; templates reach the session name and the assumeRole tags', async () => {
    const res = await mint(GITHUB_PUSH, ['GH_DEPLOY']);
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
    const [first, hop] = lastCalls(2);
    assert.equal(first?.action, 'AssumeRoleWithWebIdentity');
    assert.equal(first?.roleArn, ROLE.deploy);
    assert.equal(first?.roleSessionName, 'gha-612345678-9988776655');
    assert.equal(hop?.action, 'AssumeRole');
    assert.equal(hop?.roleArn, ROLE.audit);
    assert.deepEqual(hop?.tags, { repository: '612345678', identity: 'github-org' });
    assert.equal(hop?.status, 200);
  });

  test('a pull request of the same repository is refused by the deny rule, with the reason', async () => {
    const calls = w.proxy.calls.length;
    // Same repository and a branch ref, so only the deny rule stands in the way.
    const res = await mint({ ...GITHUB_PR, ref: 'refs/heads/feature' }, ['GH_DEPLOY']);
    assertError(res, 'FORBIDDEN', { deniedKeys: ['GH_DEPLOY'], reasons: { GH_DEPLOY: 'denied_by_rule' } });
    assert.equal(w.proxy.calls.length, calls, 'nothing reached STS');
  });

  test('another organisation with the same repository name matches nothing', async () => {
    const res = await mint({ ...GITHUB_PUSH, repository_owner_id: '11111111' }, ['GH_DEPLOY']);
    assertError(res, 'FORBIDDEN', {
      deniedKeys: ['GH_DEPLOY'],
      reasons: { GH_DEPLOY: 'no_identity_matched' },
    });
  });

  test('a tag branch outside the glob, and a key the rule does not grant, are refused', async () => {
    const tag = await mint({ ...GITHUB_PUSH, ref: 'refs/heads/release/1.0' }, ['GH_DEPLOY']);
    assertError(tag, 'FORBIDDEN', {
      deniedKeys: ['GH_DEPLOY'],
      reasons: { GH_DEPLOY: 'no_identity_matched' },
    });
    const other = await mint(GITHUB_PUSH, ['GL_READ']);
    assertError(other, 'FORBIDDEN', { deniedKeys: ['GL_READ'], reasons: { GL_READ: 'key_not_granted' } });
  });

  test('a GitLab tag pipeline in a nested group is granted by the group glob; the session name is rendered', async () => {
    const res = await mint(GITLAB_TAG, ['GL_READ']);
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
    const [call] = lastCalls(1);
    assert.equal(call?.roleArn, ROLE.read);
    const hash = createHash('sha256').update('acme/platform/api').digest('hex').slice(0, 8);
    assert.equal(call?.roleSessionName, `gl-acme-platform-api-${hash}`);
    const unprotected = await mint({ ...GITLAB_TAG, ref_protected: 'false' }, ['GL_READ']);
    assertError(unprotected, 'FORBIDDEN', {
      deniedKeys: ['GL_READ'],
      reasons: { GL_READ: 'no_identity_matched' },
    });
  });

  test('a Kubernetes service account is granted by the regex rule; its capture names the session', async () => {
    const res = await mint(KUBERNETES, ['K8S_DEPLOY']);
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
    assert.equal(lastCalls(1)[0]?.roleSessionName, 'k8s-team-payments');
    const outsider = await mint(
      {
        ...KUBERNETES,
        sub: 'system:serviceaccount:kube-system:deployer',
        'kubernetes.io': { namespace: 'kube-system' },
      },
      ['K8S_DEPLOY'],
    );
    assertError(outsider, 'FORBIDDEN', {
      deniedKeys: ['K8S_DEPLOY'],
      reasons: { K8S_DEPLOY: 'no_identity_matched' },
    });
  });

  test('refuses on SIGHUP a config whose rule uses lookaround, names the path, and keeps the old policy serving', async () => {
    const identities = config.clientIdentities as Array<Record<string, unknown>>;
    const bad = identities.map((i) =>
      i.name === 'github-org'
        ? { ...i, match: { ...(i.match as object), ref: { regex: 'refs/heads/(?!dev).*' } } }
        : i,
    );
    const at = identities.findIndex((i) => i.name === 'github-org');
    await writeFile(w.broker.configPath, stringify({ ...config, clientIdentities: bad }), { mode: 0o600 });
    w.broker.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (!w.broker.output().includes('config reload refused') && Date.now() < deadline) await sleep(50);
    const refusal = w.broker
      .output()
      .split('\n')
      .find((l) => l.includes('config reload refused'));
    assert.ok(refusal, w.broker.output().slice(-2000));
    assert.ok(refusal.includes(`clientIdentities[${at}].match.ref`), refusal);
    assert.ok(!w.broker.output().includes('"msg":"config reloaded"'));
    const res = await mint(GITHUB_PUSH, ['GH_DEPLOY']);
    assert.equal(res.status, 200, res.text);
    registerCredentials(res.body.credentials);
    const denied = await mint({ ...GITHUB_PR, ref: 'refs/heads/feature' }, ['GH_DEPLOY']);
    assertError(denied, 'FORBIDDEN', { deniedKeys: ['GH_DEPLOY'], reasons: { GH_DEPLOY: 'denied_by_rule' } });
  });

  test('serve with that rule exits at once naming its path, and never listens', async () => {
    const at = (config.clientIdentities as Array<{ name?: string }>).findIndex(
      (i) => i.name === 'github-org',
    );
    const file = await writeConfig(await readFile(w.broker.configPath, 'utf8'));
    try {
      const port = String(await freePort());
      const res = await runCli(['serve', '--config', file.path, '--port', port], {
        env: { BROKER_CLIENT_SECRET: 'unused' },
        timeoutMs: 10_000,
      });
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.match(res.stdout + res.stderr, new RegExp(`clientIdentities\\[${at}\\]\\.match\\.ref\\b`));
      await assert.rejects(fetch(`http://127.0.0.1:${port}/health/live`));
    } finally {
      await file.cleanup();
    }
  });

  test('left no token, secret or minted value in its output', () => {
    const { leaks, registered } = w.leaks();
    assert.ok(registered > 5, `only ${registered} secrets registered`);
    assert.deepEqual(leaks, []);
  });
});
