/**
 * `npm run bench -- --profile`: the broker and the floor under the same load
 * with `--cpu-prof`, minting one key and then three, each workload in its own
 * process. Only samples taken during the measured load count, and each row
 * is also given as CPU µs per answered request, so broker and floor compare
 * directly. Throughput under the profiler is not comparable with the main
 * run (sampling costs CPU); the shares and the differences are what matter.
 */
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY_NAMES } from './config.ts';
import { measure, warmUp } from './measure.ts';
import type { ServerProcess } from './procs.ts';
import {
  comparisonTable,
  functionComparisonTable,
  type ProfileSummary,
  profileTables,
  summarizeProfile,
} from './profile.ts';
import { checkServer, type PeersClient, startBrokerProcess, startFloorProcess } from './world.ts';

/** What a profile run needs from the runner. */
export interface ProfileContext {
  peers: PeersClient;
  dir: string;
  cpus: { server: number | undefined; load: number | undefined };
  tokens: { main: string[] };
  plan: { duration: number; warmup: number };
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

async function start(ctx: ProfileContext, target: string, keys: number, identities: number, profDir: string) {
  const nodeArgs = ['--cpu-prof', '--cpu-prof-dir', profDir];
  const name = `${target}-profiled-${keys}`;
  const { info } = ctx.peers;
  const cpu = ctx.cpus.server;
  return target === 'broker'
    ? startBrokerProcess({ name, dir: ctx.dir, info, identities, cpu, nodeArgs })
    : startFloorProcess({ name, dir: ctx.dir, info, identities, mode: 'sdk', cpu, nodeArgs });
}

async function profileOne(
  ctx: ProfileContext,
  target: string,
  keys: number,
  identities: number,
  connections: number,
) {
  const profDir = join(ctx.dir, `profile-${target}-${keys}`);
  const server: ServerProcess = await start(ctx, target, keys, identities, profDir);
  const names = KEY_NAMES.slice(0, keys);
  await checkServer(server, ctx.tokens.main[0] as string, names);
  const options = { url: server.url, tokens: ctx.tokens.main, keys: names, connections };
  await warmUp({ ...options, duration: ctx.plan.warmup });
  const duration = Math.max(15, ctx.plan.duration);
  const startUs = nowUs();
  const m = await measure(
    { ...options, duration },
    { server: server.pid, peers: ctx.peers.pid, serverCore: ctx.cpus.server, loadCore: ctx.cpus.load },
  );
  const window = { startUs, endUs: nowUs() };
  log(`profiled ${target} keys=${keys}: ${m.rps.toFixed(0)} req/s under the profiler`);
  await server.stop(30_000);
  const file = (await readdir(profDir)).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile written to ${profDir}`);
  // Kept outside the run's temp dir (and out of the repository: tens of MB) for a closer look.
  const keep = join(tmpdir(), 'voidkey-bench-profiles');
  await mkdir(keep, { recursive: true });
  const kept = join(keep, `${target}-${keys}key.cpuprofile`);
  await copyFile(join(profDir, file), kept);
  log(`profile kept at ${kept} (window ${window.startUs}–${window.endUs} µs)`);
  const summary = summarizeProfile(kept, { window, requests: m.ok, limit: 40 });
  process.stdout.write(
    `\n## ${target} CPU profile, ${keys} key(s), ${connections} conns\n\n${profileTables(summary)}\n`,
  );
  return {
    target,
    keys,
    connections,
    duration,
    rpsUnderProfiler: m.rps,
    serverCpu: m.serverCpu,
    requests: m.ok,
    window,
    file: kept,
    summary,
  };
}

/** Profiles broker and floor minting 1 and 3 keys at `connections`; returns every summary. */
export async function runProfile(ctx: ProfileContext, options: { identities: number; connections: number }) {
  const profiles = [];
  for (const keys of [1, 3]) {
    const pair: Record<string, ProfileSummary> = {};
    const all: Record<string, ProfileSummary> = {};
    for (const target of ['broker', 'floor']) {
      const profile = await profileOne(ctx, target, keys, options.identities, options.connections);
      pair[target] = profile.summary;
      const { window, requests } = profile;
      all[target] = summarizeProfile(profile.file, { window, requests, limit: 100_000 });
      profiles.push(profile);
    }
    const [broker, floor] = [pair.broker, pair.floor] as [ProfileSummary, ProfileSummary];
    const byFunction = functionComparisonTable(all.broker as ProfileSummary, all.floor as ProfileSummary);
    process.stdout.write(
      `\n## Broker minus floor, ${keys} key(s)\n\n${comparisonTable(broker, floor)}\n\n${byFunction}\n`,
    );
  }
  return { profiles };
}
