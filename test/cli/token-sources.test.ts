import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { FakeBroker } from './fake-broker.ts';
import { AWS_KEY, SUBJECT, startBroker } from './fixture.ts';
import { makeHome, makeToken, removeHome, runCli } from './helpers.ts';

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
let broker: FakeBroker;
let token: string;
let home: string;
const runnerTokens = new Map<string, string>();

before(async () => {
  ({ broker, token } = await startBroker([AWS_KEY]));
  home = makeHome();
  broker.providers = [
    { name: 'keycloak', issuer: 'https://idp.example.test', type: 'oidc', audience: 'not-this-one' },
    { name: 'github-actions', issuer: GITHUB_ISSUER, type: 'oidc', audience: 'voidkey-from-broker' },
  ];
  broker.runner.issue = (audience) => {
    const issued =
      runnerTokens.get(audience) ?? makeToken({ iss: GITHUB_ISSUER, sub: SUBJECT, aud: audience });
    runnerTokens.set(audience, issued);
    broker.trusted.add(issued);
    return issued;
  };
});
beforeEach(() => broker.reset());
after(async () => {
  await broker.stop();
  removeHome(home);
});

function actionsEnv(): Record<string, string> {
  return {
    GITHUB_ACTIONS: 'true',
    ACTIONS_ID_TOKEN_REQUEST_URL: `${broker.url}/runner/token?api-version=2.0`,
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: broker.runner.requestToken,
  };
}

const secrets = () => [token, broker.runner.requestToken, ...runnerTokens.values()];

describe('the GitHub Actions runner as token source', () => {
  test("asks the runner for the broker URL's origin, never the audience /credentials/idp-providers names", async () => {
    const { code, stderr } = await runCli(
      ['mint', '--broker-url', `${broker.url}/`, '--keys', 'AWS_DEPLOY'],
      {
        home,
        env: actionsEnv(),
        secrets: secrets(),
      },
    );
    assert.equal(code, 0, stderr);
    const [runner] = broker.requests('/runner/token');
    assert.equal(runner?.headers.authorization, `Bearer ${broker.runner.requestToken}`);
    assert.equal(runner?.query.get('api-version'), '2.0');
    assert.equal(runner?.query.get('audience'), broker.url);
    assert.equal(broker.requests('/credentials/idp-providers').length, 0);
    assert.equal(
      broker.requests('/credentials/mint')[0]?.headers.authorization,
      `Bearer ${runnerTokens.get(broker.url)}`,
    );
  });

  test('takes the audience from VOIDKEY_AUDIENCE, else from the config file', async () => {
    const env = { ...actionsEnv(), VOIDKEY_AUDIENCE: 'from-env' };
    const viaEnv = await runCli(['mint', '--broker-url', broker.url, '--keys', 'AWS_DEPLOY'], {
      home,
      env,
      secrets: secrets(),
    });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    const config = join(home, 'audience.yaml');
    writeFileSync(config, 'audience: from-config\n');
    const viaConfig = await runCli(
      ['mint', '--broker-url', broker.url, '--keys', 'AWS_DEPLOY', '--config', config],
      { home, env: actionsEnv(), secrets: secrets() },
    );
    assert.equal(viaConfig.code, 0, viaConfig.stderr);
    const audiences = broker.requests('/runner/token').map((r) => r.query.get('audience'));
    assert.deepEqual(audiences, ['from-env', 'from-config']);
  });

  test('after a 401 audience_mismatch, names the audience the broker expects and how to pass it (exit 3)', async () => {
    broker.script('/credentials/mint', {
      status: 401,
      error: 'INVALID_TOKEN',
      message: 'The token was not accepted',
      details: { reason: 'audience_mismatch' },
    });
    const r = await runCli(['mint', '--broker-url', broker.url, '--keys', 'AWS_DEPLOY'], {
      home,
      env: actionsEnv(),
      secrets: secrets(),
    });
    assert.equal(r.code, 3);
    assert.match(
      r.stderr,
      new RegExp(
        `^voidkey: authentication failed \\(401 INVALID_TOKEN, reason audience_mismatch\\): The token was not accepted; ` +
          `the runner token was requested for audience '${broker.url}' but the broker expects 'voidkey-from-broker' for ${GITHUB_ISSUER}; ` +
          `pass --audience \\(or set VOIDKEY_AUDIENCE, or the action input \`audience\`\\): --audience 'voidkey-from-broker' \\[request id [^\\]]+\\]\n$`,
      ),
    );
  });

  test('uses --audience without asking the broker, url-encoded', async () => {
    const audience = 'https://broker.example.com/aud?x=1&y=2';
    const args = ['mint', '--broker-url', broker.url, '--keys', 'AWS_DEPLOY', '--audience', audience];
    const { code } = await runCli(args, { home, env: actionsEnv(), secrets: secrets() });
    assert.equal(code, 0);
    assert.equal(broker.requests('/runner/token')[0]?.query.get('audience'), audience);
    assert.equal(broker.requests('/credentials/idp-providers').length, 0);
  });

  test('exits 3 when the runner refuses the request token', async () => {
    const env = { ...actionsEnv(), ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'wrong-request-token-value' };
    const r = await runCli(['mint', '--broker-url', broker.url, '--keys', 'AWS_DEPLOY'], {
      home,
      env,
      secrets: [...secrets(), 'wrong-request-token-value'],
    });
    assert.equal(r.code, 3);
    assert.equal(r.stderr, 'voidkey: the GitHub Actions runner refused to issue an OIDC token (HTTP 401)\n');
  });

  test('after a 401 audience_mismatch from a broker that lists no GitHub audience, says to pass --audience', async () => {
    const saved = broker.providers;
    broker.providers = saved.slice(0, 1);
    broker.script('/credentials/mint', { status: 401, details: { reason: 'audience_mismatch' } });
    try {
      const r = await runCli(['mint', '--broker-url', broker.url, '--keys', 'AWS_DEPLOY'], {
        home,
        env: actionsEnv(),
        secrets: secrets(),
      });
      assert.equal(r.code, 3);
      assert.match(
        r.stderr,
        new RegExp(
          `the broker lists no audience for ${GITHUB_ISSUER}; pass --audience .* with the audience its config expects`,
        ),
      );
    } finally {
      broker.providers = saved;
    }
  });

  test('inside Actions without the request variables, says to grant id-token: write (exit 2)', async () => {
    const r = await runCli(['mint', '--broker-url', broker.url, '--keys', 'AWS_DEPLOY'], {
      home,
      env: { GITHUB_ACTIONS: 'true' },
    });
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^voidkey: no OIDC token: .*grant the job `permissions: id-token: write`\n$/);
    assert.equal(broker.seen.length, 0);
  });
});

