import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  collectGarbage,
  HEAP_GROWING_PERCENT,
  heapGrowthFlag,
  tuneHeapGrowth,
} from '../../src/server/heap.ts';

describe('heap growth', () => {
  test('sets the broker default when the process was started without one', () => {
    assert.equal(heapGrowthFlag([]), `--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
    assert.equal(
      heapGrowthFlag(['--enable-source-maps', '--max-old-space-size=512']),
      '--heap-growing-percent=50',
    );
  });

  test('leaves an operator’s own setting alone, in either spelling', () => {
    for (const given of [
      '--heap-growing-percent=100',
      '--heap_growing_percent=20',
      '--heap-growing-percent',
    ]) {
      assert.equal(heapGrowthFlag(['--enable-source-maps', given]), undefined, given);
    }
  });

  test('does not mistake a longer flag name for it', () => {
    assert.equal(heapGrowthFlag(['--heap-growing-percentage=5']), '--heap-growing-percent=50');
  });

  test('applies to the running process without error', () => {
    assert.doesNotThrow(() => tuneHeapGrowth([]));
  });
});

describe('collecting garbage after start-up work', () => {
  test('frees dead old-generation objects that young collections leave alone', () => {
    // ~40 MB of small objects kept alive long enough to be promoted, then dropped.
    let held: Array<{ n: number; s: string }> | undefined = [];
    for (let i = 0; i < 400_000; i++) held.push({ n: i, s: `entry-${i}` });
    const before = process.memoryUsage().heapUsed;
    held = undefined;
    collectGarbage();
    const freed = before - process.memoryUsage().heapUsed;
    assert.ok(freed > 20 * 1024 * 1024, `freed ${(freed / 1048576).toFixed(1)} MiB`);
    assert.equal(held, undefined);
  });

  test('leaves the main context as it was: no global gc', () => {
    collectGarbage();
    assert.equal((globalThis as { gc?: unknown }).gc, undefined);
  });
});
