import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isoTime } from '../../src/core/iso-time.ts';

describe('isoTime', () => {
  test('is toISOString for every instant of the years 1000–9999', () => {
    const first = Date.UTC(1000, 0, 1);
    const last = Date.UTC(10_000, 0, 1) - 1;
    fc.assert(
      fc.property(fc.integer({ min: first, max: last }), (ms) => {
        const date = new Date(ms);
        assert.equal(isoTime(date), date.toISOString());
      }),
      { numRuns: 20_000 },
    );
  });

  test('is toISOString at the edges: padding, leap days, the ends of the four-digit years', () => {
    for (const ms of [
      0,
      Date.UTC(2024, 1, 29, 9, 5, 7, 9),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(2027, 0, 1, 0, 0, 0, 10),
      Date.UTC(1000, 0, 1),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
    ]) {
      assert.equal(isoTime(new Date(ms)), new Date(ms).toISOString());
    }
  });

  test('leaves other years and invalid dates to toISOString', () => {
    for (const ms of [Date.UTC(999, 11, 31, 23, 59, 59, 999), Date.UTC(10_000, 0, 1), -8.64e15, 8.64e15]) {
      assert.equal(isoTime(new Date(ms)), new Date(ms).toISOString());
    }
    assert.throws(() => isoTime(new Date(Number.NaN)), RangeError);
  });
});
