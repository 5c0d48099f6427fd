import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SnapshotMemoryStore } from '../../src/server/plugins/rate-limit-memory-store.ts';

type Result = { current: number; ttl: number };

function incr(store: SnapshotMemoryStore, key: string, windowMs = 60_000): Result {
  let out: Result | undefined;
  store.incr(
    key,
    (error, result) => {
      assert.equal(error, null);
      out = result;
    },
    windowMs,
  );
  return out as Result;
}

function read(store: SnapshotMemoryStore, key: string, windowMs = 60_000): Result {
  let out: Result | undefined;
  store.read(
    key,
    (_error, result) => {
      out = result;
    },
    windowMs,
  );
  return out as Result;
}

describe('rate-limit memory store', () => {
  // Regression: the plugin's own store handed every caller one shared record.
  test('answers each increment with its own snapshot, which later increments do not change', () => {
    const store = new SnapshotMemoryStore();
    const answers = [1, 2, 3].map(() => incr(store, 'ip'));
    assert.deepEqual(
      answers.map((a) => a.current),
      [1, 2, 3],
    );
  });

  test('counts keys apart, reads without counting, and starts a new window once one has passed', async () => {
    const store = new SnapshotMemoryStore();
    incr(store, 'a', 30);
    incr(store, 'a', 30);
    assert.equal(incr(store, 'b', 30).current, 1);
    assert.equal(read(store, 'a', 30).current, 2);
    assert.equal(read(store, 'a', 30).current, 2);
    assert.ok(read(store, 'a', 30).ttl <= 30);
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.deepEqual(read(store, 'a', 30), { current: 0, ttl: 0 });
    assert.equal(incr(store, 'a', 30).current, 1);
  });

  test('keeps at most maxKeys windows, dropping the least recently counted', () => {
    const store = new SnapshotMemoryStore({ maxKeys: 2 });
    incr(store, 'a');
    incr(store, 'b');
    incr(store, 'a');
    incr(store, 'c');
    assert.equal(read(store, 'b').current, 0);
    assert.equal(read(store, 'a').current, 2);
    assert.equal(read(store, 'c').current, 1);
  });

  test('gives route-level limits counters of their own', () => {
    const store = new SnapshotMemoryStore();
    incr(store, 'ip');
    const child = store.child() as SnapshotMemoryStore;
    assert.equal(incr(child, 'ip').current, 1);
  });
});
