/**
 * `npm run bench [-- --quick] [--dist DIR] [--out FILE]`: a build of the
 * broker against the floor, in one run on one machine, reported as ratios.
 *
 * CPU layout (≥ 2 cores, taskset): the servers under test on the last CPU,
 * this process (autocannon) and the peers on CPU 0. Broker and floor are
 * measured alternately, `repeats` times each, and reported as median
 * (min–max); then pairs of servers are loaded together, round by round.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Config } from '../src/core/config/schema.ts';
import { compilePolicy } from '../src/core/policy/index.ts';
import { cleanEnv, runToEnd } from '../test/helpers/process.ts';
import {
  benchConfig,
  idpName,
  KEY_NAMES,
  POPULATIONS,
  type PopulationName,
  tokenIdentity,
} from './config.ts';
import {
  type CpuPlan,
  type LoadOptions,
  type Measurement,
  measure,
  memoryMiB,
  pin,
  planCpus,
  warmUp,
} from './measure.ts';
import {
  atMost,
  floorReference,
  loadTargets,
  type PairedRound,
  pairedTable,
  pairedTargets,
  type Run,
  remeasureReason,
  resultsTable,
  spread,
  summarize,
  type TargetResult,
  targetsTable,
  upstreamTargets,
} from './report.ts';
import {
  checkServer,
  DEFAULT_DIST,
  type Peers,
  type Server,
  serveCodeSeconds,
  startBroker,
  startFloor,
  startPeers,
} from './servers.ts';

const IDPS = 20;
const IDENTITIES = 500;
const TOKENS = 3000;

/** A broker config started beside the main one, with its own limits. */
interface Variant {
  name: string;
  population: PopulationName;
  identities: number;
  /** Start (config load to ready: spawn to ready less loading the serve command) at most this many seconds. */
  maxStartSeconds?: number;
  /** Peak RSS no higher than this other variant's. */
  maxPeakOf?: string;
}

/**
 * The scale targets: each variant is started on its own, and each comparison
 * loads its two variants together and judges CPU per request within 10 %.
 * A new population (config.ts) gets its target with one entry in each.
 */
const VARIANTS: Variant[] = [
  { name: 'broker-10', population: 'exact', identities: 10 },
  { name: 'broker-10000', population: 'exact', identities: 10_000 },
  {
    name: 'broker-mixed',
    population: 'mixed',
    identities: 10_000,
    maxStartSeconds: 2,
    maxPeakOf: 'broker-10000',
  },
];
const COMPARISONS = [
  { label: '10 vs 10,000 exact subjects', reference: 'broker-10', scaled: 'broker-10000' },
  { label: '10 exact vs 10,000 mixed identities', reference: 'broker-10', scaled: 'broker-mixed' },
];

/** Seconds per measurement and warm-up, repeats of each alternating run, rounds of each pair. */
const PLANS = {
  quick: { mode: 'quick', duration: 3, warmup: 1, repeats: 1, connections: [10], rounds: 3, cliRuns: 5 },
  full: { mode: 'full', duration: 6, warmup: 2, repeats: 3, connections: [10, 50], rounds: 6, cliRuns: 10 },
};
type Plan = (typeof PLANS)['full'];

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

interface Context {
  plan: Plan;
  cpu: CpuPlan;
  dir: string;
  dist: string;
  peers: Peers;
  runs: Run[];
  /** The identity-scale variants this run measures (a build from before claim rules cannot load `mixed`). */
  variants: Variant[];
}

interface Target {
  server: Server;
  tokens: string[];
  keys: number;
}

const loadOf = (ctx: Context, t: Target, connections: number): LoadOptions => ({
  url: t.server.url,
  tokens: t.tokens,
  keys: KEY_NAMES.slice(0, t.keys),
  connections,
  duration: ctx.plan.duration,
});

const show = (m: Measurement) =>
  `${m.rps.toFixed(0)} req/s p99 ${m.p99.toFixed(2)} ms ${m.cpuMsPerRequest.toFixed(3)} CPU ms/req others ${m.foreignCpu.toFixed(2)} failed ${m.failures}`;

