import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createFederatedCache, FEDERATED_MARGIN_MS } from '../../../src/providers/gcp/federated-cache.ts';

describe('federated token cache', () => {
  test('serves a token until the margin before its expiry, then forgets it', () => {
    let now = 1_000_000;
    const cache = createFederatedCache(() => now);
    cache.set('broker-a', 'fed-a', 3600);
    assert.equal(cache.get('broker-a'), 'fed-a');
    assert.equal(cache.get('broker-b'), undefined);
    now += 3600_000 - FEDERATED_MARGIN_MS - 1;
    assert.equal(cache.get('broker-a'), 'fed-a');
    now += 1;
    assert.equal(cache.get('broker-a'), undefined);
  });

  test('counts the lifetime from when the exchange was sent', () => {
    const cache = createFederatedCache(() => 5_000_000);
    cache.set('broker', 'fed', 120, 5_000_000 - 61_000);
    assert.equal(cache.get('broker'), undefined);
  });

  test('drop forgets one entry and the cache keeps at most eight', () => {
    const cache = createFederatedCache(() => 0);
    for (let i = 0; i < 9; i++) cache.set(`broker-${i}`, `fed-${i}`, 3600);
    assert.equal(cache.get('broker-0'), undefined);
    assert.equal(cache.get('broker-1'), 'fed-1');
    assert.equal(cache.get('broker-8'), 'fed-8');
    cache.drop('broker-8');
    assert.equal(cache.get('broker-8'), undefined);
    assert.equal(cache.get('broker-7'), 'fed-7');
  });
});
