import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LightAbortController, nativeSignal } from '../../src/core/abort.ts';

describe('the light deadline signal', () => {
  test('calls onabort, then each listener once, with the reason set', () => {
    const controller = new LightAbortController();
    const { signal } = controller;
    const calls: string[] = [];
    signal.onabort = (event) => calls.push(`onabort ${event.type} ${signal.aborted}`);
    signal.addEventListener('abort', (event) => calls.push(`first ${event.type}`));
    signal.addEventListener('abort', { handleEvent: (event) => calls.push(`object ${event.type}`) });
    assert.equal(signal.aborted, false);
    assert.equal(signal.reason, undefined);
    signal.throwIfAborted();

    const reason = new Error('deadline');
    controller.abort(reason);
    controller.abort(new Error('again'));
    assert.deepEqual(calls, ['onabort abort true', 'first abort', 'object abort']);
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, reason);
    assert.throws(
      () => signal.throwIfAborted(),
      (err) => err === reason,
    );
  });

  test('aborts with an AbortError when no reason is given, as AbortController does', () => {
    const controller = new LightAbortController();
    controller.abort();
    assert.ok(controller.signal.reason instanceof DOMException);
    assert.equal((controller.signal.reason as DOMException).name, 'AbortError');
  });

  test('never calls a removed listener, one removed during the abort, or one added after it', () => {
    const controller = new LightAbortController();
    const { signal } = controller;
    const calls: string[] = [];
    const removed = () => calls.push('removed');
    const removedByFirst = () => calls.push('removed by first');
    signal.addEventListener('abort', removed);
    signal.removeEventListener('abort', removed);
    signal.addEventListener('abort', () => {
      calls.push('first');
      signal.removeEventListener('abort', removedByFirst);
    });
    signal.addEventListener('abort', removedByFirst);
    controller.abort();
    signal.addEventListener('abort', () => calls.push('late'));
    assert.deepEqual(calls, ['first']);
  });

  test('adds the same listener once and ignores other event types', () => {
    const controller = new LightAbortController();
    let calls = 0;
    const listener = () => calls++;
    controller.signal.addEventListener('abort', listener);
    controller.signal.addEventListener('abort', listener, { once: true });
    controller.signal.addEventListener('other', listener);
    controller.abort();
    assert.equal(calls, 1);
  });

  test('a throwing listener neither stops the others nor throws at the caller', async () => {
    const controller = new LightAbortController();
    const failure = new Error('listener bug');
    let later = false;
    controller.signal.addEventListener('abort', () => {
      throw failure;
    });
    controller.signal.addEventListener('abort', () => {
      later = true;
    });
    // The error surfaces as an uncaught exception, as from an EventTarget listener.
    const saved = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const uncaught = new Promise<unknown>((resolve) => process.once('uncaughtException', resolve));
    try {
      controller.abort();
      assert.equal(later, true);
      assert.equal(await uncaught, failure);
    } finally {
      process.removeAllListeners('uncaughtException');
      for (const listener of saved) process.on('uncaughtException', listener);
    }
  });

  test('gives Node APIs a native signal that aborts with it, made before or after the abort', () => {
    const before = new LightAbortController();
    const twin = nativeSignal(before.signal);
    assert.ok(twin instanceof AbortSignal);
    assert.equal(nativeSignal(before.signal), twin, 'one twin per signal');
    const combined = AbortSignal.any([twin, AbortSignal.timeout(60_000)]);
    before.abort('first reason');
    assert.equal(twin.aborted, true);
    assert.equal(twin.reason, 'first reason');
    assert.equal(combined.aborted, true);
    assert.equal(combined.reason, 'first reason');

    const after = new LightAbortController();
    after.abort('second reason');
    const late = nativeSignal(after.signal);
    assert.equal(late.aborted, true);
    assert.equal(late.reason, 'second reason');

    const native = new AbortController().signal;
    assert.equal(nativeSignal(native), native, 'a native signal is passed through');
  });
});
