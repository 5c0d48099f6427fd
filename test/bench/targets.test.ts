import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { floorReference } from '../../bench/output.ts';
import { type PairedRound, pairedCpuRatio } from '../../bench/report.ts';
import { identityTargets } from '../../bench/targets.ts';

/** Rounds whose 10,000-identity side costs `ratios[i]` × the 10-identity side. */
function rounds(ratios: number[], failures = 0): PairedRound[] {
  return ratios.map((ratio, i) => ({
    round: i + 1,
    connections: 25,
    first: { target: 'broker-10-identities', rps: 1000, cpuMsPerRequest: 0.5, failures },
    second: {
      target: 'broker-10000-identities',
      rps: 1000 / ratio,
      cpuMsPerRequest: 0.5 * ratio,
      failures: 0,
    },
  }));
}

describe('identity-count target (paired rounds)', () => {
  test('passes when the median round is within 10 %, whatever one outlier round says', () => {
    const results = identityTargets({ identities: rounds([1.02, 0.97, 1.6, 1.05, 0.99, 1.04]) });
    assert.equal(results.length, 2);
    assert.ok(
      results.every((r) => r.pass),
      JSON.stringify(results),
    );
    assert.match(results[0]?.value ?? '', /^10,000 ÷ 10: 1\.03 \(0\.97–1\.60\)/);
  });

  test('fails when the larger config costs more than 10 % in the median round', () => {
    const [cpu, rps] = identityTargets({ identities: rounds([1.15, 1.12, 1.2]) });
    assert.equal(cpu?.pass, false);
    assert.equal(rps?.pass, false);
  });

  test('fails on a cheaper larger config too: the target is "within 10 %", both ways', () => {
    const [cpu] = identityTargets({ identities: rounds([0.8, 0.85, 0.82]) });
    assert.equal(cpu?.pass, false);
  });

  test('fails when a measured answer failed, or when nothing was measured', () => {
    assert.equal(identityTargets({ identities: rounds([1, 1, 1], 3) })[0]?.pass, false);
    const [none] = identityTargets({ identities: [] });
    assert.equal(none?.pass, false);
    assert.deepEqual(identityTargets({}), []);
  });
});

describe('broker against floor, loaded together (reference line)', () => {
  /** Rounds whose broker side costs `ratios[i]` × the floor's CPU per request. */
  function floorRounds(ratios: number[]): PairedRound[] {
    return ratios.map((ratio, i) => ({
      round: i + 1,
      connections: 25,
      first: { target: 'floor', rps: 800, cpuMsPerRequest: 0.6, failures: 0 },
      second: { target: 'broker', rps: 800 / ratio, cpuMsPerRequest: 0.6 * ratio, failures: 0 },
    }));
  }

  test('reports the median per-round ratio, broker over floor, and its inverse as throughput', () => {
    const rounds = floorRounds([1.25, 1.1, 1.18, 1.3, 1.2]);
    assert.deepEqual(
      Object.fromEntries(Object.entries(pairedCpuRatio(rounds)).map(([k, v]) => [k, Number(v.toFixed(3))])),
      { median: 1.2, min: 1.1, max: 1.3 },
    );
    assert.match(
      floorReference(rounds),
      /: 1\.200 \(1\.100–1\.300\) over 5 rounds, 0 failed answers; .* 0\.83 × the floor's throughput/,
    );
  });

  test('says so when no round was measured', () => {
    assert.match(floorReference([]), /no rounds measured/);
  });
});
