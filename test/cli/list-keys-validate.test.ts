import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import type { FakeBroker } from './fake-broker.ts';
import { AWKWARD_KEY, AWS_KEY, PLAIN_KEY, SUBJECT, startBroker } from './fixture.ts';
import { makeHome, makeToken, removeHome, runCli } from './helpers.ts';

let broker: FakeBroker;
let token: string;
let home: string;

before(async () => {
  ({ broker, token } = await startBroker([
    AWS_KEY,
    AWKWARD_KEY,
    PLAIN_KEY,
    { name: 'LONG', provider: 'gcp-prod', maxDuration: 3600, outputs: {} },
  ]));
  home = makeHome();
});
after(async () => {
  await broker.stop();
  removeHome(home);
});

function cli(command: string, args: string[], tokenToUse = token) {
  return runCli([command, '--broker-url', broker.url, '--token', tokenToUse, ...args], {
    home,
    secrets: [tokenToUse],
  });
}

describe('voidkey list-keys', () => {
  test('prints an aligned table with human maximum durations and printable descriptions', async () => {
    const { code, stdout, stderr } = await cli('list-keys', []);
    assert.equal(code, 0, stderr);
    assert.equal(
      stdout,
      [
        'NAME        PROVIDER     MAX DURATION  DESCRIPTION',
        'AWS_DEPLOY  aws-prod     15m           Deploy to production',
        'AWKWARD     minio-local  1h30m',
        'GCP_READ    gcp-prod     90s           Read-only  [2Jaccess',
        'LONG        gcp-prod     1h',
        '',
      ].join('\n'),
    );
  });

  test('--format json prints the /credentials/keys body exactly as received', async () => {
    const { code, stdout } = await cli('list-keys', ['--format', 'json']);
    assert.equal(code, 0);
    const body = JSON.parse(stdout);
    assert.equal(stdout, `${JSON.stringify(body)}\n`);
    assert.equal(body.subject, SUBJECT);
    assert.equal(body.idp, 'github-actions');
    assert.deepEqual(body.keys[0], {
      name: 'AWS_DEPLOY',
      provider: 'aws-prod',
      description: 'Deploy to production',
      maxDuration: 900,
    });
  });

  test('--format yaml parses back to the same body', async () => {
    const json = JSON.parse((await cli('list-keys', ['--format', 'json'])).stdout);
    const { code, stdout } = await cli('list-keys', ['--format', 'yaml']);
    assert.equal(code, 0);
    assert.deepEqual(parseYaml(stdout), json);
  });

  test('a refused token exits 3 with the reason', async () => {
    const untrusted = makeToken({ sub: SUBJECT, jti: 'untrusted' });
    const { code, stdout, stderr } = await cli('list-keys', [], untrusted);
    assert.equal(code, 3);
    assert.equal(stdout, '');
    assert.match(stderr, /^voidkey: authentication failed \(401 INVALID_TOKEN, reason signature_invalid\): /);
  });
});

describe('voidkey validate', () => {
  test('shows the header, the claims with ISO and relative times, and the keys granted, never the token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: SUBJECT, aud: ['voidkey', 'other'], iat: now - 60, nbf: now - 60, exp: now + 252 };
    const valid = makeToken(claims, { kid: 'kid-42', alg: 'ES256' });
    broker.trusted.add(valid);
    const started = Date.now();
    const { code, stdout, stderr } = await cli('validate', [], valid);
    const elapsed = Math.ceil((Date.now() - started) / 1000);
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
    const iso = (t: number) => new Date(t * 1000).toISOString();
    assert.match(stdout, /^Token \(from --token\):\n/);
    assert.match(stdout, /\n {2}algorithm: {3}ES256\n {2}key id: {6}kid-42\n/);
    assert.match(stdout, /\n {2}issuer: {6}https:\/\/idp\.example\.test\n/);
    assert.ok(stdout.includes(`\n  subject:     ${SUBJECT}\n  audience:    voidkey, other\n`));
    assert.ok(stdout.includes(`\n  issued at:   ${iso(now - 60)} (1m`));
    assert.ok(stdout.includes(`\n  not before:  ${iso(now - 60)} (valid since 1m`));
    // The remaining time is computed when the CLI runs: between 252 s and 252 s less the run's duration.
    const expiresAt = new RegExp(
      `\\n {2}expires at: {2}${iso(now + 252).replaceAll('.', '\\.')} \\(expires in (\\d+)m (\\d+)s\\)\\n`,
    ).exec(stdout);
    assert.ok(expiresAt, stdout);
    const remaining = Number(expiresAt[1]) * 60 + Number(expiresAt[2]);
    assert.ok(
      remaining <= 252 && remaining >= 252 - elapsed - 1,
      `expires in ${remaining}s after a ${elapsed}s run`,
    );
    assert.ok(
      stdout.endsWith(
        `:\n  identity provider: github-actions\n  subject: ${SUBJECT}\n  keys granted (4): AWS_DEPLOY, AWKWARD, GCP_READ, LONG\n`,
      ),
    );
    assert.ok(stdout.includes(`Broker ${broker.url} accepts the token:`));
  });

  test('an expired token shows how long ago it expired and the broker reason, exit 3', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = makeToken({ sub: SUBJECT, iat: now - 4 * 3600, exp: now - 3 * 3600 });
    broker.trusted.add(expired);
    const { code, stdout, stderr } = await cli('validate', [], expired);
    assert.equal(code, 3);
    assert.match(stdout, /\n {2}expires at: {2}\S+ \(expired 3h ago\)\n$/);
    assert.match(
      stderr,
      /^voidkey: authentication failed \(401 INVALID_TOKEN, reason token_expired\): .* \[request id [0-9a-f-]{36}\]\n$/,
    );
  });

  test('a subject without an identity is reported as 404, exit 4', async () => {
    const stranger = makeToken({ sub: 'system:serviceaccount:ns:nobody' });
    broker.trusted.add(stranger);
    const { code, stderr } = await cli('validate', [], stranger);
    assert.equal(code, 4);
    assert.match(
      stderr,
      /^voidkey: denied \(404 SUBJECT_NOT_FOUND\): the broker has no identity for the token's subject 'system:serviceaccount:ns:nobody'/,
    );
  });

  test('a token that is not a JWT is described locally and refused by the broker', async () => {
    const opaque = 'opaque-access-token-1234567890';
    const { code, stdout, stderr } = await cli('validate', [], opaque);
    assert.equal(code, 3);
    assert.equal(
      stdout,
      'Token (from --token):\n  cannot be decoded locally: not a compact JWT (expected 3 dot-separated segments, found 1)\n',
    );
    assert.match(stderr, /^voidkey: authentication failed \(401 INVALID_TOKEN, reason signature_invalid\)/);
  });
});
