import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Measurement } from '../../bench/measure.ts';
import { FOREIGN_CPU_LIMIT, REMEASURES, type Run, remeasureReason, summarize } from '../../bench/report.ts';

function measurement(rps: number, fields: Partial<Measurement> = {}): Measurement {
  return {
    rps,
    p50: 10,
    p99: 30,
    failures: 0,
    serverCpu: 0.95,
    cpuMsPerRequest: 950 / rps,
    foreignCpu: 0.01,
    ...fields,
  };
}

function run(repeat: number, m: Measurement, discarded?: string): Run {
  return {
    target: 'broker',
    keys: 1,
    connections: 10,
    repeat,
    ...m,
    ...(discarded && { discarded }),
  };
}

describe('runs shared with other tenants', () => {
  test('a run stands when others took at most the limit, or when the retries are spent', () => {
    assert.equal(remeasureReason({ foreignCpu: FOREIGN_CPU_LIMIT }, 0), undefined);
    assert.equal(remeasureReason({ foreignCpu: 0.25 }, REMEASURES), undefined);
    // Not pinned: nobody else's share is known, so nothing is measured again.
    assert.equal(remeasureReason({ foreignCpu: Number.NaN }, 0), undefined);
  });

  test('a run is measured again when others took more, with the share in the reason', () => {
    assert.equal(
      remeasureReason({ foreignCpu: 0.25 }, 0),
      `other tenants took 0.250 of the server core (limit ${FOREIGN_CPU_LIMIT})`,
    );
    assert.ok(remeasureReason({ foreignCpu: 0.06 }, REMEASURES - 1));
  });

  test('discarded runs are left out of the medians but their failed answers still count', () => {
    const runs = [
      run(0, measurement(1000)),
      run(1, measurement(300, { failures: 4, foreignCpu: 0.3 }), 'shared'),
      run(1, measurement(1100)),
      run(2, measurement(1200)),
    ];
    const [summary] = summarize(runs);
    assert.ok(summary);
    assert.equal(summary.n, 3);
    assert.equal(summary.discarded, 1);
    assert.deepEqual(summary.rps, { median: 1100, min: 1000, max: 1200 });
    assert.equal(summary.foreignCpu, 0.01);
    assert.equal(summary.failures, 4);
  });
});
