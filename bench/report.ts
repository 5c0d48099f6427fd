/**
 * Turning repeated measurements into medians with their spread, judging the
 * targets of the performance issue, and printing both as Markdown tables
 * (the same tables docs/performance.md quotes).
 */
import type { Measurement } from './measure.ts';

/** One measurement with what it measured. */
export interface Run extends Measurement {
  phase: 'matrix' | 'variants';
  target: string;
  keys: number;
  connections: number;
  repeat: number;
  /** Why the run was measured again and left out of the medians (kept in the results for the record). */
  discarded?: string;
}

/**
 * Share of the server core other tenants (other processes, and the
 * hypervisor's steal time) may take during a run before it is measured
 * again: above it, the run measured the neighbours as much as the server.
 */
export const FOREIGN_CPU_LIMIT = 0.05;

/** Times one run is measured again when others took more than {@link FOREIGN_CPU_LIMIT} of the server core. */
export const REMEASURES = 2;

/**
 * Why `m` must be measured again (undefined: it stands), given the retries
 * already spent. Unpinned runs (foreignCpu NaN: nobody else's share can be
 * told apart) always stand.
 */
export function remeasureReason(
  m: Pick<Measurement, 'foreignCpu'>,
  retriesSpent: number,
): string | undefined {
  if (!(m.foreignCpu > FOREIGN_CPU_LIMIT) || retriesSpent >= REMEASURES) return undefined;
  return `other tenants took ${m.foreignCpu.toFixed(3)} of the server core (limit ${FOREIGN_CPU_LIMIT})`;
}

/**
 * One round of two servers loaded at the same time on the one server core
 * (the 10- and the 10,000-identity broker; the floor and the broker): each
 * one's CPU per answered request and throughput in that round. Both meet the
 * same host speed, which on a shared machine moves by tens of per cent
 * between consecutive runs.
 */
export interface PairedRound {
  round: number;
  /** Connections of each side. */
  connections: number;
  /** The reference side (the 10-identity broker; the floor). */
  first: PairedSide;
  /** The side compared with it (the 10,000-identity broker; the broker). */
  second: PairedSide;
}

/** One side of a {@link PairedRound}. */
export interface PairedSide {
  target: string;
  rps: number;
  cpuMsPerRequest: number;
  failures: number;
}

/** Failed answers of both sides over `rounds`. */
export function pairedFailures(rounds: readonly PairedRound[]): number {
  return rounds.reduce((n, r) => n + r.first.failures + r.second.failures, 0);
}

/** Second ÷ first CPU per request over `rounds` (median and range of the per-round ratios). */
export function pairedCpuRatio(rounds: readonly PairedRound[]): Spread {
  return spread(rounds.map((r) => r.second.cpuMsPerRequest / r.first.cpuMsPerRequest));
}

/** Median and range of one metric. */
export interface Spread {
  median: number;
  min: number;
  max: number;
}

/** Medians of one (target, keys, connections) configuration. */
export interface Summary {
  phase: Run['phase'];
  target: string;
  keys: number;
  connections: number;
  n: number;
  rps: Spread;
  p50: Spread;
  p99: Spread;
  cpuMsPerRequest: Spread;
  serverCpu: number;
  peersCpu: number;
  loadgenCpu: number;
  foreignCpu: number;
  loadCoreBusy: number;
  failures: number;
  /** Runs measured again because other tenants shared the server core (not in the medians). */
  discarded: number;
}

/** One judged target. */
export interface TargetResult {
  name: string;
  value: string;
  limit: string;
  pass: boolean;
}

/** Median (mean of the middle two for even counts), min and max. */
export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median =
    sorted.length % 2 === 1
      ? (sorted[Math.floor(mid)] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { median, min: sorted[0] as number, max: sorted[sorted.length - 1] as number };
}

/**
 * One summary per configuration, in first-seen order. Medians are of the
 * runs that stand; failed answers are counted in every run, discarded ones
 * included (a wrong answer is wrong whoever shared the core).
 */