/**
 * Warms each target, then measures them in rotating order, `repeats` times,
 * so the comparisons between them meet the same drift of the host. A run
 * during which others took more than a small share of the server core is
 * measured again (report.ts remeasureReason); the discarded one stays, marked.
 */
async function alternate(ctx: Context, targets: Target[], connections: number): Promise<void> {
  for (const t of targets) await warmUp({ ...loadOf(ctx, t, connections), duration: ctx.plan.warmup });
  for (let repeat = 0; repeat < ctx.plan.repeats; repeat++) {
    for (let i = 0; i < targets.length; i++) {
      const t = targets[(i + repeat) % targets.length] as Target;
      for (let retries = 0; ; retries++) {
        const m = await measure(loadOf(ctx, t, connections), t.server.pid, ctx.cpu.server);
        const discarded = remeasureReason(m, retries);
        const run = { target: t.server.name, keys: t.keys, connections, repeat, ...m };
        ctx.runs.push(discarded ? { ...run, discarded } : run);
        log(
          `${t.server.name} keys=${t.keys} c=${connections} #${repeat + 1}: ${show(m)}${discarded ? ` (again: ${discarded})` : ''}`,
        );
        if (!discarded) break;
      }
    }
  }
}

/** Rounds of `first` and `second` loaded at the same time, half the connections each. */
async function paired(
  ctx: Context,
  first: Target,
  second: Target,
  connections: number,
): Promise<PairedRound[]> {
  const each = Math.max(1, Math.round(connections / 2));
  const rounds: PairedRound[] = [];
  for (let round = 1; round <= ctx.plan.rounds; round++) {
    const [a, b] = (await Promise.all(
      [first, second].map((t) => measure(loadOf(ctx, t, each), t.server.pid, ctx.cpu.server)),
    )) as [Measurement, Measurement];
    const side = (t: Target, m: Measurement) => ({
      target: t.server.name,
      rps: m.rps,
      cpuMsPerRequest: m.cpuMsPerRequest,
      failures: m.failures,
    });
    rounds.push({ round, connections: each, first: side(first, a), second: side(second, b) });
    log(`paired #${round}: ${first.server.name} ${show(a)}; ${second.server.name} ${show(b)}`);
  }
  return rounds;
}

interface Memory {
  startSeconds: number;
  loadToReadySeconds?: number;
  readyRssMiB: number;
  peakMiB: number;
  policyMicros?: number;
}
const memoryOf = (s: Server): Memory => ({
  startSeconds: s.startSeconds,
  readyRssMiB: memoryMiB(s.pid, 'VmRSS'),
  peakMiB: memoryMiB(s.pid, 'VmHWM'),
});

