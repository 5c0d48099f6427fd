/**
 * `node --import tsx bench/ab.ts [options] DIST...`: two or more builds of
 * the broker (copies of `dist/`), and the SDK floor as a yardstick, under the
 * same load, measured alternately — for deciding whether a change is
 * faster before running the whole benchmark. `DIST@FLAGS` runs that build
 * with Node flags (comma-separated), e.g. `dist@--max-old-space-size=96`;
 * `--floor-flags` does the same for the floor. Options: `--keys N` (default 1),
 * `--connections N` (50), `--duration S` (10), `--repeats N` (3),
 * `--log-level warn|info` (warn), `--identities N` (500), `--paired`.
 *
 * `--paired` loads every target at the same time instead of one after the
 * other (each with `--connections`, all pinned to the one server CPU), so all
 * of them meet the same host noise in each round; it reports each target's
 * CPU per request as a ratio to the floor's and to the first build's in the
 * same round (median of the rounds), and each one's peak RSS. Throughput and
 * latency then mean little (the targets share a core); the ratios are steady
 * to a few per cent where alternating runs of identical builds differ by 10 %
 * or more.
 *
 *   cp -r dist /tmp/dist-before   # … change, npm run build …
 *   node --import tsx bench/ab.ts /tmp/dist-before dist
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KEY_NAMES } from './config.ts';
import { measure, warmUp } from './measure.ts';
import { memoryMiB, pinProcess, planCpus, type ServerProcess } from './procs.ts';
import { f3, range, spread } from './report.ts';
import { checkServer, startBrokerProcess, startFloorProcess, startPeersProcess } from './world.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    keys: { type: 'string', default: '1' },
    connections: { type: 'string', default: '50' },
    duration: { type: 'string', default: '10' },
    repeats: { type: 'string', default: '3' },
    'log-level': { type: 'string', default: 'warn' },
    identities: { type: 'string', default: '500' },
    'floor-flags': { type: 'string', default: '' },
    paired: { type: 'boolean', default: false },
  },
});
if (positionals.length === 0) {
  process.stderr.write('usage: node --import tsx bench/ab.ts [options] DIST...\n');
  process.exit(2);
}
const keys = KEY_NAMES.slice(0, Number(values.keys));
const connections = Number(values.connections);
const duration = Number(values.duration);
const repeats = Number(values.repeats);
const identities = Number(values.identities);
const logLevel = values['log-level'] === 'info' ? 'info' : 'warn';
const log = (line: string) => process.stderr.write(`[ab] ${line}\n`);

async function main(): Promise<void> {
  const cpus = planCpus();
  pinProcess(process.pid, cpus.load);
  const dir = await mkdtemp(join(tmpdir(), 'voidkey-ab-'));
  const peers = await startPeersProcess(20, cpus.load);
  const servers: Array<{ name: string; server: ServerProcess }> = [];
  try {
    const tokens = await peers.tokens(identities, 3000);
    servers.push({
      name: 'floor',
      server: await startFloorProcess({
        name: 'floor',
        dir,
        info: peers.info,
        identities,
        mode: 'sdk',
        cpu: cpus.server,
        ...(values['floor-flags'] ? { nodeArgs: values['floor-flags'].split(',') } : {}),
      }),
    });
    for (const [i, target] of positionals.entries()) {
      const [dist = target, flags] = target.split('@');
      const name = `${i}:${target}`;
      const server = await startBrokerProcess({
        name: `ab-${i}`,
        dir,
        info: peers.info,
        identities,
        cpu: cpus.server,
        logLevel,
        bin: resolve(dist, 'cli/main.js'),
        ...(flags ? { nodeArgs: flags.split(',') } : {}),
      });
      servers.push({ name, server });
    }
    const load = (server: ServerProcess, seconds: number) => ({
      url: server.url,
      tokens,
      keys,
      connections,
      duration: seconds,
    });
    for (const { server } of servers) {
      await checkServer(server, tokens[0] as string, keys);
      await warmUp(load(server, 3));
    }
    if (values.paired) {
      await pairedRounds(servers, load, peers.pid, cpus);
      return;
    }
    const results = new Map<string, { rps: number[]; cpu: number[]; p99: number[] }>();
    for (let r = 0; r < repeats; r++) {
      for (let k = 0; k < servers.length; k++) {
        const { name, server } = servers[(k + r) % servers.length] as (typeof servers)[number];
        const m = await measure(load(server, duration), {
          server: server.pid,
          peers: peers.pid,
          serverCore: cpus.server,
          loadCore: cpus.load,
        });
        const entry = results.get(name) ?? { rps: [], cpu: [], p99: [] };
        entry.rps.push(m.rps);
        entry.cpu.push(m.cpuMsPerRequest);
        entry.p99.push(m.p99);
        results.set(name, entry);
        log(
          `${name} #${r + 1}: ${m.rps.toFixed(0)} req/s, ${m.cpuMsPerRequest.toFixed(3)} CPU ms/req, p99 ${m.p99.toFixed(1)} ms, others ${m.foreignCpu.toFixed(2)}, failed ${m.non2xx + m.errors + m.timeouts}`,
        );
      }
    }
    const floor = results.get('floor');
    const floorRps = floor ? spread(floor.rps).median : Number.NaN;
    process.stdout.write(
      `\nkeys=${keys.length} connections=${connections} duration=${duration}s repeats=${repeats} log=${logLevel}\n`,
    );
    process.stdout.write(
      '| target | req/s median (min–max) | × floor | CPU ms/req median | p99 ms median | peak RSS MiB |\n|---|---|---|---|---|---|\n',
    );
    for (const { name, server } of servers) {
      const e = results.get(name);
      if (!e) continue;
      const rps = spread(e.rps);
      process.stdout.write(
        `| ${name} | ${rps.median.toFixed(0)} (${rps.min.toFixed(0)}–${rps.max.toFixed(0)}) | ${(rps.median / floorRps).toFixed(2)} | ${spread(e.cpu).median.toFixed(3)} | ${spread(e.p99).median.toFixed(1)} | ${memoryMiB(server.pid, 'VmHWM').toFixed(0)} |\n`,
      );
    }
  } finally {
    for (const { server } of servers) await server.stop();
    await peers.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** `--paired`: all targets under load at once, `repeats` rounds; CPU per request as ratios within each round. */
