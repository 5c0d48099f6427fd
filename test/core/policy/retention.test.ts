/**
 * A compiled policy lives as long as its config snapshot, so whatever its
 * closures keep alive is paid once per key, rule and glob: 10,000 identities
 * with three keys each held 26 MiB of compile state when a renderer kept its
 * compiler's scope. The sink stands for that state: every compile context
 * holds it, so while any closure keeps a context, it stays reachable.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { compilePolicy, type Policy, type PolicySink } from '../../../src/core/policy/index.ts';
import { key, policyConfig } from './helpers.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The policy and a weak reference to the sink it was compiled with, which nothing else holds. */
function compileWithSink(): { policy: Policy; sink: WeakRef<PolicySink> } {
  const sink: PolicySink = {
    error: (path, text) => assert.fail(`${path.join('.')}: ${text}`),
    warn() {},
  };
  const config = policyConfig({
    clientIdentities: [
      {
        name: 'by-repo',
        idp: 'gh',
        match: { repository_owner_id: '1', sub: { regex: 'repo:acme/(?P<repo>[a-z]+):.*' } },
        keys: { ROLE: key({ roleArn: 'arn:aws:iam::123456789012:role/{{ match.repo }}' }) },
      },
      {
        name: 'main',
        idp: 'gh',
        match: { repository_owner_id: '1', sub: { glob: 'repo:acme/*:ref:refs/heads/main' } },
        keys: { FIXED: key() },
      },
      { subject: 'alice', idp: 'corp', keys: { PLAIN: key() } },
    ],
  });
  return { policy: compilePolicy(config, sink), sink: new WeakRef(sink) };
}

test('a compiled policy keeps nothing of its compilation alive: not the sink, not the contexts holding it', async () => {
  // Made in a function of its own: an async function's suspended frame may keep stale values.
  const { policy, sink } = compileWithSink();
  // A WeakRef keeps its target until the job that made it ends.
  await new Promise((resolve) => setImmediate(resolve));
  gc();
  assert.equal(sink.deref(), undefined, 'the sink is still reachable from the compiled policy');

  const claims = { sub: 'repo:acme/web:ref:refs/heads/main', repository_owner_id: '1' };
  const d = policy.authorize({ idp: 'gh', claims }, ['ROLE', 'FIXED']);
  assert.equal(d.allowed, true, JSON.stringify(d.reasons));
  assert.equal(d.granted[0]?.key.roleArn, 'arn:aws:iam::123456789012:role/web');
  assert.equal(policy.authorize({ idp: 'corp', claims: { sub: 'alice' } }, ['PLAIN']).allowed, true);
});
