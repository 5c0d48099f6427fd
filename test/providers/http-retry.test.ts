import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type HttpClient, HttpError, type HttpRequest } from '../../src/core/types.ts';
import { withIdempotentRetries } from '../../src/providers/http.ts';

/** An HttpClient answering `script` in order (a number is a status, an Error is thrown). */
function scripted(script: Array<number | Error>): HttpClient & { calls: HttpRequest[] } {
  const calls: HttpRequest[] = [];
  const client = async (_url: string, req: HttpRequest) => {
    calls.push(req);
    const next = script.shift();
    if (next === undefined) throw new Error('script exhausted');
    if (next instanceof Error) throw next;
    return { status: next, headers: {}, body: Buffer.from(String(next)) };
  };
  return Object.assign(client, { calls });
}

const GET: HttpRequest = { timeoutMs: 1000, maxBytes: 1024 };
const options = { maxRetries: 2, retryDelay: 1, random: () => 0 };

describe('withIdempotentRetries', () => {
  test('retries a GET that answered 5xx or failed on the network, then returns the success', async () => {
    const http = scripted([503, new HttpError('network', 'network error (ECONNRESET)'), 200]);
    const res = await withIdempotentRetries(http, options)('https://idp/jwks', GET);
    assert.equal(res.status, 200);
    assert.equal(http.calls.length, 3);
  });

  test('returns the last 5xx answer when the retries are spent', async () => {
    const http = scripted([502, 503, 500]);
    const res = await withIdempotentRetries(http, options)('https://idp/jwks', GET);
    assert.equal(res.status, 500);
    assert.equal(http.calls.length, 3);
  });

  test('never retries a 4xx, 408 and 429 included', async () => {
    for (const status of [400, 404, 408, 429]) {
      const http = scripted([status, 200]);
      const res = await withIdempotentRetries(http, options)('https://idp/jwks', GET);
      assert.equal(res.status, status);
      assert.equal(http.calls.length, 1, String(status));
    }
  });

  test('passes POSTs through untouched', async () => {
    const http = scripted([503, 200]);
    const res = await withIdempotentRetries(http, options)('https://idp/token', { ...GET, method: 'POST' });
    assert.equal(res.status, 503);
    assert.equal(http.calls.length, 1);
  });

  test('stops retrying once the caller’s signal fired', async () => {
    const controller = new AbortController();
    const http = scripted([503, 503, 200]);
    const wrapped = withIdempotentRetries(http, { maxRetries: 2, retryDelay: 200 });
    const pending = wrapped('https://idp/jwks', { ...GET, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const res = await pending;
    assert.equal(res.status, 503);
    assert.equal(http.calls.length, 1);
  });

  test('does not retry an oversized body', async () => {
    const http = scripted([new HttpError('too_large', 'response exceeds the cap'), 200]);
    await assert.rejects(withIdempotentRetries(http, options)('https://idp/jwks', GET), {
      kind: 'too_large',
    });
    assert.equal(http.calls.length, 1);
  });
});
