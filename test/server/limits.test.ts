/**
 * The server's own limits (src/server/options.ts) over real sockets: slow
 * heads and bodies are cut, oversized heads get Node's 431, a token just over
 * its cap still reaches the verifier (401, not 431), bodies over the limit get
 * a 413 in the error format, and the parser refuses ambiguous framing.
 * server.requestTimeout is 1000 ms here, so headersTimeout is 1000 ms too and
 * Node checks for expired requests every 500 ms.
 *
 * Checked by disabling: without the limits spread in app.ts (Node's and
 * fastify's defaults), the slowloris, idle, slow-body, 16 KiB-token and
 * explicit-limits tests fail (the connection stays open past the wait; a
 * 17 KiB Authorization header is a 431).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import {
  HEADERS_TIMEOUT_MS,
  KEEP_ALIVE_TIMEOUT_MS,
  MAX_HEADER_BYTES,
  nodeServerLimits,
  serverLimitOptions,
} from '../../src/server/options.ts';
import { selfSignedCert } from '../helpers/tls.ts';
import { appFor, TOKENS, testConfig, world } from './helpers.ts';
import { rawBody, rawExchange, rawHeader } from './socket.ts';

const REQUEST_TIMEOUT = 1000;
/** Longest a cut may take: the timeout, one checking interval, and slack for a loaded machine. */
const CUT_WITHIN = REQUEST_TIMEOUT + 500 + 1500;

describe('explicit server limits', () => {
  test('derive the head timeout from server.requestTimeout and fix the rest', () => {
    assert.deepEqual(nodeServerLimits(10_000), {
      requestTimeout: 10_000,
      headersTimeout: HEADERS_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      connectionsCheckingInterval: 500,
      maxHeaderSize: 32 * 1024,
      insecureHTTPParser: false,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
    });
    assert.equal(nodeServerLimits(800).headersTimeout, 800, 'never above requestTimeout (Node refuses that)');
  });

  test('go into `http`, or into `https` merged with the TLS options', () => {
    const plain = serverLimitOptions({ requestTimeout: 10_000 });
    assert.deepEqual('http' in plain && plain.http, nodeServerLimits(10_000));
    assert.equal('https' in plain, false);
    const tls = serverLimitOptions({ requestTimeout: 10_000 }, { cert: 'C', key: 'K' });
    assert.deepEqual('https' in tls && tls.https, { ...nodeServerLimits(10_000), cert: 'C', key: 'K' });
    assert.equal('http' in tls, false);
    assert.equal(plain.requestTimeout, 10_000);
    assert.equal(plain.keepAliveTimeout, KEEP_ALIVE_TIMEOUT_MS);
  });
});

