import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compiled } from './helpers.ts';

/** Whether an identity of the private IdP whose only condition is `claim: condition` matches `claims`. */
function matches(claim: string, condition: unknown, claims: Record<string, unknown>): boolean {
  const policy = compiled({
    clientIdentities: [
      { name: 't', idp: 'corp', match: { [claim]: condition }, keys: { K: { provider: 'aws' } } },
    ],
  });
  return policy.authorize({ idp: 'corp', claims: { sub: 'someone', ...claims } }, ['K']).allowed;
}

const cases: Array<{
  name: string;
  claim?: string;
  condition: unknown;
  claims: Record<string, unknown>;
  expect: boolean;
}> = [
  { name: 'equals: a scalar matches exactly', condition: 'main', claims: { c: 'main' }, expect: true },
  { name: 'equals: case-sensitive by default', condition: 'main', claims: { c: 'Main' }, expect: false },
  { name: 'equals: a safe integer compares in decimal', condition: 42, claims: { c: 42 }, expect: true },
  {
    name: 'equals: a number claim matches its quoted form',
    condition: '42',
    claims: { c: 42 },
    expect: true,
  },
  { name: 'equals: a boolean compares as true/false', condition: true, claims: { c: 'true' }, expect: true },
  {
    name: 'equals operator with ignoreCase folds ASCII',
    condition: { equals: 'Prod', ignoreCase: true },
    claims: { c: 'PROD' },
    expect: true,
  },
  {
    name: 'ignoreCase never folds KELVIN SIGN to k',
    condition: { equals: 'k', ignoreCase: true },
    claims: { c: '\u212A' },
    expect: false,
  },
  { name: 'a list equals any of its values', condition: ['a', 'b'], claims: { c: 'b' }, expect: true },
  { name: 'a list refuses other values', condition: ['a', 'b'], claims: { c: 'c' }, expect: false },
  {
    name: 'glob: * matches within a segment',
    condition: { glob: 'repo:acme/*:ref:main' },
    claims: { c: 'repo:acme/web:ref:main' },
    expect: true,
  },
  {
    name: 'glob: * never crosses /',
    condition: { glob: 'repo:acme/*:ref:main' },
    claims: { c: 'repo:acme/web/x:ref:main' },
    expect: false,
  },
  {
    name: 'glob: a tenant prefix is not a name prefix',
    condition: { glob: 'repo:acme/*:ref:main' },
    claims: { c: 'repo:acme-evil/web:ref:main' },
    expect: false,
  },
  {
    name: 'glob: ** spans segments',
    condition: { glob: 'refs/heads/**' },
    claims: { c: 'refs/heads/a/b' },
    expect: true,
  },
  {
    name: 'glob with ignoreCase',
    condition: { glob: 'refs/heads/rel-*', ignoreCase: true },
    claims: { c: 'REFS/heads/REL-1' },
    expect: true,
  },
  {
    name: 'regex: full match only',
    condition: { regex: 'team-[a-z]+' },
    claims: { c: 'xteam-ab' },
    expect: false,
  },
  {
    name: 'regex: matches the whole value',
    condition: { regex: 'team-[a-z]+' },
    claims: { c: 'team-ab' },
    expect: true,
  },
  {
    name: 'regex with ignoreCase folds ASCII',
    condition: { regex: 'k[a-z]', ignoreCase: true },
    claims: { c: 'KA' },
    expect: true,
  },
  {
    name: 'regex with ignoreCase never folds KELVIN SIGN',
    condition: { regex: 'k[a-z]', ignoreCase: true },
    claims: { c: '\u212Aa' },
    expect: false,
  },
  {
    name: 'not: holds when the inner condition does not',
    condition: { not: 'a' },
    claims: { c: 'b' },
    expect: true,
  },
  {
    name: 'not: on an array, no element may match',
    condition: { not: 'a' },
    claims: { c: ['b', 'a'] },
    expect: false,
  },
  {
    name: 'not: false on a missing claim in an allow rule',
    condition: { not: 'a' },
    claims: {},
    expect: false,
  },
  { name: 'present: true needs the claim', condition: { present: true }, claims: { c: '' }, expect: true },
  {
    name: 'present: false holds on a missing claim',
    condition: { present: false },
    claims: {},
    expect: true,
  },
  {
    name: 'present: null counts as absent',
    condition: { present: true },
    claims: { c: null },
    expect: false,
  },
  {
    name: 'containsAll: every listed value among the elements',
    condition: { containsAll: ['a', 'b'] },
    claims: { c: ['b', 'x', 'a'] },
    expect: true,
  },
  {
    name: 'containsAll: one missing value fails',
    condition: { containsAll: ['a', 'b'] },
    claims: { c: ['a'] },
    expect: false,
  },
  {
    name: 'every: all elements match',
    condition: { every: { glob: 'team-*' } },
    claims: { c: ['team-a', 'team-b'] },
    expect: true,
  },
  {
    name: 'every: an empty array fails',
    condition: { every: { glob: 'team-*' } },
    claims: { c: [] },
    expect: false,
  },
  {
    name: 'every: one other element fails',
    condition: { every: { glob: 'team-*' } },
    claims: { c: ['team-a', 'x'] },
    expect: false,
  },
  {
    name: 'a scalar condition holds on an array when any element matches',
    condition: 'admin',
    claims: { c: ['dev', 'admin'] },
    expect: true,
  },
  {
    name: 'a JSON Pointer reads a nested claim',
    claim: '/kubernetes.io/namespace',
    condition: 'prod',
    claims: { 'kubernetes.io': { namespace: 'prod' } },
    expect: true,
  },
  {
    name: 'a JSON Pointer decodes ~1 before ~0',
    claim: '/a~1b/c~0d',
    condition: 'v',
    claims: { 'a/b': { 'c~d': 'v' } },
    expect: true,
  },
  {
    name: 'a claim name may be a URL',
    claim: 'https://example.com/roles',
    condition: 'ops',
    claims: { 'https://example.com/roles': ['ops'] },
    expect: true,
  },
  {
    name: 'a pointer reads own properties only',
    claim: '/c/constructor',
    condition: { present: true },
    claims: { c: {} },
    expect: false,
  },
  { name: 'a float is unusable', condition: '1.5', claims: { c: 1.5 }, expect: false },
  {
    name: 'an unsafe integer is unusable',
    condition: '9007199254740993',
    claims: { c: 2 ** 53 + 2 },
    expect: false,
  },
  { name: 'an object is unusable', condition: { not: 'x' }, claims: { c: { a: 1 } }, expect: false },
  {
    name: 'a string over 1 KiB of UTF-8 is unusable',
    condition: { not: 'x' },
    claims: { c: 'é'.repeat(513) },
    expect: false,
  },
  {
    name: 'an array holding an object is unusable',
    condition: { not: 'x' },
    claims: { c: ['a', {}] },
    expect: false,
  },
];

describe('conditions', () => {
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(matches(c.claim ?? 'c', c.condition, c.claims), c.expect);
    });
  }
});