async function pairedRounds(
  servers: ReadonlyArray<{ name: string; server: ServerProcess }>,
  load: (server: ServerProcess, seconds: number) => Parameters<typeof measure>[0],
  peersPid: number,
  cpus: ReturnType<typeof planCpus>,
): Promise<void> {
  const floorIndex = servers.findIndex(({ name }) => name === 'floor');
  const firstBuild = servers.findIndex(({ name }) => name !== 'floor');
  const cpu = servers.map(() => [] as number[]);
  const toFloor = servers.map(() => [] as number[]);
  const toFirst = servers.map(() => [] as number[]);
  for (let r = 0; r < repeats; r++) {
    const round = await Promise.all(
      servers.map(({ server }) =>
        measure(load(server, duration), {
          server: server.pid,
          peers: peersPid,
          serverCore: cpus.server,
          loadCore: cpus.load,
        }),
      ),
    );
    const failed = round.reduce((n, m) => n + m.non2xx + m.errors + m.timeouts, 0);
    if (failed > 0) throw new Error(`round ${r + 1}: ${failed} requests failed; no ratio is taken from it`);
    const perRequest = round.map((m) => m.cpuMsPerRequest);
    perRequest.forEach((ms, i) => {
      cpu[i]?.push(ms);
      toFloor[i]?.push(ms / (perRequest[floorIndex] as number));
      toFirst[i]?.push(ms / (perRequest[firstBuild] as number));
    });
    log(
      `round ${r + 1}: ${servers.map(({ name }, i) => `${name} ${(perRequest[i] as number).toFixed(3)}`).join(', ')} CPU ms/req`,
    );
  }
  process.stdout.write(
    `\nkeys=${keys.length} connections=${connections} each, all at once; duration=${duration}s rounds=${repeats} log=${logLevel}\n`,
  );
  process.stdout.write(
    '| target | CPU ms/req median (min–max) | × floor, same round: median (min–max) | × first build, same round | peak RSS MiB |\n|---|---|---|---|---|\n',
  );
  servers.forEach(({ name, server }, i) => {
    const c = spread(cpu[i] ?? []);
    const f = spread(toFloor[i] ?? []);
    const b = spread(toFirst[i] ?? []);
    process.stdout.write(
      `| ${name} | ${range(c, f3)} | ${range(f, f3)} | ${b.median.toFixed(3)} | ${memoryMiB(server.pid, 'VmHWM').toFixed(0)} |\n`,
    );
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`ab: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