describe('server limits over real sockets', () => {
  let app: FastifyInstance;
  let port: number;

  before(async () => {
    app = appFor(world({ config: testConfig({ server: { requestTimeout: REQUEST_TIMEOUT } }) }));
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  after(async () => {
    app.server.closeAllConnections();
    await app.close();
  });

  test('the listening server carries every limit', () => {
    const server = app.server as unknown as Record<string, unknown>;
    assert.equal(server.requestTimeout, REQUEST_TIMEOUT);
    assert.equal(server.headersTimeout, REQUEST_TIMEOUT);
    assert.equal(server.keepAliveTimeout, KEEP_ALIVE_TIMEOUT_MS);
    assert.equal(server.maxHeaderSize, MAX_HEADER_BYTES);
    assert.equal(server.connectionsCheckingInterval, 500);
    assert.equal(server.maxRequestsPerSocket, 1000);
  });

  test('cuts a head trickled byte by byte (slowloris) with 408 within the head timeout', async () => {
    const trickle = 'X-Slow: '.concat('a'.repeat(60)).split('');
    const res = await rawExchange(port, {
      chunks: ['GET /health HTTP/1.1\r\nHost: x\r\n', ...trickle],
      gapMs: 50,
      waitMs: 5000,
    });
    assert.equal(res.closedByServer, true);
    assert.equal(res.status, 408);
    assert.ok(res.elapsedMs >= REQUEST_TIMEOUT - 50 && res.elapsedMs < CUT_WITHIN, `${res.elapsedMs} ms`);
  });

  test('closes a connection that never sends anything', async () => {
    const res = await rawExchange(port, { chunks: [], waitMs: 5000 });
    assert.equal(res.closedByServer, true);
    assert.ok(res.elapsedMs < CUT_WITHIN, `${res.elapsedMs} ms`);
  });

  test('cuts a body trickled after a complete head with 408', async () => {
    const head =
      'POST /credentials/mint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n';
    const res = await rawExchange(port, {
      chunks: [head, ...'{"keys":["A'.split('')],
      gapMs: 150,
      waitMs: 5000,
    });
    assert.equal(res.closedByServer, true);
    assert.equal(res.status, 408);
    assert.ok(res.elapsedMs < CUT_WITHIN, `${res.elapsedMs} ms`);
  });

  test('answers a head over 32 KiB with 431, whether one large header or many small ones', async () => {
    const large = `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(MAX_HEADER_BYTES)}\r\n\r\n`;
    const many = `GET /health HTTP/1.1\r\nHost: x\r\n${'X-A: b\r\n'.repeat(10_000)}\r\n`;
    for (const head of [large, many]) {
      const res = await rawExchange(port, { chunks: [head] });
      assert.equal(res.status, 431);
      assert.equal(res.closedByServer, true);
    }
  });

  test('lets a token somewhat over the 16 KiB cap reach the verifier: 401 token_too_large, not 431', async () => {
    const token = `${'a'.repeat(17 * 1024)}.b.c`;
    const res = await rawExchange(port, {
      chunks: [`GET /credentials/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n\r\n`],
      untilResponse: true,
    });
    assert.equal(res.status, 401);
    assert.deepEqual((rawBody(res.text) as { details: unknown }).details, { reason: 'token_too_large' });
  });

  test('drops no header: an Authorization header after 300 others is still read', async () => {
    const filler = Array.from({ length: 300 }, (_, i) => `X-F${i}: v\r\n`).join('');
    const res = await rawExchange(port, {
      chunks: [
        `GET /credentials/keys HTTP/1.1\r\nHost: x\r\n${filler}Authorization: Bearer ${TOKENS.main}\r\n\r\n`,
      ],
      untilResponse: true,
    });
    assert.equal(res.status, 200, res.text.slice(0, 200));
  });

  test('answers a body over server.bodyLimit with 413 in the error format, declared or chunked', async () => {
    const big = JSON.stringify({ keys: ['A'], pad: 'x'.repeat(70_000) });
    const declared = `POST /credentials/mint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\n\r\n`;
    const chunked =
      'POST /credentials/mint HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n';
    const piece = `${(8192).toString(16)}\r\n${'x'.repeat(8192)}\r\n`;
    for (const chunks of [
      [declared, big],
      [chunked, ...Array.from({ length: 10 }, () => piece)],
    ]) {
      const res = await rawExchange(port, { chunks, untilResponse: true });
      assert.equal(res.status, 413);
      assert.equal((rawBody(res.text) as { error: string }).error, 'PAYLOAD_TOO_LARGE');
      assert.equal(rawHeader(res.text, 'cache-control'), 'no-store');
    }
  });

  test('refuses ambiguous framing and heads without Host at the parser (400)', async () => {
    const heads = [
      'POST /credentials/mint HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST /credentials/mint HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      'POST /credentials/mint HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n',
      'GET /health HTTP/1.1\r\n\r\n',
    ];
    for (const head of heads) {
      const res = await rawExchange(port, { chunks: [head], untilResponse: true });
      assert.equal(res.status, 400, JSON.stringify(head));
    }
  });
});

describe('server limits under HTTPS', () => {
  let app: FastifyInstance;
  let port: number;
  const dir = mkdtempSync(join(tmpdir(), 'voidkey-limits-'));

  before(async () => {
    const { cert, key } = selfSignedCert(dir, '127.0.0.1');
    const https = { cert: readFileSync(cert), key: readFileSync(key) };
    app = appFor(world({ config: testConfig({ server: { requestTimeout: REQUEST_TIMEOUT } }) }), { https });
    await app.listen({ host: '127.0.0.1', port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  after(async () => {
    app.server.closeAllConnections();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the TLS server carries the same limits and answers an oversized head with 431', async () => {
    const server = app.server as unknown as Record<string, unknown>;
    assert.equal(server.headersTimeout, REQUEST_TIMEOUT);
    assert.equal(server.maxHeaderSize, MAX_HEADER_BYTES);
    assert.equal(server.connectionsCheckingInterval, 500);
    const answer = await new Promise<string>((resolve) => {
      const socket = tlsConnect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => {
        socket.write(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(MAX_HEADER_BYTES)}\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk;
      });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    assert.match(answer, /^HTTP\/1\.1 431 /);
  });
});
