import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import type { FakeBroker } from './fake-broker.ts';
import { AWS_KEY, PLAIN_KEY, SUBJECT, startBroker } from './fixture.ts';
import { makeHome, makeToken, removeHome, runCli } from './helpers.ts';

const EXPIRY = '2030-06-01T12:00:00.000Z';
let broker: FakeBroker;
let token: string;
let home: string;
let tokenFile: string;

before(async () => {
  ({ broker, token } = await startBroker([{ ...AWS_KEY, expiresAt: EXPIRY }, PLAIN_KEY]));
});
beforeEach(() => {
  broker.reset();
  home = makeHome();
  tokenFile = join(home, 'token');
  writeFileSync(tokenFile, `${token}\n`);
});
afterEach(() => removeHome(home));
after(async () => {
  await broker.stop();
});

function credentialProcess(extra: string[] = [], secrets = [token]) {
  const args = [
    'mint',
    '--broker-url',
    broker.url,
    '--token-file',
    tokenFile,
    '--keys',
    'AWS_DEPLOY',
    '--output',
    'credential-process',
    ...extra,
  ];
  return runCli(args, {
    home,
    secrets,
    stdoutOnly: Object.values(AWS_KEY.outputs).filter((v) => v.length > 10),
  });
}

function cacheFiles(): string[] {
  return readdirSync(join(home, '.voidkey', 'cache')).map((name) => join(home, '.voidkey', 'cache', name));
}

describe('voidkey mint --output credential-process', () => {
  test('prints the AWS credential_process JSON with Expiration from keyExpiresAt', async () => {
    const { code, stdout, stderr } = await credentialProcess();
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
    assert.deepEqual(JSON.parse(stdout), {
      Version: 1,
      AccessKeyId: AWS_KEY.outputs.AWS_ACCESS_KEY_ID,
      SecretAccessKey: AWS_KEY.outputs.AWS_SECRET_ACCESS_KEY,
      SessionToken: AWS_KEY.outputs.AWS_SESSION_TOKEN,
      Expiration: EXPIRY,
    });
  });

  test('caches in a 0700 directory with a 0600 file, and reuses it without calling the broker', async () => {
    const first = await credentialProcess();
    assert.equal(first.code, 0);
    const [file, ...others] = cacheFiles();
    assert.ok(file && others.length === 0);
    assert.equal(statSync(join(home, '.voidkey', 'cache')).mode & 0o777, 0o700);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.match(file, /\/[0-9a-f]{64}\.json$/);
    assert.equal(broker.requests('/credentials/mint').length, 1);
    const second = await credentialProcess();
    assert.equal(second.code, 0);
    assert.equal(second.stdout, first.stdout);
    assert.equal(broker.seen.length, 1, 'the second run made no broker request');
  });

  test('refreshes a cache entry expiring within 5 minutes, re-reading --token-file', async () => {
    await credentialProcess();
    const [file] = cacheFiles();
    assert.ok(file);
    const stale = {
      ...JSON.parse(readFileSync(file, 'utf8')),
      AccessKeyId: 'STALE',
      Expiration: new Date(Date.now() + 4 * 60_000).toISOString(),
    };
    writeFileSync(file, JSON.stringify(stale));
    const fresh = makeToken({ sub: SUBJECT, jti: 'second-token' });
    broker.trusted.add(fresh);
    writeFileSync(tokenFile, `${fresh}\n`);
    const { code, stdout } = await credentialProcess([], [token, fresh]);
    assert.equal(code, 0);
    assert.equal(JSON.parse(stdout).AccessKeyId, AWS_KEY.outputs.AWS_ACCESS_KEY_ID);
    const mints = broker.requests('/credentials/mint');
    assert.equal(mints.length, 2);
    assert.equal(mints[1]?.headers.authorization, `Bearer ${fresh}`);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).Expiration, EXPIRY);
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  test('ignores a cache file that other users could have written', async () => {
    await credentialProcess();
    const [file] = cacheFiles();
    assert.ok(file);
    writeFileSync(
      file,
      JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), AccessKeyId: 'PLANTED' }),
    );
    chmodSync(file, 0o666);
    const { code, stdout } = await credentialProcess();
    assert.equal(code, 0);
    assert.equal(JSON.parse(stdout).AccessKeyId, AWS_KEY.outputs.AWS_ACCESS_KEY_ID);
    assert.equal(broker.requests('/credentials/mint').length, 2);
  });

  test('needs exactly one key: two keys are a usage error before any request', async () => {
    const { code, stdout, stderr } = await credentialProcess(['--keys', 'AWS_DEPLOY,GCP_READ']);
    assert.equal(code, 2);
    assert.equal(stdout, '');
    assert.equal(stderr, 'voidkey: --output credential-process needs exactly one key, got 2\n');
    assert.equal(broker.seen.length, 0);
  });

  test('refuses a key without the three AWS outputs, exit 1', async () => {
    const { code, stdout, stderr } = await credentialProcess(['--keys', 'GCP_READ']);
    assert.equal(code, 1);
    assert.equal(stdout, '');
    assert.equal(
      stderr,
      'voidkey: key GCP_READ has no AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN output; --output credential-process needs a key with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN\n',
    );
  });
});
