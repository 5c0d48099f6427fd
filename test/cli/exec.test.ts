import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { FakeBroker } from './fake-broker.ts';
import { AWKWARD_KEY, AWS_KEY, PLAIN_KEY, startBroker } from './fixture.ts';
import { makeHome, removeHome, runCli } from './helpers.ts';

let broker: FakeBroker;
let token: string;
let home: string;
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

before(async () => {
  ({ broker, token } = await startBroker([AWS_KEY, AWKWARD_KEY, PLAIN_KEY]));
  home = makeHome();
});
beforeEach(() => broker.reset());
after(async () => {
  await broker.stop();
  removeHome(home);
});

const node = process.execPath;
const base = () => ['exec', '--broker-url', broker.url, '--token', token];
const run = (args: string[]) => runCli([...base(), ...args], { home, secrets: [token] });

describe('voidkey exec', () => {
  test('runs the command with every minted variable, --keys repeatable, printing nothing of its own', async () => {
    const script = `process.stdout.write(JSON.stringify(Object.fromEntries(${JSON.stringify([
      ...Object.keys(AWS_KEY.outputs),
      ...Object.keys(AWKWARD_KEY.outputs),
    ])}.map((n) => [n, process.env[n]]))))`;
    const r = await run(['--keys', 'AWS_DEPLOY', '--keys', 'AWKWARD', '--', node, '-e', script]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.deepEqual(JSON.parse(r.stdout), { ...AWS_KEY.outputs, ...AWKWARD_KEY.outputs });
    const [mint] = broker.requests('/credentials/mint');
    assert.deepEqual(mint?.body, { keys: ['AWS_DEPLOY', 'AWKWARD'] });
  });

  test("passes the command's exit status through and its arguments untouched by any shell", async () => {
    const marker = join(home, 'shell-ran');
    const literal = `$(touch ${marker}) ; touch ${marker} \`touch ${marker}\``;
    const script = 'process.stdout.write(process.argv[1]); process.exit(7)';
    const r = await run(['--keys', 'GCP_READ', '--', node, '-e', script, literal]);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, literal);
    assert.equal(existsSync(marker), false);
  });

  test('a failed mint runs nothing and exits with the mint code', async () => {
    const marker = join(home, 'ran-after-denial');
    const r = await run([
      '--keys',
      'NOT_MINE',
      '--',
      node,
      '-e',
      `require('fs').writeFileSync('${marker}', '')`,
    ]);
    assert.equal(r.code, 4);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^voidkey: denied \(403 FORBIDDEN\): keys not granted: NOT_MINE/);
    assert.equal(existsSync(marker), false);
  });

  test('a missing command is a usage error before any request; an unknown one is 127', async () => {
    const none = await run(['--keys', 'GCP_READ']);
    assert.equal(none.code, 2);
    assert.equal(
      none.stderr,
      "voidkey: no command: put it after '--', e.g. voidkey exec --keys A -- aws s3 ls\n",
    );
    assert.equal(broker.seen.length, 0);
    const missing = await run(['--keys', 'GCP_READ', '--', 'voidkey-no-such-command']);
    assert.equal(missing.code, 127);
    assert.equal(missing.stderr, 'voidkey: voidkey-no-such-command: command not found\n');
  });

  test('forwards SIGTERM to the command and exits with its status', async () => {
    const script =
      "process.on('SIGTERM', () => { process.stdout.write('got SIGTERM'); process.exit(42); }); process.stdout.write('ready'); setInterval(() => {}, 1000);";
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(ROOT, 'src/cli/main.ts'),
        ...base(),
        '--keys',
        'GCP_READ',
        '--',
        node,
        '-e',
        script,
      ],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: home } },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8');
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        if (stdout.includes('ready')) resolve();
      });
    });
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 42);
    assert.equal(stdout, 'readygot SIGTERM');
  });
});
