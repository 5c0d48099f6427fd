/**
 * The targets of the performance issue, judged from one run's summaries.
 * Every target is judged at every connection count measured: a target that
 * holds at one load and not another is a FAIL, not an average.
 */
import {
  f1,
  f2,
  find,
  type PairedRound,
  pairedCpuRatio,
  pairedFailures,
  range,
  type Summary,
  spread,
  type TargetResult,
} from './report.ts';

/** Upstream counts of one broker process. */
export interface BrokerCounts {
  name: string;
  /** JWKS downloads per client IdP index during the process's life. */
  jwksFetches: number[];
  /** Client IdPs whose tokens it was sent. */
  issuersUsed: number;
  brokerTokenRequests: number;
  /** Seconds the process lived. */
  lifetime: number;
  /** Broker-token lifetime granted by the IdP, seconds. */
  tokenTtl: number;
}

/** Everything the targets are judged on. */
export interface TargetInputs {
  summaries: readonly Summary[];
  connections: readonly number[];
  floor: string;
  /** Peak RSS (VmHWM) of the main broker, MiB. */
  brokerPeakMiB: number;
  counts: readonly BrokerCounts[];
  /** Identity-scaling targets, when measured: rounds of the two brokers loaded together. */
  identities?: readonly PairedRound[];
  cliVersionMs: number;
}

const MISSING = Number.NaN;

function ratio(
  inputs: TargetInputs,
  keys: number,
  c: number,
  metric: 'rps' | 'p99' | 'cpuMsPerRequest',
): number {
  const broker = find(inputs.summaries, 'broker', keys, c);
  const floor = find(inputs.summaries, inputs.floor, keys, c);
  return broker && floor ? broker[metric].median / floor[metric].median : MISSING;
}

function throughputTargets(inputs: TargetInputs): TargetResult[] {
  return inputs.connections.map((c) => {
    const t = ratio(inputs, 1, c, 'rps');
    // What the ratio would be if each had the core to itself: floor CPU per request / broker's.
    const capacity = 1 / ratio(inputs, 1, c, 'cpuMsPerRequest');
    return {
      name: `throughput, 1 key, ${c} conns`,
      value: `${f2(t)} × floor (CPU-per-request capacity: ${f2(capacity)} × floor)`,
      limit: '≥ 0.85',
      pass: t >= 0.85,
    };
  });
}

function latencyTargets(inputs: TargetInputs): TargetResult[] {
  return [1, 3].flatMap((keys) =>
    inputs.connections.map((c) => {
      const p = ratio(inputs, keys, c, 'p99');
      const name = `p99 latency, ${keys} key${keys > 1 ? 's' : ''}, ${c} conns`;
      return { name, value: `${f2(p)} × floor`, limit: '≤ 1.5', pass: p <= 1.5 };
    }),
  );
}

/** Cost is CPU per request; the throughput ratio is judged too (it also moves with other tenants' load). */
function threeKeyTargets(inputs: TargetInputs): TargetResult[] {
  return inputs.connections.flatMap((c) => {
    const one = find(inputs.summaries, 'broker', 1, c);
    const three = find(inputs.summaries, 'broker', 3, c);
    const cpu = one && three ? three.cpuMsPerRequest.median / one.cpuMsPerRequest.median : MISSING;
    const slowdown = one && three ? one.rps.median / three.rps.median : MISSING;
    // For reading the verdict: the same ratio of the floor, whose per-key SDK work is the broker's too.
    const floorOne = find(inputs.summaries, inputs.floor, 1, c);
    const floorThree = find(inputs.summaries, inputs.floor, 3, c);
    const floorCpu =
      floorOne && floorThree ? floorThree.cpuMsPerRequest.median / floorOne.cpuMsPerRequest.median : MISSING;
    return [
      {
        name: `3-key mint cost (CPU per request), ${c} conns`,
        value: `${f2(cpu)} × 1-key (the floor: ${f2(floorCpu)} ×)`,
        limit: '< 2',
        pass: cpu < 2,
      },
      {
        name: `3-key mint cost (1-key ÷ 3-key throughput), ${c} conns`,
        value: `${f2(slowdown)} × 1-key`,
        limit: '< 2',
        pass: slowdown < 2,
      },
    ];
  });
}

