/**
 * The targets of the performance issue, judged from one run's summaries.
 * Every target is judged at every connection count measured: a target that
 * holds at one load and not another is a FAIL, not an average.
 */
import { f1, f2, find, type Summary, type TargetResult } from './report.ts';

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
  /** Identity-scaling targets, when measured. */
  identities?: { small: string; large: string; connections: number };
  cliVersionMs: number;
}

const MISSING = Number.NaN;

function ratio(inputs: TargetInputs, keys: number, c: number, metric: 'rps' | 'p99'): number {
  const broker = find(inputs.summaries, 'broker', keys, c);
  const floor = find(inputs.summaries, inputs.floor, keys, c);
  return broker && floor ? broker[metric].median / floor[metric].median : MISSING;
}

function loadTargets(inputs: TargetInputs): TargetResult[] {
  const out: TargetResult[] = [];
  for (const c of inputs.connections) {
    const t = ratio(inputs, 1, c, 'rps');
    out.push({
      name: `throughput, 1 key, ${c} conns`,
      value: `${f2(t)} × floor`,
      limit: '≥ 0.85',
      pass: t >= 0.85,
    });
  }
  for (const keys of [1, 3]) {
    for (const c of inputs.connections) {
      const p = ratio(inputs, keys, c, 'p99');
      const name = `p99 latency, ${keys} key${keys > 1 ? 's' : ''}, ${c} conns`;
      out.push({ name, value: `${f2(p)} × floor`, limit: '≤ 1.5', pass: p <= 1.5 });
    }
  }
  for (const c of inputs.connections) {
    const one = find(inputs.summaries, 'broker', 1, c);
    const three = find(inputs.summaries, 'broker', 3, c);
    const cost = one && three ? one.rps.median / three.rps.median : MISSING;
    const cpu = one && three ? three.cpuMsPerRequest.median / one.cpuMsPerRequest.median : MISSING;
    out.push({
      name: `3-key mint cost, ${c} conns`,
      value: `${f2(cost)} × 1-key (throughput); ${f2(cpu)} × (CPU ms/req)`,
      limit: '< 2 (throughput)',
      pass: cost < 2,
    });
  }
  return out;
}

function identityTarget(inputs: TargetInputs): TargetResult[] {
  const spec = inputs.identities;
  if (!spec) return [];
  const small = find(inputs.summaries, spec.small, 1, spec.connections);
  const large = find(inputs.summaries, spec.large, 1, spec.connections);
  const a = small?.rps.median ?? MISSING;
  const b = large?.rps.median ?? MISSING;
  const diff = Math.abs(a - b) / Math.max(a, b);
  return [
    {
      name: `10 vs 10,000 identities, 1 key, ${spec.connections} conns`,
      value: `${a.toFixed(0)} vs ${b.toFixed(0)} req/s (${f1(diff * 100)}% apart)`,
      limit: '≤ 10% apart',
      pass: diff <= 0.1,
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
        value: `${c.jwksFetches.reduce((a, b) => a + b, 0)} total; ${fetched} issuers fetched of ${c.issuersUsed} used; max ${most} per issuer`,
        limit: '≤ 1 per issuer used',
        pass: most <= 1 && fetched <= c.issuersUsed,
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

/** Every target, in the order. */
export function judgeTargets(inputs: TargetInputs): TargetResult[] {
  return [
    ...loadTargets(inputs),
    {
      name: 'peak RSS of the broker (VmHWM)',
      value: `${f1(inputs.brokerPeakMiB)} MiB`,
      limit: '≤ 150 MiB',
      pass: inputs.brokerPeakMiB <= 150,
    },
    ...upstreamTargets(inputs),
    ...identityTarget(inputs),
    {
      name: '`voidkey version` start-up (median)',
      value: `${f1(inputs.cliVersionMs)} ms`,
      limit: '< 300 ms',
      pass: inputs.cliVersionMs < 300,
    },
  ];
}
