import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import { parse as parseYaml } from 'yaml';
import { type DevIssuer, startDevIssuer } from '../../src/dev/issuer.ts';
import { requestDevToken } from '../../src/dev/sandbox/client.ts';
import { writeDevConfig } from '../../src/dev/sandbox/config.ts';
import { type SandboxState, writeState } from '../../src/dev/sandbox/state.ts';

const root = new URL('../../', import.meta.url).pathname;
const MAIN = join(root, 'dist/cli/main.js');
const CI_SUBJECT = 'repo:example/app:ref:refs/heads/main';

describe('voidkey dev token (client of a running sandbox)', () => {
  let issuer: DevIssuer;
  let dir: string;
  let stateFile: string;
  const mintSecret = 'per-start-secret';

  before(async () => {
    issuer = await startDevIssuer({ mintSecret });
    dir = await mkdtemp(join(tmpdir(), 'voidkey-dev-test-'));
    stateFile = join(dir, '.voidkey', 'dev-sandbox-3000.json');
  });
  after(async () => {
    await issuer.close();
    await rm(dir, { recursive: true, force: true });
  });

  const state = (overrides: Partial<SandboxState> = {}): SandboxState => ({
    version: 1,
    pid: process.pid,
    brokerUrl: 'http://127.0.0.1:1',
    issuer: issuer.issuer,
    devTokenEndpoint: String(issuer.devTokenEndpoint),
    mintSecret,
    audience: 'voidkey',
    configPath: '/nonexistent',
    startedAt: new Date().toISOString(),
    ...overrides,
  });

  test('writes the state file with mode 0600 in a 0700 directory', async () => {
    await writeState(stateFile, state());
    assert.equal((await stat(stateFile)).mode & 0o777, 0o600);
    assert.equal((await stat(dirname(stateFile))).mode & 0o777, 0o700);
  });

  test('mints a token for the requested subject with the sandbox audience by default', async () => {
    await writeState(stateFile, state());
    const token = await requestDevToken({ stateFile, sub: 'someone', ttlSeconds: 600 });
    const jwks = createRemoteJWKSet(new URL(issuer.jwksUri));
    const { payload } = await jwtVerify(token, jwks, { issuer: issuer.issuer, audience: 'voidkey' });
    assert.equal(payload.sub, 'someone');
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 600);
  });

  test('mints a token for an explicit audience', async () => {
    await writeState(stateFile, state());
    const token = await requestDevToken({ stateFile, sub: 'someone', aud: 'other' });
    assert.equal(decodeJwt(token).aud, 'other');
  });

  test('says no sandbox is running when there is no state file', async () => {
    await assert.rejects(requestDevToken({ stateFile: join(dir, 'missing.json'), sub: 'a' }), {
      name: 'SandboxError',
      message:
        "no running voidkey dev sandbox found; start one with 'voidkey dev' (or 'npm start' in the checkout)",
    });
  });

  test('says no sandbox is running when the recorded process is gone', async () => {
    await writeState(stateFile, state({ pid: 2 ** 22 + 12345 }));
    await assert.rejects(requestDevToken({ stateFile, sub: 'a' }), /no running voidkey dev sandbox found/);
  });

  test('says no sandbox is running when its endpoint does not answer', async () => {
    const gone = await startDevIssuer({ mintSecret });
    await gone.close();
    await writeState(stateFile, state({ devTokenEndpoint: String(gone.devTokenEndpoint) }));
    await assert.rejects(requestDevToken({ stateFile, sub: 'a' }), /no running voidkey dev sandbox found/);
  });

  test('refuses to send the secret to an endpoint that is not on loopback', async () => {
    await writeState(stateFile, state({ devTokenEndpoint: 'http://example.com/dev/token' }));
    await assert.rejects(requestDevToken({ stateFile, sub: 'a' }), /non-loopback endpoint/);
  });

  test('reports the sandbox refusing a stale secret without echoing it', async () => {
    await writeState(stateFile, state({ mintSecret: 'stale-secret' }));
    await assert.rejects(requestDevToken({ stateFile, sub: 'a' }), (err: Error) => {
      assert.equal(
        err.message,
        'the sandbox refused to mint a token: the sandbox secret is missing or wrong',
      );
      return true;
    });
  });
});

