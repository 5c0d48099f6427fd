import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'voidkey-serve-'));
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const VALID = `
server: { allowInsecureIssuers: true, host: 127.0.0.1 }
brokerIdp:
  name: broker
  issuer: http://127.0.0.1:9/realms/x
  audience: voidkey-broker
  clientId: broker
  clientSecret: \${BROKER_SECRET}
  tokenEndpoint: http://127.0.0.1:9/token
clientIdps:
  - { name: github, issuer: https://token.actions.githubusercontent.com, audience: voidkey }
accessProviders:
  - { name: minio-local, type: minio, endpoint: "http://127.0.0.1:9", region: us-east-1 }
clientIdentities:
  - subject: "repo:a/b:ref:refs/heads/main"
    idp: github
    keys: { MINIO: { provider: minio-local } }
`;
writeFileSync(join(dir, 'valid.yaml'), VALID);
writeFileSync(join(dir, 'invalid.yaml'), 'server: { port: high }\n');

function serve(args: string[], env: Record<string, string> = {}) {
  const child = spawn(
    process.execPath,
    ['--import', import.meta.resolve('tsx'), join(root, 'src/cli/main.ts'), 'serve', ...args],
    {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', BROKER_SECRET: 'hunter2-secret', ...env },
    },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = async (): Promise<string> => {
    for (let i = 0; i < 200 && child.exitCode === null; i++) {
      const url = /"url":"(http:\/\/[^"]+)"/.exec(stdout)?.[1];
      if (url) return url;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`did not start: ${stdout}${stderr}`);
  };
  return { child, exited, listening, out: () => ({ stdout, stderr }) };
}

describe('voidkey serve', () => {
  test('exits 1 at once on an invalid config, one line per problem on stderr', async () => {
    const run = serve(['--config', 'invalid.yaml']);
    assert.equal(await run.exited, 1);
    const lines = run
      .out()
      .stderr.split('\n')
      .filter((l) => /^[\w.[\]()]+: /.test(l));
    assert.deepEqual(lines.sort(), [
      'brokerIdp: required field is missing',
      'server.port: must be an integer (got a string)',
    ]);
    assert.doesNotMatch(run.out().stdout, /listening/);
  });

  test('exits 1 when no config file is found', async () => {
    const run = serve([]);
    assert.equal(await run.exited, 1);
    assert.match(
      run.out().stderr,
      /^voidkey serve: no config file found: pass --config PATH or set CONFIG_PATH/m,
    );
    assert.doesNotMatch(run.out().stderr, /\(root\)/);
  });

  test('exits 2 on a --port that is not a port', async () => {
    const run = serve(['--config', 'valid.yaml', '--port', '70000']);
    assert.equal(await run.exited, 2);
  });

  test('serves with --port over $PORT, logs warnings and the URL, and exits 0 on SIGTERM', async () => {
    const run = serve(['--port', '0'], { CONFIG_PATH: 'valid.yaml', PORT: '1' });
    const url = await run.listening();
    // /health/live: the broker IdP here is unreachable, so /health is rightly 503 (SPEC §7).
    const res = await fetch(`${url}/health/live`);
    assert.equal(res.status, 200);
    run.child.kill('SIGTERM');
    assert.equal(await run.exited, 0);
    const { stdout } = run.out();
    assert.match(stdout, /allowInsecureIssuers/);
    assert.doesNotMatch(stdout + run.out().stderr, /hunter2-secret/);
    for (const line of stdout.trim().split('\n')) JSON.parse(line);
  });
});
