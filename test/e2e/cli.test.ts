/**
 * The client CLI (`voidkey mint`, `list-keys`) as built, against the built
 * broker and the real peers: output formats carry exactly what STS issued,
 * exit codes follow SPEC §6, the GitHub Actions runner flow asks for the
 * audience the broker lists, and no token reaches stderr.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliResult, runCli } from './helpers/broker.ts';
import { findLeaks, registerCredentials, registerSecret } from './helpers/secrets.ts';
import { AUD, LIMITED, ROLE, SUBJECT, startWorld, type World } from './helpers/world.ts';

const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

describe('the client CLI against the built broker', () => {
  let w: World;
  let home: string;
  let runner: Server;
  const runnerSeen: { authorization?: string; audience?: string | null }[] = [];
  const RUNNER_TOKEN = 'e2e-runner-request-token-0123456789';

  before(async () => {
    w = await startWorld({
      configure: (c) => {
        // Listed so the CLI can learn GitHub's audience; no token of this issuer is ever presented.
        (c.clientIdps as unknown[]).push({ name: 'github', issuer: GITHUB_ISSUER, audience: AUD });
      },
    });
    home = await mkdtemp(join(tmpdir(), 'voidkey-e2e-home-'));
    registerSecret('runner request token', RUNNER_TOKEN);
    runner = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://runner');
      runnerSeen.push({
        authorization: req.headers.authorization,
        audience: url.searchParams.get('audience'),
      });
      w.token(w.opA, SUBJECT, { resource: url.searchParams.get('audience') ?? '' }).then(
        (value) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value })),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((r) => runner.listen(0, '127.0.0.1', r));
  });
  after(async () => {
    runner?.closeAllConnections();
    runner?.close();
    await w?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const stderrs: string[] = [];
  const cli = async (args: string[], env: Record<string, string> = {}): Promise<CliResult> => {
    const res = await runCli(args, { cwd: home, env: { VOIDKEY_BROKER_URL: w.broker.url, ...env } });
    stderrs.push(res.stderr);
    return res;
  };
  const lastCredentials = (roleArn: string) => {
    const c = w.proxy.calls.filter((x) => x.roleArn === roleArn && x.status === 200).at(-1)?.credentials;
    assert.ok(c, `no STS call for ${roleArn}`);
    return c;
  };

  test('mint --output json prints the credentials STS issued and exits 0', async () => {
    const token = await w.token(w.opA, SUBJECT);
    const res = await cli(['mint', '--keys', 'AWS_DEPLOY,AWS_READ', '--output', 'json', '--token', token]);
    assert.equal(res.code, 0, res.stderr);
    const printed = JSON.parse(res.stdout);
    registerCredentials(printed);
    const deploy = lastCredentials(ROLE.deploy);
    const read = lastCredentials(ROLE.read);
    assert.deepEqual(printed, {
      AWS_DEPLOY: {
        AWS_ACCESS_KEY_ID: deploy.accessKeyId,
        AWS_SECRET_ACCESS_KEY: deploy.secretAccessKey,
        AWS_SESSION_TOKEN: deploy.sessionToken,
      },
      AWS_READ: {
        AWS_ACCESS_KEY_ID: read.accessKeyId,
        AWS_SECRET_ACCESS_KEY: read.secretAccessKey,
        AWS_SESSION_TOKEN: read.sessionToken,
      },
    });
  });

  test('mint --output env reads VOIDKEY_OIDC_TOKEN and prints one export line per variable', async () => {
    const token = await w.token(w.opA, SUBJECT);
    const res = await cli(['mint', '--keys', 'AWS_DEPLOY', '--output', 'env'], { VOIDKEY_OIDC_TOKEN: token });
    assert.equal(res.code, 0, res.stderr);
    const c = lastCredentials(ROLE.deploy);
    registerCredentials({
      AWS_DEPLOY: { AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_SESSION_TOKEN: c.sessionToken },
    });
    assert.equal(
      res.stdout,
      `export AWS_ACCESS_KEY_ID='${c.accessKeyId}'\nexport AWS_SECRET_ACCESS_KEY='${c.secretAccessKey}'\nexport AWS_SESSION_TOKEN='${c.sessionToken}'\n`,
    );
  });

  test('list-keys --format json prints the /credentials/keys body as it is', async () => {
    const tokenFile = join(home, 'token');
    const token = await w.token(w.opA, LIMITED);
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const res = await cli(['list-keys', '--format', 'json', '--token-file', tokenFile]);
    assert.equal(res.code, 0, res.stderr);
    const direct = await w.api('GET', '/credentials/keys', { token });
    assert.deepEqual(JSON.parse(res.stdout), direct.body);
    assert.deepEqual(direct.body, {
      subject: LIMITED,
      idp: 'op-a',
      keys: [{ name: 'AWS_READ', provider: 'aws-e2e', maxDuration: 900 }],
    });
  });

  test('mint exits 4 with one line on stderr when a key is not granted, printing nothing', async () => {
    const token = await w.token(w.opA, LIMITED);
    const res = await cli(['mint', '--keys', 'AWS_DEPLOY', '--output', 'json', '--token', token]);
    assert.equal(res.code, 4, res.stderr);
    assert.equal(res.stdout, '');
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr);
    assert.ok(!res.stderr.includes(token));
  });

  test('mint exits 3 on an expired token without echoing it', async () => {
    const token = await w.token(w.opA, SUBJECT, { shift: -3600 });
    const res = await cli(['mint', '--keys', 'AWS_DEPLOY', '--token', token]);
    assert.equal(res.code, 3, res.stderr);
    assert.equal(res.stdout, '');
    assert.ok(!res.stderr.includes(token));
  });

  test('in GitHub Actions, asks the runner for the broker origin unless told the audience, never for one the broker lists', async () => {
    const runnerUrl = `http://127.0.0.1:${(runner.address() as AddressInfo).port}/token?api-version=2.0`;
    const actions = {
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: runnerUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: RUNNER_TOKEN,
    };
    const mismatch = await cli(['mint', '--keys', 'AWS_READ', '--output', 'json'], actions);
    assert.equal(mismatch.code, 3, mismatch.stderr);
    assert.deepEqual(runnerSeen.at(-1), {
      authorization: `Bearer ${RUNNER_TOKEN}`,
      audience: new URL(w.broker.url).origin,
    });
    assert.match(mismatch.stderr, /reason audience_mismatch/);
    assert.ok(mismatch.stderr.includes(`--audience '${AUD}'`), mismatch.stderr);
    assert.equal(mismatch.stdout, '');

    const res = await cli(['mint', '--keys', 'AWS_READ', '--output', 'json'], {
      ...actions,
      VOIDKEY_AUDIENCE: AUD,
    });
    assert.equal(res.code, 0, res.stderr);
    registerCredentials(JSON.parse(res.stdout));
    assert.deepEqual(runnerSeen.at(-1), { authorization: `Bearer ${RUNNER_TOKEN}`, audience: AUD });
    assert.equal(JSON.parse(res.stdout).AWS_READ.AWS_ACCESS_KEY_ID, lastCredentials(ROLE.read).accessKeyId);
  });

  test('credential-process prints the AWS process document and caches it with mode 0600', async () => {
    const token = await w.token(w.opA, SUBJECT);
    const args = ['mint', '--keys', 'AWS_DEPLOY', '--output', 'credential-process', '--token', token];
    const first = await cli(args);
    assert.equal(first.code, 0, first.stderr);
    const c = lastCredentials(ROLE.deploy);
    const doc = JSON.parse(first.stdout);
    assert.deepEqual(doc, {
      Version: 1,
      AccessKeyId: c.accessKeyId,
      SecretAccessKey: c.secretAccessKey,
      SessionToken: c.sessionToken,
      Expiration: doc.Expiration,
    });
    assert.equal(Date.parse(doc.Expiration), Date.parse(c.expiration));
    const cacheDir = join(home, '.voidkey', 'cache');
    const files = await readdir(cacheDir);
    assert.equal(files.length, 1);
    assert.equal((await stat(join(cacheDir, files[0] ?? ''))).mode & 0o777, 0o600);
    const calls = w.proxy.calls.length;
    const second = await cli(args);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(JSON.parse(second.stdout), doc);
    assert.equal(w.proxy.calls.length, calls, 'the cached credentials are used, STS is not called');
  });

  test('leaves no token, client secret or credential in the broker output or any CLI stderr', () => {
    const { leaks, registered, outputBytes } = w.leaks();
    assert.ok(registered > 10, `only ${registered} secrets registered`);
    assert.ok(outputBytes > 0, 'the broker printed nothing: the check would prove nothing');
    assert.deepEqual(leaks, []);
    assert.deepEqual(findLeaks(stderrs.join('\n')), []);
  });
});
