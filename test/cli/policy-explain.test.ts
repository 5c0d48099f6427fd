import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { run } from '../../src/cli/policy.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = join(ROOT, 'test/fixtures/policy/subjects.yaml');
const CLAIMS = join(ROOT, 'test/fixtures/claims/github-actions-immutable-subject.json');
const RULES = join(ROOT, 'test/fixtures/policy/rules.yaml');
const SUB = 'repo:acme-corp@49812345/payments-api@612345678:ref:refs/heads/main';
const dir = mkdtempSync(join(tmpdir(), 'voidkey-policy-explain-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function explain(args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await run(['explain', ...args], {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env,
    cwd: dir,
  });
  return { code, stdout, stderr };
}

describe('voidkey policy explain: input', () => {
  test('explains claims from a file, the IdP taken from their iss; exit 0', async () => {
    const r = await explain(['--config', CONFIG, '--claims', CLAIMS, '--keys', 'DEPLOY,ADMIN']);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      [
        'idp: github-actions',
        'matching identities: clientIdentities[0]',
        'key DEPLOY: allow',
        '  identity clientIdentities[0]: matches',
        `    pass     sub: expected "${SUB}", actual "${SUB}"`,
        'key ADMIN: deny (key_not_granted)',
        '  no identity of this IdP grants it',
        '',
      ].join('\n'),
    );
  });

  test('finds the config through $CONFIG_PATH like serve', async () => {
    const r = await explain(['--claims', CLAIMS], { CONFIG_PATH: CONFIG });
    assert.equal(r.code, 0, r.stderr);
  });

  test('--json prints one document', async () => {
    const r = await explain(['--config', CONFIG, '--claims', CLAIMS, '--json']);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.idp, 'github-actions');
    assert.deepEqual(doc.matchedIdentities, ['clientIdentities[0]']);
    assert.deepEqual(Object.keys(doc.keys), ['DEPLOY', 'READ']);
    assert.equal(doc.keys.DEPLOY.identities[0].branches[0][0].expected, JSON.stringify(SUB));
  });

  const usage: Array<[string, string[], string]> = [
    ['neither --claims nor --token', ['--config', CONFIG], 'give exactly one of --claims and --token'],
    [
      'both --claims and --token',
      ['--config', CONFIG, '--claims', CLAIMS, '--token', CLAIMS],
      'give exactly one of --claims and --token',
    ],
    [
      '--jwks without --token',
      ['--config', CONFIG, '--claims', CLAIMS, '--jwks', 'k.json'],
      '--jwks needs --token',
    ],
    [
      'a bad key name',
      ['--config', CONFIG, '--claims', CLAIMS, '--keys', 'a b'],
      "--keys: 'a b' is not a key name",
    ],
    ['a positional argument', ['--config', CONFIG, 'extra'], 'takes no positional argument'],
    [
      'an --idp whose issuer is not the claims’ iss',
      ['--config', CONFIG, '--claims', CLAIMS, '--idp', 'developers'],
      'idp "developers" has issuer',
    ],
    [
      'an unknown --idp',
      ['--config', CONFIG, '--claims', CLAIMS, '--idp', 'nope'],
      'no client IdP named "nope"',
    ],
    [
      'a claims file that is not a map',
      ['--config', CONFIG, '--claims', join(dir, 'list.json')],
      'must hold one map of claims',
    ],
    ['a missing claims file', ['--config', CONFIG, '--claims', join(dir, 'none.json')], 'cannot read'],
    [
      'a claims file with a key twice',
      ['--config', CONFIG, '--claims', join(dir, 'twice.json')],
      'twice.json is not JSON or YAML: line 1, column 24: duplicate key "sub" (each key may appear once in a map)',
    ],
  ];
  before(() => {
    writeFileSync(join(dir, 'list.json'), '[1, 2]');
    writeFileSync(join(dir, 'twice.json'), '{"sub": "first-value", "sub": "second-value"}');
  });
  for (const [name, args, text] of usage) {
    test(`${name} exits 2 naming the problem`, async () => {
      const r = await explain(args);
      assert.equal(r.stdout, '');
      assert.ok(r.stderr.includes(text), r.stderr);
      assert.equal(r.code, 2);
    });
  }
});

