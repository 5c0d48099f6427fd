import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { makeHome, makeToken, removeHome, runCli } from './helpers.ts';

let home: string;
const token = makeToken({ sub: 'repo:acme/app:ref:refs/heads/main' });
before(() => {
  home = makeHome();
});
after(() => removeHome(home));

const run = (args: string[]) => runCli(args, { home, secrets: [token] });

describe('voidkey version', () => {
  test('prints voidkey and the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    const { code, stdout, stderr } = await run(['version']);
    assert.equal(code, 0);
    assert.equal(stdout, `voidkey ${version}\n`);
    assert.equal(stderr, '');
  });
});

describe('--help', () => {
  for (const command of ['mint', 'list-keys', 'validate']) {
    test(`${command} --help documents the global flags, precedence and exit codes`, async () => {
      const { code, stdout, stderr } = await run([command, '--help']);
      assert.equal(code, 0);
      assert.equal(stderr, '');
      assert.match(stdout, new RegExp(`^Usage: voidkey ${command}`));
      for (const flag of ['--broker-url', '--token', '--token-file', '--config', '--timeout', '--audience']) {
        assert.ok(stdout.includes(`  ${flag} `), flag);
      }
      assert.ok(stdout.includes('Precedence: flag > environment variable > config file > default.'));
      for (const code of [
        '0  success',
        '2  usage',
        '3  authentication',
        '4  denied',
        '5  broker or provider failure',
      ]) {
        assert.ok(stdout.includes(`  ${code}`), code);
      }
    });
  }
});

describe('usage errors exit 2 with one line naming the problem', () => {
  const cases: Array<[string, string[], string]> = [
    ['an unknown flag', ['mint', '--bogus'], "voidkey: unknown option --bogus (see 'voidkey mint --help')"],
    [
      'a mistyped flag carrying a token, without echoing it',
      ['mint', `--tokn=${token}`],
      "voidkey: unknown option --tokn (see 'voidkey mint --help')",
    ],
    [
      'a flag without its value',
      ['list-keys', '--format'],
      "voidkey: option --format needs a value (use --format=VALUE for a value starting with '-') (see 'voidkey list-keys --help')",
    ],
    [
      'a value given to a boolean flag',
      ['mint', '--all=yes'],
      "voidkey: option --all takes no value (see 'voidkey mint --help')",
    ],
    [
      'a positional token, shortened',
      ['validate', token],
      `voidkey: unexpected argument '${token.slice(0, 12)}…'; this command takes only flags (see 'voidkey validate --help')`,
    ],
    [
      '--keys with --all',
      ['mint', '--broker-url', 'http://127.0.0.1:9', '--keys', 'A', '--all'],
      'voidkey: --keys and --all are mutually exclusive',
    ],
    [
      'a bad key name',
      ['mint', '--broker-url', 'http://127.0.0.1:9', '--keys', 'A,b c'],
      "voidkey: --keys: 'b c' is not a key name (letters, digits, '_' and '-', at most 64)",
    ],
    [
      'an empty key list',
      ['mint', '--broker-url', 'http://127.0.0.1:9', '--keys', ' , '],
      'voidkey: --keys names no key',
    ],
    [
      'no keys at all',
      ['mint', '--broker-url', 'http://127.0.0.1:9'],
      'voidkey: no keys: pass --keys A,B or --all, or set default_keys in ~/.voidkey/config.yaml',
    ],
    [
      'an unknown output format',
      ['mint', '--broker-url', 'http://127.0.0.1:9', '--keys', 'A', '--output', 'xml'],
      "voidkey: --output: 'xml' is not one of env, json, yaml, dotenv, github, credential-process",
    ],
    [
      'an unknown list format',
      ['list-keys', '--format', 'csv'],
      "voidkey: --format: 'csv' is not one of table, json, yaml",
    ],
    [
      'a bad timeout',
      ['list-keys', '--broker-url', 'http://127.0.0.1:9', '--timeout', '0'],
      "voidkey: --timeout must be a number of seconds between 0 and 3600, got '0'",
    ],
    [
      'a bad duration',
      ['mint', '--broker-url', 'http://127.0.0.1:9', '--keys', 'A', '--duration', '-5'],
      "voidkey: option --duration needs a value (use --duration=VALUE for a value starting with '-') (see 'voidkey mint --help')",
    ],
    [
      'a fractional duration',
      ['mint', '--broker-url', 'http://127.0.0.1:9', '--keys', 'A', '--duration', '1.5'],
      "voidkey: --duration must be a whole number of seconds from 1 to 604800, got '1.5'",
    ],
    ...[
      'serve',
      'config validate',
      'dev',
      'dev token',
      'exec',
      'mint',
      'list-keys',
      'validate',
      'version',
      'policy test',
      'policy explain',
    ].map((command): [string, string[], string] => [
      `an unknown option to ${command}, in the one style every command uses`,
      [...command.split(' '), '--bogus'],
      `voidkey: unknown option --bogus (see 'voidkey ${command} --help')`,
    ]),
    ...['config', 'policy'].flatMap(
      (command): Array<[string, string[], string]> => [
        [
          `an unknown subcommand of ${command}`,
          [command, 'bogus'],
          `voidkey: unknown subcommand 'bogus' (see 'voidkey ${command} --help')`,
        ],
        [
          `a missing subcommand of ${command}`,
          [command],
          `voidkey: missing subcommand (see 'voidkey ${command} --help')`,
        ],
      ],
    ),
    [
      'a bad --port to serve',
      ['serve', '--port', 'x'],
      `voidkey: --port: not a port number: "x" (see 'voidkey serve --help')`,
    ],
    [
      'a missing FILE to policy test',
      ['policy', 'test'],
      "voidkey: missing FILE (see 'voidkey policy test --help')",
    ],
    [
      'contradicting flags to policy explain',
      ['policy', 'explain', '--claims', 'a.json', '--token', 'b.jwt'],
      "voidkey: give exactly one of --claims and --token (see 'voidkey policy explain --help')",
    ],
    ['an unknown command', ['mnit'], "voidkey: unknown command 'mnit' (see 'voidkey help')"],
    ['help for an unknown command', ['help', 'mnit'], "voidkey: unknown command 'mnit' (see 'voidkey help')"],
    [
      'an http:// broker URL to another host without --allow-insecure',
      ['list-keys', '--broker-url', 'http://broker.example.com/', '--token', token],
      'voidkey: the broker URL http://broker.example.com is plain http to a host other than this machine: the token would travel unencrypted; use https, or pass --allow-insecure',
    ],
    [
      'a broker URL with credentials',
      ['list-keys', '--broker-url', 'https://user:pw@broker.example.com'],
      'voidkey: the broker URL must not carry a user name or password',
    ],
  ];
  for (const [what, args, line] of cases) {
    test(what, async () => {
      const { code, stdout, stderr } = await run(args);
      assert.equal(code, 2);
      assert.equal(stdout, '');
      assert.equal(stderr, `${line}\n`);
    });
  }
});

