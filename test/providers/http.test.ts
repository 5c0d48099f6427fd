import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { HttpError } from '../../src/core/types.ts';
import { createHttpClient } from '../../src/providers/http.ts';

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
