/**
 * `voidkey mint --output credential-process` as the real AWS clients run it:
 * an AWS config profile whose `credential_process` is the built `voidkey`
 * (on PATH, as the docs show), against the built broker whose client IdP has
 * `oneTimeUse` and the sandbox STS. Six parallel `aws sts get-caller-identity`
 * calls mint once (a second mint with the same token would be refused as
 * replayed), and boto3 reuses the cached credentials. Each client test skips,
 * saying why, when its client is not installed (.ci/run installs both).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runToEnd } from '../helpers/process.ts';
import { BIN } from './helpers/broker.ts';
import { registerSecret } from './helpers/secrets.ts';
import { ROLE, SUBJECT, startWorld, type World } from './helpers/world.ts';

const hasAws = spawnSync('aws', ['--version'], { stdio: 'ignore' }).status === 0;
const hasBoto3 = spawnSync('python3', ['-c', 'import boto3'], { stdio: 'ignore' }).status === 0;
const NO_AWS = hasAws ? false : 'the AWS CLI (`aws`) is not installed: apt-get install awscli';
const NO_BOTO3 = hasBoto3 ? false : 'boto3 is not installed: apt-get install python3-boto3';

const BOTO3_SCRIPT = `
import json, sys, boto3
session = boto3.Session(profile_name="voidkey")
sts = session.client("sts", endpoint_url=sys.argv[1], region_name="us-east-1")
print(json.dumps([sts.get_caller_identity()["Arn"] for _ in range(3)]))
`;

describe('credential_process with the real AWS CLI and boto3', () => {
  let w: World;
  let home: string;
  let env: Record<string, string>;

  before(async () => {
    w = await startWorld({
      configure: (c) => {
        const [opA] = c.clientIdps as Array<Record<string, unknown>>;
        if (opA) opA.oneTimeUse = true;
      },
    });
    home = await mkdtemp(join(tmpdir(), 'voidkey-e2e-aws-'));
    const token = await w.token(w.opA, SUBJECT);
    const tokenFile = join(home, 'token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    // `voidkey` on PATH, as after `npm link`: the profile names the command, not a path.
    const bin = join(home, 'bin');
    await mkdir(bin);
    await writeFile(join(bin, 'voidkey'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    await chmod(join(bin, 'voidkey'), 0o755);
    const config = join(home, 'aws-config');
    await writeFile(
      config,
      [
        '[profile voidkey]',
        `credential_process = voidkey mint --keys AWS_DEPLOY --output credential-process --broker-url ${w.broker.url} --token-file ${tokenFile}`,
        'region = us-east-1',
        '',
      ].join('\n'),
    );
    // Only what the clients need: no AWS variable or credentials file of the host.
    env = {
      PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: home,
      AWS_CONFIG_FILE: config,
      AWS_SHARED_CREDENTIALS_FILE: join(home, 'no-credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  });
  after(async () => {
    await w?.close();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const deployMints = () => w.proxy.calls.filter((c) => c.roleArn === ROLE.deploy && c.status === 200);

  test('six parallel `aws sts get-caller-identity` mint once and all succeed', { skip: NO_AWS }, async () => {
    const before = deployMints().length;
    const runs = await Promise.all(
      Array.from({ length: 6 }, () =>
        runToEnd({
          command: 'aws',
          args: ['sts', 'get-caller-identity', '--profile', 'voidkey', '--endpoint-url', w.sts.url],
          env,
          cwd: home,
          timeoutMs: 60_000,
        }),
      ),
    );
    for (const run of runs) {
      assert.equal(run.code, 0, run.stderr);
      assert.match(JSON.parse(run.stdout).Arn, /:assumed-role\/Deploy\//);
    }
    assert.equal(deployMints().length - before, 1, 'exactly one AssumeRoleWithWebIdentity');
    const minted = deployMints().at(-1)?.credentials;
    if (minted) registerSecret('aws cli credentials', minted.secretAccessKey);
  });

  test('boto3 uses the same profile and the cached credentials', { skip: NO_BOTO3 }, async () => {
    const before = deployMints().length;
    const run = await runToEnd({
      command: 'python3',
      args: ['-c', BOTO3_SCRIPT, w.sts.url],
      env,
      cwd: home,
      timeoutMs: 60_000,
    });
    assert.equal(run.code, 0, run.stderr);
    const arns = JSON.parse(run.stdout) as string[];
    assert.equal(arns.length, 3);
    for (const arn of arns) assert.match(arn, /:assumed-role\/Deploy\//);
    // With the AWS CLI test skipped, boto3's own first call is the one mint.
    assert.ok(deployMints().length - before <= (hasAws ? 0 : 1), 'no mint beyond the cached one');
  });

  test('leaves no token or credential in the broker output', () => {
    assert.deepEqual(w.leaks().leaks, []);
  });
});
