import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { run } from '../../src/cli/policy.ts';
import { makeHome, removeHome, runCli } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = join(ROOT, 'test/fixtures/policy/subjects.yaml');
const dir = mkdtempSync(join(tmpdir(), 'voidkey-policy-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const GITHUB = 'https://token.actions.githubusercontent.com';
const MAIN_SUB = 'repo:acme-corp@49812345/payments-api@612345678:ref:refs/heads/main';
const main = { iss: GITHUB, sub: MAIN_SUB, repository_owner_id: '49812345' };
const stranger = { iss: GITHUB, sub: 'repo:evil/app:ref:refs/heads/main' };

let counter = 0;
/** Writes a cases file (data → YAML) and returns its path. */
function casesFile(data: unknown): string {
  counter += 1;
  const path = join(dir, `cases-${counter}.yaml`);
  writeFileSync(path, typeof data === 'string' ? data : stringify(data));
  return path;
}

async function policy(args: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(args, {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    env: {},
    cwd: dir,
  });
  return { code, stdout, stderr, lines: stdout.trimEnd().split('\n') };
}

const suite = (cases: unknown[], extra: Record<string, unknown> = {}) =>
  casesFile({ version: 1, config: CONFIG, ...extra, cases });

describe('voidkey policy test: passing and failing cases', () => {
  test('prints one ok line per case and closes with the counts; exit 0', async () => {
    const file = suite([
      { name: 'main deploys', claims: main, request: ['DEPLOY'], expect: { decision: 'allow' } },
      { name: 'a stranger gets nothing', claims: stranger, expect: { decision: 'deny' } },
    ]);
    const r = await policy(['test', file]);
    assert.equal(r.stderr, '');
    assert.deepEqual(r.lines, ['ok   main deploys', 'ok   a stranger gets nothing', '2 passed, 0 failed']);
    assert.equal(r.code, 0);
  });

  test('a failed case prints FAIL, what differed and the explanation; exit 1', async () => {
    const file = suite([
      { name: 'main deploys', claims: main, request: ['DEPLOY'], expect: { decision: 'allow' } },
      { name: 'wrongly expects a denial', claims: main, request: ['READ'], expect: { decision: 'deny' } },
    ]);
    const r = await policy(['test', file]);
    assert.equal(r.code, 1);
    assert.equal(r.lines[0], 'ok   main deploys');
    assert.equal(r.lines[1], 'FAIL wrongly expects a denial');
    assert.equal(r.lines[2], '       decision: expected deny, got allow');
    assert.deepEqual(r.lines.slice(3, 8), [
      '     idp: github-actions',
      '     matching identities: clientIdentities[0]',
      '     key READ: allow',
      '       identity clientIdentities[0]: matches',
      `         pass     sub: expected "${MAIN_SUB}", actual "${MAIN_SUB}"`,
    ]);
    assert.equal(r.lines.at(-1), '1 passed, 1 failed');
  });

  test('a request is all-or-nothing: one ungranted key denies, each key keeps its own reason', async () => {
    const file = suite([
      {
        name: 'a known and an ungranted key',
        claims: main,
        request: ['DEPLOY', 'ADMIN'],
        expect: {
          decision: 'deny',
          keys: {
            DEPLOY: { grantedBy: 'clientIdentities[0]' },
            ADMIN: { reason: 'key_not_granted', grantedBy: [] },
          },
        },
      },
    ]);
    const r = await policy(['test', file]);
    assert.deepEqual(r.lines, ['ok   a known and an ungranted key', '1 passed, 0 failed']);
    assert.equal(r.code, 0);
  });

  test('with no identity matched every key, known or not, is no_identity_matched', async () => {
    const file = suite([
      {
        name: 'stranger',
        claims: stranger,
        request: ['DEPLOY', 'NOPE'],
        expect: {
          decision: 'deny',
          keys: { DEPLOY: { reason: 'no_identity_matched' }, NOPE: { reason: 'no_identity_matched' } },
        },
      },
    ]);
    assert.equal((await policy(['test', file])).code, 0);
  });

  test('reports every unmet expectation of a case: reason, grantedBy, grantedKeys, rendered fields', async () => {
    const file = suite([
      {
        name: 'all wrong',
        claims: main,
        expect: {
          decision: 'allow',
          grantedKeys: ['DEPLOY'],
          keys: {
            DEPLOY: {
              reason: 'denied_by_rule',
              grantedBy: 'someone-else',
              rendered: { roleArn: 'arn:aws:iam::123456789012:role/other', duration: 900 },
            },
          },
        },
      },
    ]);
    const r = await policy(['test', file]);
    assert.equal(r.code, 1);
    assert.deepEqual(r.lines.slice(0, 6), [
      'FAIL all wrong',
      '       grantedKeys: expected [DEPLOY], got [DEPLOY, READ]',
      '       keys.DEPLOY.reason: expected denied_by_rule, got (granted)',
      '       keys.DEPLOY.grantedBy: expected [someone-else], got [clientIdentities[0]]',
      '       keys.DEPLOY.rendered.roleArn: expected "arn:aws:iam::123456789012:role/other", got "arn:aws:iam::123456789012:role/deploy"',
      '     idp: github-actions',
    ]);
  });

  test('without a request, allow means at least one key would mint, and grantedKeys is that list', async () => {
    const file = suite([
      { name: 'listing', claims: main, expect: { decision: 'allow', grantedKeys: ['READ', 'DEPLOY'] } },
      {
        name: 'rendered',
        claims: main,
        expect: { decision: 'allow', keys: { DEPLOY: { rendered: { duration: 900 } } } },
      },
    ]);
    const r = await policy(['test', file]);
    assert.deepEqual(r.lines, ['ok   listing', 'ok   rendered', '2 passed, 0 failed']);
  });

  test('a case may give a token instead of claims (decoded, not verified) and the IdP by name', async () => {
    const token = [{ alg: 'RS256' }, main]
      .map((part) => Buffer.from(JSON.stringify(part)).toString('base64url'))
      .concat('c2ln')
      .join('.');
    const file = suite([
      { name: 'token', idp: 'github-actions', token, request: ['READ'], expect: { decision: 'allow' } },
    ]);
    const r = await policy(['test', file]);
    assert.deepEqual(r.lines, ['ok   token', '1 passed, 0 failed']);
    assert.ok(!r.stdout.includes(token));
  });
});

describe('voidkey policy test: committed case files', () => {
  test('test/fixtures/policy/subjects.cases.yaml passes against its config', async () => {
    const r = await policy(['test', join(ROOT, 'test/fixtures/policy/subjects.cases.yaml')]);
    assert.equal(r.stderr, '');
    assert.equal(r.lines.at(-1), '2 passed, 0 failed');
    assert.equal(r.code, 0);
  });
});

describe('voidkey policy test: --json and --coverage', () => {
  test('--json prints one document with each case, its failures and the counts', async () => {
    const file = suite([
      { name: 'good', claims: main, request: ['DEPLOY'], expect: { decision: 'allow' } },
      { name: 'bad', claims: stranger, request: ['DEPLOY'], expect: { decision: 'allow' } },
    ]);
    const r = await policy(['test', file, '--json']);
    assert.equal(r.code, 1);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.passed, 1);
    assert.equal(doc.failed, 1);
    assert.deepEqual(
      doc.cases.map((c: { name: string; ok: boolean; decision: string }) => [c.name, c.ok, c.decision]),
      [
        ['good', true, 'allow'],
        ['bad', false, 'deny'],
      ],
    );
    assert.deepEqual(doc.cases[1].failures, ['decision: expected allow, got deny']);
    assert.deepEqual(doc.cases[1].keys.DEPLOY, {
      reason: 'no_identity_matched',
      grantedBy: [],
      deniedBy: [],
    });
  });

  test('--coverage lists what no case touched, before the closing line', async () => {
    const file = suite([{ name: 'main', claims: main, expect: { decision: 'allow' } }]);
    const r = await policy(['test', file, '--coverage']);
    assert.equal(r.code, 0);
    assert.deepEqual(r.lines.slice(1), [
      'coverage: not touched by any case:',
      '  identity   clientIdentities[1]',
      '1 passed, 0 failed',
    ]);
    const json = JSON.parse((await policy(['test', file, '--coverage', '--json'])).stdout);
    assert.deepEqual(json.coverage, { identities: ['clientIdentities[1]'], denyRules: [], keys: [] });
  });

  test('--coverage says so when every identity was touched', async () => {
    const developer = {
      iss: 'https://sso.example.com/realms/corp',
      sub: '8c1f2a3b-4d5e-4f60-9a7b-8c9d0e1f2a3b',
    };
    const file = suite([
      { name: 'main', claims: main, expect: { decision: 'allow' } },
      { name: 'developer', claims: developer, expect: { decision: 'allow', grantedKeys: ['READ'] } },
    ]);
    const r = await policy(['test', file, '--coverage']);
    assert.equal(r.lines.at(-2), 'coverage: every identity, deny rule and catalog key was touched by a case');
  });
});

describe('voidkey policy test: invalid input exits 2 before any case runs', () => {
  const invalid: Array<[string, () => string[], string[]]> = [
    [
      'a file that breaks the format, with every problem and its path',
      () => ['test', casesFile({ version: 2, cases: [{ name: 'x', claims: {}, expect: {}, bogus: 1 }] })],
      [
        'cases-N.yaml: version: must be 1',
        'cases-N.yaml: cases[0].bogus: unknown field',
        'cases-N.yaml: cases[0].expect.decision: required field is missing',
      ],
    ],
    [
      'a case with both claims and a token',
      () => ['test', suite([{ name: 'x', claims: main, token: 'a.b.c', expect: { decision: 'deny' } }])],
      ['cases-N.yaml: cases[0]: give exactly one of `claims` and `token`'],
    ],
    [
      'a case whose idp and claims.iss disagree',
      () => ['test', suite([{ name: 'x', idp: 'developers', claims: main, expect: { decision: 'deny' } }])],
      [
        'cases-N.yaml: cases[0].idp: idp "developers" has issuer "https://sso.example.com/realms/corp", but claims.iss is "https://token.actions.githubusercontent.com"',
      ],
    ],
    [
      'a case whose issuer no IdP has, and one naming no IdP at all',
      () => [
        'test',
        suite([
          { name: 'x', claims: { iss: 'https://other.example', sub: 'a' }, expect: { decision: 'deny' } },
          { name: 'y', claims: { sub: 'a' }, expect: { decision: 'deny' } },
        ]),
      ],
      [
        'cases-N.yaml: cases[0]: no client IdP has issuer "https://other.example"',
        'cases-N.yaml: cases[1]: name the IdP: give `idp` or `claims.iss`',
      ],
    ],
    [
      'a token that is not a JWT',
      () => [
        'test',
        suite([{ name: 'x', idp: 'developers', token: 'not-a-jwt', expect: { decision: 'deny' } }]),
      ],
      ['cases-N.yaml: cases[0].token: not a compact JWT (expected 3 dot-separated segments, found 1)'],
    ],
    [
      'YAML that does not parse',
      () => ['test', casesFile('version: 1\ncases: [\n')],
      ['cases-N.yaml: (root): line 3, column 1: deficient indentation'],
    ],
    [
      'a missing file',
      () => ['test', join(dir, 'nope.yaml')],
      [`${join(dir, 'nope.yaml')}: cannot read the file (ENOENT)`],
    ],
    [
      'no config in the file and no --config',
      () => [
        'test',
        casesFile({ version: 1, cases: [{ name: 'x', claims: main, expect: { decision: 'deny' } }] }),
      ],
      ["cases-N.yaml: no config: pass --config PATH or set 'config' in the file"],
    ],
    [
      'an invalid config',
      () => [
        'test',
        suite([{ name: 'x', claims: main, expect: { decision: 'deny' } }], { config: 'bad-config.yaml' }),
      ],
      [`${join(dir, 'bad-config.yaml')}: invalid configuration:`, '  brokerIdp: required field is missing'],
    ],
    ['a missing FILE', () => ['test'], ["voidkey: missing FILE (see 'voidkey policy test --help')"]],
    [
      'an unknown flag',
      () => ['test', 'x.yaml', '--bogus'],
      ["voidkey: unknown option --bogus (see 'voidkey policy test --help')"],
    ],
  ];
  writeFileSync(join(dir, 'bad-config.yaml'), 'clientIdps: []\n');
  for (const [name, args, lines] of invalid) {
    test(name, async () => {
      const r = await policy(args());
      assert.equal(r.stdout, '');
      const got = r.stderr
        .trimEnd()
        .split('\n')
        .map((l) => l.replace(/^(\S*)cases-\d+\.yaml/, 'cases-N.yaml'));
      for (const line of lines) assert.ok(got.includes(line), `${line}\n--- got:\n${got.join('\n')}`);
      assert.equal(r.code, 2);
    });
  }
});

describe('voidkey policy test: which config', () => {
  test('--config overrides the file’s config, and the file’s config is relative to the file', async () => {
    writeFileSync(
      join(dir, 'local.yaml'),
      readFileSync(CONFIG, 'utf8').replace(MAIN_SUB, 'repo:other/x:ref:refs/heads/main'),
    );
    const file = suite([{ name: 'main', claims: main, expect: { decision: 'allow' } }], {
      config: 'local.yaml',
    });
    assert.equal((await policy(['test', file])).code, 1, 'local.yaml has no identity for main');
    assert.equal((await policy(['test', file, '--config', CONFIG])).code, 0);
  });
});

describe('voidkey policy --help', () => {
  for (const args of [['--help'], ['test', '--help'], ['explain', '-h']]) {
    test(`policy ${args.join(' ')} prints the usage on stdout, exit 0`, async () => {
      const r = await policy(args);
      assert.equal(r.code, 0);
      assert.equal(r.stderr, '');
      assert.match(r.stdout, /^Usage: voidkey policy /);
      if (args[0] !== '--help') assert.match(r.stdout, /\nExit status: 0 /);
    });
  }
});

describe('voidkey policy (through the executable)', () => {
  const home = makeHome();
  after(() => removeHome(home));

  test('is listed in the usage and dispatches test with its exit code', async () => {
    const usage = await runCli(['--help'], { home });
    assert.match(usage.stdout, /\n {2}policy {5}policy test \/ explain/);
    const file = suite([{ name: 'stranger', claims: stranger, expect: { decision: 'allow' } }]);
    const r = await runCli(['policy', 'test', file], { home });
    assert.equal(r.code, 1);
    assert.equal(r.stdout.trimEnd().split('\n').at(-1), '0 passed, 1 failed');
  });

  test('an unknown or missing subcommand is a usage error (exit 2)', async () => {
    for (const args of [['policy'], ['policy', 'bogus'], ['policy', 'constructor']]) {
      const r = await runCli(args, { home });
      assert.equal(r.code, 2, args.join(' '));
      assert.match(
        r.stderr,
        /^voidkey: (missing subcommand|unknown subcommand '\w+') \(see 'voidkey policy --help'\)\n$/,
      );
    }
  });
});
