import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { baseConfig, cleanup, loadPath, tempDir, writeFiles } from './helpers.ts';

after(cleanup);

async function loadTree(files: Record<string, string>, root = 'config.yaml', env = {}) {
  const dir = await tempDir();
  await writeFiles(dir, files);
  return { dir, out: await loadPath(join(dir, root), env) };
}

describe('includes', () => {
  test('maps merge deeply, the including file on top', async () => {
    const { out } = await loadTree({
      'base.yaml': stringify({ ...baseConfig(), server: { port: 4000, bodyLimit: 1000 } }),
      'config.yaml': 'includes: [base.yaml]\nserver: { port: 5000 }\nbrokerIdp: { clientId: other-client }\n',
    });
    assert.deepEqual(out.problems, []);
    assert.equal(out.config?.server.port, 5000);
    assert.equal(out.config?.server.bodyLimit, 1000);
    assert.equal(out.config?.brokerIdp.clientId, 'other-client');
    assert.equal(out.config?.brokerIdp.issuer, 'https://auth.example.com/realms/voidkey');
    assert.equal('includes' in (out.config ?? {}), false);
  });

  test('named lists merge by identity field by field; new entries are appended', async () => {
    const top = {
      clientIdps: [
        { name: 'github-actions', audience: 'voidkey-prod' },
        { name: 'gitlab', issuer: 'https://gitlab.com', audience: 'voidkey' },
      ],
      accessProviders: [{ name: 'aws-prod', region: 'eu-west-1' }],
      clientIdentities: [
        {
          subject: 'repo:myorg/myapp:ref:refs/heads/main',
          idp: 'github-actions',
          keys: { AWS_DEPLOY: { duration: 900 } },
        },
      ],
    };
    const { out } = await loadTree({
      'base.yaml': stringify(baseConfig()),
      'config.yaml': stringify({ includes: ['base.yaml'], ...top }),
    });
    assert.deepEqual(out.problems, []);
    assert.deepEqual(
      out.config?.clientIdps.map((i) => [i.name, i.issuer, i.audience]),
      [
        ['github-actions', 'https://token.actions.githubusercontent.com', 'voidkey-prod'],
        ['gitlab', 'https://gitlab.com', 'voidkey'],
      ],
    );
    assert.deepEqual(out.config?.accessProviders[0], {
      name: 'aws-prod',
      type: 'aws-sts',
      region: 'eu-west-1',
    });
    assert.deepEqual(out.config?.clientIdentities[0]?.keys.AWS_DEPLOY, {
      provider: 'aws-prod',
      roleArn: 'arn:aws:iam::123456789012:role/Deploy',
      duration: 900,
    });
  });

  test('other lists are replaced, not concatenated', async () => {
    const { out } = await loadTree({
      'base.yaml': stringify({ ...baseConfig(), logging: { redact: ['a', 'b'] } }),
      'config.yaml': 'includes: [base.yaml]\nlogging: { redact: [c] }\n',
    });
    assert.deepEqual(out.config?.logging.redact, ['c']);
  });

  test('includes load first to last, each later one winning', async () => {
    const { out } = await loadTree({
      'a.yaml': stringify({ ...baseConfig(), server: { port: 1 } }),
      'b.yaml': 'server: { port: 2, host: 127.0.0.1 }\n',
      'config.yaml': 'includes: [a.yaml, b.yaml]\n',
    });
    assert.equal(out.config?.server.port, 2);
    assert.equal(out.config?.server.host, '127.0.0.1');
  });

  test('nested includes resolve relative to the including file, as do ${file:…} and file paths', async () => {
    const { dir, out } = await loadTree({
      'shared/base.yaml': `includes: [idp/broker.yaml]\n${stringify({ ...baseConfig(), brokerIdp: undefined })}`,
      'shared/idp/broker.yaml': stringify({
        brokerIdp: {
          ...baseConfig().brokerIdp,
          clientSecret: '${file:secret.txt}',
          privateKeyFile: 'key.pem',
        },
      }),
      'shared/idp/secret.txt': 'from-nested-file\n',
      'config.yaml': 'includes: [shared/base.yaml]\n',
    });
    assert.deepEqual(out.problems, []);
    assert.equal(out.config?.brokerIdp.clientSecret, 'from-nested-file');
    assert.equal(out.config?.brokerIdp.privateKeyFile, join(dir, 'shared/idp/key.pem'));
  });

  test('an include cycle is an error naming the chain', async () => {
    const { out } = await loadTree({
      'config.yaml': `includes: [a.yaml]\n${stringify(baseConfig())}`,
      'a.yaml': 'includes: [b.yaml]\n',
      'b.yaml': 'includes: [a.yaml]\n',
    });
    assert.deepEqual(out.problems, [
      'includes[0]: include cycle: config.yaml → a.yaml → b.yaml → a.yaml (in b.yaml)',
    ]);
  });

  test('a file including itself is a cycle', async () => {
    const { out } = await loadTree({
      'config.yaml': `includes: [./config.yaml]\n${stringify(baseConfig())}`,
    });
    assert.deepEqual(out.problems, ['includes[0]: include cycle: config.yaml → config.yaml']);
  });

  test('a missing include is an error naming the file, its full path and the system error', async () => {
    const { dir, out } = await loadTree({
      'config.yaml': `includes: [present.yaml]\n${stringify(baseConfig())}`,
      'present.yaml': 'includes: [missing.yaml]\n',
    });
    assert.deepEqual(out.problems, [
      `includes[0]: included file "missing.yaml": cannot read ${join(dir, 'missing.yaml')}: no such file or directory (ENOENT) (in present.yaml)`,
    ]);
  });

  test('problems in an included file name that file', async () => {
    const { out } = await loadTree({
      'config.yaml': `includes: [secrets.yaml]\n${stringify(baseConfig())}`,
      'secrets.yaml': 'brokerIdp: { clientSecret: "${UNSET_SECRET}" }\n',
    });
    assert.deepEqual(out.problems, [
      'brokerIdp.clientSecret: environment variable UNSET_SECRET is not set and has no default (in secrets.yaml)',
    ]);
  });

  test('includes must be a list of paths', async () => {
    const { out } = await loadTree({ 'config.yaml': `includes: base.yaml\n${stringify(baseConfig())}` });
    assert.deepEqual(out.problems, ['includes: must be a list of file paths']);
  });

  test('a missing root config file is reported with its full path', async () => {
    const { dir, out } = await loadTree({}, 'nope.yaml');
    assert.deepEqual(out.problems, [
      `nope.yaml: the config file: cannot read ${join(dir, 'nope.yaml')}: no such file or directory (ENOENT)`,
    ]);
  });

  test('a diamond (two includes sharing one file) is not a cycle', async () => {
    const { out } = await loadTree({
      'common.yaml': stringify(baseConfig()),
      'a.yaml': 'includes: [common.yaml]\n',
      'b.yaml': 'includes: [common.yaml]\n',
      'config.yaml': 'includes: [a.yaml, b.yaml]\n',
    });
    assert.deepEqual(out.problems, []);
  });
});
