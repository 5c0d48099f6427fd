import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { stringify } from 'yaml';
import { run } from '../../src/cli/config.ts';
import type { CommandIo } from '../../src/cli/io.ts';
import { detachKeyPair } from '../../src/dev/keys.ts';
import { redisToolsAvailable, startConfiguredRedis } from '../e2e/peers/redis-topologies.ts';

let dir = '';

const VALID = {
  brokerIdp: {
    name: 'keycloak',
    issuer: 'https://auth.example.com/realms/voidkey',
    audience: 'voidkey-broker',
    clientId: 'broker-service',
    clientSecret: '${BROKER_CLIENT_SECRET}',
  },
  clientIdps: [{ name: 'gh', issuer: 'https://token.actions.githubusercontent.com', audience: 'voidkey' }],
  accessProviders: [{ name: 'aws-prod', type: 'aws-sts', externalId: 'x' }],
  clientIdentities: [
    {
      subject: 'repo:o/r:ref:refs/heads/main',
      idp: 'gh',
      keys: { DEPLOY: { provider: 'aws-prod', roleArn: 'arn:aws:iam::123456789012:role/Deploy' } },
    },
  ],
};

const SECRET = 'cli-test-secret-value';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'voidkey-cli-config-'));
  await writeFile(join(dir, 'valid.yaml'), stringify(VALID));
  const identity = { ...VALID.clientIdentities[0], idp: 'github' };
  const invalid = { ...VALID, server: { prot: 1, trustProxy: true }, clientIdentities: [identity] };
  await writeFile(join(dir, 'invalid.yaml'), stringify(invalid));
  await mkdir(join(dir, 'cwd', 'config'), { recursive: true });
  await writeFile(join(dir, 'cwd', 'config', 'config.yaml'), stringify(VALID));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(
  args: string[],
  env: Record<string, string> = { BROKER_CLIENT_SECRET: SECRET },
  cwd = dir,
) {
  const out: Result = { code: -1, stdout: '', stderr: '' };
  const io: CommandIo = {
    stdout: (t) => {
      out.stdout += t;
    },
    stderr: (t) => {
      out.stderr += t;
    },
    env,
    cwd,
  };
  out.code = await run(args, io);
  return out;
}

const EXTERNAL_ID_WARNING =
  'warning: accessProviders[0].externalId: has no effect: no key of this provider uses assumeRole (it applies to the assumeRole hop only)\n';

describe('voidkey config validate', () => {
  test('exits 0 on a valid config, printing warnings with the warning: prefix on stderr', async () => {
    const r = await cli(['validate', '--config', 'valid.yaml']);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'config OK: valid.yaml\n');
    assert.equal(r.stderr, EXTERNAL_ID_WARNING);
  });

  test('accepts --config=PATH', async () => {
    const r = await cli(['validate', `--config=${join(dir, 'valid.yaml')}`]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `config OK: ${join(dir, 'valid.yaml')}\n`);
  });

  test('exits 1 on an invalid config with one line per problem on stderr', async () => {
    const r = await cli(['validate', '--config', 'invalid.yaml']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderr.trimEnd().split('\n'), [
      'server.prot: unknown field; did you mean `port`?',
      'server.trustProxy: `true` is refused: it would believe the X-Forwarded-For of any client, so anyone could ' +
        'choose their IP address (and rate-limit bucket); use a hop count or a list of proxy CIDRs',
      'clientIdentities[0].idp: unknown idp "github" (configured: gh)',
    ]);
  });

  test('refuses outputs that set a variable changing how shells, loaders or runtimes behave', async () => {
    const key = {
      provider: 'aws-prod',
      roleArn: 'arn:aws:iam::123456789012:role/Deploy',
      outputs: {
        AWS_ACCESS_KEY_ID: 'AccessKeyId',
        BASH_ENV: { value: '/tmp/x' },
        ld_preload: 'SessionToken',
      },
    };
    const identity = { ...VALID.clientIdentities[0], keys: { DEPLOY: key } };
    await writeFile(join(dir, 'dangerous.yaml'), stringify({ ...VALID, clientIdentities: [identity] }));
    const r = await cli(['validate', '--config', 'dangerous.yaml']);
    assert.equal(r.code, 1);
    const lines = r.stderr.split('\n').filter((line) => !line.startsWith('warning:') && line !== '');
    assert.deepEqual(
      lines.map((line) => line.replace(/ \(refused: .*\)$/, '')),
      [
        'clientIdentities[0].keys.DEPLOY.outputs.BASH_ENV: BASH_ENV changes how shells, loaders or runtimes behave, so clients refuse it',
        'clientIdentities[0].keys.DEPLOY.outputs.ld_preload: ld_preload changes how shells, loaders or runtimes behave, so clients refuse it',
      ],
    );
  });

  test('an unset secret is a problem naming the variable, and a set one never appears in output', async () => {
    const missing = await cli(['validate', '--config', 'valid.yaml'], {});
    assert.equal(missing.code, 1);
    assert.equal(
      missing.stderr,
      'brokerIdp.clientSecret: environment variable BROKER_CLIENT_SECRET is not set and has no default\n',
    );
    const ok = await cli(['validate', '--config', 'valid.yaml']);
    assert.ok(!`${ok.stdout}${ok.stderr}`.includes(SECRET));
  });

  test('finds the config through $CONFIG_PATH, then ./config/config.yaml', async () => {
    const viaEnv = await cli(['validate'], { BROKER_CLIENT_SECRET: SECRET, CONFIG_PATH: 'invalid.yaml' });
    assert.equal(viaEnv.code, 1);
    const viaCwd = await cli(['validate'], { BROKER_CLIENT_SECRET: SECRET }, join(dir, 'cwd'));
    assert.equal(viaCwd.code, 0);
    assert.equal(viaCwd.stdout, 'config OK: ./config/config.yaml\n');
  });

  test('exits 1 when no config file is found', {
    skip: existsSync('/etc/voidkey/config.yaml') ? 'this machine has /etc/voidkey/config.yaml' : false,
  }, async () => {
    const r = await cli(['validate'], {}, join(dir, 'cwd', 'config'));
    assert.equal(r.code, 1);
    // A plain sentence, not a field path: there is no config whose root could be at fault.
    assert.match(
      r.stderr,
      /^voidkey config validate: no config file found: pass --config PATH or set CONFIG_PATH/,
    );
  });

  test('exits 2 on an unknown flag, a missing value or a missing or unknown subcommand', async () => {
    for (const args of [
      ['validate', '--bogus'],
      ['validate', '--config'],
      [],
      ['check'],
      ['validate', 'extra'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^voidkey: [^\n]+ \(see 'voidkey config( validate)? --help'\)\n$/);
    }
  });

  test('--help prints usage on stdout and exits 0', async () => {
    for (const args of [['--help'], ['validate', '--help'], ['validate', '-h']]) {
      const r = await cli(args);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage: voidkey config validate \[--config PATH\] \[--check-connectivity\]/);
      assert.equal(r.stderr, '');
    }
  });
});

