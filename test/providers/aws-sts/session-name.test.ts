import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { deriveSessionName, sanitise, sourceIdentity } from '../../../src/providers/aws-sts/index.ts';
import { sessionNames } from '../../../src/providers/aws-sts/request-parts.ts';

const ISS = 'https://token.actions.githubusercontent.com';
const hash8 = (iss: string, sub: string) =>
  createHash('sha256').update(`${iss}|${sub}`).digest('hex').slice(0, 8);
const VALID = /^[\w+=,.@-]{2,64}$/;

describe('session names', () => {
  test('derives voidkey-<sanitised subject>-<hash> for a GitHub Actions subject', () => {
    const sub = 'repo:org/app:ref:refs/heads/main';
    assert.equal(deriveSessionName(ISS, sub), `voidkey-repo-org-app-ref-refs-heads-main-${hash8(ISS, sub)}`);
  });

  const cases: [string, string, string][] = [
    ['keeps the AWS-allowed punctuation', 'user+tag=x,y.z@example.com', 'user+tag=x,y.z@example.com'],
    ['collapses runs of disallowed characters into one dash', 'a :: / b', 'a-b'],
    ['replaces non-ASCII letters', 'jörg', 'j-rg'],
    ['trims dashes at both ends', '/system:serviceaccount/', 'system-serviceaccount'],
  ];
  for (const [name, sub, sanitised] of cases) {
    test(`${name}`, () => {
      assert.equal(sanitise(sub), sanitised);
      assert.equal(deriveSessionName(ISS, sub), `voidkey-${sanitised}-${hash8(ISS, sub)}`);
    });
  }

  test('drops the subject part when nothing of it survives sanitising', () => {
    assert.equal(deriveSessionName(ISS, '///'), `voidkey-${hash8(ISS, '///')}`);
  });

  test('cuts a long subject so the hash still fits in 64 characters', () => {
    const sub = `system:serviceaccount:${'very-long-namespace-'.repeat(10)}:builder`;
    const name = deriveSessionName(ISS, sub);
    assert.equal(name.length <= 64, true);
    assert.ok(name.endsWith(`-${hash8(ISS, sub)}`));
    assert.ok(!name.includes('--'));
  });

  test('keeps subjects that sanitise alike apart through the issuer-and-subject hash', () => {
    assert.notEqual(deriveSessionName(ISS, 'a:b'), deriveSessionName(ISS, 'a/b'));
    assert.notEqual(deriveSessionName(ISS, 'a'), deriveSessionName('https://other.example', 'a'));
  });

  test('a remembered name is the one derived for that issuer and subject, not for a look-alike pair', () => {
    // Joined with `|`, ("x|a", "b") and ("x", "a|b") are one string; their names differ in the subject part.
    const named = sessionNames();
    const first = named('x|a', 'b');
    assert.equal(first, `voidkey-b-${hash8('x|a', 'b')}`);
    assert.equal(named('x', 'a|b'), `voidkey-a-b-${hash8('x', 'a|b')}`);
    assert.equal(named('x|a', 'b'), first);
    for (const [iss, sub] of [
      [ISS, 'repo:org/app:ref:refs/heads/main'],
      [ISS, '///'],
      ['https://other.example', 'repo:org/app:ref:refs/heads/main'],
    ] as const) {
      assert.equal(named(iss, sub), deriveSessionName(iss, sub));
      assert.equal(named(iss, sub), deriveSessionName(iss, sub), 'the second, remembered answer too');
    }
  });

  test('every derived name is 2–64 characters of [\\w+=,.@-] and ends with the hash', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ minLength: 0, maxLength: 300 }), (iss, sub) => {
        const name = deriveSessionName(iss, sub);
        return VALID.test(name) && name.endsWith(hash8(iss, sub));
      }),
    );
  });

  test('SourceIdentity is the sanitised subject and the hash of issuer and subject, 2–64 characters', () => {
    const iss = 'https://token.actions.githubusercontent.com';
    const sub = 'repo:org/app:ref:refs/heads/main';
    assert.equal(sourceIdentity(iss, sub), `repo-org-app-ref-refs-heads-main-${hash8(iss, sub)}`);
    assert.equal(sourceIdentity(iss, 'x'), `x-${hash8(iss, 'x')}`);
    assert.equal(sourceIdentity(iss, ':'), hash8(iss, ':'));
    assert.equal(sourceIdentity(iss, 'x'.repeat(100)).length, 64);
    fc.assert(
      fc.property(fc.string(), fc.string({ maxLength: 300 }), (i, s) => {
        const value = sourceIdentity(i, s);
        return VALID.test(value) && value.endsWith(hash8(i, s));
      }),
    );
  });

  test('SourceIdentity is unique per identity: two long branches of one repository, and look-alike subjects', () => {
    const iss = 'https://token.actions.githubusercontent.com';
    const repo = `repo:${'my-organisation'}/${'a-very-long-repository-name-for-the-platform-team'}:ref:refs/heads/`;
    assert.notEqual(sourceIdentity(iss, `${repo}main`), sourceIdentity(iss, `${repo}release`));
    assert.notEqual(sourceIdentity(iss, 'a:b'), sourceIdentity(iss, 'a/b'));
    assert.notEqual(sourceIdentity(iss, 'a'), sourceIdentity('https://gitlab.com', 'a'));
  });
});
