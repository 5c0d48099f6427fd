/**
 * `npm run bench [-- --quick | --profile]`: the broker against the floor, in
 * one run on one machine, reported as ratios.
 *
 * CPU layout (2 cores): the server under test (broker or floor) on the last
 * CPU; this process (autocannon) and the peers process on CPU 0. Every
 * configuration is measured `repeats` times, targets alternating, and
 * reported as median (min–max). Results go to bench/results/<date>[-mode].json.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measureCliStartup } from './cli-startup.ts';
import { KEY_NAMES } from './config.ts';
import { type LoadOptions, type Measurement, measure, warmUp } from './measure.ts';
import { printReport, writeResults } from './output.ts';
import type { PeerStats } from './peers.ts';
import { type CpuPlan, memoryMiB, pinProcess, planCpus, type ServerProcess } from './procs.ts';
import { runProfile } from './profile-run.ts';
import { type PairedRound, type PairedSide, type Run, remeasureReason, summarize } from './report.ts';
import { type BrokerCounts, judgeTargets } from './targets.ts';
import {
  BIN,
  checkServer,
  type PeersClient,
  startBrokerProcess,
  startFloorProcess,
  startPeersProcess,
} from './world.ts';

const IDPS = 20;
const IDENTITIES = 500;
const TOKENS = 3000;

/** How long and how often to measure. */
interface Plan {
  mode: 'full' | 'quick' | 'profile';
  duration: number;
  warmup: number;
  repeats: number;
  connections: number[];
  cliRuns: number;
  mintRuns: number;
}

function planFrom(argv: string[]): Plan {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      duration: { type: 'string' },
      repeats: { type: 'string' },
      connections: { type: 'string' },
    },
  });
  const quick = values.quick === true;
  const plan: Plan = quick
    ? { mode: 'quick', duration: 3, warmup: 1, repeats: 1, connections: [10], cliRuns: 5, mintRuns: 3 }
    : { mode: 'full', duration: 8, warmup: 3, repeats: 5, connections: [10, 50], cliRuns: 20, mintRuns: 10 };
  if (values.profile) plan.mode = 'profile';
  if (values.duration) plan.duration = Number(values.duration);
  if (values.repeats) plan.repeats = Number(values.repeats);
  if (values.connections) plan.connections = values.connections.split(',').map(Number);
  return plan;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

/** Everything the phases share. */
interface Context {
  plan: Plan;
  cpus: CpuPlan;
  dir: string;
  peers: PeersClient;
  tokens: { main: string[]; small: string[]; large: string[] };
  runs: Run[];
}

function load(
  ctx: Context,
  server: ServerProcess,
  tokens: string[],
  keys: number,
  connections: number,
): LoadOptions {
  return {
    url: server.url,
    tokens,
    keys: KEY_NAMES.slice(0, keys),
    connections,
    duration: ctx.plan.duration,
  };
}

/** One measured load on `server`, with the CPU of the server, the peers and both cores observed. */
function measureOn(ctx: Context, server: ServerProcess, options: LoadOptions): Promise<Measurement> {
  return measure(options, {
    server: server.pid,
    peers: ctx.peers.pid,
    serverCore: ctx.cpus.server,
    loadCore: ctx.cpus.load,
  });
}

/** One target of {@link alternate}: a server, its tokens and the number of keys per mint. */
interface Target {
  name: string;
  server: ServerProcess;
  tokens: string[];
  keys: number;
}

/**
 * Warms each target, then measures them in rotating order, `repeats` times.
 * The targets of one call are measured interleaved in time, so comparisons
 * between them (broker against floor, 3 keys against 1) meet the same drift
 * of the host. A run during which other tenants took more than a small share
 * of the server core is measured again, up to twice (report.ts
 * `remeasureReason`); the discarded runs stay in the results, marked.
 */
