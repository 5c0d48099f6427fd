/**
 * The processes a run measures, each started through the shared spawner
 * (test/helpers/process.ts) and pinned with taskset: the peers (over IPC),
 * brokers (`voidkey serve` of a chosen build, on a generated config) and the
 * floor; and the correctness check of each server before any number is taken.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cleanEnv,
  freePort,
  runToEnd,
  type Spawned,
  spawnProcess,
  waitForHttp,
  waitForOutput,
} from '../test/helpers/process.ts';
import {
  type BenchOptions,
  BROKER_CLIENT_ID,
  benchConfigYaml,
  SECRET_VARIABLE,
  STS_AUDIENCE,
} from './config.ts';
import type { FloorSpec } from './floor.ts';
import type { PeerRequest, PeerStats, PeersInfo } from './peers.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
/** This checkout's build. */
export const DEFAULT_DIST = resolve(HERE, '../dist');

/** A started server under test. */
export interface Server {
  name: string;
  pid: number;
  url: string;
  /** `performance.now()` at spawn. */
  startedAt: number;
  /** Seconds from spawn until it answered. */
  startSeconds: number;
  process: Spawned;
}

const pinned = (cpu: number | undefined, args: string[]) =>
  cpu === undefined
    ? { command: process.execPath, args }
    : { command: 'taskset', args: ['-c', String(cpu), process.execPath, ...args] };

/** The peers child process. */
export interface Peers {
  pid: number;
  info: PeersInfo;
  tokens(request: Omit<Extract<PeerRequest, { type: 'tokens' }>, 'id' | 'type'>): Promise<string[]>;
  stats(): Promise<PeerStats>;
  stop(): Promise<void>;
}

/** Starts bench/peers.ts with `idps` client issuers on `cpu`; resolves once they listen. */
export async function startPeers(idps: number, cpu: number | undefined): Promise<Peers> {
  const p = spawnProcess({
    ...pinned(cpu, ['--import', 'tsx', join(HERE, 'peers.ts'), String(idps)]),
    env: cleanEnv({ HOME: process.env.HOME }),
    ipc: true,
  });
  const pending = new Map<number, (reply: { result?: unknown; error?: string }) => void>();
  const info = await new Promise<PeersInfo>((ready, reject) => {
    void p.exited.then(() => reject(new Error(`bench peers exited:\n${p.output()}`)));
    p.child.on(
      'message',
      (m: { type?: string; info?: PeersInfo; id?: number; result?: unknown; error?: string }) => {
        if (m.type === 'ready' && m.info) ready(m.info);
        else if (m.id !== undefined) pending.get(m.id)?.(m);
      },
    );
  });
  let nextId = 1;
  const ask = <T>(request: Record<string, unknown>) =>
    new Promise<T>((answered, reject) => {
      const id = nextId++;
      pending.set(id, (reply) => {
        pending.delete(id);
        if (reply.error) reject(new Error(reply.error));
        else answered(reply.result as T);
      });
      p.child.send({ ...request, id });
    });
  return {
    pid: p.pid,
    info,
    tokens: (request) => ask<string[]>({ ...request, type: 'tokens' }),
    stats: () => ask<PeerStats>({ type: 'stats' }),
    stop: async () => {
      await p.stop();
    },
  };
}

const server = (name: string, p: Spawned, url: string, startedAt: number): Server => ({
  name,
  pid: p.pid,
  url,
  startedAt,
  startSeconds: (performance.now() - startedAt) / 1000,
  process: p,
});

function serverEnv(info: PeersInfo): NodeJS.ProcessEnv {
  return cleanEnv({ HOME: process.env.HOME, [SECRET_VARIABLE]: info.brokerSecret });
}

/** Options of {@link startBroker}. */
export interface BrokerOptions extends BenchOptions {
  name: string;
  /** Where the config is written. */
  dir: string;
  /** The build to run: a dist/ directory. */
  dist: string;
  info: PeersInfo;
  identities: number;
  cpu: number | undefined;
}

