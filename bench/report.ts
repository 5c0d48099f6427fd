/**
 * From measurements to verdicts: medians with their spread, the rounds of two
 * servers loaded together, the targets, and the Markdown tables the run
 * prints (the ones docs/performance.md quotes).
 */
import type { Measurement } from './measure.ts';

/** One measurement with what it measured. */
export interface Run extends Measurement {
  target: string;
  keys: number;
  connections: number;
  repeat: number;
  /** Why it was measured again and left out of the medians (kept for the record). */
  discarded?: string;
}

/** Share of the server core others may take during a run before it is measured again. */
export const FOREIGN_CPU_LIMIT = 0.05;
/** Times one run is measured again at most. */
export const REMEASURES = 1;

/**
 * Why `m` must be measured again (undefined: it stands), given the retries
 * spent. Unpinned runs (foreignCpu NaN: nobody else's share is known) stand.
 */
export function remeasureReason(m: Pick<Measurement, 'foreignCpu'>, retries: number): string | undefined {
  if (!(m.foreignCpu > FOREIGN_CPU_LIMIT) || retries >= REMEASURES) return undefined;
  return `other tenants took ${m.foreignCpu.toFixed(3)} of the server core (limit ${FOREIGN_CPU_LIMIT})`;
}

/** Median, min and max of one metric. */
export type Spread = { median: number; min: number; max: number };

/** Median (mean of the middle two for even counts), min and max. */
export function spread(values: readonly number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length / 2;
  const median =
    s.length % 2 === 1 ? (s[Math.floor(mid)] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { median, min: s[0] as number, max: s[s.length - 1] as number };
}

/** Medians of one (target, keys, connections) configuration. */
export interface Summary {
  target: string;
  keys: number;
  connections: number;
  n: number;
  rps: Spread;
  p50: Spread;
  p99: Spread;
  cpuMsPerRequest: Spread;
  foreignCpu: number;
  /** Failed answers in every run, discarded ones included (a wrong answer is wrong whoever shared the core). */
  failures: number;
  discarded: number;
}

/** One summary per configuration, in first-seen order; medians of the runs that stand. */
export function summarize(runs: readonly Run[]): Summary[] {
  const groups = new Map<string, Run[]>();
  for (const run of runs) {
    const id = `${run.target}|${run.keys}|${run.connections}`;
    groups.set(id, [...(groups.get(id) ?? []), run]);
  }
  return [...groups.values()].map((all) => {
    const kept = all.filter((r) => r.discarded === undefined);
    const of = (pick: (r: Run) => number) => spread(kept.map(pick));
    const { target, keys, connections } = kept[0] as Run;
    return {
      target,
      keys,
      connections,
      n: kept.length,
      rps: of((r) => r.rps),
      p50: of((r) => r.p50),
      p99: of((r) => r.p99),
      cpuMsPerRequest: of((r) => r.cpuMsPerRequest),
      foreignCpu: of((r) => r.foreignCpu).median,
      failures: all.reduce((sum, r) => sum + r.failures, 0),
      discarded: all.length - kept.length,
    };
  });
}

/** The summary of one configuration, if measured. */
export function find(summaries: readonly Summary[], target: string, keys: number, connections: number) {
  return summaries.find((s) => s.target === target && s.keys === keys && s.connections === connections);
}

/**
 * One round of two servers loaded at the same time on the one server core:
 * both meet the same host speed, which on a shared machine moves by tens of
 * per cent between consecutive runs.
 */
export interface PairedRound {
  round: number;
  /** Connections of each side. */
  connections: number;
  /** The reference side (the floor; the small config). */
  first: PairedSide;
  /** The side compared with it. */
  second: PairedSide;
}

/** One side of a {@link PairedRound}. */
export type PairedSide = { target: string; rps: number; cpuMsPerRequest: number; failures: number };

/** Failed answers of both sides over `rounds`. */
export function pairedFailures(rounds: readonly PairedRound[]): number {
  return rounds.reduce((n, r) => n + r.first.failures + r.second.failures, 0);
}

/** Second ÷ first CPU per request: median and range of the per-round ratios. */
export function pairedCpuRatio(rounds: readonly PairedRound[]): Spread {
  return spread(rounds.map((r) => r.second.cpuMsPerRequest / r.first.cpuMsPerRequest));
}

/** One judged target. */
export type TargetResult = { name: string; value: string; limit: string; pass: boolean };

export const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
export const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : 'n/a');
/** `median (min–max)`. */
export const range = (s: Spread, fmt: (n: number) => string) =>
  `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;

/**
 * A larger config against a smaller one, judged on CPU per request as the
 * median over rounds loaded together: within 10 % either way, no failed answer.
 */
export function pairedTargets(label: string, rounds: readonly PairedRound[]): TargetResult[] {
  const name = `${label}, CPU per request, loaded together`;
  if (rounds.length === 0) return [{ name, value: 'no rounds measured', limit: 'measured', pass: false }];
  const cpu = pairedCpuRatio(rounds);
  const apart = Math.abs(cpu.median - 1) / Math.max(cpu.median, 1);
  const failures = pairedFailures(rounds);
  const value = `${range(cpu, f2)} ×, ${f1(apart * 100)}% apart over ${rounds.length} rounds; ${failures} failed answers`;
  return [judged(name, value, '≤ 10% apart, 0 failed', apart <= 0.1 && failures === 0)];
}

/** The broker ÷ floor CPU ratio loaded together, and the throughput it allows on a core of its own. */
export function floorReference(rounds: readonly PairedRound[]): string {
  if (rounds.length === 0) return 'Broker ÷ floor, loaded together: no rounds measured';
  const cpu = pairedCpuRatio(rounds);
  return (
    `Broker ÷ floor CPU per request, loaded together: ${range(cpu, f3)} over ${rounds.length} rounds, ` +
    `${pairedFailures(rounds)} failed answers; on a core of its own that is ${f2(1 / cpu.median)} × the floor's throughput`
  );
}

