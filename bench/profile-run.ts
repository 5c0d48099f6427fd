/**
 * `npm run bench -- --profile`: the broker and the floor under the same load
 * with `--cpu-prof`, minting one key and then three, each workload in its own
 * process. Only samples taken during the measured load count, and each row
 * is also given as CPU µs per answered request, so broker and floor compare
 * directly. Throughput under the profiler is not comparable with the main
 * run (sampling costs CPU); the shares and the differences are what matter.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KEY_NAMES } from './config.ts';
import { measure, warmUp } from './measure.ts';
import type { ServerProcess } from './procs.ts';
import { comparisonTable, type ProfileSummary, profileTables, summarizeProfile } from './profile.ts';
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
  const summary = summarizeProfile(join(profDir, file), { window, requests: m.ok });
  process.stdout.write(
    `\n## ${target} CPU profile, ${keys} key(s), ${connections} conns\n\n${profileTables(summary)}\n`,
  );
  return { target, keys, connections, duration, rpsUnderProfiler: m.rps, serverCpu: m.serverCpu, summary };
}

/** Profiles broker and floor minting 1 and 3 keys at `connections`; returns every summary. */
export async function runProfile(ctx: ProfileContext, options: { identities: number; connections: number }) {
  const profiles = [];
  for (const keys of [1, 3]) {
    const pair: Record<string, ProfileSummary> = {};
    for (const target of ['broker', 'floor']) {
      const profile = await profileOne(ctx, target, keys, options.identities, options.connections);
      pair[target] = profile.summary;
      profiles.push(profile);
    }
    const table = comparisonTable(pair.broker as ProfileSummary, pair.floor as ProfileSummary);
    process.stdout.write(`\n## Broker minus floor, ${keys} key(s)\n\n${table}\n`);
  }
  return { profiles };
}
