import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { FakeBroker, FakeKey } from './fake-broker.ts';
import { AWS_KEY, SUBJECT, startBroker } from './fixture.ts';
import { makeHome, makeToken, removeHome, runCli } from './helpers.ts';

const MANY: FakeKey[] = Array.from({ length: 23 }, (_, i) => ({
  name: `KEY_${String(i).padStart(2, '0')}`,
  provider: 'aws-prod',
  maxDuration: 3600,
  outputs: { [`VAR_${i}`]: `value-${i}` },
}));

let broker: FakeBroker;
let token: string;
let home: string;

before(async () => {
  ({ broker, token } = await startBroker([AWS_KEY, ...MANY]));
  home = makeHome();
});
beforeEach(() => broker.reset());
after(async () => {
  await broker.stop();
  removeHome(home);
});

function mint(args: string[], tokenToUse = token) {
  return runCli(['mint', '--broker-url', broker.url, '--token', tokenToUse, ...args], {
    home,
    secrets: [tokenToUse],
  });
}

describe('voidkey mint --all', () => {
  test('mints the 24 listed keys in requests of at most 10 and prints them in list order', async () => {
    const { code, stdout, stderr } = await mint(['--all', '--output', 'json']);
    assert.equal(code, 0, stderr);
    assert.equal(broker.requests('/credentials/keys').length, 1);
    const sizes = broker.requests('/credentials/mint').map((r) => (r.body as { keys: string[] }).keys.length);
    assert.deepEqual(sizes, [10, 10, 4]);
    assert.deepEqual(Object.keys(JSON.parse(stdout)), ['AWS_DEPLOY', ...MANY.map((k) => k.name)]);
  });

  test('prints nothing when one batch fails', async () => {
    broker.script('/credentials/mint', null, {
      status: 502,
      details: { failures: [{ key: 'KEY_12', provider: 'aws-prod', reason: 'access denied' }] },
    });
    const { code, stdout, stderr } = await mint(['--all']);
    assert.equal(code, 5);
    assert.equal(stdout, '');
    assert.match(
      stderr,
      /^voidkey: the broker failed \(502 CREDENTIAL_MINT_FAILED\): CREDENTIAL_MINT_FAILED; failed keys: KEY_12 \(aws-prod\): access denied \[request id [0-9a-f-]{36}\]\n$/,
    );
    assert.equal(broker.requests('/credentials/mint').length, 2);
  });
});

describe('mint requests', () => {
  test('send the bearer token, the keys and --duration', async () => {
    const { code } = await mint(['--keys', 'AWS_DEPLOY', '--duration', '900']);
    assert.equal(code, 0);
    const [request] = broker.requests('/credentials/mint');
    assert.equal(request?.headers.authorization, `Bearer ${token}`);
    assert.equal(request?.headers['content-type'], 'application/json');
    assert.deepEqual(request?.body, { keys: ['AWS_DEPLOY'], duration: 900 });
  });

  test('split more than 10 --keys into several requests too', async () => {
    const { code } = await mint([
      '--keys',
      MANY.slice(0, 12)
        .map((k) => k.name)
        .join(','),
    ]);
    assert.equal(code, 0);
    assert.deepEqual(
      broker.requests('/credentials/mint').map((r) => (r.body as { keys: string[] }).keys.length),
      [10, 2],
    );
  });
});