async function alternate(
  ctx: Context,
  phase: Run['phase'],
  targets: Target[],
  connections: number,
): Promise<void> {
  for (const t of targets) {
    await warmUp({ ...load(ctx, t.server, t.tokens, t.keys, connections), duration: ctx.plan.warmup });
  }
  for (let repeat = 0; repeat < ctx.plan.repeats; repeat++) {
    const order = targets.map((_, i) => targets[(i + repeat) % targets.length] as Target);
    for (const t of order) {
      const { keys } = t;
      const options = load(ctx, t.server, t.tokens, keys, connections);
      for (let retries = 0; ; retries++) {
        const m = await measureOn(ctx, t.server, options);
        const discarded = remeasureReason(m, retries);
        ctx.runs.push({
          phase,
          target: t.name,
          keys,
          connections,
          repeat,
          ...m,
          ...(discarded && { discarded }),
        });
        log(
          `${phase} ${t.name} keys=${keys} c=${connections} #${repeat + 1}: ${m.rps.toFixed(0)} req/s p50 ${m.p50.toFixed(2)} p99 ${m.p99.toFixed(2)} ms cpu ${m.serverCpu.toFixed(2)} others ${m.foreignCpu.toFixed(2)} loadcore ${m.loadCoreBusy.toFixed(2)} failed ${m.non2xx + m.errors + m.timeouts}${m.failureSamples.length > 0 ? ` ${JSON.stringify(m.statuses)} e.g. ${m.failureSamples[0]}` : ''}${discarded ? ` — measured again: ${discarded}` : ''}`,
        );
        if (!discarded) break;
      }
    }
  }
}

function deltaCounts(
  name: string,
  from: PeerStats,
  to: PeerStats,
  issuersUsed: number,
  lifetime: number,
  ttl: number,
): BrokerCounts {
  return {
    name,
    jwksFetches: to.jwksFetches.map((n, i) => n - (from.jwksFetches[i] ?? 0)),
    issuersUsed,
    brokerTokenRequests: to.brokerTokenRequests - from.brokerTokenRequests,
    lifetime,
    tokenTtl: ttl,
  };
}

/** Memory right after start (config loaded, nothing served): VmRSS and the high-water mark so far. */
function memoryAtReady(server: ServerProcess) {
  return { readyRssMiB: memoryMiB(server.pid, 'VmRSS'), readyPeakMiB: memoryMiB(server.pid, 'VmHWM') };
}

/** Broker vs floors at every (keys, connections); returns the main broker's counts and memory. */
async function matrixPhase(ctx: Context) {
  const { info } = ctx.peers;
  const floor = await startFloorProcess({
    name: 'floor',
    dir: ctx.dir,
    info,
    identities: IDENTITIES,
    mode: 'sdk',
    cpu: ctx.cpus.server,
  });
  const raw = await startFloorProcess({
    name: 'floor-raw',
    dir: ctx.dir,
    info,
    identities: IDENTITIES,
    mode: 'raw',
    cpu: ctx.cpus.server,
  });
  const before = await ctx.peers.stats();
  const started = performance.now();
  const broker = await startBrokerProcess({
    name: 'broker',
    dir: ctx.dir,
    info,
    identities: IDENTITIES,
    cpu: ctx.cpus.server,
  });
  const atReady = memoryAtReady(broker);
  const sample = ctx.tokens.main[0] as string;
  for (const server of [broker, floor, raw])
    for (const keys of [1, 3]) await checkServer(server, sample, KEY_NAMES.slice(0, keys));
  const target = (name: string, server: ServerProcess, keys: number): Target => ({
    name,
    server,
    tokens: ctx.tokens.main,
    keys,
  });
  for (const c of ctx.plan.connections) {
    // One and three keys in the same rotation: the 3-key target compares the two.
    const targets = [1, 3].flatMap((keys) => [target('broker', broker, keys), target('floor', floor, keys)]);
    // The raw floor is a reference for the SDK's share: one key, highest load only.
    if (c === Math.max(...ctx.plan.connections)) targets.push(target('floor-raw', raw, 1));
    await alternate(ctx, 'matrix', targets, c);
  }
  // Broker and floor loaded together: their CPU per request at one host speed, a steadier
  // reading of the gap the throughput target judges than runs minutes apart.
  const top = Math.max(...ctx.plan.connections);
  const floorRounds = await pairedRounds(ctx, target('floor', floor, 1), target('broker', broker, 1), top);
  const after = await ctx.peers.stats();
  const lifetime = (performance.now() - started) / 1000;
  const memory = {
    broker: { ...atReady, peakMiB: memoryMiB(broker.pid, 'VmHWM') },
    floor: { peakMiB: memoryMiB(floor.pid, 'VmHWM') },
    'floor-raw': { peakMiB: memoryMiB(raw.pid, 'VmHWM') },
  };
  const counts = deltaCounts('broker (500 identities)', before, after, IDPS, lifetime, info.brokerTokenTtl);
  return { broker, others: [floor, raw], memory, counts, floorRounds, peersAfter: after };
}

