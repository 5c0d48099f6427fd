import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { FakeBroker } from './fake-broker.ts';
import { AWKWARD_KEY, AWS_KEY, PLAIN_KEY, startBroker } from './fixture.ts';
import { bash, makeHome, removeHome, runCli } from './helpers.ts';

let broker: FakeBroker;
let token: string;
let home: string;
const allValues = [AWS_KEY, AWKWARD_KEY, PLAIN_KEY].flatMap((k) => Object.values(k.outputs));

before(async () => {
  ({ broker, token } = await startBroker());
  home = makeHome();
});
after(async () => {
  await broker.stop();
  removeHome(home);
});

function mint(args: string[], env: Record<string, string> = {}) {
  return runCli(['mint', '--broker-url', broker.url, '--token', token, ...args], {
    home,
    env,
    secrets: [token],
    stdoutOnly: allValues.filter((v) => v.length > 8),
  });
}

describe('voidkey mint --output env', () => {
  test('prints one export line per variable, in key then output order, that bash evaluates to the exact values', async () => {
    const { code, stdout, stderr } = await mint(['--keys', 'AWKWARD,AWS_DEPLOY']);
    assert.equal(code, 0);
    assert.equal(stderr, '');
    assert.ok(stdout.endsWith('\n'));
    const names = [...stdout.matchAll(/^export ([A-Z_]+)='/gm)].map((m) => m[1]);
    assert.deepEqual(names, [...Object.keys(AWKWARD_KEY.outputs), ...Object.keys(AWS_KEY.outputs)]);
    for (const [name, value] of Object.entries({ ...AWKWARD_KEY.outputs, ...AWS_KEY.outputs })) {
      const evaluated = await bash(`eval "$(cat)"; printf %s "$${name}"`, stdout);
      assert.equal(evaluated, value, `${name} survives eval`);
    }
  });

  test("writes a single quote as '\\'' and nothing else on stdout", async () => {
    const { code, stdout } = await mint(['--keys', 'AWS_DEPLOY']);
    assert.equal(code, 0);
    assert.equal(
      stdout,
      "export AWS_ACCESS_KEY_ID='ASIAEXAMPLEACCESSKEY'\n" +
        "export AWS_SECRET_ACCESS_KEY='secret/with+chars=and'\\''quote\"'\n" +
        "export AWS_SESSION_TOKEN='session-token-value-0123456789'\n" +
        "export AWS_REGION='us-east-1'\n",
    );
  });

  test('refuses a value holding a NUL byte, naming the variable and printing nothing', async () => {
    const { broker: nulBroker, token: nulToken } = await startBroker([
      { name: 'NUL', provider: 'p', maxDuration: 900, outputs: { GOOD: 'fine', BAD_VALUE: 'a\u0000b' } },
    ]);
    try {
      const r = await runCli(['mint', '--broker-url', nulBroker.url, '--token', nulToken, '--keys', 'NUL'], {
        home,
        secrets: [nulToken],
      });
      assert.equal(r.code, 1);
      assert.equal(r.stdout, '');
      assert.equal(
        r.stderr,
        'voidkey: variable BAD_VALUE holds a NUL byte, which --output env cannot represent\n',
      );
    } finally {
      await nulBroker.stop();
    }
  });
});

describe('voidkey mint --output dotenv', () => {
  test('prints NAME=value lines unquoted', async () => {
    const { code, stdout } = await mint(['--keys', 'GCP_READ,AWS_DEPLOY', '--output', 'dotenv']);
    assert.equal(code, 0);
    assert.equal(
      stdout,
      'GOOGLE_OAUTH_ACCESS_TOKEN=ya29.plain-value\nGOOGLE_TOKEN_EXPIRY=2030-01-01T00:00:00Z\n' +
        'AWS_ACCESS_KEY_ID=ASIAEXAMPLEACCESSKEY\nAWS_SECRET_ACCESS_KEY=secret/with+chars=and\'quote"\n' +
        'AWS_SESSION_TOKEN=session-token-value-0123456789\nAWS_REGION=us-east-1\n',
    );
  });

  test('refuses a value with a newline, naming the variable, with exit 1 and empty stdout', async () => {
    const { code, stdout, stderr } = await mint(['--keys', 'AWKWARD', '--output', 'dotenv']);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.match(
      stderr,
      /^voidkey: variable NEWLINE holds a newline, carriage return or NUL, which --output dotenv cannot represent\n$/,
    );
  });
});

describe('voidkey mint --output yaml and json', () => {
  test('yaml double-quotes every value and parses back to exactly the minted credentials', async () => {
    const { code, stdout } = await mint(['--keys', 'AWKWARD,AWS_DEPLOY,GCP_READ', '--output', 'yaml']);
    assert.equal(code, 0);
    const expected = {
      AWKWARD: AWKWARD_KEY.outputs,
      AWS_DEPLOY: AWS_KEY.outputs,
      GCP_READ: PLAIN_KEY.outputs,
    };
    assert.deepEqual(parseYaml(stdout), expected);
    assert.deepEqual(Object.keys(parseYaml(stdout)), Object.keys(expected));
    const valueLines = stdout.split('\n').filter((line) => line.startsWith('  '));
    assert.equal(valueLines.length, 13);
    for (const line of valueLines) assert.match(line, /^ {2}[A-Z_]+: ".*"$/);
  });

  test('json prints {KEY: {ENV: value}} and nothing else', async () => {
    const { code, stdout } = await mint(['--keys', 'AWS_DEPLOY,AWKWARD', '--output', 'json']);
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(stdout), { AWS_DEPLOY: AWS_KEY.outputs, AWKWARD: AWKWARD_KEY.outputs });
  });
});

describe('voidkey mint --output github', () => {
  test('prints the masks first, escaped and line by line, then appends heredoc blocks to $GITHUB_ENV', async () => {
    const githubEnv = join(home, 'github_env');
    writeFileSync(githubEnv, 'EXISTING=1\n');
    const { code, stdout, stderr } = await mint(['--keys', 'AWKWARD', '--output', 'github'], {
      GITHUB_ENV: githubEnv,
    });
    assert.equal(code, 0);
    const masks = stdout.split('\n').slice(0, -1);
    assert.ok(masks.every((line) => line.startsWith('::add-mask::')));
    for (const value of Object.values(AWKWARD_KEY.outputs)) {
      const escaped = value.replaceAll('%', '%25').replaceAll('\r', '%0D').replaceAll('\n', '%0A');
      assert.ok(masks.includes(`::add-mask::${escaped}`), 'the whole value is masked');
    }
    for (const line of [
      'line one',
      'line two',
      'line four',
      'tab\there',
      'cr \u001b[31mred\u001b[0m \u007f',
    ]) {
      assert.ok(masks.includes(`::add-mask::${line}`), `line ${JSON.stringify(line)} is masked`);
    }
    assert.ok(masks.includes('::add-mask::100%25 %250A %2525'));
    assert.match(
      stderr,
      /^voidkey: exported QUOTES, DOLLAR, NEWLINE, UNICODE, CONTROL, YAMLISH, PERCENT to \$GITHUB_ENV\n$/,
    );
    const file = readFileSync(githubEnv, 'utf8');
    assert.ok(file.startsWith('EXISTING=1\n'));
    assert.deepEqual(parseGithubEnv(file.slice('EXISTING=1\n'.length)), Object.entries(AWKWARD_KEY.outputs));
  });

  test('masks secret keys and tokens but leaves literals such as a region readable', async () => {
    const githubEnv = join(home, 'github_env');
    writeFileSync(githubEnv, '');
    const { code, stdout, stderr } = await mint(['--keys', 'AWS_DEPLOY,GCP_READ', '--output', 'github'], {
      GITHUB_ENV: githubEnv,
    });
    assert.equal(code, 0, stderr);
    assert.equal(
      stdout,
      [
        AWS_KEY.outputs.AWS_ACCESS_KEY_ID,
        AWS_KEY.outputs.AWS_SECRET_ACCESS_KEY,
        AWS_KEY.outputs.AWS_SESSION_TOKEN,
        PLAIN_KEY.outputs.GOOGLE_OAUTH_ACCESS_TOKEN,
      ]
        .map((value) => `::add-mask::${value}\n`)
        .join(''),
    );
    assert.ok(!stdout.includes('us-east-1'), 'the region is not masked');
    assert.ok(!stdout.includes(PLAIN_KEY.outputs.GOOGLE_TOKEN_EXPIRY ?? '-'), 'the expiry is not masked');
    const exported = parseGithubEnv(readFileSync(githubEnv, 'utf8'));
    assert.deepEqual(exported, [...Object.entries(AWS_KEY.outputs), ...Object.entries(PLAIN_KEY.outputs)]);
  });

  test('refuses before minting when $GITHUB_ENV is not set', async () => {
    broker.reset();
    const { code, stdout, stderr } = await mint(['--keys', 'AWS_DEPLOY', '--output', 'github']);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.equal(
      stderr,
      'voidkey: --output github needs $GITHUB_ENV (it is set inside GitHub Actions steps)\n',
    );
    assert.equal(broker.requests('/credentials/mint').length, 0);
  });
});

describe('colliding variable names', () => {
  test('are refused for env, dotenv and github, and allowed for json', async () => {
    const { broker: b, token: t } = await startBroker([
      { name: 'ONE', provider: 'p', maxDuration: 900, outputs: { SHARED: 'a', ONLY_ONE: 'b' } },
      { name: 'TWO', provider: 'p', maxDuration: 900, outputs: { SHARED: 'c' } },
    ]);
    try {
      const githubEnv = join(home, 'collide_env');
      writeFileSync(githubEnv, '');
      for (const output of ['env', 'dotenv', 'github']) {
        const r = await runCli(
          ['mint', '--broker-url', b.url, '--token', t, '--keys', 'ONE,TWO', '--output', output],
          {
            home,
            env: { GITHUB_ENV: githubEnv },
            secrets: [t],
          },
        );
        assert.equal(r.code, 1, output);
        assert.equal(r.stdout, '', output);
        assert.equal(
          r.stderr,
          `voidkey: variable SHARED is set by both ONE and TWO; --output ${output} cannot hold both (use json or yaml)\n`,
        );
      }
      assert.equal(readFileSync(githubEnv, 'utf8'), '');
      const json = await runCli(
        ['mint', '--broker-url', b.url, '--token', t, '--keys', 'ONE,TWO', '--output', 'json'],
        { home, secrets: [t] },
      );
      assert.equal(json.code, 0);
      assert.deepEqual(JSON.parse(json.stdout), {
        ONE: { SHARED: 'a', ONLY_ONE: 'b' },
        TWO: { SHARED: 'c' },
      });
    } finally {
      await b.stop();
    }
  });
});

/** Parses `NAME<<DELIM\nvalue\nDELIM\n` blocks, checking each delimiter is random-looking and unique. */
function parseGithubEnv(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const delimiters = new Set<string>();
  let rest = text;
  while (rest !== '') {
    const header = /^([A-Za-z_][A-Za-z0-9_]*)<<(ghadelimiter_[0-9a-f-]{36})\n/.exec(rest);
    assert.ok(header, 'block header');
    const [whole, name, delimiter] = header as unknown as [string, string, string];
    assert.ok(!delimiters.has(delimiter), 'delimiters differ');
    delimiters.add(delimiter);
    const end = rest.indexOf(`\n${delimiter}\n`, whole.length - 1);
    assert.ok(end >= 0, 'block end');
    out.push([name, rest.slice(whole.length, end)]);
    rest = rest.slice(end + delimiter.length + 2);
  }
  return out;
}
