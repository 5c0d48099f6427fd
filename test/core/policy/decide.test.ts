import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compiled, GITHUB, key } from './helpers.ts';

const PIN = { repository_owner_id: '49812345' };
const claims = {
  iss: GITHUB,
  sub: 'repo:acme/app:ref:refs/heads/main',
  repository_owner_id: '49812345',
  repository: 'acme/app',
  ref: 'refs/heads/main',
  event_name: 'push',
  run_id: '77',
};
const token = (extra: Record<string, unknown> = {}) => ({ idp: 'gh', claims: { ...claims, ...extra } });
const deploy = { name: 'deploy', idp: 'gh', match: { ...PIN, ref: 'refs/heads/main' }, grants: ['DEPLOY'] };
const catalog = { DEPLOY: key({ roleArn: 'arn:aws:iam::222222222222:role/deploy' }) };

describe('reasons', () => {
  const cases: Array<{
    reason: string;
    config: Record<string, unknown>;
    extra?: Record<string, unknown>;
    keys?: string[];
  }> = [
    {
      reason: 'denied_by_rule',
      config: {
        keys: catalog,
        clientIdentities: [deploy],
        denyRules: [
          { name: 'no-push', idp: 'gh', match: { event_name: 'push' }, keys: ['*'], onMissingClaim: 'deny' },
        ],
      },
    },
    {
      reason: 'no_identity_matched',
      config: { keys: catalog, clientIdentities: [deploy] },
      extra: { ref: 'refs/heads/dev' },
    },
    {
      reason: 'key_not_granted',
      config: { keys: { ...catalog, OTHER: key() }, clientIdentities: [deploy] },
      keys: ['OTHER'],
    },
    {
      reason: 'conflicting_grants',
      config: {
        clientIdentities: [
          { name: 'a', idp: 'gh', match: PIN, keys: { DEPLOY: key({ roleArn: 'arn:aws:iam::1:role/a' }) } },
          {
            name: 'b',
            idp: 'gh',
            match: { ...PIN, ref: 'refs/heads/main' },
            keys: { DEPLOY: key({ roleArn: 'arn:aws:iam::1:role/b' }) },
          },
        ],
      },
    },
    {
      reason: 'template_claim_missing',
      config: {
        keys: { DEPLOY: key({ roleSessionName: 'gha-{{ claims.environment }}' }) },
        clientIdentities: [deploy],
      },
    },
    {
      reason: 'template_value_invalid',
      config: {
        keys: { DEPLOY: key({ roleSessionName: 'gha-{{ claims.run_id }}' }) },
        clientIdentities: [deploy],
      },
      extra: { run_id: 'a b' },
    },
    {
      reason: 'template_value_unsafe',
      config: {
        keys: { DEPLOY: key({ policy: '{"Resource": "arn:aws:s3:::b/{{ claims.run_id }}/x"}' }) },
        clientIdentities: [deploy],
      },
      extra: { run_id: '*' },
    },
    {
      reason: 'policy_too_large',
      config: {
        keys: {
          DEPLOY: key({
            policy: '{"a": "{{ claims.run_id }}", "b": "{{ claims.run_id }}", "c": "{{ claims.run_id }}"}',
          }),
        },
        clientIdentities: [deploy],
      },
      extra: { run_id: 'a'.repeat(1000) },
    },
  ];
  for (const c of cases) {
    test(`refuses with ${c.reason}`, () => {
      const d = compiled(c.config).authorize(token(c.extra), c.keys ?? ['DEPLOY']);
      assert.equal(d.allowed, false);
      assert.deepEqual({ ...d.reasons }, { [(c.keys ?? ['DEPLOY'])[0] as string]: c.reason });
    });
  }
});

