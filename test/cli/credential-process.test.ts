import assert from 'node:assert/strict';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FakeBroker } from './fake-broker.ts';
import { AWS_KEY, PLAIN_KEY, SUBJECT, startBroker } from './fixture.ts';
import { makeHome, makeToken, removeHome, runCli } from './helpers.ts';

const EXPIRY = '2030-06-01T12:00:00.000Z';
const AWS_KEY_PROCESS = {
  Version: 1,
  AccessKeyId: AWS_KEY.outputs.AWS_ACCESS_KEY_ID,
  SecretAccessKey: AWS_KEY.outputs.AWS_SECRET_ACCESS_KEY,
  SessionToken: AWS_KEY.outputs.AWS_SESSION_TOKEN,
  Expiration: EXPIRY,
};
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

/** The cache entry of the default run (no --duration): minted once, then removed, so the next run misses. */
async function missingEntry(): Promise<string> {
  const { code } = await credentialProcess();
  assert.equal(code, 0);
  const [file, ...others] = cacheFiles();
  assert.ok(file && others.length === 0);
  rmSync(file);
  broker.reset();
  return file;
}

/** A lock file beside `file` as another voidkey process would hold it, last touched `ageMs` ago. */
function plantLock(file: string, ageMs: number): string {
  const lock = `${file}.lock`;
  mkdirSync(join(home, '.voidkey', 'cache'), { recursive: true, mode: 0o700 });
  writeFileSync(lock, '4242\n', { mode: 0o600 });
  const then = new Date(Date.now() - ageMs);
  utimesSync(lock, then, then);
  return lock;
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

  test('six parallel runs against a one-time-use broker mint once and print the same credentials', async () => {
    broker.oneTimeUse = true;
    broker.mintDelayMs = 3000;
    const runs = await Promise.all(Array.from({ length: 6 }, () => credentialProcess()));
    for (const { code, stderr } of runs) assert.equal(code, 0, stderr);
    assert.equal(broker.requests('/credentials/mint').length, 1, 'exactly one mint');
    const printed = new Set(runs.map((r) => r.stdout));
    assert.equal(printed.size, 1);
    assert.equal(JSON.parse([...printed][0] ?? '').AccessKeyId, AWS_KEY.outputs.AWS_ACCESS_KEY_ID);
    assert.deepEqual(
      cacheFiles().map((f) => f.slice(-5)),
      ['.json'],
      'one cache entry and no lock left behind',
    );
  });

  test('keys the cache by the requested duration: another duration is another entry', async () => {
    const short = await credentialProcess(['--duration', '600']);
    const long = await credentialProcess(['--duration', '900']);
    assert.equal(short.code, 0, short.stderr);
    assert.equal(long.code, 0, long.stderr);
    const mints = broker.requests('/credentials/mint');
    assert.deepEqual(
      mints.map((m) => (m.body as { duration?: number }).duration),
      [600, 900],
    );
    assert.equal(cacheFiles().length, 2);
    const again = await credentialProcess(['--duration', '600']);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, short.stdout);
    assert.equal(broker.requests('/credentials/mint').length, 2, 'the 600 s entry was reused');
  });

  test('takes over a stale lock (a process that died while minting)', async () => {
    const file = await missingEntry();
    const lock = plantLock(file, 60 * 60_000);
    const { code, stdout, stderr } = await credentialProcess();
    assert.equal(code, 0, stderr);
    assert.equal(JSON.parse(stdout).AccessKeyId, AWS_KEY.outputs.AWS_ACCESS_KEY_ID);
    assert.equal(broker.requests('/credentials/mint').length, 1);
    assert.ok(existsSync(file));
    assert.ok(!existsSync(lock), 'the lock is removed after the mint');
  });

  test('waits on a live lock and prints what its holder cached, without minting', async () => {
    const file = await missingEntry();
    plantLock(file, 0);
    broker.runner.issue = () => token;
    // The runner-token flow makes the run observable: it asks the runner before it looks at the cache.
    const run = runCli(
      ['mint', '--broker-url', broker.url, '--keys', 'AWS_DEPLOY', '--output', 'credential-process'],
      {
        home,
        secrets: [token],
        env: {
          ACTIONS_ID_TOKEN_REQUEST_URL: `${broker.url}/runner/token?api-version=2.0`,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: broker.runner.requestToken,
        },
      },
    );
    while (broker.requests('/runner/token').length === 0) await sleep(20);
    await sleep(500);
    const planted = { ...AWS_KEY_PROCESS, AccessKeyId: 'CACHED-BY-THE-HOLDER' };
    writeFileSync(file, JSON.stringify(planted), { mode: 0o600 });
    const { code, stdout, stderr } = await run;
    assert.equal(code, 0, stderr);
    assert.equal(JSON.parse(stdout).AccessKeyId, 'CACHED-BY-THE-HOLDER');
    assert.equal(broker.requests('/credentials/mint').length, 0);
  });

  test('gives up on a live lock after --timeout with exit 5 and mints nothing', async () => {
    const file = await missingEntry();
    const lock = plantLock(file, 0);
    const { code, stdout, stderr } = await credentialProcess(['--timeout', '1']);
    assert.equal(code, 5);
    assert.equal(stdout, '');
    assert.equal(
      stderr,
      `voidkey: another voidkey process is still minting these credentials (lock ${lock}, taken over once 30s old); timed out waiting\n`,
    );
    assert.equal(broker.requests('/credentials/mint').length, 0);
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
