import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ClientIdentityConfig } from '../../../src/core/config/schema.ts';
import { ForbiddenError } from '../../../src/core/errors.ts';
import { compilePolicy } from '../../../src/core/policy/subjects.ts';

const identities: ClientIdentityConfig[] = [
  { subject: 'repo:acme/app', idp: 'github', keys: { A: { provider: 'p' }, B: { provider: 'p' } } },
  { subject: 'repo:acme/app', idp: 'gitlab', keys: { C: { provider: 'p' } } },
  { subject: 'ops', idp: 'github', keys: { constructor: { provider: 'p' } } },
];
const policy = compilePolicy(identities);

describe('policy', () => {
  const cases: Array<{
    name: string;
    idp: string;
    sub: string;
    requested: string[];
    granted?: string[];
    denied?: string[];
  }> = [
    {
      name: 'grants every requested key the identity holds',
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
      denied: ['X', 'C', 'Y'],
    },
    {
      name: 'binds an identity to its IdP: the same subject elsewhere gets that IdP’s keys only',
      idp: 'gitlab',
      sub: 'repo:acme/app',
      requested: ['A'],
      denied: ['A'],
    },
    {
      name: 'denies everything to a subject without an identity',
      idp: 'github',
      sub: 'repo:acme/nobody',
      requested: ['A', 'B'],
      denied: ['A', 'B'],
    },
    {
      name: 'denies everything under an IdP with no identities',
      idp: 'okta',
      sub: 'repo:acme/app',
      requested: ['A'],
      denied: ['A'],
    },
    {
      name: 'never resolves a key name to an inherited property',
      idp: 'github',
      sub: 'repo:acme/app',
      requested: ['constructor', 'toString', '__proto__'],
      denied: ['constructor', 'toString', '__proto__'],
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
      denied: ['A'],
    },
  ];

  for (const c of cases) {
    test(c.name, () => {
      const identity = policy.findIdentity({ idp: c.idp, sub: c.sub });
      if (c.granted) {
        assert.deepEqual(
          policy.checkKeys(identity, c.requested).map((g) => g.name),
          c.granted,
        );
        return;
      }
      assert.throws(
        () => policy.checkKeys(identity, c.requested),
        (err: unknown) => {
          assert.ok(err instanceof ForbiddenError);
          assert.equal(err.status, 403);
          assert.deepEqual(err.deniedKeys, c.denied);
          assert.deepEqual(err.details, { deniedKeys: c.denied });
          return true;
        },
      );
    });
  }

  test('lists the granted keys of a principal in configuration order', () => {
    assert.deepEqual(policy.grantedKeys({ idp: 'github', sub: 'repo:acme/app' }), ['A', 'B']);
    assert.deepEqual(policy.grantedKeys({ idp: 'gitlab', sub: 'repo:acme/app' }), ['C']);
    assert.deepEqual(policy.grantedKeys({ idp: 'github', sub: 'nobody' }), []);
  });

  test('finds an identity among many without scanning them (20,000 identities)', () => {
    const many = Array.from({ length: 20_000 }, (_, i) => ({
      subject: `sub-${i}`,
      idp: 'github',
      keys: { K: { provider: 'p' } },
    }));
    const big = compilePolicy(many);
    const started = performance.now();
    for (let i = 0; i < 100_000; i++)
      assert.ok(big.findIdentity({ idp: 'github', sub: `sub-${i % 20_000}` }));
    // A scan per lookup would be 10^9 comparisons; a keyed lookup takes milliseconds.
    assert.ok(performance.now() - started < 1000);
    assert.equal(big.findIdentity({ idp: 'gitlab', sub: 'sub-1' }), undefined);
  });
});