describe('voidkey config validate --check-connectivity', () => {
  let server: Server;
  let base = '';
  let signer: KeyObject;
  let jwk: Record<string, unknown>;

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (req.url === '/good/.well-known/openid-configuration') {
      return json(200, {
        issuer: `${base}/good`,
        jwks_uri: `${base}/good/jwks`,
        token_endpoint: `${base}/good/token`,
      });
    }
    if (req.url === '/good/jwks') return json(200, { keys: [jwk] });
    // Configured with a trailing slash its discovery document does not have.
    if (req.url === '/slash/.well-known/openid-configuration') {
      return json(200, { issuer: `${base}/slash`, jwks_uri: `${base}/good/jwks` });
    }
    if (req.url === '/good/token' && req.method === 'POST') {
      let form = '';
      for await (const chunk of req) form += chunk;
      const asked = new URLSearchParams(form).get('audience') ?? '';
      const aud = asked === 'wrong-aud' ? 'someone-else' : asked;
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(`${base}/good`)
        .setSubject('broker-service')
        .setAudience(aud)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(signer);
      return json(200, { access_token: token, token_type: 'Bearer', expires_in: 300 });
    }
    json(404, { error: 'not_found' });
  }

  before(async () => {
    const pair = detachKeyPair(await generateKeyPair('RS256', { extractable: true }));
    signer = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((req, res) => void answer(req, res));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const ROLE = 'arn:aws:iam::123456789012:role/Deploy';

  function peerConfig(extra: { badIdp?: boolean; wrongAudience?: boolean; slash?: boolean; redis?: object }) {
    return {
      ...(extra.redis ? { redis: extra.redis } : {}),
      server: { allowInsecureIssuers: true },
      broker: { maxRetries: 0, httpTimeout: 2000 },
      brokerIdp: { ...VALID.brokerIdp, issuer: `${base}/good`, clientSecret: 'peer-test-secret' },
      clientIdps: [
        { name: 'good', issuer: `${base}/good`, audience: 'voidkey' },
        ...(extra.badIdp ? [{ name: 'bad', issuer: `${base}/bad`, audience: 'voidkey' }] : []),
        ...(extra.slash ? [{ name: 'slash', issuer: `${base}/slash/`, audience: 'voidkey' }] : []),
      ],
      clientIdentities: [{ subject: 's', idp: 'good', keys: { K: { provider: 'aws-prod', roleArn: ROLE } } }],
      accessProviders: [
        { name: 'aws-prod', type: 'aws-sts', endpoint: `${base}/sts` },
        ...(extra.wrongAudience
          ? [{ name: 'minio', type: 'minio', endpoint: `${base}/minio`, audience: 'wrong-aud' }]
          : []),
      ],
    };
  }

  const INSECURE_WARNING =
    'warning: server.allowInsecureIssuers: http:// issuers and endpoints are permitted: development only, never in production\n';

  test('exits 0 when every issuer and broker-token audience is reachable and right', async () => {
    await writeFile(join(dir, 'peers-ok.yaml'), stringify(peerConfig({})));
    const r = await cli(['validate', '--config', 'peers-ok.yaml', '--check-connectivity']);
    assert.equal(r.stderr, INSECURE_WARNING);
    // What was checked is said, so a pass cannot be mistaken for a check that did not run.
    assert.equal(
      r.stdout,
      `reachable: good (${base}/good): discovery document and JWKS with usable keys\n` +
        `reachable: broker token from ${base}/good for audience "voidkey-broker", its aud checked\n` +
        'config OK: peers-ok.yaml\n',
    );
    assert.equal(r.code, 0);
  });

  test('an issuer that differs from its discovery document is shown with the issuer the document names', async () => {
    await writeFile(join(dir, 'peers-slash.yaml'), stringify(peerConfig({ slash: true })));
    const r = await cli(['validate', '--config', 'peers-slash.yaml', '--check-connectivity']);
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split('\n');
    assert.ok(
      lines.includes(
        `warning: clientIdps[1].issuer: ends with "/": issuers are compared exactly and few have a trailing slash; use the \`issuer\` of its discovery document (\`voidkey config validate --check-connectivity\` shows it when they differ)`,
      ),
      r.stderr,
    );
    assert.ok(
      lines.includes(
        `clientIdps[1].issuer: cannot fetch discovery/JWKS: keys of ${base}/slash/ unavailable: the discovery document of ${base}/slash/ names issuer "${base}/slash", not the configured "${base}/slash/"`,
      ),
      r.stderr,
    );
  });

  test('exits 1 naming an unreachable issuer and a broker token with the wrong audience', async () => {
    await writeFile(
      join(dir, 'peers-bad.yaml'),
      stringify(peerConfig({ badIdp: true, wrongAudience: true })),
    );
    const r = await cli(['validate', '--config', 'peers-bad.yaml', '--check-connectivity']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines[0], INSECURE_WARNING.trimEnd());
    assert.match(lines[1] ?? '', /^clientIdps\[1\]\.issuer: cannot fetch discovery\/JWKS: .*404/);
    assert.equal(
      lines[2],
      'accessProviders[1].audience: cannot obtain a broker token for "wrong-aud": ' +
        'broker token audience does not contain the requested audience',
    );
    assert.equal(lines.length, 3);
    assert.ok(!r.stderr.includes('peer-test-secret'));
  });

  test('checks Redis as /health does: exit 0 on a primary, 1 naming a cluster node behind redis.url or a wrong password', async (t) => {
    if (!redisToolsAvailable()) return t.skip('redis-server is not installed');
    const primary = await startConfiguredRedis(['--requirepass', 'redis-cli-test-pw']);
    const node = await startConfiguredRedis([
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      'nodes.conf',
    ]);
    try {
      const good = { url: `redis://127.0.0.1:${primary.port}`, password: 'redis-cli-test-pw' };
      await writeFile(join(dir, 'redis-ok.yaml'), stringify(peerConfig({ redis: good })));
      const ok = await cli(['validate', '--config', 'redis-ok.yaml', '--check-connectivity']);
      assert.equal(ok.stderr, INSECURE_WARNING);
      assert.match(
        ok.stdout,
        /^reachable: redis \(standalone\): a writable primary, a key written and read back$/m,
      );
      assert.equal(ok.code, 0);
      const bad = { url: `redis://127.0.0.1:${node.port}` };
      await writeFile(join(dir, 'redis-bad.yaml'), stringify(peerConfig({ redis: bad })));
      const r = await cli(['validate', '--config', 'redis-bad.yaml', '--check-connectivity']);
      assert.equal(r.code, 1);
      assert.equal(
        r.stderr,
        `${INSECURE_WARNING}redis.url: this is a cluster node: configure \`redis.cluster\` with its address\n`,
      );
      const wrong = { ...good, password: 'not-the-redis-pw' };
      await writeFile(join(dir, 'redis-auth.yaml'), stringify(peerConfig({ redis: wrong })));
      const denied = await cli(['validate', '--config', 'redis-auth.yaml', '--check-connectivity']);
      assert.equal(
        denied.stderr,
        `${INSECURE_WARNING}redis.url: authentication failed: check \`redis.username\` and \`redis.password\`\n`,
      );
      assert.ok(!`${ok.stderr}${r.stderr}${denied.stderr}`.includes('pw'));
    } finally {
      await primary.stop();
      await node.stop();
    }
  });
});
