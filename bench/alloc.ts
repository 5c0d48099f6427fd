/**
 * `node --import tsx bench/alloc.ts [--keys N] [--duration S] [--repeats N] [--by layer|function] [DIST]`:
 * bytes allocated per answered mint, broker (DIST, default this checkout's
 * dist/) against the SDK floor, by package (or by allocating function). Each server runs with
 * bench/alloc-preload.cjs; sampling (V8's sampling heap profiler, collected
 * objects included) starts right before a measured load and stops right
 * after it, so the bytes divide by the answers of that load alone.
 * Allocation is a steadier measure than CPU time on a noisy host.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KEY_NAMES } from './config.ts';
import { measure, warmUp } from './measure.ts';
import { pinProcess, planCpus, type ServerProcess } from './procs.ts';
import { checkServer, startBrokerProcess, startFloorProcess, startPeersProcess } from './world.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const PRELOAD = ['--require', join(HERE, 'alloc-preload.cjs')];

interface ProfileNode {
  callFrame: { functionName: string; url: string; lineNumber?: number };
  selfSize: number;
  children?: ProfileNode[];
}

/** The package (or layer) a frame belongs to. */
function layerOf(url: string, functionName: string): string {
  if (url.includes('node_modules/')) {
    const parts = url.split('node_modules/').pop()?.split('/') ?? [];
    return parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  if (url.includes('/dist/')) return `voidkey ${url.split('/dist/').pop()}`;
  if (url.startsWith('node:')) return 'node internals';
  if (url === '') return `(native ${functionName || 'code'})`;
  return url.split('/').pop() ?? url;
}

/** The allocating function: name, then its layer and line. */
function functionOf(url: string, functionName: string, line = -1): string {
  return `${functionName || '(anonymous)'} ${layerOf(url, functionName)}:${line + 1}`;
}

type GroupOf = (frame: ProfileNode['callFrame']) => string;

const byLayer: GroupOf = (frame) => layerOf(frame.url, frame.functionName);
const byFunction: GroupOf = (frame) => functionOf(frame.url, frame.functionName, frame.lineNumber);

function bytesByLayer(head: ProfileNode, groupOf: GroupOf): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (node: ProfileNode) => {
    const layer = groupOf(node.callFrame);
    out.set(layer, (out.get(layer) ?? 0) + node.selfSize);
    for (const child of node.children ?? []) walk(child);
  };
  walk(head);
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function sampled(server: ServerProcess, run: () => Promise<number>, groupOf: GroupOf) {
  process.kill(server.pid, 'SIGUSR1');
  await sleep(100);
  const answers = await run();
  process.kill(server.pid, 'SIGUSR2');
  const file = join(tmpdir(), `voidkey-alloc-${server.pid}.json`);
  for (let i = 0; i < 50; i++) {
    try {
      const profile = JSON.parse(await readFile(file, 'utf8')) as { head: ProfileNode };
      await rm(file, { force: true });
      return { answers, layers: bytesByLayer(profile.head, groupOf) };
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`no allocation profile from ${server.name}`);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      keys: { type: 'string', default: '1' },
      duration: { type: 'string', default: '8' },
      repeats: { type: 'string', default: '2' },
      by: { type: 'string', default: 'layer' },
    },
  });
  const groupOf = values.by === 'function' ? byFunction : byLayer;
  const keys = KEY_NAMES.slice(0, Number(values.keys));
  const dist = resolve(positionals[0] ?? join(HERE, '../dist'));
  const cpus = planCpus();
  pinProcess(process.pid, cpus.load);
  const dir = await mkdtemp(join(tmpdir(), 'voidkey-alloc-'));
  const peers = await startPeersProcess(20, cpus.load);
  const servers: ServerProcess[] = [];
  try {
    const tokens = await peers.tokens(500, 3000);
    const common = { dir, info: peers.info, identities: 500, cpu: cpus.server, nodeArgs: PRELOAD };
    servers.push(await startFloorProcess({ ...common, name: 'floor', mode: 'sdk' }));
    servers.push(await startBrokerProcess({ ...common, name: 'broker', bin: join(dist, 'cli/main.js') }));
    const load = (server: ServerProcess, duration: number) => ({
      url: server.url,
      tokens,
      keys,
      connections: 50,
      duration,
    });
    for (const server of servers) {
      await checkServer(server, tokens[0] as string, keys);
      await warmUp(load(server, 3));
    }
    const totals = new Map<string, { answers: number; layers: Map<string, number> }>();
    for (let r = 0; r < Number(values.repeats); r++) {
      for (const server of servers) {
        const { answers, layers } = await sampled(
          server,
          async () => {
            const m = await measure(load(server, Number(values.duration)), {
              server: server.pid,
              peers: peers.pid,
              serverCore: cpus.server,
              loadCore: cpus.load,
            });
            return m.ok;
          },
          groupOf,
        );
        const sum = [...layers.values()].reduce((a, b) => a + b, 0);
        process.stderr.write(
          `[alloc] ${server.name} #${r + 1}: ${(sum / answers / 1024).toFixed(1)} KB per answer\n`,
        );
        const total = totals.get(server.name) ?? { answers: 0, layers: new Map() };
        total.answers += answers;
        for (const [layer, bytes] of layers) total.layers.set(layer, (total.layers.get(layer) ?? 0) + bytes);
        totals.set(server.name, total);
      }
    }
    const perAnswer = (name: string, layer?: string) => {
      const t = totals.get(name);
      if (!t) return 0;
      const bytes =
        layer === undefined ? [...t.layers.values()].reduce((a, b) => a + b, 0) : (t.layers.get(layer) ?? 0);
      return bytes / t.answers / 1024;
    };
    process.stdout.write(
      `\nkeys=${keys.length} connections=50; KB allocated per answered mint: broker ${perAnswer('broker').toFixed(1)}, floor ${perAnswer('floor').toFixed(1)}\n\n| ${values.by} | broker KB | floor KB | difference |\n|---|---|---|---|\n`,
    );
    const layers = new Set([
      ...(totals.get('broker')?.layers.keys() ?? []),
      ...(totals.get('floor')?.layers.keys() ?? []),
    ]);
    const rows = [...layers].map((l) => [l, perAnswer('broker', l), perAnswer('floor', l)] as const);
    rows.sort((a, b) => b[1] - b[2] - (a[1] - a[2]));
    for (const [layer, b, f] of rows.slice(0, values.by === 'function' ? 40 : 20)) {
      process.stdout.write(`| ${layer} | ${b.toFixed(2)} | ${f.toFixed(2)} | ${(b - f).toFixed(2)} |\n`);
    }
  } finally {
    for (const server of servers) await server.stop();
    await peers.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`alloc: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
