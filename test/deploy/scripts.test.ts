import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { REPO } from './kit.ts';
import { BASE_TOOLS, runScript, toolDir, which } from './shell.ts';

const SCRIPTS = ['smoke-tests.sh', 'integration-tests.sh', 'backup-config.sh', 'restore-config.sh'];
/** What the scripts source. */
const LIBS = ['lib/broker-url.sh', 'lib/http.sh'];
const TOKEN = 'eyJ.client-token-that-must-not-leak.sig';
const SECRET = 'wJalrXUtnFEMI-credential-that-must-not-leak';

type Seen = { method: string; url: string; headers: IncomingMessage['headers']; body: string };
type Behaviour = { healthStatus: number; mintWwwAuth: boolean; keys: string[] };

/** A stand-in broker answering the routes the scripts call, recording each request. */
function fakeBroker(b: Behaviour, seen: Seen[]): Server {
  return createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.setHeader('content-type', 'application/json');
      res.setHeader('x-request-id', 'req-1');
      const send = (status: number, value: unknown) => {
        res.statusCode = status;
        res.end(JSON.stringify(value));
      };
      const authed = req.headers.authorization === `Bearer ${TOKEN}`;
      const unauthorized = () => {
        if (b.mintWwwAuth) res.setHeader('www-authenticate', 'Bearer error="invalid_token"');
        res.setHeader('cache-control', 'no-store');
        send(401, {
          error: 'INVALID_TOKEN',
          message: 'The token is not valid',
          requestId: 'req-1',
          details: { reason: 'malformed' },
        });
      };
      if (req.url === '/health')
        return send(b.healthStatus, { status: b.healthStatus === 200 ? 'healthy' : 'unhealthy', checks: {} });
      if (req.url === '/health/live' || req.url === '/health/ready') return send(200, { status: 'ok' });
      if (req.url === '/credentials/idp-providers') {
        return send(200, {
          providers: [
            {
              name: 'gh',
              issuer: 'https://token.actions.githubusercontent.com',
              type: 'oidc',
              audience: 'voidkey',
            },
          ],
        });
      }
      if (!authed) return unauthorized();
      if (req.url === '/credentials/keys') {
        return send(200, {
          subject: 'repo:o/r',
          idp: 'gh',
          keys: b.keys.map((name) => ({ name, provider: 'aws', maxDuration: 900 })),
        });
      }
      const keys = (JSON.parse(body) as { keys: string[] }).keys;
      const credentials = Object.fromEntries(keys.map((k) => [k, { AWS_SECRET_ACCESS_KEY: SECRET }]));
      return send(200, {
        credentials,
        expiresAt: '2026-11-28T16:00:00.000Z',
        subject: 'repo:o/r',
        issuedAt: 'x',
        keyExpiresAt: {},
      });
    });
  });
}