async function benchmark(ctx: Context) {
  const { info } = ctx.peers;
  const top = Math.max(...ctx.plan.connections);
  const memory: Record<string, Memory> = {};
  const start = (name: string, identities: number, population: PopulationName = 'exact') =>
    startBroker({ name, population, identities, dir: ctx.dir, dist: ctx.dist, info, cpu: ctx.cpu.server });

  const tokens = await ctx.peers.tokens({ population: 'exact', identities: IDENTITIES, count: TOKENS });
  const floor = await startFloor(ctx.dir, info, IDENTITIES, ctx.cpu.server);
  const before = await ctx.peers.stats();
  const broker = await start('broker', IDENTITIES);
  memory.broker = memoryOf(broker);
  for (const server of [broker, floor]) {
    for (const keys of [1, 3]) await checkServer(server, tokens[0] as string, KEY_NAMES.slice(0, keys));
  }
  const t = (server: Server, keys: number): Target => ({ server, tokens, keys });
  for (const c of ctx.plan.connections) {
    await alternate(ctx, [t(broker, 1), t(floor, 1), t(broker, 3), t(floor, 3)], c);
  }
  const floorRounds = await paired(ctx, t(floor, 1), t(broker, 1), top);
  const after = await ctx.peers.stats();
  memory.broker.peakMiB = memoryMiB(broker.pid, 'VmHWM');
  memory.floor = memoryOf(floor);
  const upstream = upstreamTargets(
    `broker (${IDENTITIES} identities)`,
    after.jwksFetches.map((n, i) => n - (before.jwksFetches[i] ?? 0)),
    after.brokerTokenRequests - before.brokerTokenRequests,
    (performance.now() - broker.startedAt) / 1000,
    info.brokerTokenTtl,
  );
  await broker.process.stop();
  await floor.process.stop();

  const variants = new Map<string, Target>();
  for (const v of ctx.variants) {
    const request = { population: v.population, identities: v.identities, count: TOKENS };
    const target: Target = { server: await start(v.name, v.identities, v.population), tokens: [], keys: 1 };
    target.tokens = await ctx.peers.tokens(request);
    memory[v.name] = { ...memoryOf(target.server), policyMicros: policyMicros(v) };
    log(`${v.name} ready in ${target.server.startSeconds.toFixed(2)} s`);
    await checkServer(target.server, target.tokens[0] as string, ['KEY_A']);
    await warmUp({ ...loadOf(ctx, target, top), duration: ctx.plan.warmup });
    variants.set(v.name, target);
  }
  const comparisons = [];
  for (const c of COMPARISONS.filter((c) => variants.has(c.reference) && variants.has(c.scaled))) {
    const [reference, scaled] = [variants.get(c.reference), variants.get(c.scaled)] as [Target, Target];
    comparisons.push({ ...c, rounds: await paired(ctx, reference, scaled, top) });
  }
  for (const [name, v] of variants) {
    (memory[name] as Memory).peakMiB = memoryMiB(v.server.pid, 'VmHWM');
    await v.server.process.stop();
  }

  const codeSeconds: number[] = [];
  for (let i = 0; i < ctx.plan.cliRuns; i++)
    codeSeconds.push(await serveCodeSeconds(ctx.dist, ctx.cpu.server));
  const serveCode = spread(codeSeconds).median;
  for (const [name, m] of Object.entries(memory)) {
    if (name !== 'floor') m.loadToReadySeconds = m.startSeconds - serveCode;
  }

  const bin = join(ctx.dist, 'cli/main.js');
  const cliMs: number[] = [];
  for (let i = 0; i < ctx.plan.cliRuns; i++) {
    const started = performance.now();
    await runToEnd({ command: process.execPath, args: [bin, 'version'], env: cleanEnv() });
    cliMs.push(performance.now() - started);
  }
  const cliVersionMs = spread(cliMs).median;

  const summaries = summarize(ctx.runs);
  const targets: TargetResult[] = [
    ...loadTargets({ summaries, connections: ctx.plan.connections }),
    atMost(
      `peak RSS (VmHWM), broker with ${IDENTITIES} identities`,
      memory.broker?.peakMiB ?? Number.NaN,
      150,
      'MiB',
    ),
    ...upstream,
    ...comparisons.flatMap((c) => pairedTargets(c.label, c.rounds)),
    ...ctx.variants.flatMap((v) => variantTargets(v, memory)),
    atMost('`voidkey version` start-up, median', cliVersionMs, 300, 'ms'),
  ];
  return { summaries, floorRounds, comparisons, memory, serveCode, cliVersionMs, targets };
}

/** Policy evaluation per mint in this process, µs: the variant's rules over its tokens' claims. */
function policyMicros(v: Variant): number {
  const idps = Array.from({ length: IDPS }, (_, i) => ({ issuer: `https://idp-${i}.test`, jwksUri: '' }));
  const config = benchConfig({ clientIdps: idps, brokerIssuer: '', stsEndpoint: '' }, v.identities, v);
  const policy = compilePolicy(config as unknown as Config);
  const fact = (i: number) => ({ idp: idpName(i % IDPS), claims: POPULATIONS[v.population].claims(i) });
  const facts = Array.from({ length: TOKENS }, (_, j) => fact(tokenIdentity(j, v.identities, TOKENS)));
  for (const f of facts) if (!policy.authorize(f, ['KEY_A']).allowed) throw new Error(`${v.name}: refused`);
  const started = performance.now();
  for (let r = 0; r < 20; r++) for (const f of facts) policy.authorize(f, ['KEY_A']);
  return ((performance.now() - started) * 1000) / (20 * TOKENS);
}