describe('token precedence', () => {
  test('with no token anywhere, exit 2 names every way to give one', async () => {
    const r = await runCli(['list-keys', '--broker-url', broker.url], { home });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'voidkey: no OIDC token: pass --token or --token-file, set VOIDKEY_OIDC_TOKEN, or run in GitHub Actions with `permissions: id-token: write`\n',
    );
  });

  test('--token beats VOIDKEY_OIDC_TOKEN and the runner', async () => {
    const other = makeToken({ sub: 'someone-else' });
    const env = { ...actionsEnv(), VOIDKEY_OIDC_TOKEN: other };
    const r = await runCli(['mint', '--broker-url', broker.url, '--token', token, '--keys', 'AWS_DEPLOY'], {
      home,
      env,
      secrets: [...secrets(), other],
    });
    assert.equal(r.code, 0);
    assert.equal(broker.requests('/credentials/mint')[0]?.headers.authorization, `Bearer ${token}`);
    assert.equal(broker.requests('/runner/token').length, 0);
  });

  test('--token-file (one trailing newline trimmed) beats VOIDKEY_OIDC_TOKEN', async () => {
    const file = join(home, 'token-file');
    writeFileSync(file, `${token}\r\n`);
    const env = { VOIDKEY_OIDC_TOKEN: 'env-token-that-must-not-be-used' };
    const r = await runCli(
      ['mint', '--broker-url', broker.url, '--token-file', file, '--keys', 'AWS_DEPLOY'],
      { home, env, secrets: [token] },
    );
    assert.equal(r.code, 0);
    assert.equal(broker.requests('/credentials/mint')[0]?.headers.authorization, `Bearer ${token}`);
  });

  test('VOIDKEY_OIDC_TOKEN beats the runner', async () => {
    const env = { ...actionsEnv(), VOIDKEY_OIDC_TOKEN: token };
    const r = await runCli(['mint', '--broker-url', broker.url, '--keys', 'AWS_DEPLOY'], {
      home,
      env,
      secrets: secrets(),
    });
    assert.equal(r.code, 0);
    assert.equal(broker.requests('/credentials/mint')[0]?.headers.authorization, `Bearer ${token}`);
    assert.equal(broker.requests('/runner/token').length, 0);
  });

  test('--token and --token-file together are a usage error', async () => {
    const r = await runCli(
      ['mint', '--broker-url', broker.url, '--token', token, '--token-file', '/nonexistent', '--keys', 'A'],
      { home, secrets: [token] },
    );
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'voidkey: --token and --token-file are mutually exclusive\n');
  });

  test('an unreadable --token-file is a usage error naming the file', async () => {
    const r = await runCli(
      ['mint', '--broker-url', broker.url, '--token-file', '/nonexistent/token', '--keys', 'A'],
      { home },
    );
    assert.equal(r.code, 2);
    assert.equal(r.stderr, 'voidkey: cannot read --token-file /nonexistent/token (ENOENT)\n');
  });
});