describe('broker errors', () => {
  test('a 400 (duration above the maximum) exits 2 with the broker message', async () => {
    const { code, stderr } = await mint(['--keys', 'AWS_DEPLOY', '--duration', '3600']);
    assert.equal(code, 2);
    assert.match(
      stderr,
      /^voidkey: the broker refused the request \(400 INVALID_REQUEST\): duration exceeds the maximum of key AWS_DEPLOY \[request id [0-9a-f-]{36}\]\n$/,
    );
    assert.equal(broker.requests('/credentials/mint').length, 1);
  });

  test('a 401 exits 3 and names details.reason', async () => {
    const expired = makeToken({ sub: SUBJECT, iat: 1_000, exp: 2_000 });
    broker.trusted.add(expired);
    const { code, stdout, stderr } = await mint(['--keys', 'AWS_DEPLOY'], expired);
    assert.equal(code, 3);
    assert.equal(stdout, '');
    assert.match(
      stderr,
      /^voidkey: authentication failed \(401 INVALID_TOKEN, reason token_expired\): The token could not be verified: token expired \[request id [0-9a-f-]{36}\]\n$/,
    );
  });

  test('a 403 exits 4 and lists every denied key', async () => {
    const { code, stderr } = await mint(['--keys', 'AWS_DEPLOY,NOT_MINE,ALSO_NOT']);
    assert.equal(code, 4);
    assert.match(
      stderr,
      /^voidkey: denied \(403 FORBIDDEN\): keys not granted: NOT_MINE, ALSO_NOT \[request id [0-9a-f-]{36}\]\n$/,
    );
  });

  test('a 404 SUBJECT_NOT_FOUND on --all exits 4 naming the subject', async () => {
    const stranger = makeToken({ sub: 'repo:acme/other:ref:refs/heads/dev' });
    broker.trusted.add(stranger);
    const { code, stderr } = await mint(['--all'], stranger);
    assert.equal(code, 4);
    assert.match(
      stderr,
      /^voidkey: denied \(404 SUBJECT_NOT_FOUND\): the broker has no identity for the token's subject 'repo:acme\/other:ref:refs\/heads\/dev' \[request id [0-9a-f-]{36}\]\n$/,
    );
  });

  test('a 500 exits 5 with the request id from the body, without retrying', async () => {
    broker.script('/credentials/mint', { status: 500, message: 'Internal error' });
    const { code, stderr } = await mint(['--keys', 'AWS_DEPLOY']);
    assert.equal(code, 5);
    const id = broker.requests('/credentials/mint')[0]?.headers['x-request-id'];
    assert.equal(
      stderr,
      `voidkey: the broker failed (500 INTERNAL_ERROR): Internal error [request id ${id}]\n`,
    );
    assert.equal(broker.requests('/credentials/mint').length, 1);
  });

  test('a non-JSON 502 from a proxy exits 5 with the status', async () => {
    broker.script('/credentials/mint', {
      status: 502,
      raw: '<html>Bad Gateway</html>',
      headers: { 'content-type': 'text/html' },
    });
    const { code, stderr } = await mint(['--keys', 'AWS_DEPLOY']);
    assert.equal(code, 5);
    assert.match(stderr, /^voidkey: the broker failed \(502\) \[request id [0-9a-f-]{36}\]\n$/);
  });

  test('a 429 is retried after Retry-After seconds, then succeeds', async () => {
    broker.script('/credentials/mint', {
      status: 429,
      message: 'Too many requests from this IP',
      retryAfter: 1,
    });
    const { code, stdout } = await mint(['--keys', 'AWS_DEPLOY']);
    assert.equal(code, 0);
    assert.match(stdout, /^export AWS_ACCESS_KEY_ID='ASIAEXAMPLEACCESSKEY'\n/);
    const [first, second, third] = broker.requests('/credentials/mint');
    assert.ok(first && second && !third);
    assert.ok(second.at - first.at >= 1000, `retried after ${second.at - first.at} ms`);
  });

  test('a 429 whose Retry-After exceeds the timeout gives up at once, exit 5', async () => {
    broker.script('/credentials/mint', {
      status: 429,
      message: 'Too many requests from this IP',
      retryAfter: 120,
    });
    const { code, stderr } = await mint(['--keys', 'AWS_DEPLOY', '--timeout', '10']);
    assert.equal(code, 5);
    assert.match(
      stderr,
      /^voidkey: rate limited by the broker \(429 RATE_LIMIT_EXCEEDED, retry after 120s\): Too many requests from this IP; gave up after 1 attempt within the 10s timeout \[request id [0-9a-f-]{36}\]\n$/,
    );
    assert.equal(broker.requests('/credentials/mint').length, 1);
  });

  test('a 503 whose reason clears on its own, without Retry-After, is retried with backoff until --timeout, then exits 5', async () => {
    const unavailable = {
      status: 503,
      message: 'A dependency is unavailable; retry later',
      details: { reason: 'replay_store_unavailable' },
    };
    broker.script('/credentials/mint', ...Array.from({ length: 20 }, () => unavailable));
    const { code, stderr } = await mint(['--keys', 'AWS_DEPLOY', '--timeout', '2']);
    assert.equal(code, 5);
    const times = broker.requests('/credentials/mint').map((r) => r.at);
    const attempts = times.length;
    // 0 s, ~0.5 s, ~1.5 s; the next wait (~2 s) would end past the 2 s deadline.
    assert.ok(attempts >= 2 && attempts <= 4, `${attempts} attempts`);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    assert.ok((gaps[0] ?? 0) >= 500, `first backoff ${gaps[0]} ms`);
    if (gaps[1] !== undefined) assert.ok(gaps[1] >= 1000, `second backoff ${gaps[1]} ms`);
    assert.ok((times.at(-1) ?? 0) - (times[0] ?? 0) < 2000, 'every attempt inside the deadline');
    assert.match(
      stderr,
      new RegExp(
        `^voidkey: the broker is unavailable \\(503 SERVICE_UNAVAILABLE, reason replay_store_unavailable\\): A dependency is unavailable; retry later; gave up after ${attempts} attempts within the 2s timeout \\[request id [0-9a-f-]{36}\\]\\n$`,
      ),
    );
  });
});

