import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, findConfigPath, parseSize } from '../../../src/core/config/index.ts';
import { baseConfig, cleanup, loadObject, loadPath } from './helpers.ts';

after(cleanup);

const repoFile = (rel: string) => fileURLToPath(new URL(`../../../${rel}`, import.meta.url));

describe('loadConfig', () => {
  test('config/example.yaml validates with only the variables it documents', async () => {
    const out = await loadPath(repoFile('config/example.yaml'), {
      BROKER_CLIENT_SECRET: 'example-secret-value',
    });
    assert.deepEqual(out.problems, []);
    assert.deepEqual(out.warnings, []);
    const key = out.config?.clientIdentities[0]?.keys.AWS_DEPLOY;
    assert.deepEqual(key?.outputs?.AWS_REGION, { value: 'us-east-1' });
    assert.equal(out.config?.clientIdps[0]?.issuer, 'https://token.actions.githubusercontent.com');
  });

  test('config/example.yaml validates as shipped, its secret a placeholder until BROKER_CLIENT_SECRET is set', async () => {
    const shipped = await loadPath(repoFile('config/example.yaml'), {});
    assert.deepEqual(shipped.problems, []);
    assert.equal(shipped.config?.brokerIdp.clientSecret, 'placeholder-set-BROKER_CLIENT_SECRET');
    const set = await loadPath(repoFile('config/example.yaml'), {
      BROKER_CLIENT_SECRET: 'example-secret-value',
    });
    assert.equal(set.config?.brokerIdp.clientSecret, 'example-secret-value');
  });

  test("the deployment guide's examples validate as written, externalId being only a warning", async () => {
    const out = await loadPath(repoFile('test/fixtures/config/deployment-guide/production.yaml'), {
      PROD_BROKER_SECRET: 'prod-broker-secret',
      PROD_AWS_EXTERNAL_ID: 'prod-external-id',
    });
    assert.deepEqual(out.problems, []);
    assert.deepEqual(out.warnings, [
      'clientIdentities: no identity is granted any key, so every mint will be refused',
      'accessProviders[0].externalId: has no effect: no key of this provider uses assumeRole (it applies to the assumeRole hop only)',
    ]);
    assert.equal(out.config?.brokerIdp.clientSecret, 'prod-broker-secret');
    assert.deepEqual(out.config?.rateLimit, {
      enabled: true,
      windowMs: 900000,
      max: 1000,
      message: 'Too many requests from this IP',
      standardHeaders: true,
      legacyHeaders: false,
    });
  });

  test('fills every default', async () => {
    const out = await loadObject(baseConfig());
    assert.deepEqual(out.config?.server, {
      host: '0.0.0.0',
      port: 3000,
      trustProxy: false,
      bodyLimit: 65536,
      requestTimeout: 10000,
      shutdownGracePeriod: 15000,
      drainDelay: 0,
      allowQueryToken: false,
      allowInsecureIssuers: false,
      explain: false,
    });
    assert.deepEqual(out.config?.logging.audit, {
      enabled: true,
      maxSize: '100MB',
      maxFiles: 10,
      failClosed: true,
    });
    assert.deepEqual(out.config?.cache, {
      jwks: { ttl: 600, staleIfError: 86400, cooldown: 30, maxSize: 100 },
    });
    assert.equal(out.config?.brokerIdp.clientAuth, 'client_secret_basic');
    assert.equal(out.config?.clientIdps[0]?.clockTolerance, 30);
    assert.equal(out.config?.redis, undefined);
  });

  test('the loaded config is deeply frozen', async () => {
    const { config } = await loadObject(baseConfig());
    assert.ok(config);
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.server));
    assert.ok(Object.isFrozen(config.clientIdentities[0]?.keys.AWS_DEPLOY));
    assert.throws(() => {
      (config.server as { port: number }).port = 1;
    }, TypeError);
  });

  test('a policy long only because of whitespace fits: the limit counts packed characters', async () => {
    const data = baseConfig();
    const statement = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'x'.repeat(1900) };
    data.clientIdentities[0].keys.AWS_DEPLOY.policy = JSON.stringify({ Statement: [statement] }, null, 400);
    const out = await loadObject(data);
    assert.deepEqual(out.problems, []);
  });

  test('ConfigError carries every problem and lists them in its message', async () => {
    const err = new ConfigError(['a: one', 'b: two'], ['c: three']);
    assert.equal(err.message, 'invalid configuration (2 problems):\na: one\nb: two');
    assert.deepEqual(err.warnings, ['c: three']);
  });
});

