import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HttpError } from '../../src/core/types.ts';
import {
  backoffDelay,
  isRetryableHttpError,
  isRetryableStatus,
  withRetry,
} from '../../src/providers/retry.ts';

class Transient extends Error {}
const retryable = (err: unknown) => err instanceof Transient;

/** A function failing `failures` times with `error`, then answering 'ok'. */
function flaky(failures: number, error: () => Error = () => new Transient('try again')) {
  const state = { calls: 0 };
  const fn = async () => {
    state.calls++;
    if (state.calls <= failures) throw error();
    return 'ok';
  };
  return { fn, state };
}

describe('withRetry', () => {
  test('retries retryable failures until one succeeds', async () => {
    const { fn, state } = flaky(2);
    assert.equal(await withRetry(fn, { maxRetries: 2, retryDelay: 1, isRetryable: retryable }), 'ok');
    assert.equal(state.calls, 3);
  });

  test('gives up after maxRetries retries with the last failure', async () => {
    const { fn, state } = flaky(5);
    await assert.rejects(withRetry(fn, { maxRetries: 2, retryDelay: 1, isRetryable: retryable }), Transient);
    assert.equal(state.calls, 3);
  });

  test('never retries a failure the predicate calls permanent', async () => {
    const { fn, state } = flaky(5, () => new TypeError('bad request'));
    await assert.rejects(withRetry(fn, { maxRetries: 5, retryDelay: 1, isRetryable: retryable }), TypeError);
    assert.equal(state.calls, 1);
  });

  test('does not start a retry whose wait would pass the deadline', async () => {
    const { fn, state } = flaky(5);
    const options = { maxRetries: 5, retryDelay: 1000, isRetryable: retryable, deadline: Date.now() + 400 };
    const started = Date.now();
    await assert.rejects(withRetry(fn, options), Transient);
    assert.equal(state.calls, 1);
    assert.ok(Date.now() - started < 300);
  });

  test('ends a pending wait when the signal fires', async () => {
    const { fn, state } = flaky(5);
    const started = Date.now();
    const options = {
      maxRetries: 5,
      retryDelay: 5000,
      isRetryable: retryable,
      signal: AbortSignal.timeout(50),
    };
    await assert.rejects(withRetry(fn, options), Transient);
    assert.equal(state.calls, 1);
    assert.ok(Date.now() - started < 1000);
  });

  test('makes no attempt when the signal has already fired', async () => {
    const { fn, state } = flaky(0);
    const options = { maxRetries: 1, retryDelay: 1, isRetryable: retryable, signal: AbortSignal.abort() };
    await assert.rejects(withRetry(fn, options), { name: 'AbortError' });
    assert.equal(state.calls, 0);
  });

  test('reports each retry with the failed attempt and the delay', async () => {
    const seen: [number, number][] = [];
    const { fn } = flaky(2);
    await withRetry(fn, {
      maxRetries: 2,
      retryDelay: 10,
      isRetryable: retryable,
      random: () => 0,
      onRetry: (attempt, _err, delay) => seen.push([attempt, delay]),
    });
    assert.deepEqual(seen, [
      [1, 5],
      [2, 10],
    ]);
  });

  test('backoff doubles and jitters between half and the whole of retryDelay × 2ⁿ', () => {
    assert.equal(
      backoffDelay(0, 200, () => 0),
      100,
    );
    assert.equal(
      backoffDelay(0, 200, () => 0.999999),
      200,
    );
    assert.equal(
      backoffDelay(3, 200, () => 0),
      800,
    );
    assert.equal(
      backoffDelay(3, 200, () => 0.5),
      1200,
    );
  });
});

describe('retry predicates', () => {
  test('retries 408, 429 and 5xx statuses only', () => {
    assert.deepEqual(
      [400, 401, 403, 404, 408, 429, 500, 502, 503, 504].filter(isRetryableStatus),
      [408, 429, 500, 502, 503, 504],
    );
  });

  test('retries network errors and timeouts, not aborts or oversize bodies', () => {
    const kinds = ['network', 'timeout', 'aborted', 'too_large'] as const;
    assert.deepEqual(
      kinds.filter((kind) => isRetryableHttpError(new HttpError(kind, kind))),
      ['network', 'timeout'],
    );
    assert.equal(isRetryableHttpError(new Error('x')), false);
  });
});
