/**
 * Where a run's numbers go: Markdown tables on stdout (the ones
 * docs/performance.md quotes) and the whole result as JSON in bench/results/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliStartup } from './cli-startup.ts';
import type { PeerStats } from './peers.ts';
import {
  f2,
  f3,
  type PairedRound,
  pairedCpuRatio,
  pairedFailures,
  range,
  ratioTable,
  resultsTable,
  type Summary,
  type TargetResult,
  targetsTable,
} from './report.ts';

const RESULTS = resolve(dirname(fileURLToPath(import.meta.url)), 'results');

/** What a full or quick run reports. */
export interface RunReport {
  summaries: Summary[];
  targets: TargetResult[];
  /** The 10- and 10,000-identity brokers loaded together, round by round. */
  identityRounds: PairedRound[];
  /** The floor and the broker (1 key) loaded together, round by round. */
  floorRounds: PairedRound[];
  memory: Record<string, Record<string, number>>;
  cli: CliStartup;
  logging: {
    lines: number;
    levels: Record<string, number>;
    messages?: Record<string, number>;
    atInfo?: { lines: number; levels: Record<string, number>; messages: Record<string, number> } | undefined;
  };
  peers: PeerStats;
}

/** Prints the tables and the one-line facts of `result` to stdout. */
export function printReport(result: RunReport): void {
  const out = [
    '## Throughput and latency',
    resultsTable(result.summaries),
    '',
    '## Ratios against the floor (AWS SDK)',
    ratioTable(result.summaries, 'floor'),
    '',
    '## Ratios against the raw floor (undici, no SDK)',
    ratioTable(result.summaries, 'floor-raw'),
    '',
    '## Broker vs floor, 1 key, loaded together (reference: CPU per request at one host speed)',
    pairedTable(result.floorRounds, ['floor', 'broker']),
    '',
    floorReference(result.floorRounds),
    '',
    '## 10 vs 10,000 identities, loaded together',
    pairedTable(result.identityRounds, ['10', '10,000']),
    '',
    '## Targets',
    targetsTable(result.targets),
    '',
    `Peak RSS (VmHWM, MiB): ${JSON.stringify(result.memory)}`,
    `CLI (ms, median): node -e 0 ${result.cli.node.median.toFixed(1)}, version ${result.cli.version.median.toFixed(1)}, mint ${result.cli.mint.median.toFixed(1)} (exit codes ${result.cli.mint.exitCodes.join(',')})`,
    `Broker output during the run: ${result.logging.lines} lines, by pino level ${JSON.stringify(result.logging.levels)}`,
    `Broker at logging.level info: ${result.logging.atInfo?.lines ?? 'n/a'} lines, by pino level ${JSON.stringify(result.logging.atInfo?.levels ?? {})}, by msg ${JSON.stringify(result.logging.atInfo?.messages ?? {})}`,
    `STS peer: ${result.peers.stsRequests} requests, ${result.peers.stsTokenVerifications} broker-token verifications, ${result.peers.stsJwksFetches} JWKS fetches`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

/** One row per round: each side's CPU per request and throughput, and second ÷ first. */
function pairedTable(rounds: readonly PairedRound[], [a, b]: readonly [string, string]): string {
  const rows = rounds.map(
    (r) =>
      `| ${r.round} | ${r.first.cpuMsPerRequest.toFixed(3)} | ${r.second.cpuMsPerRequest.toFixed(3)} | ${(r.second.cpuMsPerRequest / r.first.cpuMsPerRequest).toFixed(2)} | ${r.first.rps.toFixed(0)} | ${r.second.rps.toFixed(0)} | ${r.first.failures + r.second.failures} |`,
  );
  return [
    `| round | CPU ms/req, ${a} | CPU ms/req, ${b} | ${b} ÷ ${a} | req/s, ${a} | req/s, ${b} | failed |`,
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/**
 * The paired broker ÷ floor CPU ratio, and the throughput it would allow on
 * a core the server has to itself (its inverse), beside the 0.85 target.
 */
export function floorReference(rounds: readonly PairedRound[]): string {
  if (rounds.length === 0) return 'Broker ÷ floor, loaded together: no rounds measured';
  const cpu = pairedCpuRatio(rounds);
  const failures = pairedFailures(rounds);
  return (
    `Broker ÷ floor CPU per request, loaded together: ${range(cpu, f3)} over ${rounds.length} rounds, ${failures} failed answers; ` +
    `on a core of its own that is ${f2(1 / cpu.median)} × the floor's throughput (target ≥ 0.85, judged on the alternating runs above)`
  );
}

/** Writes `data` to bench/results/NAME.json; returns the path. */
export async function writeResults(name: string, data: unknown): Promise<string> {
  await mkdir(RESULTS, { recursive: true });
  // Never over an earlier run of the same day: <name>.json, then <name>-2.json, …
  for (let n = 1; ; n++) {
    const path = join(RESULTS, n === 1 ? `${name}.json` : `${name}-${n}.json`);
    try {
      await writeFile(path, `${JSON.stringify(data, null, 2)}\n`, { flag: 'wx' });
      return path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