/** A broker variant of the second phase. */
interface Variant {
  name: string;
  identities: number;
  tokens: string[];
  logLevel?: 'warn' | 'info';
}

/** Starts one variant, checks and warms it; its counts cover start-up and warm-up. */
async function startVariant(ctx: Context, v: Variant, connections: number) {
  const { info } = ctx.peers;
  const before = await ctx.peers.stats();
  const started = performance.now();
  const server = await startBrokerProcess({
    name: v.name,
    dir: ctx.dir,
    info,
    identities: v.identities,
    cpu: ctx.cpus.server,
    ...(v.logLevel ? { logLevel: v.logLevel } : {}),
  });
  const startSeconds = (performance.now() - started) / 1000;
  log(`${v.name} ready in ${startSeconds.toFixed(1)} s`);
  const memory = { ...memoryAtReady(server), startSeconds };
  await checkServer(server, v.tokens[0] as string, ['KEY_A']);
  await warmUp({ ...load(ctx, server, v.tokens, 1, connections), duration: ctx.plan.warmup });
  const after = await ctx.peers.stats();
  const lifetime = (performance.now() - started) / 1000;
  const used = Math.min(IDPS, v.identities);
  const counts = deltaCounts(
    `${v.name} (start + warm-up)`,
    before,
    after,
    used,
    lifetime,
    info.brokerTokenTtl,
  );
  const target: Target = { name: v.name, server, tokens: v.tokens, keys: 1 };
  return { target, memory, counts };
}

/**
 * Rounds of `first` and `second` loaded at the same time (half the
 * connections each, both on the server core), so each round compares them at
 * one host speed. The identity-count target is judged on these; broker
 * against floor they are a reference beside the alternating runs.
 */
async function pairedRounds(ctx: Context, first: Target, second: Target, connections: number) {
  const each = Math.max(1, Math.round(connections / 2));
  const side = (t: Target, m: Measurement): PairedSide => ({
    target: t.name,
    rps: m.rps,
    cpuMsPerRequest: m.cpuMsPerRequest,
    failures: m.non2xx + m.errors + m.timeouts,
  });
  const rounds: PairedRound[] = [];
  const count = Math.max(ctx.plan.repeats * 2, 3);
  for (let round = 1; round <= count; round++) {
    const [a, b] = (await Promise.all(
      [first, second].map((t) => measureOn(ctx, t.server, load(ctx, t.server, t.tokens, t.keys, each))),
    )) as [Measurement, Measurement];
    const r: PairedRound = { round, connections: each, first: side(first, a), second: side(second, b) };
    rounds.push(r);
    log(
      `paired #${round}: ${r.first.target} ${r.first.cpuMsPerRequest.toFixed(3)} ms/req ${r.first.rps.toFixed(0)} req/s, ` +
        `${r.second.target} ${r.second.cpuMsPerRequest.toFixed(3)} ms/req ${r.second.rps.toFixed(0)} req/s ` +
        `(CPU ${r.second.target} ÷ ${r.first.target}: ${(r.second.cpuMsPerRequest / r.first.cpuMsPerRequest).toFixed(2)})`,
    );
  }
  return rounds;
}

/**
 * The broker with 10 and with 10,000 identities, and with 500 at log level
 * info (audit events and request lines written), alternating, 1 key; then
 * the 10 and 10,000 brokers in paired rounds ({@link pairedRounds}).
 */
async function variantsPhase(ctx: Context) {
  const c = Math.max(...ctx.plan.connections);
  const variants: Variant[] = [
    { name: 'broker-10-identities', identities: 10, tokens: ctx.tokens.small },
    { name: 'broker-10000-identities', identities: 10_000, tokens: ctx.tokens.large },
    { name: 'broker-log-info', identities: IDENTITIES, tokens: ctx.tokens.main, logLevel: 'info' },
  ];
  const started = [];
  for (const v of variants) started.push(await startVariant(ctx, v, c));
  const targets = started.map((s) => s.target);
  const before = await ctx.peers.stats();
  await alternate(ctx, 'variants', targets, c);
  const paired = await pairedRounds(ctx, targets[0] as Target, targets[1] as Target, c);
  const after = await ctx.peers.stats();
  // Every broker is warm by now: any fetch during the measured runs is one too many.
  const measured = deltaCounts('variant brokers, measured runs', before, after, IDPS, 0, 1);
  const memory = Object.fromEntries(
    started.map((s) => [s.target.name, { ...s.memory, peakMiB: memoryMiB(s.target.server.pid, 'VmHWM') }]),
  );
  const logInfo = targets[2]?.server.output();
  for (const t of targets) await t.server.stop();
  return {
    counts: started.map((s) => s.counts),
    measured,
    memory,
    logInfo: logInfo && { lines: logInfo.lines, levels: logInfo.levels, messages: logInfo.messages },
    paired,
  };
}