describe('deployment scripts', () => {
  test('pass bash -n and answer --help with usage and exit 0', async () => {
    for (const s of SCRIPTS) {
      assert.equal(spawnSync('bash', ['-n', join(REPO, 'scripts', s)]).status, 0, `${s}: bash -n`);
      const r = await runScript(s, ['--help']);
      assert.equal(r.code, 0, s);
      assert.match(r.stdout, /^Usage: scripts\//, s);
    }
  });

  test('pass shellcheck at warning level, when shellcheck is installed', (t) => {
    if (!which('shellcheck')) {
      t.skip('shellcheck not installed');
      return;
    }
    const r = spawnSync(
      'shellcheck',
      ['-x', '-S', 'warning', ...[...SCRIPTS, ...LIBS].map((s) => join(REPO, 'scripts', s))],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(r.status, 0, r.stdout);
  });

  test('exit 2 with a usage message when the URL is missing', async () => {
    for (const s of ['smoke-tests.sh', 'integration-tests.sh']) {
      const r = await runScript(s, [], { env: { VOIDKEY_BROKER_URL: '' } });
      assert.equal(r.code, 2, s);
      assert.match(r.stderr, /no broker URL given/);
    }
  });
});

describe('scripts against a fake broker', () => {
  const seen: Seen[] = [];
  const behaviour: Behaviour = { healthStatus: 200, mintWwwAuth: true, keys: ['AWS_DEPLOY', 'OTHER'] };
  let server: Server;
  let url = '';
  let noCurl: { dir: string; bin: string };
  before(async () => {
    server = fakeBroker(behaviour, seen);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    noCurl = toolDir([...BASE_TOOLS, 'node']);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
    rmSync(noCurl.dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen.length = 0;
    Object.assign(behaviour, { healthStatus: 200, mintWwwAuth: true, keys: ['AWS_DEPLOY', 'OTHER'] });
  });

  test('smoke-tests.sh passes against a healthy broker and sends a bad token to mint', async (t) => {
    if (!which('curl')) t.skip('curl not installed');
    const r = await runScript('smoke-tests.sh', [url]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.equal(r.stdout.match(/^ok {3}- /gm)?.length, 5);
    assert.match(r.stdout, /smoke tests passed: 5 checks/);
    const mint = seen.find((s) => s.url === '/credentials/mint');
    assert.equal(mint?.method, 'POST');
    assert.equal(mint?.headers.authorization, 'Bearer not-a-jwt');
    assert.equal(mint?.headers['content-type'], 'application/json');
    assert.deepEqual(JSON.parse(mint?.body ?? ''), { keys: ['SMOKE_TEST'] });
  });

  test('smoke-tests.sh fails when /health answers 500', async () => {
    behaviour.healthStatus = 500;
    const r = await runScript('smoke-tests.sh', [url]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL - GET \/health -> 500, expected 200/m);
    assert.match(r.stdout, /smoke tests FAILED: 1 of 5 checks failed/);
  });

  test('smoke-tests.sh fails when the 401 lacks WWW-Authenticate', async () => {
    behaviour.mintWwwAuth = false;
    const r = await runScript('smoke-tests.sh', [url]);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^FAIL - POST \/credentials\/mint with a bad token -> 401 without a WWW-Authenticate/m,
    );
  });

  test('smoke-tests.sh falls back to node when curl is missing', async () => {
    const r = await runScript('smoke-tests.sh', [url], { env: { PATH: noCurl.bin } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /smoke tests passed: 5 checks/);
    behaviour.healthStatus = 500;
    assert.equal((await runScript('smoke-tests.sh', [url], { env: { PATH: noCurl.bin } })).code, 1);
  });

  test('smoke-tests.sh and integration-tests.sh fail with a clear line when nothing listens', async () => {
    for (const s of ['smoke-tests.sh', 'integration-tests.sh']) {
      const r = await runScript(s, ['http://127.0.0.1:1', '--timeout', '2'], {
        env: { VOIDKEY_OIDC_TOKEN: TOKEN, VOIDKEY_KEYS: '' },
      });
      assert.equal(r.code, 1, s);
      assert.match(r.stdout, /^FAIL - cannot reach http:\/\/127\.0\.0\.1:1/m, s);
      assert.ok(!r.stdout.includes(TOKEN) && !r.stderr.includes(TOKEN), s);
    }
  });

  test('integration-tests.sh mints the first listed key and prints neither token nor credential', async () => {
    const r = await runScript('integration-tests.sh', [url], {
      env: { VOIDKEY_OIDC_TOKEN: TOKEN, VOIDKEY_KEYS: '' },
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /minting its first key: AWS_DEPLOY/);
    assert.match(r.stdout, /credentials for 1 key\(s\), expiring 2026-11-28T16:00:00\.000Z/);
    const mint = seen.find((s) => s.url === '/credentials/mint');
    assert.deepEqual(JSON.parse(mint?.body ?? ''), { keys: ['AWS_DEPLOY'] });
    for (const out of [r.stdout, r.stderr]) {
      assert.ok(!out.includes(TOKEN) && !out.includes(SECRET) && !out.includes('client-token'));
    }
  });

  test('integration-tests.sh mints $VOIDKEY_KEYS with a duration, also through node', async () => {
    const env = { VOIDKEY_OIDC_TOKEN: TOKEN, VOIDKEY_KEYS: 'A, B_2', PATH: noCurl.bin };
    const r = await runScript('integration-tests.sh', ['--duration', '900', url], { env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(seen.at(-1)?.body ?? ''), { keys: ['A', 'B_2'], duration: 900 });
    assert.ok(!seen.some((s) => s.url === '/credentials/keys'));
    assert.ok(!r.stdout.includes(SECRET));
  });

  test('integration-tests.sh fails on a refused token, naming the error code only', async () => {
    const r = await runScript('integration-tests.sh', [url], {
      env: { VOIDKEY_OIDC_TOKEN: 'wrong-token-value' },
    });
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^FAIL - GET \/credentials\/keys -> 401 \(error INVALID_TOKEN, requestId req-1\)/m,
    );
    assert.ok(!r.stdout.includes('wrong-token-value'));
  });

  test('smoke-tests.sh takes an environment name, resolved from $VOIDKEY_URL_<NAME>', async () => {
    const r = await runScript('smoke-tests.sh', ['staging'], { env: { VOIDKEY_URL_STAGING: `${url}/` } });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      new RegExp(`^Smoke-testing ${url} \\(environment staging, from \\$VOIDKEY_URL_STAGING\\)$`, 'm'),
    );
    assert.ok(seen.some((s) => s.url === '/health/ready'));
    const dashed = await runScript('smoke-tests.sh', ['eu-west'], { env: { VOIDKEY_URL_EU_WEST: url } });
    assert.equal(dashed.code, 0, dashed.stdout + dashed.stderr);
  });

  test('integration-tests.sh takes an environment name from the environments file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'voidkey-envs-'));
    try {
      const file = join(dir, 'environments.env');
      writeFileSync(
        file,
        `# comment\n\nstaging=http://127.0.0.1:1\n  production = "${url}"  \nproduction-eu=http://127.0.0.1:1\n`,
      );
      const env = {
        VOIDKEY_OIDC_TOKEN: TOKEN,
        VOIDKEY_KEYS: 'A',
        VOIDKEY_ENVIRONMENTS_FILE: file,
        VOIDKEY_URL_PRODUCTION: '',
      };
      const r = await runScript('integration-tests.sh', ['production'], { env });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        new RegExp(`^Integration-testing ${url} \\(environment production, from ${file}\\)$`, 'm'),
      );
      assert.deepEqual(JSON.parse(seen.at(-1)?.body ?? ''), { keys: ['A'] });
      assert.ok(!r.stdout.includes(TOKEN) && !r.stdout.includes(SECRET));
      // The variable wins over the file.
      seen.length = 0;
      const over = await runScript('smoke-tests.sh', ['staging'], {
        env: { VOIDKEY_ENVIRONMENTS_FILE: file, VOIDKEY_URL_STAGING: url },
      });
      assert.equal(over.code, 0, over.stdout + over.stderr);
      assert.ok(seen.length > 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('both scripts name what to set when an environment is unknown, and refuse a non-URL value', async () => {
    for (const s of ['smoke-tests.sh', 'integration-tests.sh']) {
      const r = await runScript(s, ['staging'], {
        env: { VOIDKEY_URL_STAGING: '', VOIDKEY_ENVIRONMENTS_FILE: undefined, VOIDKEY_OIDC_TOKEN: TOKEN },
      });
      assert.equal(r.code, 2, s);
      assert.match(r.stderr, /unknown environment 'staging': set VOIDKEY_URL_STAGING to its broker URL/, s);
      assert.match(r.stderr, /'staging=https:\/\/\.\.\.' to \S*deploy\/environments\.env/, s);
      const bad = await runScript(s, ['staging'], { env: { VOIDKEY_URL_STAGING: 'voidkey.example.com' } });
      assert.equal(bad.code, 2, s);
      assert.match(bad.stderr, /environment 'staging' from \$VOIDKEY_URL_STAGING is not a URL/, s);
      const odd = await runScript(s, ['no/such'], {});
      assert.equal(odd.code, 2, s);
      assert.match(odd.stderr, /'no\/such' is neither a URL/, s);
    }
    assert.equal(seen.length, 0);
  });

  test('integration-tests.sh refuses to run without a token or with a bad key name', async () => {
    const none = await runScript('integration-tests.sh', [url], { env: { VOIDKEY_OIDC_TOKEN: '' } });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no client token/);
    const bad = await runScript('integration-tests.sh', [url], {
      env: { VOIDKEY_OIDC_TOKEN: TOKEN, VOIDKEY_KEYS: 'A,"x' },
    });
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /invalid key name/);
    assert.ok(!seen.some((s) => s.url === '/credentials/mint'));
  });
});