export function summarize(runs: readonly Run[]): Summary[] {
  const groups = new Map<string, Run[]>();
  for (const run of runs) {
    const id = `${run.phase}|${run.target}|${run.keys}|${run.connections}`;
    groups.set(id, [...(groups.get(id) ?? []), run]);
  }
  return [...groups.values()].map((all) => {
    const group = all.filter((r) => r.discarded === undefined);
    const first = group[0] as Run;
    const of = (pick: (r: Run) => number) => spread(group.map(pick));
    return {
      phase: first.phase,
      target: first.target,
      keys: first.keys,
      connections: first.connections,
      n: group.length,
      rps: of((r) => r.rps),
      p50: of((r) => r.p50),
      p99: of((r) => r.p99),
      cpuMsPerRequest: of((r) => r.cpuMsPerRequest),
      serverCpu: of((r) => r.serverCpu).median,
      peersCpu: of((r) => r.peersCpu).median,
      loadgenCpu: of((r) => r.loadgenCpu).median,
      foreignCpu: of((r) => r.foreignCpu).median,
      loadCoreBusy: of((r) => r.loadCoreBusy).median,
      failures: all.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0),
      discarded: all.length - group.length,
    };
  });
}

/** The summary of one configuration, if measured. */
export function find(
  summaries: readonly Summary[],
  target: string,
  keys: number,
  connections: number,
): Summary | undefined {
  return summaries.find((s) => s.target === target && s.keys === keys && s.connections === connections);
}

const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');
const f3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : 'n/a');
/** `median (min–max)`, each number formatted by `fmt`. */
const range = (s: Spread, fmt: (n: number) => string) => `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;

/** The throughput/latency table: one row per configuration. */
export function resultsTable(summaries: readonly Summary[]): string {
  const head =
    '| target | keys | conns | n | req/s median (min–max) | p50 ms | p99 ms median (min–max) | CPU ms/req median (min–max) | server CPU | other tenants on server core | load core busy | re-measured | failed |';
  const rule = '|---|---|---|---|---|---|---|---|---|---|---|---|---|';
  const rows = summaries.map(
    (s) =>
      `| ${s.target} | ${s.keys} | ${s.connections} | ${s.n} | ${range(s.rps, (n) => n.toFixed(0))} | ${f2(s.p50.median)} | ${range(s.p99, f2)} | ${range(s.cpuMsPerRequest, f3)} | ${f2(s.serverCpu)} | ${f2(s.foreignCpu)} | ${f2(s.loadCoreBusy)} | ${s.discarded} | ${s.failures} |`,
  );
  return [head, rule, ...rows].join('\n');
}

/** Broker/floor ratios of throughput and p99 per measured configuration. */
export function ratioRows(summaries: readonly Summary[], floor: string): Array<Record<string, number>> {
  const out: Array<Record<string, number>> = [];
  for (const broker of summaries.filter((s) => s.target === 'broker')) {
    const base = find(summaries, floor, broker.keys, broker.connections);
    if (!base) continue;
    out.push({
      keys: broker.keys,
      connections: broker.connections,
      throughput: broker.rps.median / base.rps.median,
      p99: broker.p99.median / base.p99.median,
      p50: broker.p50.median / base.p50.median,
      cpuPerRequest: broker.cpuMsPerRequest.median / base.cpuMsPerRequest.median,
    });
  }
  return out;
}

/** The ratio table against `floor`. */
export function ratioTable(summaries: readonly Summary[], floor: string): string {
  const rows = ratioRows(summaries, floor).map(
    (r) =>
      `| ${r.keys} | ${r.connections} | ${f2(r.throughput ?? Number.NaN)} | ${f2(r.p50 ?? Number.NaN)} | ${f2(r.p99 ?? Number.NaN)} | ${f2(r.cpuPerRequest ?? Number.NaN)} |`,
  );
  return [
    `| keys | conns | throughput broker/${floor} | p50 broker/${floor} | p99 broker/${floor} | CPU per request broker/${floor} |`,
    '|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** The targets table. */
export function targetsTable(targets: readonly TargetResult[]): string {
  const rows = targets.map((t) => `| ${t.name} | ${t.value} | ${t.limit} | ${t.pass ? 'PASS' : 'FAIL'} |`);
  return ['| target | measured | required | verdict |', '|---|---|---|---|', ...rows].join('\n');
}

export { f1, f2, f3, range };