describe('voidkey help <command>', () => {
  test("prints the command's own help, with only the exit codes that command can return", async () => {
    const expected: Record<string, { has: string[]; lacks: string[] }> = {
      mint: { has: ['  1  minted', '  5  broker'], lacks: [] },
      exec: { has: ["otherwise the command's own status", '  4  denied'], lacks: [] },
      'list-keys': { has: ['  3  authentication', '  4  denied'], lacks: ['  1  minted'] },
      serve: { has: ['Exit codes:', '  1  invalid config'], lacks: ['  3  authentication'] },
      config: { has: ['Exit codes:', '  1  invalid'], lacks: ['  3  authentication'] },
      dev: { has: ['Exit codes:'], lacks: ['  3  authentication'] },
    };
    for (const [command, { has, lacks }] of Object.entries(expected)) {
      const viaHelp = await run(['help', command]);
      const viaFlag = await run([command, '--help']);
      assert.equal(viaHelp.code, 0, command);
      assert.equal(viaHelp.stdout, viaFlag.stdout, command);
      for (const text of has) assert.ok(viaHelp.stdout.includes(text), `${command} help has ${text}`);
      for (const text of lacks) assert.ok(!viaHelp.stdout.includes(text), `${command} help lacks ${text}`);
    }
  });

  test('--allow-insecure lets an http:// broker URL to another host through, with a warning', async () => {
    const r = await run([
      'list-keys',
      '--broker-url',
      'http://voidkey.invalid',
      '--allow-insecure',
      '--token',
      token,
      '--timeout',
      '5',
    ]);
    assert.equal(r.code, 5);
    assert.match(
      r.stderr,
      /^voidkey: warning: the broker URL http:\/\/voidkey\.invalid is plain http to a non-loopback host \(--allow-insecure\); tokens and credentials travel unencrypted\nvoidkey: cannot reach the broker at http:\/\/voidkey\.invalid/,
    );
  });
});

describe('start-up cost', () => {
  test('voidkey version loads no module outside node: built-ins', () => {
    const seen = new Set<string>();
    const visit = (url: URL) => {
      if (seen.has(url.href)) return;
      seen.add(url.href);
      const source = readFileSync(url, 'utf8');
      // Static imports only: dynamic import() is how heavy modules are deferred.
      for (const match of source.matchAll(/^import\s+(?!type\b)[^'"]*['"]([^'"]+)['"]/gm)) {
        const specifier = match[1] ?? '';
        if (specifier.startsWith('.')) visit(new URL(specifier, url));
        else assert.match(specifier, /^node:/, `${url.pathname} imports ${specifier}`);
      }
    };
    visit(new URL('../../src/cli/main.ts', import.meta.url));
    visit(new URL('../../src/cli/version.ts', import.meta.url));
    // orphan.ts (main.ts notes its parent first; it imports nothing) and the broker's one version
    // reader, itself on node: built-ins only.
    assert.deepEqual([...seen].map((href) => href.slice(href.indexOf('/src/'))).sort(), [
      '/src/cli/main.ts',
      '/src/cli/orphan.ts',
      '/src/cli/version.ts',
      '/src/server/version.ts',
    ]);
  });
});