describe('the generated sandbox config', () => {
  const secret = 'generated-secret-value';
  let configPath: string;

  before(async () => {
    configPath = await writeDevConfig({
      brokerPort: 3999,
      issuer: 'http://127.0.0.1:4001',
      stsUrl: 'http://127.0.0.1:4002',
      brokerClientSecret: secret,
    });
  });
  after(() => rm(dirname(configPath), { recursive: true, force: true }));

  test('is written 0600 in a fresh 0700 directory, the secret in its own 0600 file', async () => {
    assert.equal((await stat(dirname(configPath))).mode & 0o777, 0o700);
    assert.equal((await stat(configPath)).mode & 0o777, 0o600);
    const secretFile = join(dirname(configPath), 'broker-client-secret');
    assert.equal((await stat(secretFile)).mode & 0o777, 0o600);
    assert.equal(readFileSync(secretFile, 'utf8'), `${secret}\n`);
    const text = readFileSync(configPath, 'utf8');
    assert.equal(text.includes(secret), false);
    const doc = parseYaml(text);
    assert.equal(doc.brokerIdp.clientSecret, '${file:broker-client-secret}');
    assert.equal(doc.accessProviders[0].endpoint, 'http://127.0.0.1:4002');
  });

  const loaderPath = join(root, 'src/core/config/index.ts');
  test('passes the broker config loader with the secret substituted from its file', {
    skip: existsSync(loaderPath) ? false : 'src/core/config/index.ts does not exist yet',
  }, async () => {
    const { loadConfig } = await import(loaderPath);
    const { config } = await loadConfig({ path: configPath, env: {} });
    assert.equal(config.brokerIdp.clientSecret, secret);
    assert.equal(config.server.allowInsecureIssuers, true);
    assert.deepEqual(
      config.clientIdentities.map((i: { subject: string; keys: object }) => [i.subject, Object.keys(i.keys)]),
      [
        ['dev-user', ['DEV_AWS', 'DEV_AWS_READONLY']],
        [CI_SUBJECT, ['DEV_AWS']],
      ],
    );
  });
});

// --- the built binary, following its own printed instructions -------------------------------

const NEEDED = [
  'dist/dev/sandbox.js',
  'dist/dev/sts-server.js',
  'dist/server/main.js',
  'dist/core/config/index.js',
];

