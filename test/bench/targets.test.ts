import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  floorReference,
  loadTargets,
  type PairedRound,
  pairedCpuRatio,
  pairedTargets,
  type Spread,
  type Summary,
} from '../../bench/report.ts';

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

const LABEL = '10 vs 10,000 exact subjects';

describe('identity-count target (paired rounds)', () => {
  test('passes when the median round is within 10 %, whatever one outlier round says', () => {
    const results = pairedTargets(LABEL, rounds([1.02, 0.97, 1.6, 1.05, 0.99, 1.04]));
    assert.equal(results.length, 1);
    assert.ok(
      results.every((r) => r.pass),
      JSON.stringify(results),
    );
    assert.match(results[0]?.value ?? '', /^1\.03 \(0\.97–1\.60\) ×, 2\.9% apart over 6 rounds; 0 failed/);
  });

  test('fails when the larger config costs more than 10 % in the median round', () => {
    const [cpu] = pairedTargets(LABEL, rounds([1.15, 1.12, 1.2]));
    assert.equal(cpu?.pass, false);
  });

  test('fails on a cheaper larger config too: the target is "within 10 %", both ways', () => {
    const [cpu] = pairedTargets(LABEL, rounds([0.8, 0.85, 0.82]));
    assert.equal(cpu?.pass, false);
  });

  test('fails when a measured answer failed, or when nothing was measured', () => {
    assert.equal(pairedTargets(LABEL, rounds([1, 1, 1], 3))[0]?.pass, false);
    const [none] = pairedTargets(LABEL, []);
    assert.equal(none?.pass, false);
    assert.equal(none?.value, 'no rounds measured');
  });
});

describe('load targets (alternating runs against the floor)', () => {
  const one = (n: number): Spread => ({ median: n, min: n, max: n });
  function summary(
    target: string,
    keys: number,
    connections: number,
    rps: number,
    p99: number,
    cpu: number,
  ): Summary {
    return {
      target,
      keys,
      connections,
      n: 3,
      rps: one(rps),
      p50: one(p99 / 2),
      p99: one(p99),
      cpuMsPerRequest: one(cpu),
      foreignCpu: 0,
      failures: 0,
      discarded: 0,
    };
  }
  /** Broker and floor at 1 and 3 keys, 10 and 50 connections; the broker's 1-key throughput at 50 is `rps50`. */
  function summaries(rps50: number): Summary[] {
    return [10, 50].flatMap((c) => [
      summary('broker', 1, c, c === 50 ? rps50 : 900, 12, 1.1),
      summary('floor', 1, c, 1000, 10, 1),
      summary('broker', 3, c, 500, 14, 2.0),
      summary('floor', 3, c, 550, 12, 1.8),
    ]);
  }
  const verdict = (rps50: number, name: string) =>
    loadTargets({ summaries: summaries(rps50), connections: [10, 50] }).find((t) => t.name === name)?.pass;

  test('1-key throughput passes at 0.80 × the floor and fails below, at each connection count', () => {
    assert.equal(verdict(800, 'throughput, 1 key, 50 conns'), true);
    assert.equal(verdict(799, 'throughput, 1 key, 50 conns'), false);
    assert.equal(verdict(799, 'throughput, 1 key, 10 conns'), true);
  });

  test('judges p99 against 1.5 × the floor and the 3-key CPU against 2 × 1-key', () => {
    const all = loadTargets({ summaries: summaries(900), connections: [10, 50] });
    assert.ok(
      all.every((t) => t.pass),
      JSON.stringify(all.filter((t) => !t.pass)),
    );
    assert.equal(all.filter((t) => t.name.startsWith('p99')).length, 4);
    const slow = summaries(900).map((s) =>
      s.target === 'broker' && s.keys === 3 ? { ...s, p99: one(18.1) } : s,
    );
    assert.equal(
      loadTargets({ summaries: slow, connections: [10, 50] }).find(
        (t) => t.name === 'p99 latency, 3 key(s), 10 conns',
      )?.pass,
      false,
    );
  });

  test('a failed answer anywhere fails the validity target, and a missing side is not a pass', () => {
    const failing = summaries(900).map((s, i) => (i === 0 ? { ...s, failures: 2 } : s));
    assert.equal(loadTargets({ summaries: failing, connections: [10, 50] })[0]?.pass, false);
    const missing = loadTargets({
      summaries: summaries(900).filter((s) => s.target !== 'floor'),
      connections: [10],
    });
    assert.equal(missing.find((t) => t.name === 'throughput, 1 key, 10 conns')?.pass, false);
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