/** What the load targets are judged on. */
export type LoadInputs = { summaries: readonly Summary[]; connections: readonly number[] };

type Metric = 'rps' | 'p99' | 'cpuMsPerRequest';

/** Broker ÷ floor of `metric` at (keys, c). */
function ratio(inputs: LoadInputs, keys: number, c: number, metric: Metric): number {
  const broker = find(inputs.summaries, 'broker', keys, c);
  const floor = find(inputs.summaries, 'floor', keys, c);
  return broker && floor ? broker[metric].median / floor[metric].median : Number.NaN;
}

/** Validity, throughput, p99 and 3-key cost, at every connection count (a target held at one load only is a FAIL). */
export function loadTargets(inputs: LoadInputs): TargetResult[] {
  const failed = inputs.summaries.filter((s) => s.failures > 0);
  const failures = failed.map((s) => `${s.target} ${s.keys}k/${s.connections}c: ${s.failures}`).join('; ');
  const out = [judged('every measured answer was a 200', failures || 'yes', '0 failures', failures === '')];
  for (const c of inputs.connections) {
    const t = ratio(inputs, 1, c, 'rps');
    const capacity = 1 / ratio(inputs, 1, c, 'cpuMsPerRequest');
    const value = `${f2(t)} × floor (by CPU per request: ${f2(capacity)} ×)`;
    out.push(judged(`throughput, 1 key, ${c} conns`, value, '≥ 0.80', t >= 0.8));
  }
  for (const keys of [1, 3]) {
    for (const c of inputs.connections) {
      const p = ratio(inputs, keys, c, 'p99');
      out.push(judged(`p99 latency, ${keys} key(s), ${c} conns`, `${f2(p)} × floor`, '≤ 1.5', p <= 1.5));
    }
  }
  for (const c of inputs.connections) {
    const one = find(inputs.summaries, 'broker', 1, c);
    const three = find(inputs.summaries, 'broker', 3, c);
    const cost = one && three ? three.cpuMsPerRequest.median / one.cpuMsPerRequest.median : Number.NaN;
    out.push(judged(`3-key mint CPU per request, ${c} conns`, `${f2(cost)} × 1-key`, '< 2', cost < 2));
  }
  return out;
}

/** Upstream requests of one broker process over its life. */
export function upstreamTargets(
  name: string,
  jwksFetches: readonly number[],
  brokerTokens: number,
  seconds: number,
  ttl: number,
): TargetResult[] {
  const most = Math.max(0, ...jwksFetches);
  const allowed = Math.max(1, Math.ceil(seconds / ttl));
  const fetched = `${jwksFetches.reduce((a, b) => a + b, 0)} total, at most ${most} per issuer`;
  const requested = `${brokerTokens} in ${seconds.toFixed(0)} s (token lifetime ${ttl} s)`;
  return [
    judged(`JWKS fetches, ${name}`, fetched, '≤ 1 per issuer', most <= 1),
    judged(`broker-token requests, ${name}`, requested, `≤ ${allowed}`, brokerTokens <= allowed),
  ];
}

function judged(name: string, value: string, limit: string, pass: boolean): TargetResult {
  return { name, value, limit, pass };
}

/** An upper bound as a target. */
export function atMost(name: string, value: number, limit: number, unit: string): TargetResult {
  return judged(name, `${f1(value)} ${unit}`, `≤ ${f1(limit)} ${unit}`, value <= limit);
}

const table = (head: string, rows: string[]) => [head, head.replace(/[^|]+/g, '---'), ...rows].join('\n');

/** One row per configuration. */
export function resultsTable(summaries: readonly Summary[]): string {
  return table(
    '| target | keys | conns | n | req/s median (min–max) | p50 ms | p99 ms median (min–max) | CPU ms/req median (min–max) | others on server core | re-measured | failed |',
    summaries.map(
      (s) =>
        `| ${s.target} | ${s.keys} | ${s.connections} | ${s.n} | ${range(s.rps, (n) => n.toFixed(0))} | ${f2(s.p50.median)} | ${range(s.p99, f2)} | ${range(s.cpuMsPerRequest, f3)} | ${f2(s.foreignCpu)} | ${s.discarded} | ${s.failures} |`,
    ),
  );
}

/** One row per round of two servers loaded together. */
export function pairedTable(rounds: readonly PairedRound[]): string {
  const [a, b] = [rounds[0]?.first.target ?? 'first', rounds[0]?.second.target ?? 'second'];
  return table(
    `| round | CPU ms/req, ${a} | CPU ms/req, ${b} | ${b} ÷ ${a} | req/s, ${a} | req/s, ${b} | failed |`,
    rounds.map(
      (r) =>
        `| ${r.round} | ${f3(r.first.cpuMsPerRequest)} | ${f3(r.second.cpuMsPerRequest)} | ${f2(r.second.cpuMsPerRequest / r.first.cpuMsPerRequest)} | ${r.first.rps.toFixed(0)} | ${r.second.rps.toFixed(0)} | ${r.first.failures + r.second.failures} |`,
    ),
  );
}

/** The verdicts. */
export function targetsTable(targets: readonly TargetResult[]): string {
  return table(
    '| target | measured | required | verdict |',
    targets.map((t) => `| ${t.name} | ${t.value} | ${t.limit} | ${t.pass ? 'PASS' : 'FAIL'} |`),
  );
}