describe('warnings', () => {
  test('allowAnyAudience and allowInsecureIssuers warn, naming their paths', async () => {
    const data = baseConfig();
    data.server = { allowInsecureIssuers: true };
    data.clientIdps[0] = { ...data.clientIdps[0], audience: undefined, allowAnyAudience: true };
    data.clientIdps.push({ name: 'dev', issuer: 'http://localhost:8080', audience: 'voidkey' });
    const out = await loadObject(data);
    assert.deepEqual(out.problems, []);
    assert.deepEqual(out.warnings, [
      'server.allowInsecureIssuers: http:// issuers and endpoints are permitted: development only, never in production',
      'clientIdps[0].allowAnyAudience: any audience is accepted: a token this IdP issued for another service can be replayed here',
    ]);
  });

  test('provider externalId and tags without any assumeRole key have no effect', async () => {
    const data = baseConfig();
    Object.assign(data.accessProviders[0], { externalId: 'x', tags: { a: 'b' } });
    const out = await loadObject(data);
    assert.deepEqual(out.warnings, [
      'accessProviders[0].externalId: has no effect: no key of this provider uses assumeRole (it applies to the assumeRole hop only)',
      'accessProviders[0].tags: has no effect: no key of this provider uses assumeRole (it applies to the assumeRole hop only)',
    ]);
    data.clientIdentities[0].keys.AWS_DEPLOY.assumeRole = { roleArn: 'arn:aws:iam::210987654321:role/T' };
    assert.deepEqual((await loadObject(data)).warnings, []);
  });

  test('two providers of different clouds sharing a broker-token audience', async () => {
    const data = baseConfig();
    data.accessProviders.push({ name: 'minio', type: 'minio', endpoint: 'https://minio.example.com' });
    const out = await loadObject(data);
    assert.deepEqual(out.problems, []);
    assert.deepEqual(out.warnings, [
      'accessProviders[1].audience: broker-token audience "voidkey-broker" is also used by accessProviders[0] ' +
        '(aws-sts): a token meant for one cloud could be replayed at the other; give each its own audience',
    ]);
  });

  test('two providers of one type at different endpoints sharing a broker-token audience', async () => {
    const data = baseConfig();
    data.server = { allowInsecureIssuers: true };
    data.accessProviders = [
      { name: 'minio-a', type: 'minio', endpoint: 'https://minio-a.example.com' },
      { name: 'minio-b', type: 'minio', endpoint: 'https://minio-b.example.com' },
      { name: 'minio-a2', type: 'minio', endpoint: 'https://minio-a.example.com/' },
    ];
    data.clientIdentities[0].keys = { M: { provider: 'minio-a' } };
    const out = await loadObject(data);
    assert.deepEqual(out.problems, []);
    assert.deepEqual(
      out.warnings.filter((w) => w.includes('broker-token audience')),
      [
        'accessProviders[1].audience: broker-token audience "voidkey-broker" is also used by accessProviders[0] ' +
          '(minio at another endpoint): whoever runs one endpoint could replay the token at the other; give each its own audience',
      ],
    );
  });

  test('a literal output that looks like a misspelt field warns; real literals do not', async () => {
    const data = baseConfig();
    data.clientIdentities[0].keys.AWS_DEPLOY.outputs = {
      AWS_SECRET_ACCESS_KEY: 'SecretAccesKey',
      AWS_ACCESS_KEY_ID: 'accesskeyid',
      AWS_REGION: 'us-east-1',
      AWS_SESSION_TOKEN: 'SessionToken',
    };
    const out = await loadObject(data);
    assert.deepEqual(out.problems, []);
    const prefix = 'clientIdentities[0].keys.AWS_DEPLOY.outputs';
    const tail = 'is not a field of an aws-sts provider, so it is output as a literal; did you mean';
    assert.deepEqual(out.warnings, [
      `${prefix}.AWS_SECRET_ACCESS_KEY: "SecretAccesKey" ${tail} \`SecretAccessKey\`? (write { value: … } for a literal)`,
      `${prefix}.AWS_ACCESS_KEY_ID: "accesskeyid" ${tail} \`AccessKeyId\`? (write { value: … } for a literal)`,
    ]);
  });
});

describe('findConfigPath', () => {
  const none = () => false;

  test('--config wins over everything', () => {
    assert.equal(
      findConfigPath({ flag: 'a.yaml', env: { CONFIG_PATH: 'b.yaml' }, exists: () => true }),
      'a.yaml',
    );
  });

  test('then $CONFIG_PATH', () => {
    assert.equal(findConfigPath({ env: { CONFIG_PATH: 'b.yaml' }, exists: () => true }), 'b.yaml');
  });

  test('then ./config/config.yaml, then /etc/voidkey/config.yaml', () => {
    assert.equal(findConfigPath({ env: {}, exists: () => true }), './config/config.yaml');
    assert.equal(
      findConfigPath({ env: { CONFIG_PATH: '' }, exists: (p) => p === '/etc/voidkey/config.yaml' }),
      '/etc/voidkey/config.yaml',
    );
  });

  test('undefined when nothing is found', () => {
    assert.equal(findConfigPath({ env: {}, exists: none }), undefined);
  });
});

describe('parseSize', () => {
  test('binary units: 100MB is 100 MiB', () => {
    assert.equal(parseSize('100MB'), 100 * 1024 * 1024);
    assert.equal(parseSize('100MiB'), 100 * 1024 * 1024);
    assert.equal(parseSize('1.5 GB'), 1.5 * 1024 ** 3);
    assert.equal(parseSize('512KB'), 512 * 1024);
    assert.equal(parseSize('10B'), 10);
    assert.equal(parseSize('2048'), 2048);
    assert.equal(parseSize(4096), 4096);
  });

  test('rejects what is not a size', () => {
    for (const bad of ['', 'MB', '10XB', '-1MB', '0', 0, 1.5, 'ten'])
      assert.equal(parseSize(bad), undefined, String(bad));
  });
});
