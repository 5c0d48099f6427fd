import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HEAP_GROWING_PERCENT, heapGrowthFlag, tuneHeapGrowth } from '../../src/server/main.ts';

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