describe('voidkey policy explain --token', () => {
  const claims = {
    iss: 'https://token.actions.githubusercontent.com',
    sub: 'repo:acme-corp@49812345/payments-api@612345678:ref:refs/heads/main',
  };
  let token: string;
  before(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    token = await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
    writeFileSync(join(dir, 'token.jwt'), `${token}\n`);
    const jwks = (key: Parameters<typeof exportJWK>[0]) =>
      exportJWK(key).then((jwk) => JSON.stringify({ keys: [{ ...jwk, kid: 'k1', alg: 'ES256' }] }));
    writeFileSync(join(dir, 'good.json'), await jwks(publicKey));
    writeFileSync(join(dir, 'bad.json'), await jwks(other.publicKey));
  });

  test('decodes a token without verifying it, and never prints it', async () => {
    const r = await explain(['--config', CONFIG, '--token', 'token.jwt', '--keys', 'DEPLOY']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes('key DEPLOY: allow'), r.stdout);
    assert.ok(!r.stdout.includes(token) && !r.stderr.includes(token));
  });

  test('--jwks verifies the signature: the right key passes, another key exits 2', async () => {
    assert.equal(
      (await explain(['--config', CONFIG, '--token', 'token.jwt', '--jwks', 'good.json'])).code,
      0,
    );
    const r = await explain(['--config', CONFIG, '--token', 'token.jwt', '--jwks', 'bad.json']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^--token: the signature does not verify against .*bad\.json/);
    assert.ok(!r.stderr.includes(token));
  });
});

describe('voidkey policy explain: the full detail and the hints', () => {
  const claimsFile = (name: string, claims: Record<string, unknown>) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(claims));
    return path;
  };
  const fixture = (name: string) =>
    JSON.parse(readFileSync(join(ROOT, 'test/fixtures/claims', name), 'utf8')) as Record<string, unknown>;

  test('a job with an environment: environment_in_sub, and the closest configured subject', async () => {
    const env = claimsFile('env.json', fixture('github-actions-environment.json'));
    const r = await explain(['--config', CONFIG, '--claims', env, '--keys', 'DEPLOY']);
    assert.equal(r.code, 0);
    assert.equal(
      r.stdout,
      [
        'idp: github-actions',
        'matching identities: none',
        'key DEPLOY: deny (no_identity_matched)',
        '  identity clientIdentities[0]: does not match',
        `    fail     sub: expected "${SUB}", actual "repo:acme-corp/payments-api:environment:production"`,
        '             hint environment_in_sub: a job with an environment gets `:environment:NAME` in sub instead of `:ref:…`; match the `environment` and `ref` claims instead',
        '',
      ].join('\n'),
    );
  });

  test('a subject that differs only in case: case_mismatch', async () => {
    const upper = claimsFile('upper.json', {
      ...fixture('github-actions-immutable-subject.json'),
      sub: SUB.replace('acme-corp', 'ACME-corp'),
    });
    const r = await explain(['--config', CONFIG, '--claims', upper, '--keys', 'READ']);
    assert.match(r.stdout, /\n {13}hint case_mismatch: /);
  });

  test('a glob whose * would have to cross a /: wildcard_stops_at_separator, with the pattern shown', async () => {
    const nested = claimsFile('nested.json', {
      ...fixture('github-actions-push-main.json'),
      sub: 'repo:acme-corp/team/app:ref:refs/heads/main',
    });
    const r = await explain(['--config', RULES, '--claims', nested]);
    assert.equal(r.code, 0);
    assert.ok(
      r.stdout.includes(
        '    fail     sub: expected glob "repo:acme-corp/*:ref:refs/heads/main", actual "repo:acme-corp/team/app:ref:refs/heads/main"\n' +
          '             hint wildcard_stops_at_separator: ',
      ),
      r.stdout,
    );
    assert.ok(r.stdout.includes('    pass     environment: expected absent, actual (none)\n'), r.stdout);
  });

  test('a matching deny rule is named with its message', async () => {
    const fork = claimsFile('fork.json', {
      ...fixture('github-actions-push-main.json'),
      head_repository_fork: true,
    });
    const r = await explain(['--config', RULES, '--claims', fork, '--keys', 'BUILD']);
    assert.ok(r.stdout.includes('key BUILD: deny (denied_by_rule)\n'), r.stdout);
    assert.ok(r.stdout.includes('  denied by rule no-forks: Forks never get credentials.\n'), r.stdout);
  });
});
