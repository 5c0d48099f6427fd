/**
 * Setting up what a benchmark run measures: the peers child process (over
 * IPC), broker processes (`voidkey serve` from dist/, its own process, pinned)
 * with generated configs, the floor servers, and a correctness check of each
 * server before any number is taken from it.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BROKER_CLIENT_ID, benchConfigYaml, SECRET_VARIABLE, STS_AUDIENCE } from './config.ts';
import type { FloorSpec } from './floor.ts';
import type { PeerRequest, PeerStats, PeersInfo } from './peers.ts';
import { pinProcess, type ServerProcess, startServer } from './procs.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The built executable the benchmark runs. */
export const BIN = resolve(HERE, '../dist/cli/main.js');

/** The peers child process. */
export interface PeersClient {
  pid: number;
  info: PeersInfo;
  tokens(identities: number, count: number): Promise<string[]>;
  stats(): Promise<PeerStats>;
  close(): Promise<void>;
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
type PeerReply = { result?: unknown; error?: string };

/** Starts bench/peers.ts as a child process pinned to `cpu`; resolves once its peers listen. */
export async function startPeersProcess(idps: number, cpu: number | undefined): Promise<PeersClient> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(HERE, 'peers.ts'), String(idps)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  pinProcess(child.pid as number, cpu);
  const pending = new Map<number, (reply: PeerReply) => void>();
  let nextId = 1;
  const info = await new Promise<PeersInfo>((resolveInfo, reject) => {
    child.once('exit', (code) => reject(new Error(`bench peers exited with ${code}`)));
    child.on('message', (message: PeerReply & { type?: string; id?: number; info?: PeersInfo }) => {
      if (message.type === 'ready' && message.info) resolveInfo(message.info);
      else if (message.id !== undefined) pending.get(message.id)?.(message);
    });
  });
  const ask = <T>(request: WithoutId<PeerRequest>): Promise<T> => {
    const id = nextId++;
    return new Promise<T>((resolveReply, reject) => {
      pending.set(id, (reply) => {
        pending.delete(id);
        if (reply.error) reject(new Error(reply.error));
        else resolveReply(reply.result as T);
      });
      child.send({ ...request, id });
    });
  };
  return {
    pid: child.pid as number,
    info,
    tokens: (identities, count) => ask<string[]>({ type: 'tokens', identities, count }),
    stats: () => ask<PeerStats>({ type: 'stats' }),
    async close() {
      const exited = new Promise((r) => child.once('exit', r));
      await ask({ type: 'close' }).catch(() => undefined);
      await exited;
    },
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function serverEnv(info: PeersInfo): NodeJS.ProcessEnv {
  // Nothing from the host: no proxy or AWS variables change what is measured.
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME,
    [SECRET_VARIABLE]: info.brokerSecret,
  };
}

/** Options of {@link startBrokerProcess}. */
export interface BrokerOptions {
  name: string;
  dir: string;
  info: PeersInfo;
  identities: number;
  cpu: number | undefined;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs?: string[];
  /** `logging.level` of the config (default warn). */
  logLevel?: 'warn' | 'info';
  /** The broker's entry point (default: this checkout's build, {@link BIN}). */
  bin?: string;
}

/** Writes the config for `identities` identities and runs `voidkey serve` on it. */
export async function startBrokerProcess(options: BrokerOptions): Promise<ServerProcess> {
  const path = join(options.dir, `${options.name}.yaml`);
  await writeFile(
    path,
    benchConfigYaml(options.info.endpoints, options.identities, {
      ...(options.logLevel ? { logLevel: options.logLevel } : {}),
    }),
    { mode: 0o600 },
  );
  const port = await freePort();
  return startServer({
    name: options.name,
    command: process.execPath,
    args: [
      ...(options.nodeArgs ?? []),
      options.bin ?? BIN,
      'serve',
      '--config',
      path,
      '--port',
      String(port),
    ],
    cpu: options.cpu,
    env: serverEnv(options.info),
    url: `http://127.0.0.1:${port}`,
  });
}

/** Writes the floor's spec and starts bench/floor.ts in `mode`. */
export async function startFloorProcess(options: {
  name: string;
  dir: string;
  info: PeersInfo;
  identities: number;
  mode: 'sdk' | 'raw';
  cpu: number | undefined;
  nodeArgs?: string[];
}): Promise<ServerProcess> {
  const { info } = options;
  const spec: FloorSpec = {
    issuers: info.endpoints.clientIdps.map((idp, i) => ({
      issuer: idp.issuer,
      jwksUri: info.directJwks[i] as string,
    })),
    identities: options.identities,
    stsEndpoint: info.endpoints.stsEndpoint,
    brokerTokenEndpoint: info.brokerTokenEndpoint,
    brokerClientId: BROKER_CLIENT_ID,
    stsAudience: STS_AUDIENCE,
  };
  const path = join(options.dir, `${options.name}.json`);
  await writeFile(path, JSON.stringify(spec), { mode: 0o600 });
  return startServer({
    name: options.name,
    command: process.execPath,
    args: [...(options.nodeArgs ?? []), '--import', 'tsx', join(HERE, 'floor.ts'), path, options.mode],
    cpu: options.cpu,
    env: serverEnv(info),
  });
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
export async function checkServer(
  server: ServerProcess,
  token: string,
  keys: readonly string[],
): Promise<void> {
  const ok = await post(server.url, token, keys);
  const credentials = ok.body.credentials as Record<string, Record<string, string>> | undefined;
  const complete = keys.every(
    (k) => credentials?.[k]?.AWS_ACCESS_KEY_ID && credentials[k]?.AWS_SESSION_TOKEN,
  );
  if (ok.status !== 200 || !complete) {
    throw new Error(
      `${server.name}: a valid mint answered ${ok.status} ${JSON.stringify(ok.body.error ?? '')}`,
    );
  }
  const [head, payload, signature] = token.split('.') as [string, string, string];
  const flipped = `${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BA' : 'AA'}`;
  const bad = await post(server.url, `${head}.${payload}.${flipped}`, keys);
  if (bad.status !== 401) throw new Error(`${server.name}: a forged signature answered ${bad.status}`);
}