function loadTargets(inputs: TargetInputs): TargetResult[] {
  return [...throughputTargets(inputs), ...latencyTargets(inputs), ...threeKeyTargets(inputs)];
}

/**
 * The issue speaks of cost: judged on CPU per request and on throughput,
 * each as the median over rounds of the ratio between the two brokers in the
 * same round (loaded together, so both met the same host speed). Alternating
 * runs, minutes apart, moved by more than the 10 % being judged (the
 * 10-identity broker came out 21 % *dearer* than the 10,000-identity one in
 * bench/results/2026-12-04-3.json); they are still in the results table.
 */
export function identityTargets(inputs: Pick<TargetInputs, 'identities'>): TargetResult[] {
  const rounds = inputs.identities;
  if (!rounds) return [];
  const round1 = rounds[0];
  if (!round1) {
    return [{ name: '10 vs 10,000 identities', value: 'no rounds measured', limit: 'measured', pass: false }];
  }
  const failures = pairedFailures(rounds);
  const apart = (ratio: number) => Math.abs(ratio - 1) / Math.max(ratio, 1);
  // 10,000 ÷ 10: above 1 means the larger config costs more (or serves less).
  const cpu = pairedCpuRatio(rounds);
  const rps = spread(rounds.map((r) => r.first.rps / r.second.rps));
  const label = `10 vs 10,000 identities, 1 key, ${round1.connections} conns each, loaded together, ${rounds.length} rounds`;
  return [
    {
      name: `${label}, CPU per request`,
      value: `10,000 ÷ 10: ${range(cpu, f2)}, median ${f1(apart(cpu.median) * 100)}% apart; ${failures} failed answers`,
      limit: '≤ 10% apart, 0 failed',
      pass: apart(cpu.median) <= 0.1 && failures === 0,
    },
    {
      name: `${label}, throughput`,
      value: `10 ÷ 10,000: ${range(rps, f2)}, median ${f1(apart(rps.median) * 100)}% apart`,
      limit: '≤ 10% apart',
      pass: apart(rps.median) <= 0.1,
    },
  ];
}

function upstreamTargets(inputs: TargetInputs): TargetResult[] {
  return inputs.counts.flatMap((c) => {
    const fetched = c.jwksFetches.filter((n) => n > 0).length;
    const most = Math.max(0, ...c.jwksFetches);
    const allowedTokens = Math.max(1, Math.ceil(c.lifetime / c.tokenTtl));
    return [
      {
        name: `JWKS fetches, ${c.name}`,
        value:
          `${c.jwksFetches.reduce((a, b) => a + b, 0)} total, max ${most} per issuer; ${fetched} issuers fetched, ${c.issuersUsed} used by the load` +
          (fetched > c.issuersUsed ? ' (the others prefetched at start-up)' : ''),
        limit: '≤ 1 per issuer',
        // Start-up prefetch of every configured issuer is one fetch each, not a per-request cost.
        pass: most <= 1,
      },
      {
        name: `broker-token requests, ${c.name}`,
        value: `${c.brokerTokenRequests} in ${c.lifetime.toFixed(0)} s (token lifetime ${c.tokenTtl} s)`,
        limit: `≤ ${allowedTokens}`,
        pass: c.brokerTokenRequests <= allowedTokens,
      },
    ];
  });
}

/** Every target, in the order, after the validity check of the runs themselves. */
export function judgeTargets(inputs: TargetInputs): TargetResult[] {
  const failed = inputs.summaries.filter((s) => s.failures > 0);
  return [
    {
      name: 'every measured answer was a 200',
      value:
        failed.length === 0
          ? 'yes'
          : failed.map((s) => `${s.target} ${s.keys}k/${s.connections}c: ${s.failures}`).join('; '),
      limit: '0 failures',
      pass: failed.length === 0,
    },
    ...loadTargets(inputs),
    {
      name: 'peak RSS of the broker (VmHWM)',
      value: `${f1(inputs.brokerPeakMiB)} MiB`,
      limit: '≤ 150 MiB',
      pass: inputs.brokerPeakMiB <= 150,
    },
    ...upstreamTargets(inputs),
    ...identityTargets(inputs),
    {
      name: '`voidkey version` start-up (median)',
      value: `${f1(inputs.cliVersionMs)} ms`,
      limit: '< 300 ms',
      pass: inputs.cliVersionMs < 300,
    },
  ];
}