describe('decisions', () => {
  test('grants a catalog key with its recipe rendered for the caller', () => {
    const policy = compiled({
      keys: { DEPLOY: key({ roleArn: 'arn:aws:iam::1:role/d', roleSessionName: 'gha-{{ claims.run_id }}' }) },
      clientIdentities: [deploy],
    });
    const d = policy.authorize(token(), ['DEPLOY']);
    assert.equal(d.allowed, true);
    assert.deepEqual(d.matched, ['deploy']);
    assert.equal(d.granted[0]?.key.roleSessionName, 'gha-77');
  });

  test('an unknown key name gets the same reason as an ungranted one', () => {
    const policy = compiled({ keys: { ...catalog, SECRET: key() }, clientIdentities: [deploy] });
    const d = policy.authorize(token(), ['SECRET', 'NO_SUCH_KEY']);
    assert.deepEqual({ ...d.reasons }, { SECRET: 'key_not_granted', NO_SUCH_KEY: 'key_not_granted' });
  });

  test('no_identity_matched whatever the key name', () => {
    const d = compiled({ keys: catalog, clientIdentities: [deploy] }).authorize(
      token({ repository_owner_id: '1' }),
      ['DEPLOY', 'X'],
    );
    assert.deepEqual({ ...d.reasons }, { DEPLOY: 'no_identity_matched', X: 'no_identity_matched' });
  });

  test('grants the union of every matching identity', () => {
    const policy = compiled({
      keys: { ...catalog, READ: key() },
      clientIdentities: [deploy, { name: 'read', idp: 'gh', match: PIN, grants: ['READ'] }],
    });
    const d = policy.authorize(token(), ['DEPLOY', 'READ']);
    assert.equal(d.allowed, true);
    assert.deepEqual(d.matched, ['deploy', 'read']);
  });

  test('conflicting grants are never settled by configuration order', () => {
    const a = { name: 'a', idp: 'gh', match: PIN, keys: { K: key({ roleArn: 'arn:aws:iam::1:role/a' }) } };
    const b = { name: 'b', idp: 'gh', match: PIN, keys: { K: key({ roleArn: 'arn:aws:iam::1:role/b' }) } };
    for (const order of [
      [a, b],
      [b, a],
    ]) {
      assert.deepEqual(
        { ...compiled({ clientIdentities: order }).authorize(token(), ['K']).reasons },
        { K: 'conflicting_grants' },
      );
    }
  });

  test('the same catalog key granted twice is no conflict', () => {
    const policy = compiled({
      keys: catalog,
      clientIdentities: [deploy, { name: 'b', idp: 'gh', match: PIN, grants: ['DEPLOY'] }],
    });
    const d = policy.authorize(token(), ['DEPLOY']);
    assert.equal(d.allowed, true);
    assert.deepEqual(d.outcomes.DEPLOY?.grantedBy, ['deploy', 'b']);
  });

  test('a deny rule fails closed on a missing claim', () => {
    const rule = {
      name: 'prod-only',
      idp: 'gh',
      match: { not: { environment: 'x' } },
      keys: ['*'],
      onMissingClaim: 'deny',
    };
    rule.match = { environment: { not: 'production' } } as never;
    const policy = compiled({ keys: catalog, clientIdentities: [deploy], denyRules: [rule] });
    assert.deepEqual({ ...policy.authorize(token(), ['DEPLOY']).reasons }, { DEPLOY: 'denied_by_rule' });
    assert.equal(policy.authorize(token({ environment: 'production' }), ['DEPLOY']).allowed, true);
  });

  test('onMissingClaim: skip makes only that condition false', () => {
    const rule = {
      name: 'r',
      idp: 'gh',
      match: { environment: { not: 'production' } },
      keys: ['DEPLOY'],
      onMissingClaim: 'skip',
    };
    const policy = compiled({ keys: catalog, clientIdentities: [deploy], denyRules: [rule] });
    assert.equal(policy.authorize(token(), ['DEPLOY']).allowed, true);
    assert.equal(policy.authorize(token({ environment: 'staging' }), ['DEPLOY']).allowed, false);
  });

  test('a deny rule names its keys only', () => {
    const rule = {
      name: 'r',
      idp: 'gh',
      match: { event_name: 'push' },
      keys: ['OTHER'],
      onMissingClaim: 'deny',
    };
    const policy = compiled({
      keys: { ...catalog, OTHER: key() },
      clientIdentities: [deploy],
      denyRules: [rule],
    });
    assert.equal(policy.authorize(token(), ['DEPLOY']).allowed, true);
    assert.deepEqual(policy.authorize(token(), ['OTHER']).outcomes.OTHER, {
      granted: false,
      reason: 'denied_by_rule',
      grantedBy: [],
      deniedBy: ['r'],
    });
  });

  test('require is ANDed into every identity of its IdP', () => {
    const policy = compiled({
      clientIdps: [{ name: 'gh', issuer: GITHUB, audience: 'v', require: PIN }],
      keys: catalog,
      clientIdentities: [{ name: 'd', idp: 'gh', match: { ref: 'refs/heads/main' }, grants: ['DEPLOY'] }],
    });
    assert.equal(policy.authorize(token(), ['DEPLOY']).allowed, true);
    assert.equal(policy.authorize(token({ repository_owner_id: '666' }), ['DEPLOY']).allowed, false);
  });

  test('an identity is bound to its IdP', () => {
    const policy = compiled({ keys: catalog, clientIdentities: [deploy] });
    assert.deepEqual(
      { ...policy.authorize({ idp: 'corp', claims }, ['DEPLOY']).reasons },
      { DEPLOY: 'no_identity_matched' },
    );
  });

  test('an exact-subject identity keeps its meaning beside claim rules', () => {
    const policy = compiled({
      clientIdentities: [
        { subject: 'repo:acme/app:ref:refs/heads/main', idp: 'gh', keys: { OLD: key() } },
        { ...deploy, grants: undefined, keys: { NEW: key() } },
      ],
    });
    const d = policy.authorize(token(), ['OLD', 'NEW']);
    assert.equal(d.allowed, true);
    assert.deepEqual(d.matched, ['clientIdentities[0]', 'deploy']);
    assert.deepEqual(
      { ...policy.authorize(token({ sub: 'repo:acme/app:ref:refs/heads/MAIN' }), ['OLD']).reasons },
      { OLD: 'key_not_granted' },
    );
  });

  test('captures come from the first matching branch', () => {
    const policy = compiled({
      clientIdentities: [
        {
          name: 'k8s',
          idp: 'corp',
          match: [
            { sub: { regex: 'system:serviceaccount:(?P<team>team-[a-z]+):deployer' } },
            { sub: { regex: 'system:serviceaccount:(?P<team>[a-z]+):(deployer|ci)' } },
          ],
          keys: { TEAM: key({ roleArn: 'arn:aws:iam::333333333333:role/k8s-{{ match.team }}' }) },
        },
      ],
    });
    const d = policy.authorize({ idp: 'corp', claims: { sub: 'system:serviceaccount:team-ab:deployer' } }, [
      'TEAM',
    ]);
    assert.equal(d.granted[0]?.key.roleArn, 'arn:aws:iam::333333333333:role/k8s-team-ab');
  });

  test('keysFor lists what would mint now, empty when identities match but nothing is left', () => {
    const rule = {
      name: 'no-push',
      idp: 'gh',
      match: { event_name: 'push' },
      keys: ['*'],
      onMissingClaim: 'deny',
    };
    const policy = compiled({ keys: catalog, clientIdentities: [deploy], denyRules: [rule] });
    assert.deepEqual(policy.keysFor(token()), { matched: ['deploy'], keys: [] });
    const open = compiled({ keys: catalog, clientIdentities: [deploy] }).keysFor(token());
    assert.deepEqual(
      open.keys.map((k) => k.name),
      ['DEPLOY'],
    );
    assert.deepEqual(compiled({ keys: catalog, clientIdentities: [deploy] }).keysFor(token({ ref: 'x' })), {
      matched: [],
      keys: [],
    });
  });

  test('indexes 10,000 identities and still finds the one that matches', () => {
    const identities = Array.from({ length: 10_000 }, (_, i) =>
      i % 10 === 0
        ? {
            name: `g${i}`,
            idp: 'gh',
            match: { sub: { glob: `repo:acme/r${i}:ref:refs/heads/*` } },
            keys: { [`K${i}`]: key() },
          }
        : {
            name: `e${i}`,
            idp: 'gh',
            match: { repository_id: String(i), ...PIN },
            keys: { [`K${i}`]: key() },
          },
    );
    const policy = compiled({ clientIdentities: identities });
    assert.equal(policy.authorize(token({ repository_id: '4321' }), ['K4321']).allowed, true);
    assert.equal(policy.authorize(token({ sub: 'repo:acme/r500:ref:refs/heads/x' }), ['K500']).allowed, true);
    assert.equal(policy.authorize(token({ sub: 'repo:acme/r500:ref:refs/tags/x' }), ['K500']).allowed, false);
  });
});