async function prepare(plan: Plan): Promise<Context> {
  const cpuPlan = planCpus();
  pinProcess(process.pid, cpuPlan.load);
  const dir = await mkdtemp(join(tmpdir(), 'voidkey-bench-'));
  const peers = await startPeersProcess(IDPS, cpuPlan.load);
  log(`peers up (pid ${peers.pid}); signing ${TOKENS * 3} client tokens`);
  const tokens = {
    main: await peers.tokens(IDENTITIES, TOKENS),
    small: await peers.tokens(10, TOKENS),
    large: await peers.tokens(10_000, TOKENS),
  };
  return { plan, cpus: cpuPlan, dir, peers, tokens, runs: [] };
}

function meta(plan: Plan, cpuPlan: CpuPlan) {
  return {
    date: new Date().toISOString(),
    command: `npm run bench${plan.mode === 'full' ? '' : ` -- --${plan.mode}`}`,
    mode: plan.mode,
    // All CPUs of the machine (this process is pinned by now, so availableParallelism() says 1).
    nproc: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    node: process.version,
    cpuPlan,
    plan,
    idps: IDPS,
    identities: IDENTITIES,
    distinctTokens: TOKENS,
  };
}

async function benchmark(ctx: Context) {
  const matrix = await matrixPhase(ctx);
  const ids = await variantsPhase(ctx);
  log('timing the CLI');
  const cli = measureCliStartup({
    bin: BIN,
    brokerUrl: matrix.broker.url,
    token: ctx.tokens.main[1] as string,
    keys: ['KEY_A'],
    n: ctx.plan.cliRuns,
    mintRuns: ctx.plan.mintRuns,
    cpu: ctx.cpus.server,
  });
  const brokerOutput = matrix.broker.output();
  for (const server of [matrix.broker, ...matrix.others]) await server.stop();
  const summaries = summarize(ctx.runs);
  const targets = judgeTargets({
    summaries,
    connections: ctx.plan.connections,
    floor: 'floor',
    brokerPeakMiB: matrix.memory.broker.peakMiB,
    counts: [matrix.counts, ...ids.counts],
    identities: ids.paired,
    cliVersionMs: cli.version.median,
  });
  const extra = ids.measured.jwksFetches.reduce((a, b) => a + b, 0) + ids.measured.brokerTokenRequests;
  targets.push({
    name: "JWKS + broker-token requests during the variant brokers' measured runs",
    value: String(extra),
    limit: '0 (all already warm)',
    pass: extra === 0,
  });
  const peers = await ctx.peers.stats();
  const logging = {
    lines: brokerOutput.lines,
    levels: brokerOutput.levels,
    messages: brokerOutput.messages,
    tail: brokerOutput.tail.slice(-5),
    atInfo: ids.logInfo,
  };
  const memory = { ...matrix.memory, ...ids.memory };
  return {
    summaries,
    targets,
    identityRounds: ids.paired,
    floorRounds: matrix.floorRounds,
    memory,
    counts: [matrix.counts, ...ids.counts, ids.measured],
    cli,
    logging,
    peers,
    runs: ctx.runs,
  };
}

async function main(): Promise<void> {
  const plan = planFrom(process.argv.slice(2));
  const started = performance.now();
  const ctx = await prepare(plan);
  const day = new Date().toISOString().slice(0, 10);
  try {
    if (plan.mode === 'profile') {
      const profile = await runProfile(ctx, {
        identities: IDENTITIES,
        connections: Math.max(...plan.connections),
      });
      log(`results: ${await writeResults(`${day}-profile`, { meta: meta(plan, ctx.cpus), ...profile })}`);
      return;
    }
    const result = await benchmark(ctx);
    const elapsed = (performance.now() - started) / 1000;
    printReport(result);
    const suffix = plan.mode === 'full' ? '' : `-${plan.mode}`;
    log(
      `results: ${await writeResults(`${day}${suffix}`, { meta: { ...meta(plan, ctx.cpus), elapsedSeconds: elapsed }, ...result })}`,
    );
    log(`done in ${elapsed.toFixed(0)} s`);
  } finally {
    await ctx.peers.close();
    await rm(ctx.dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
