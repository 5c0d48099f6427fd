import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { HttpError } from '../../src/core/types.ts';
import { createHttpClient, exchangeSignal } from '../../src/providers/http.ts';

describe('outbound HTTP client', () => {
  let server: Server;
  let base: string;
  const http = createHttpClient();

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { location: '/ok' }).end();
      } else if (req.url === '/big') {
        res.writeHead(200);
        for (let i = 0; i < 10; i++) res.write(Buffer.alloc(1024, 'a'));
        res.end();
      } else if (req.url === '/declared-big') {
        res.writeHead(200, { 'content-length': '999999' });
        res.end('x'.repeat(10));
      } else if (req.url === '/slow') {
        setTimeout(() => res.end('late'), 500).unref();
      } else {
        res.writeHead(200, { 'x-test': 'yes' }).end(`${req.method} ok`);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  test('returns status, headers and the whole body', async () => {
    const res = await http(`${base}/ok`, { timeoutMs: 1000, maxBytes: 100 });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-test'], 'yes');
    assert.equal(res.body.toString(), 'GET ok');
  });

  test('does not follow redirects', async () => {
    const res = await http(`${base}/redirect`, { timeoutMs: 1000, maxBytes: 100 });
    assert.equal(res.status, 302);
  });

  test('stops reading a streamed body past the cap', async () => {
    await assert.rejects(http(`${base}/big`, { timeoutMs: 1000, maxBytes: 4096 }), (err) => {
      return err instanceof HttpError && err.kind === 'too_large';
    });
  });

  test('refuses a declared content-length over the cap before reading', async () => {
    await assert.rejects(http(`${base}/declared-big`, { timeoutMs: 1000, maxBytes: 4096 }), (err) => {
      return err instanceof HttpError && err.kind === 'too_large';
    });
  });

  test('times out a slow response', async () => {
    await assert.rejects(http(`${base}/slow`, { timeoutMs: 50, maxBytes: 100 }), (err) => {
      return err instanceof HttpError && err.kind === 'timeout';
    });
  });

  test('reports a refused connection as a network error', async () => {
    await assert.rejects(http('http://127.0.0.1:1/', { timeoutMs: 1000, maxBytes: 100 }), (err) => {
      return err instanceof HttpError && err.kind === 'network';
    });
  });
});

describe('exchangeSignal', () => {
  test('aborts with a TimeoutError after its time and says it timed out', async () => {
    const exchange = exchangeSignal(undefined, 20);
    await new Promise((resolve) => exchange.signal.addEventListener('abort', resolve, { once: true }));
    assert.equal(exchange.timedOut(), true);
    assert.equal((exchange.signal.reason as Error).name, 'TimeoutError');
    exchange.done();
  });

  test("follows the caller's abort, with the caller's reason, without calling it a timeout", () => {
    const caller = new AbortController();
    const exchange = exchangeSignal(caller.signal, 60_000);
    const reason = new Error('deadline');
    caller.abort(reason);
    assert.equal(exchange.signal.aborted, true);
    assert.equal(exchange.signal.reason, reason);
    assert.equal(exchange.timedOut(), false);
    exchange.done();
  });

  test('starts aborted when the caller already is', () => {
    const exchange = exchangeSignal(AbortSignal.abort(new Error('gone')), 60_000);
    assert.equal(exchange.signal.aborted, true);
    exchange.done();
  });

  test('done() releases the timer and stops following the caller', async () => {
    const caller = new AbortController();
    const exchange = exchangeSignal(caller.signal, 20);
    exchange.done();
    caller.abort();
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(
      exchange.signal.aborted,
      false,
      'neither the caller nor the timer reaches a finished exchange',
    );
    assert.equal(exchange.timedOut(), false);
  });
});
