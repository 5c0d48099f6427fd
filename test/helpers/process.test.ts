import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { cleanEnv, runToEnd, spawnProcess, waitForHttp, waitForOutput } from './process.ts';

const node = (script: string) => ({ command: process.execPath, args: ['-e', script], env: cleanEnv() });

test('passes PATH and the given variables only, never the host environment', async () => {
  process.env.VOIDKEY_SPAWN_TEST_LEAK = 'leaked';
  try {
    const r = await runToEnd({
      ...node('console.log(JSON.stringify(process.env))'),
      env: cleanEnv({ GIVEN: 'yes' }),
    });
    const env = JSON.parse(r.stdout) as Record<string, string>;
    assert.equal(env.GIVEN, 'yes');
    assert.equal(env.VOIDKEY_SPAWN_TEST_LEAK, undefined);
    assert.equal(env.PATH, process.env.PATH);
  } finally {
    delete process.env.VOIDKEY_SPAWN_TEST_LEAK;
  }
});

test('runToEnd returns both streams and the exit code, and kills what outlives its timeout', async () => {
  const done = await runToEnd(node('console.log("out"); console.error("err"); process.exit(3)'));
  assert.deepEqual(done, { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
  const hung = await runToEnd({ ...node('setInterval(() => {}, 1000)'), timeoutMs: 200 });
  assert.equal(hung.signal, 'SIGKILL');
});

test('waitForOutput returns the match, and fails with the output when the process exits first', async () => {
  const p = spawnProcess(node('console.log("listening http://127.0.0.1:1234"); setInterval(() => {}, 1000)'));
  const [, url] = await waitForOutput(p, /^listening (\S+)$/m, 10_000);
  assert.equal(url, 'http://127.0.0.1:1234');
  assert.equal(p.running(), true);
  assert.deepEqual(await p.stop(), { code: null, signal: 'SIGTERM' });
  const gone = spawnProcess(node('console.error("bad config"); process.exit(1)'));
  await assert.rejects(waitForOutput(gone, /ready/, 10_000), /exited before printing[\s\S]*bad config/);
});

test('stop escalates to SIGKILL when the process ignores the signal', async () => {
  const p = spawnProcess(
    node('process.on("SIGTERM", () => {}); console.log("up"); setInterval(() => {}, 1000)'),
  );
  await waitForOutput(p, /up/, 10_000);
  assert.deepEqual(await p.stop('SIGTERM', 200), { code: null, signal: 'SIGKILL' });
});

test('waitForHttp waits for a 200, and fails when the process is gone', async () => {
  const server = createServer((_req, res) => res.writeHead(200).end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const alive = spawnProcess(node('setInterval(() => {}, 1000)'));
  try {
    await waitForHttp(alive, url, 10_000);
  } finally {
    await alive.stop();
    server.close();
  }
  const gone = spawnProcess(node('process.exit(0)'));
  await gone.exited;
  await assert.rejects(waitForHttp(gone, url, 10_000), /exited before answering/);
});