/** A variant's own limits as targets. */
function variantTargets(v: Variant, memory: Record<string, Memory>): TargetResult[] {
  const [own, other] = [memory[v.name], v.maxPeakOf === undefined ? undefined : memory[v.maxPeakOf]];
  const out: TargetResult[] = [];
  if (v.maxStartSeconds !== undefined) {
    const start = own?.loadToReadySeconds ?? Number.NaN;
    out.push(atMost(`start (config load to ready), ${v.name}`, start, v.maxStartSeconds, 's'));
  }
  if (v.maxPeakOf !== undefined) {
    const name = `peak RSS, ${v.name} vs ${v.maxPeakOf}`;
    out.push(atMost(name, own?.peakMiB ?? Number.NaN, other?.peakMiB ?? Number.NaN, 'MiB'));
  }
  return out;
}

function report(result: Awaited<ReturnType<typeof benchmark>>): string {
  const memory = Object.entries(result.memory).map(
    ([name, m]) =>
      `| ${name} | ${m.startSeconds.toFixed(2)} | ${m.loadToReadySeconds?.toFixed(2) ?? '–'} | ${m.readyRssMiB.toFixed(1)} | ${m.peakMiB.toFixed(1)} | ${m.policyMicros?.toFixed(2) ?? '–'} |`,
  );
  return [
    '## Throughput and latency (alternating runs)',
    resultsTable(result.summaries),
    '',
    '## Broker and floor loaded together, 1 key',
    pairedTable(result.floorRounds),
    '',
    floorReference(result.floorRounds),
    ...result.comparisons.flatMap((c) => [
      '',
      `## ${c.label}, loaded together, 1 key`,
      pairedTable(c.rounds),
    ]),
    '',
    '## Start and memory',
    '| server | start s (spawn to ready) | config load to ready s | RSS at ready MiB | peak RSS MiB | policy µs/mint |',
    '|---|---|---|---|---|---|',
    ...memory,
    '',
    `Config load to ready: start less loading the serve command, ${result.serveCode.toFixed(2)} s (\`serve --help\`, spawn to exit, median).`,
    '',
    '## Targets',
    targetsTable(result.targets),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      dist: { type: 'string', default: DEFAULT_DIST },
      out: { type: 'string', default: resolve(import.meta.dirname, 'results/latest.json') },
      skip: { type: 'string', multiple: true, default: [] },
    },
  });
  const unknown = values.skip.filter((name) => !VARIANTS.some((v) => v.name === name));
  if (unknown.length > 0) throw new Error(`--skip: no such variant: ${unknown.join(', ')}`);
  const variants = VARIANTS.filter((v) => !values.skip.includes(v.name));
  const started = performance.now();
  const plan = PLANS[values.quick ? 'quick' : 'full'];
  const cpu = planCpus();
  pin(process.pid, cpu.load);
  const dir = await mkdtemp(join(tmpdir(), 'voidkey-bench-'));
  const peers = await startPeers(IDPS, cpu.load);
  const ctx = { plan, cpu, dir, dist: resolve(values.dist), peers, runs: [], variants };
  try {
    log(`${plan.mode} run of ${ctx.dist}; server CPU ${cpu.server ?? 'not pinned'}`);
    const result = await benchmark(ctx);
    process.stdout.write(report(result));
    const meta = {
      elapsedSeconds: (performance.now() - started) / 1000,
      date: new Date().toISOString(),
      command: process.argv.slice(2).join(' '),
      dist: ctx.dist,
      node: process.version,
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      cpuPlan: cpu,
      plan,
    };
    await mkdir(dirname(values.out), { recursive: true });
    await writeFile(values.out, `${JSON.stringify({ meta, ...result, runs: ctx.runs }, null, 1)}\n`);
    log(`results in ${values.out}`);
  } finally {
    await peers.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(2);
});