describe('503 answers that are not retried', () => {
  for (const details of [{ reason: 'audit_write_failed' }, undefined]) {
    const what = details ? `reason ${details.reason}` : 'no reason';
    test(`a 503 with ${what} is answered once, never retried (exit 5)`, async () => {
      const unavailable = { status: 503, message: 'Audit unavailable', ...(details ? { details } : {}) };
      broker.script('/credentials/mint', unavailable, unavailable, unavailable);
      const { code, stderr } = await mint(['--keys', 'AWS_DEPLOY', '--timeout', '10']);
      assert.equal(code, 5);
      assert.equal(broker.requests('/credentials/mint').length, 1);
      const reason = details ? `, reason ${details.reason}` : '';
      assert.match(
        stderr,
        new RegExp(
          `^voidkey: the broker is unavailable \\(503 SERVICE_UNAVAILABLE${reason}\\): Audit unavailable; not retried \\[request id [0-9a-f-]{36}\\]\\n$`,
        ),
      );
    });
  }
});

describe('transport failures', () => {
  let silent: Server;
  before(async () => {
    // Accepts connections and never answers.
    silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  test('an unreachable broker exits 5 naming its URL', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await runCli(['mint', '--broker-url', url, '--token', token, '--keys', 'AWS_DEPLOY'], {
      home,
      secrets: [token],
    });
    assert.equal(r.code, 5);
    assert.equal(r.stderr, `voidkey: cannot reach the broker at ${url} (ECONNREFUSED)\n`);
  });

  test('a broker that never answers hits --timeout and exits 5', async () => {
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
    const started = Date.now();
    const r = await runCli(
      ['mint', '--broker-url', url, '--token', token, '--keys', 'AWS_DEPLOY', '--timeout', '1'],
      { home, secrets: [token] },
    );
    assert.equal(r.code, 5);
    assert.equal(
      r.stderr,
      `voidkey: the broker at ${url.slice(0, -1)} did not answer within the 1s timeout\n`,
    );
    assert.ok(Date.now() - started < 10_000);
  });
});