/** Writes the config and runs `voidkey serve` of `dist` on it, until /health/ready answers. */
export async function startBroker(o: BrokerOptions): Promise<Server> {
  const path = join(o.dir, `${o.name}.yaml`);
  const { population, logLevel } = o;
  const config = benchConfigYaml(o.info.endpoints, o.identities, {
    ...(population && { population }),
    ...(logLevel && { logLevel }),
  });
  await writeFile(path, config, { mode: 0o600 });
  const port = await freePort();
  const started = performance.now();
  const p = spawnProcess({
    ...pinned(o.cpu, [join(o.dist, 'cli/main.js'), 'serve', '--config', path, '--port', String(port)]),
    env: serverEnv(o.info),
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(p, `${url}/health/ready`, 120_000, 20);
  } catch (error) {
    await p.stop('SIGKILL');
    throw new Error(`${o.name} ${(error as Error).message}`);
  }
  return server(o.name, p, url, started);
}

/** Seconds from spawn to exit of `serve --help` on `cpu`: loading the code a start runs before its config. */
export async function serveCodeSeconds(dist: string, cpu: number | undefined): Promise<number> {
  const started = performance.now();
  await runToEnd({ ...pinned(cpu, [join(dist, 'cli/main.js'), 'serve', '--help']), env: cleanEnv() });
  return (performance.now() - started) / 1000;
}

/** Writes the floor's spec and starts bench/floor.ts with `identities` exact subjects. */
export async function startFloor(
  dir: string,
  info: PeersInfo,
  identities: number,
  cpu: number | undefined,
): Promise<Server> {
  const spec: FloorSpec = {
    issuers: info.endpoints.clientIdps.map((idp, i) => ({
      issuer: idp.issuer,
      jwksUri: info.directJwks[i] as string,
    })),
    identities,
    stsEndpoint: info.endpoints.stsEndpoint,
    brokerTokenEndpoint: info.brokerTokenEndpoint,
    brokerClientId: BROKER_CLIENT_ID,
    stsAudience: STS_AUDIENCE,
  };
  const path = join(dir, 'floor.json');
  await writeFile(path, JSON.stringify(spec), { mode: 0o600 });
  const started = performance.now();
  const p = spawnProcess({
    ...pinned(cpu, ['--import', 'tsx', join(HERE, 'floor.ts'), path]),
    env: serverEnv(info),
  });
  try {
    const [, url] = await waitForOutput(p, /^listening (http:\/\/\S+)$/m, 60_000);
    return server('floor', p, url as string, started);
  } catch (error) {
    await p.stop('SIGKILL');
    throw new Error(`floor ${(error as Error).message}`);
  }
}

async function post(url: string, token: string, keys: readonly string[]) {
  const res = await fetch(`${url}/credentials/mint`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ keys }),
  });
  return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

/**
 * Refuses to measure a server that does not do the work: a valid mint must
 * answer 200 with an AWS credential per key, and a token with a broken
 * signature must be refused with 401.
 */
export async function checkServer(server: Server, token: string, keys: readonly string[]): Promise<void> {
  const ok = await post(server.url, token, keys);
  const credentials = ok.body.credentials as Record<string, Record<string, string>> | undefined;
  if (
    ok.status !== 200 ||
    !keys.every((k) => credentials?.[k]?.AWS_ACCESS_KEY_ID && credentials[k]?.AWS_SESSION_TOKEN)
  ) {
    throw new Error(
      `${server.name}: a valid mint answered ${ok.status} ${JSON.stringify(ok.body.error ?? '')}`,
    );
  }
  const [head, payload, signature] = token.split('.') as [string, string, string];
  const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BA' : 'AA'}`;
  const bad = await post(server.url, `${head}.${payload}.${flipped}`, keys);
  if (bad.status !== 401) throw new Error(`${server.name}: a forged signature answered ${bad.status}`);
}