describe('settings precedence: flag > environment > config file > default', () => {
  const dead = 'http://127.0.0.1:9';
  function writeConfig(text: string): string {
    mkdirSync(join(home, '.voidkey'), { recursive: true });
    const file = join(home, '.voidkey', 'config.yaml');
    writeFileSync(file, text);
    return file;
  }

  test('--broker-url beats VOIDKEY_BROKER_URL, which beats broker_url in the config file', async () => {
    writeConfig(`broker_url: ${dead}\n`);
    const byFlag = await runCli(
      ['mint', '--broker-url', broker.url, '--token', token, '--keys', 'AWS_DEPLOY'],
      { home, env: { VOIDKEY_BROKER_URL: dead }, secrets: [token] },
    );
    assert.equal(byFlag.code, 0);
    const byEnv = await runCli(['mint', '--token', token, '--keys', 'AWS_DEPLOY'], {
      home,
      env: { VOIDKEY_BROKER_URL: broker.url },
      secrets: [token],
    });
    assert.equal(byEnv.code, 0);
    writeConfig(`broker_url: ${broker.url}\n`);
    const byFile = await runCli(['mint', '--token', token, '--keys', 'AWS_DEPLOY'], {
      home,
      secrets: [token],
    });
    assert.equal(byFile.code, 0);
    writeConfig('{}\n');
    const none = await runCli(['mint', '--token', token, '--keys', 'AWS_DEPLOY'], { home, secrets: [token] });
    assert.equal(none.code, 2);
    assert.equal(
      none.stderr,
      'voidkey: no broker URL: pass --broker-url, set VOIDKEY_BROKER_URL, or set broker_url in ~/.voidkey/config.yaml\n',
    );
  });

  test('output_format and default_keys from the config file apply unless flags say otherwise', async () => {
    writeConfig(`broker_url: ${broker.url}\noutput_format: json\ndefault_keys: [AWS_DEPLOY]\n`);
    const fromFile = await runCli(['mint', '--token', token], { home, secrets: [token] });
    assert.equal(fromFile.code, 0);
    assert.deepEqual(Object.keys(JSON.parse(fromFile.stdout)), ['AWS_DEPLOY']);
    const byFlag = await runCli(['mint', '--token', token, '--output', 'dotenv'], { home, secrets: [token] });
    assert.equal(byFlag.code, 0);
    assert.match(byFlag.stdout, /^AWS_ACCESS_KEY_ID=ASIAEXAMPLEACCESSKEY\n/);
  });

  test('--config names another file; an unknown field there is a usage error with a suggestion', async () => {
    const file = join(home, 'other.yaml');
    writeFileSync(file, `brokerUrl: ${broker.url}\n`);
    const r = await runCli(['mint', '--config', file, '--token', token, '--keys', 'AWS_DEPLOY'], {
      home,
      secrets: [token],
    });
    assert.equal(r.code, 2);
    assert.equal(r.stderr, `voidkey: ${file}: unknown field 'brokerUrl' (did you mean broker_url?)\n`);
    const missing = await runCli(['mint', '--config', join(home, 'absent.yaml'), '--token', token], {
      home,
      secrets: [token],
    });
    assert.equal(missing.code, 2);
    assert.equal(
      missing.stderr,
      `voidkey: cannot read the config file ${join(home, 'absent.yaml')} (ENOENT)\n`,
    );
  });

  test('a plain-http broker URL to a non-loopback host is refused unless --allow-insecure; other schemes are refused', async () => {
    const r = await runCli(['mint', '--broker-url', 'http://broker.example.com', '--keys', 'A'], { home });
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      'voidkey: the broker URL http://broker.example.com is plain http to a host other than this machine: the token would travel unencrypted; use https, or pass --allow-insecure\n',
    );
    const allowed = await runCli(
      ['mint', '--broker-url', 'http://broker.example.com', '--allow-insecure', '--keys', 'A'],
      { home },
    );
    assert.equal(allowed.code, 2);
    assert.match(
      allowed.stderr,
      /^voidkey: warning: the broker URL http:\/\/broker\.example\.com is plain http to a non-loopback host \(--allow-insecure\); tokens and credentials travel unencrypted\nvoidkey: no OIDC token: /,
    );
    const https = await runCli(['mint', '--broker-url', 'https://broker.example.com', '--keys', 'A'], {
      home,
    });
    assert.doesNotMatch(https.stderr, /warning/);
    const ftp = await runCli(['mint', '--broker-url', 'ftp://broker.example.com', '--keys', 'A'], { home });
    assert.equal(ftp.code, 2);
    assert.equal(
      ftp.stderr,
      'voidkey: the broker URL must start with https:// (or http:// for local use), got ftp:\n',
    );
  });
});
