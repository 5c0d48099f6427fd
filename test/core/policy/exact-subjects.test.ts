/**
 * The exact-subject form `{subject, idp, keys}` in the policy engine: an
 * identity is bound to its IdP, subjects match exactly, key names never
 * resolve to inherited properties, and a lookup among many identities is
 * keyed, not a scan.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compilePolicy, type PolicyConfig } from '../../../src/core/policy/index.ts';

const config = (clientIdentities: unknown[]) =>
  ({
    clientIdps: [
      { name: 'github', issuer: 'https://ci.example', audience: 'voidkey' },
      { name: 'gitlab', issuer: 'https://gitlab.example', audience: 'voidkey' },
      { name: 'okta', issuer: 'https://okta.example', audience: 'voidkey' },
    ],
    clientIdentities,
    denyRules: [],
  }) as unknown as PolicyConfig;

const policy = compilePolicy(
  config([
    { subject: 'repo:acme/app', idp: 'github', keys: { A: { provider: 'p' }, B: { provider: 'p' } } },
    { subject: 'repo:acme/app', idp: 'gitlab', keys: { C: { provider: 'p' } } },
    { subject: 'ops', idp: 'github', keys: { constructor: { provider: 'p' } } },
  ]),
);
const token = (idp: string, sub: string) => ({ idp, claims: { iss: `https://${idp}.example`, sub } });

describe('exact subjects', () => {
  const cases: Array<{
    name: string;
    idp: string;
    sub: string;
    requested: string[];
    granted?: string[];
    reasons?: Record<string, string>;
  }> = [
    {
      name: 'grants every requested key the identity holds, in request order',
      idp: 'github',
      sub: 'repo:acme/app',
      requested: ['B', 'A'],
      granted: ['B', 'A'],
    },
    {
      name: 'denies every key the identity lacks, not only the first',
      idp: 'github',
      sub: 'repo:acme/app',
      requested: ['A', 'X', 'C', 'Y'],
      granted: ['A'],
      reasons: { X: 'key_not_granted', C: 'key_not_granted', Y: 'key_not_granted' },
    },
    {
      name: 'binds an identity to its IdP: the same subject elsewhere gets that IdP’s keys only',
      idp: 'gitlab',
      sub: 'repo:acme/app',
      requested: ['A'],
      reasons: { A: 'key_not_granted' },
    },
    {
      name: 'denies everything to a subject without an identity',
      idp: 'github',
      sub: 'repo:acme/nobody',
      requested: ['A', 'B'],
      reasons: { A: 'no_identity_matched', B: 'no_identity_matched' },
    },
    {
      name: 'denies everything under an IdP with no identities',
      idp: 'okta',
      sub: 'repo:acme/app',
      requested: ['A'],
      reasons: { A: 'no_identity_matched' },
    },
    {
      name: 'never resolves a key name to an inherited property',
      idp: 'github',
      sub: 'repo:acme/app',
      requested: ['constructor', 'toString', '__proto__'],
      // fromEntries: an own `__proto__` key, as the engine's reasons have.
      reasons: Object.fromEntries(
        ['constructor', 'toString', '__proto__'].map((k) => [k, 'key_not_granted']),
      ),
    },
    {
      name: 'grants a key literally named like an Object property when configured',
      idp: 'github',
      sub: 'ops',
      requested: ['constructor'],
      granted: ['constructor'],
    },
    {
      name: 'matches subjects exactly (no prefix, no case folding)',
      idp: 'github',
      sub: 'REPO:acme/app',
      requested: ['A'],
      reasons: { A: 'no_identity_matched' },
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const d = policy.authorize(token(c.idp, c.sub), c.requested);
      assert.deepEqual(
        d.granted.map((g) => g.name),
        c.granted ?? [],
      );
      assert.deepEqual(d.denied, Object.keys(c.reasons ?? {}));
      // Built without a prototype by the engine; compared as plain entries.
      assert.deepEqual(Object.entries(d.reasons), Object.entries(c.reasons ?? {}));
      assert.equal(d.allowed, c.reasons === undefined);
    });
  }

  test('lists the keys of a principal in configuration order', () => {
    const names = (idp: string, sub: string) => policy.keysFor(token(idp, sub)).keys.map((k) => k.name);
    assert.deepEqual(names('github', 'repo:acme/app'), ['A', 'B']);
    assert.deepEqual(names('gitlab', 'repo:acme/app'), ['C']);
    assert.deepEqual(names('github', 'nobody'), []);
  });

  test('finds an identity among many without scanning them (20,000 identities)', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({
      subject: `sub-${i}`,
      idp: 'github',
      keys: { K: { provider: 'p' } },
    }));
    const big = compilePolicy(config(many));
    const started = performance.now();
    for (let i = 0; i < 100_000; i++)
      assert.ok(big.authorize(token('github', `sub-${i % 20_000}`), ['K']).allowed);
    // A scan per lookup would be 4·10^8 comparisons; keyed lookups take milliseconds.
    assert.ok(performance.now() - started < 2000, `${performance.now() - started} ms`);
    assert.equal(big.authorize(token('gitlab', 'sub-1'), ['K']).allowed, false);
  });
});