function skipReason(): string | false {
  if (!existsSync(MAIN)) return 'dist/ is not built (npm test builds it first)';
  const missing = NEEDED.filter((f) => !existsSync(join(root, f)));
  if (missing.length > 0) return `broker modules not built yet: ${missing.join(', ')}`;
  if (readFileSync(join(root, 'src/cli/mint.ts'), 'utf8').includes('not implemented yet')) {
    return 'the client CLI (voidkey mint) is not implemented yet';
  }
  return false;
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { env, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

/** Starts `voidkey dev` and resolves once it has printed everything (or exited). */
function startDev(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [MAIN, 'dev', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => {
    out.stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    out.stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`voidkey dev not ready in time:\n${out.stderr}`)),
      30_000,
    );
    child.stdout.on('data', () => {
      if (out.stdout.includes('Press Ctrl-C')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { child, out, ready, exited };
}

function cleanEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: home, ...extra };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Runs one printed line as a user would paste it: through sh, from an unrelated directory. */
function runLine(line: string, cwd: string, env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve) => {
    execFile('sh', ['-c', line], { cwd, env, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

const hasAwsCli = (() => {
  try {
    return execFileSync('aws', ['--version'], { stdio: 'ignore', timeout: 20_000 }) !== undefined;
  } catch {
    return false;
  }
})();

describe('voidkey dev (built binary)', { skip: skipReason() }, () => {
  let home: string;
  let elsewhere: string;
  let dev: ReturnType<typeof startDev>;
  let exports: Record<string, string>;
  let commands: string[];
  let issuerPort: number;
  let stsPort: number;
  const self = () => `${process.execPath} ${realpathSync(MAIN)}`;

  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'voidkey-dev-home-'));
    elsewhere = await mkdtemp(join(tmpdir(), 'voidkey-dev-cwd-'));
    [issuerPort, stsPort] = [await freePort(), await freePort()];
    dev = startDev(
      ['--port', '0', '--issuer-port', String(issuerPort), '--sts-port', String(stsPort)],
      cleanEnv(home),
    );
    await dev.ready;
    const lines = dev.out.stdout.split('\n');
    exports = Object.fromEntries(
      lines.flatMap((l) => {
        const m = /^export ([A-Z_]+)=(\S+)$/.exec(l);
        return m ? [[m[1], m[2]]] : [];
      }),
    );
    commands = lines.filter((l) => l.startsWith(`${self()} `));
  });
  after(async () => {
    if (dev.child.exitCode === null) dev.child.kill('SIGKILL');
    await rm(home, { recursive: true, force: true });
    await rm(elsewhere, { recursive: true, force: true });
  });

  test('prints the development warning banner exactly once', () => {
    const banner = 'WARNING: voidkey dev is a DEVELOPMENT SANDBOX. NEVER use it in production.';
    assert.equal((dev.out.stdout + dev.out.stderr).split(banner).length - 1, 1);
  });

  test('listens on the issuer and STS ports asked for', () => {
    assert.match(dev.out.stdout, new RegExp(`^ {2}issuer {3}http://127\\.0\\.0\\.1:${issuerPort}\\b`, 'm'));
    assert.match(dev.out.stdout, new RegExp(`^ {2}sts {6}http://127\\.0\\.0\\.1:${stsPort}\\b`, 'm'));
  });

  test('prints the exports and each command on a line of its own, running this installation by absolute path', () => {
    assert.deepEqual(Object.keys(exports), ['VOIDKEY_BROKER_URL', 'VOIDKEY_OIDC_TOKEN']);
    assert.match(String(exports.VOIDKEY_BROKER_URL), /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(decodeJwt(String(exports.VOIDKEY_OIDC_TOKEN)).sub, 'dev-user');
    assert.deepEqual(commands, [
      `${self()} list-keys`,
      `${self()} mint --keys DEV_AWS`,
      `${self()} mint --all`,
      `${self()} exec --keys DEV_AWS -- aws sts get-caller-identity --endpoint-url http://127.0.0.1:${stsPort}`,
      `${self()} dev token --sub ${CI_SUBJECT}`,
    ]);
  });

  test('records itself in a 0600 state file named after its broker port', async () => {
    const port = new URL(String(exports.VOIDKEY_BROKER_URL)).port;
    const file = join(home, '.voidkey', `dev-sandbox-${port}.json`);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  const runPrinted = (line: string, env: Record<string, string>) =>
    runLine(line, elsewhere, cleanEnv(home, env));

  test('lists the dev keys when the printed list-keys line is run as printed from another directory', async () => {
    const ran = await runPrinted(String(commands[0]), exports);
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /DEV_AWS\b/);
    assert.match(ran.stdout, /DEV_AWS_READONLY/);
  });

  let minted: Record<string, string> = {};
  test('mints AWS-style credentials from the STS peer with the printed mint line', async () => {
    const ran = await runPrinted(String(commands[1]), exports);
    assert.equal(ran.code, 0, ran.stderr);
    minted = Object.fromEntries(
      [...ran.stdout.matchAll(/^export ([A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]),
    ) as Record<string, string>;
    assert.deepEqual(Object.keys(minted).sort(), [
      'AWS_ACCESS_KEY_ID',
      'AWS_DEFAULT_REGION',
      'AWS_REGION',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
    ]);
    assert.match(String(minted.AWS_ACCESS_KEY_ID), /^[A-Z0-9]{16,128}$/);
    assert.equal(minted.AWS_REGION, 'us-east-1');
  });

  test("dev-user's mint --all works with the default output", async () => {
    const ran = await runPrinted(String(commands[2]), exports);
    assert.equal(ran.code, 0, ran.stderr);
    const names = [...ran.stdout.matchAll(/^export ([A-Z_]+)='/gm)].map((m) => m[1]);
    assert.ok(
      names.includes('AWS_ACCESS_KEY_ID') && names.includes('AWS_READONLY_ACCESS_KEY_ID'),
      names.join(),
    );
  });

  test('the sandbox STS answers GetCallerIdentity signed with the minted keys, and refuses a bad signature', async () => {
    const { STSClient, GetCallerIdentityCommand } = await import('@aws-sdk/client-sts');
    const client = (secret: string) =>
      new STSClient({
        region: 'us-east-1',
        endpoint: `http://127.0.0.1:${stsPort}`,
        credentials: {
          accessKeyId: String(minted.AWS_ACCESS_KEY_ID),
          secretAccessKey: secret,
          sessionToken: String(minted.AWS_SESSION_TOKEN),
        },
        maxAttempts: 1,
      });
    const who = await client(String(minted.AWS_SECRET_ACCESS_KEY)).send(new GetCallerIdentityCommand({}));
    assert.equal(who.Account, '000000000000');
    assert.match(String(who.Arn), /^arn:aws:sts::000000000000:assumed-role\/dev\//);
    await assert.rejects(client('wrong-secret').send(new GetCallerIdentityCommand({})), {
      name: 'SignatureDoesNotMatch',
    });
  });

  test('the printed exec line runs the real AWS CLI against the sandbox STS', {
    skip: !hasAwsCli && 'the aws CLI is not installed',
  }, async () => {
    const ran = await runPrinted(String(commands[3]), {
      ...exports,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    });
    assert.equal(ran.code, 0, ran.stderr);
    assert.equal(JSON.parse(ran.stdout).Account, '000000000000');
  });

  test('mints a token for another subject with the printed dev token line, and that token mints', async () => {
    const ran = await runPrinted(String(commands[4]), {});
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = ran.stdout.trim();
    assert.equal(decodeJwt(token).sub, CI_SUBJECT);
    const mint = await runPrinted(String(commands[1]), { ...exports, VOIDKEY_OIDC_TOKEN: token });
    assert.equal(mint.code, 0, mint.stderr);
  });

  test('with two sandboxes running, dev token asks the one VOIDKEY_BROKER_URL names, and refuses to guess', async () => {
    const second = startDev(['--port', '0'], cleanEnv(home));
    try {
      await second.ready;
      const url = /^export VOIDKEY_BROKER_URL=(\S+)$/m.exec(second.out.stdout)?.[1] ?? '';
      const issuerOf = (out: string) => /^ {2}issuer {3}(\S+)/m.exec(out)?.[1];
      for (const [env, issuer] of [
        [exports, issuerOf(dev.out.stdout)],
        [{ VOIDKEY_BROKER_URL: url }, issuerOf(second.out.stdout)],
      ] as const) {
        const ran = await runCli(['dev', 'token', '--sub', 'me'], cleanEnv(home, env));
        assert.equal(ran.code, 0, ran.stderr);
        assert.equal(decodeJwt(ran.stdout.trim()).iss, issuer);
      }
      const guess = await runCli(['dev', 'token', '--sub', 'me'], cleanEnv(home));
      assert.equal(guess.code, 1);
      assert.match(
        guess.stderr,
        /^voidkey: several voidkey dev sandboxes are running \(broker ports \d+, \d+\); set VOIDKEY_BROKER_URL/,
      );
    } finally {
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0);
    }
  });

  test('stops on SIGTERM with exit 0 and removes its state file and generated config', async () => {
    const configPath = /^ {2}config {3}(\S+)$/m.exec(dev.out.stdout)?.[1];
    assert.ok(configPath && existsSync(configPath), 'config path printed and present while running');
    dev.child.kill('SIGTERM');
    assert.equal(await dev.exited, 0);
    assert.deepEqual(
      readdirSync(join(home, '.voidkey')).filter((f) => f.startsWith('dev-sandbox')),
      [],
    );
    assert.equal(existsSync(dirname(configPath)), false);
  });

  test('says no sandbox is running, with exit 1, once it has stopped', async () => {
    const ran = await runCli(['dev', 'token', '--sub', 'me'], cleanEnv(home));
    assert.equal(ran.code, 1);
    assert.equal(
      ran.stderr,
      "voidkey: no running voidkey dev sandbox found; start one with 'voidkey dev' (or 'npm start' in the checkout)\n",
    );
    assert.equal(ran.stdout, '');
  });
});

describe('voidkey dev on a taken port (built binary)', { skip: skipReason() }, () => {
  let blocker: ReturnType<typeof createServer>;
  let port: number;
  let home: string;

  before(async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    port = (blocker.address() as { port: number }).port;
    home = await mkdtemp(join(tmpdir(), 'voidkey-dev-home-'));
  });
  after(async () => {
    blocker.close();
    await rm(home, { recursive: true, force: true });
  });

  test('exits 1 with one clear line naming the port', async () => {
    const dev = startDev(['--port', String(port)], cleanEnv(home));
    const code = await dev.exited;
    assert.equal(code, 1);
    const last = dev.out.stderr.trimEnd().split('\n').at(-1);
    assert.equal(last, `voidkey: port ${port} on 127.0.0.1 is already in use; choose another with --port N`);
    assert.equal(dev.out.stdout.includes('export VOIDKEY_BROKER_URL='), false);
    assert.equal(existsSync(join(home, '.voidkey', `dev-sandbox-${port}.json`)), false);
  });
});
