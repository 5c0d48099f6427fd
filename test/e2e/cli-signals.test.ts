/**
 * SIGTERM to `npm start` (the sandbox) and to `npx voidkey serve` stops the
 * broker itself: no orphan left listening, no generated config left on disk.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts `command args` in ROOT and resolves once `ready` appears in its output. */
function start(command: string, args: string[], env: NodeJS.ProcessEnv, ready: RegExp) {
  // Its own process group, so a test can clean up everything it started, an orphaned broker included.
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // Every process that inherited the output pipes (npx's shell and the broker too) has exited.
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const up = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not ready in time:\n${output}`)), 120_000);
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    void exited.then(() => reject(new Error(`exited before ready:\n${output}`)));
  });
  return { child, up, exited, closed, output: () => output };
}

/** Whether `promise` settles within `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** SIGKILLs the process group `run` started, whatever is left of it. */
function killGroup(run: { child: { pid?: number | undefined } }): void {
  try {
    process.kill(-(run.child.pid as number), 'SIGKILL');
  } catch {}
}

describe('SIGTERM reaches the broker through npm', () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), 'voidkey-signals-'));
  });
  after(async () => {
    await rm(home, { recursive: true, force: true });
  });
  const env = () => ({
    PATH: process.env.PATH,
    HOME: home,
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
  });

  test('npm start -- --port N: the sandbox stops, nothing left listening, no config or state left', async () => {
    const port = await freePort();
    const run = start('npm', ['start', '--', '--port', String(port)], env(), /Press Ctrl-C/);
    await run.up;
    const configPath = /^ {2}config {3}(\S+)$/m.exec(run.output())?.[1] ?? '';
    assert.ok(existsSync(configPath));
    assert.equal(await listening(port), true);
    run.child.kill('SIGTERM');
    await run.exited;
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await listening(port), false, 'the broker was orphaned');
    assert.equal(
      existsSync(dirname(configPath)),
      false,
      'the generated config and its secret stayed on disk',
    );
    assert.deepEqual(
      readdirSync(join(home, '.voidkey')).filter((f) => f.startsWith('dev-sandbox')),
      [],
    );
  });

  /** Writes a broker config to `name` in the test's home; `extra` adds YAML lines. */
  async function writeConfig(name: string, extra: string[] = []): Promise<string> {
    const config = join(home, name);
    await writeFile(
      config,
      [
        'brokerIdp: {name: idp, issuer: "https://idp.example.com", audience: broker, clientId: c, clientSecret: s}',
        'clientIdps: [{name: gh, issuer: "https://token.actions.githubusercontent.com", audience: voidkey}]',
        'accessProviders: [{name: aws, type: aws-sts}]',
        'clientIdentities: [{subject: "repo:o/r:ref:refs/heads/main", idp: gh, keys: {K: {provider: aws, roleArn: "arn:aws:iam::123456789012:role/R"}}}]',
        ...extra,
        '',
      ].join('\n'),
    );
    return config;
  }

  test('npx voidkey serve: the broker stops, nothing left listening', async () => {
    const port = await freePort();
    const config = await writeConfig('config.yaml');
    const run = start(
      'npx',
      ['voidkey', 'serve', '--config', config, '--port', String(port), '--host', '127.0.0.1'],
      env(),
      /listening|Server listening/i,
    );
    await run.up;
    for (let i = 0; i < 50 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(await listening(port), true);
    run.child.kill('SIGTERM');
    await run.exited;
    await new Promise((resolve) => setTimeout(resolve, 500));
    try {
      assert.equal(await listening(port), false, 'the broker was orphaned');
      assert.ok(run.child.pid !== undefined && !alive(run.child.pid));
    } finally {
      // Whatever the outcome, nothing of this test may keep running (an orphan would hold the runner).
      killGroup(run);
    }
  });

  test('npx voidkey serve, SIGTERM while the broker starts: it stops, nothing left listening', async () => {
    const port = await freePort();
    // The warning comes once the config is loaded, before the broker listens.
    const config = await writeConfig('starting.yaml', ['server: {allowInsecureIssuers: true}']);
    const run = start(
      'npx',
      ['voidkey', 'serve', '--config', config, '--port', String(port), '--host', '127.0.0.1'],
      env(),
      /allowInsecureIssuers/,
    );
    await run.up;
    run.child.kill('SIGTERM');
    try {
      assert.equal(await within(run.closed, 30_000), true, `the broker was orphaned:\n${run.output()}`);
      assert.equal(await listening(port), false);
    } finally {
      killGroup(run);
    }
  });
});
