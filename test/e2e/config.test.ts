/**
 * `voidkey config validate` and `voidkey serve` on good and broken configs,
 * through the built binary. No peers: validation without
 * `--check-connectivity` makes no network call.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { freePort } from '../helpers/process.ts';
import { assertBuilt, runCli, writeConfig } from './helpers/broker.ts';

assertBuilt();

const SECRET = 'e2e-config-secret-Zq8#: value';
const ISSUER = 'http://127.0.0.1:9/a';

const goodConfig = {
  server: { host: '127.0.0.1', allowInsecureIssuers: true },
  brokerIdp: {
    name: 'op-a',
    issuer: ISSUER,
    clientId: 'voidkey-broker',
    clientSecret: '${BROKER_CLIENT_SECRET}',
    tokenEndpoint: `${ISSUER}/token`,
    audienceParam: 'resource',
  },
  clientIdps: [{ name: 'op-a', issuer: ISSUER, audience: 'https://voidkey.test', jwksUri: `${ISSUER}/jwks` }],
  accessProviders: [
    {
      name: 'aws-e2e',
      type: 'aws-sts',
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9/sts',
      audience: 'https://sts.voidkey.test',
    },
  ],
  clientIdentities: [
    {
      subject: 'repo:acme/app:ref:refs/heads/main',
      idp: 'op-a',
      keys: { AWS_DEPLOY: { provider: 'aws-e2e', roleArn: 'arn:aws:iam::123456789012:role/Deploy' } },
    },
  ],
};

/** Four known problems, each with the exact path it must be reported under. */
const BROKEN_PATHS = [
  'server.prot',
  'clientIdentities[0].keys.AWS_DEPLOY.provider',
  'clientIdentities[1].idp',
  'accessProviders[0].type',
];
const brokenConfig = {
  ...goodConfig,
  server: { ...goodConfig.server, prot: 3000 },
  accessProviders: [{ ...goodConfig.accessProviders[0], type: 'aws-sst' }],
  clientIdentities: [
    {
      subject: 'repo:acme/app:ref:refs/heads/main',
      idp: 'op-a',
      keys: { AWS_DEPLOY: { provider: 'aws-nope', roleArn: 'arn:aws:iam::123456789012:role/Deploy' } },
    },
    { subject: 'someone', idp: 'op-zzz', keys: {} },
  ],
};

/** Problem lines: `path: message`, excluding `warning:` lines. */
function problemLines(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('warning:'))
    .filter((l) => /^[A-Za-z_][\w[\].-]*: \S/.test(l));
}

describe('voidkey config validate / serve on the generated config', () => {
  const env = { BROKER_CLIENT_SECRET: SECRET };
  let good: Awaited<ReturnType<typeof writeConfig>>;
  let broken: Awaited<ReturnType<typeof writeConfig>>;
  before(async () => {
    good = await writeConfig(goodConfig);
    broken = await writeConfig(brokenConfig);
  });
  after(async () => {
    await good.cleanup();
    await broken.cleanup();
  });

  test('config validate exits 0 on a valid config and prints no problem line', async () => {
    const res = await runCli(['config', 'validate', '--config', good.path], { env });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    assert.deepEqual(problemLines(res.stdout + res.stderr), []);
    assert.ok(!(res.stdout + res.stderr).includes(SECRET));
  });

  test('config validate exits 1 on a broken config with one path-prefixed line per problem', async () => {
    const res = await runCli(['config', 'validate', '--config', broken.path], { env });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    const lines = problemLines(res.stdout + res.stderr);
    for (const path of BROKEN_PATHS) {
      assert.ok(
        lines.some((l) => l.startsWith(`${path}: `)),
        `no line starts with "${path}: " in:\n${lines.join('\n')}`,
      );
    }
    assert.ok(!(res.stdout + res.stderr).includes(SECRET));
  });

  test('an unset variable without a default is an error naming the variable and the field', async () => {
    const res = await runCli(['config', 'validate', '--config', good.path], { env: {} });
    assert.equal(res.code, 1, res.stdout + res.stderr);
    const line = problemLines(res.stdout + res.stderr).find((l) => l.startsWith('brokerIdp.clientSecret: '));
    assert.ok(line, res.stdout + res.stderr);
    assert.match(line, /BROKER_CLIENT_SECRET/);
  });

  test('serve with a broken config exits non-zero at once with the same lines and never listens', async () => {
    const port = await freePort();
    const started = Date.now();
    const res = await runCli(['serve', '--config', broken.path, '--port', String(port)], {
      env,
      timeoutMs: 10000,
    });
    assert.notEqual(res.code, 0);
    assert.equal(res.signal, null, 'serve had to be killed: it did not exit on its own');
    assert.ok(Date.now() - started < 8000);
    const validate = await runCli(['config', 'validate', '--config', broken.path], { env });
    const expected = problemLines(validate.stdout + validate.stderr);
    const got = problemLines(res.stdout + res.stderr);
    assert.ok(expected.length >= BROKEN_PATHS.length, validate.stdout + validate.stderr);
    for (const line of expected) assert.ok(got.includes(line), `serve did not print "${line}"`);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health/live`));
    assert.ok(!(res.stdout + res.stderr).includes(SECRET));
  });

  test('serve refuses to start when the audit file cannot be opened for append (failClosed), in one line', async () => {
    const audited = await writeConfig({
      ...goodConfig,
      logging: { audit: { file: 'missing-dir/audit.log' } },
    });
    try {
      const port = await freePort();
      const res = await runCli(['serve', '--config', audited.path, '--port', String(port)], {
        env,
        timeoutMs: 10000,
      });
      assert.equal(res.code, 1, res.stdout + res.stderr);
      assert.equal(
        res.stderr,
        `voidkey serve: logging.audit.file: cannot open ${join(audited.dir, 'missing-dir/audit.log')} ` +
          'for append: ENOENT: no such file or directory\n',
      );
      await assert.rejects(fetch(`http://127.0.0.1:${port}/health/live`));
    } finally {
      await audited.cleanup();
    }
  });
});
