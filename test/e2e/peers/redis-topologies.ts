/**
 * Real Redis deployments started by the tests from the Debian packages
 * (`redis-server`, its `--sentinel` mode, `redis-cli`): a Redis Cluster of
 * primaries, a primary with a replica watched by three Sentinels, and a
 * TLS server that requires client certificates. Every server listens on
 * 127.0.0.1 on free ports, keeps nothing on disk beyond a temp dir, and is
 * killed (with the temp dir removed) by `stop()` — or, should the test
 * process exit first, by the exit hook.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { testCa } from '../../helpers/tls.ts';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when `redis-server` and `redis-cli` can be run. */
export function redisToolsAvailable(): boolean {
  return ['redis-server', 'redis-cli'].every(
    (tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0,
  );
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (+10000) is free too. */
async function freePort(bus = false): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (!bus) return port;
    if (port <= 55535 && (await canBind(port + 10000))) return port;
  }
}

/** One redis-server process. */
export interface ServerProcess {
  port: number;
  /** Kills it (SIGKILL) and waits for the exit. */
  kill(): Promise<void>;
  /** Everything it printed. */
  output(): string;
}

/** Spawns `redis-server args…` and waits for `ready` in its output (5 s). */
async function startServer(args: string[], port: number, ready: RegExp): Promise<ServerProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail('did not start within 5 s'), 5000);
    let settled = false;
    function fail(why: string) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`redis-server ${args.join(' ')} ${why}\n${output}`));
    }
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!settled && ready.test(output)) {
        settled = true;
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(() => fail('exited'));
  });
  return {
    port,
    output: () => output,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

const READY = /Ready to accept connections/;
const NO_DISK = ['--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'];

/** A standalone data node on a free port (optionally a replica of `replicaOf`), its files in `dir`. */
async function dataNode(
  dir: string,
  options: { password?: string; replicaOf?: number; extra?: string[] } = {},
): Promise<ServerProcess> {
  const port = await freePort();
  const args = ['--port', String(port), '--dir', dir, '--dbfilename', `dump-${port}.rdb`, ...NO_DISK];
  if (options.password !== undefined)
    args.push('--requirepass', options.password, '--masterauth', options.password);
  if (options.replicaOf !== undefined) args.push('--replicaof', '127.0.0.1', String(options.replicaOf));
  return startServer([...args, ...(options.extra ?? [])], port, READY);
}

/** A raw client to one node (no prefix, no retries). */
export function nodeClient(port: number, password?: string): Redis {
  return new Redis({
    host: '127.0.0.1',
    port,
    ...(password === undefined ? {} : { password }),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 2000,
  });
}

/** Runs one command on the node at `port`. */
export async function onNode(
  port: number,
  password: string | undefined,
  ...command: string[]
): Promise<unknown> {
  const client = nodeClient(port, password);
  try {
    await client.connect();
    return await client.call(command[0] as string, ...command.slice(1));
  } finally {
    client.disconnect();
  }
}

/** Polls `check` every 100 ms until it is true (throws after `ms`, naming `what`). */
export async function waitFor(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A set of servers and their temp dir. */
interface Group {
  dir: string;
  servers: ServerProcess[];
  stop(): Promise<void>;
}

async function group(name: string): Promise<Group> {
  const dir = await mkdtemp(join(tmpdir(), `voidkey-${name}-`));
  const servers: ServerProcess[] = [];
  return {
    dir,
    servers,
    stop: async () => {
      await Promise.all(servers.map((s) => s.kill()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Redis Cluster of primaries only. */
export interface RedisCluster {
  /** `127.0.0.1:port` of every node (the broker's `redis.cluster`). */
  seeds: string[];
  nodes: ServerProcess[];
  stop(): Promise<void>;
}

/** Starts `primaries` cluster-enabled nodes, gives them the 16384 slots with `redis-cli --cluster create`. */
export async function startRedisCluster(
  options: { primaries?: number; password?: string } = {},
): Promise<RedisCluster> {
  const g = await group('cluster');
  try {
    for (let i = 0; i < (options.primaries ?? 3); i += 1) {
      const port = await freePort(true);
      const args = ['--port', String(port), '--dir', g.dir, ...NO_DISK, '--cluster-enabled', 'yes'];
      args.push('--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '2000');
      if (options.password !== undefined)
        args.push('--requirepass', options.password, '--masterauth', options.password);
      g.servers.push(await startServer(args, port, READY));
    }
    const seeds = g.servers.map((s) => `127.0.0.1:${s.port}`);
    const auth = options.password === undefined ? [] : ['-a', options.password, '--no-auth-warning'];
    await run(
      'redis-cli',
      [...auth, '--cluster', 'create', ...seeds, '--cluster-replicas', '0', '--cluster-yes'],
      {
        timeout: 20_000,
      },
    );
    for (const server of g.servers) {
      await waitFor('cluster_state:ok', async () =>
        String(await onNode(server.port, options.password, 'CLUSTER', 'INFO')).includes('cluster_state:ok'),
      );
    }
    return { seeds, nodes: g.servers, stop: g.stop };
  } catch (error) {
    await g.stop();
    throw error;
  }
}

/** A primary, a replica and three Sentinels (quorum 2) watching them as `name`. */
export interface SentinelSet {
  name: string;
  /** `127.0.0.1:port` of every Sentinel (the broker's `redis.sentinels`). */
  sentinels: string[];
  /** The two data nodes, the first one the initial primary. */
  data: ServerProcess[];
  /** Port of the current primary, as the first Sentinel that answers sees it. */
  primaryPort(): Promise<number>;
  /** `SENTINEL FAILOVER`: waits until a Sentinel names another primary and it accepts writes. */
  failover(): Promise<number>;
  /** Waits until the primary is no longer the one on `port` and the new one accepts writes (after a kill). */
  awaitNewPrimary(port: number): Promise<number>;
  stop(): Promise<void>;
}

/** Starts the set; `password` protects the data nodes, `sentinelPassword` the Sentinels. */
export async function startSentinelSet(
  options: { password?: string; sentinelPassword?: string } = {},
): Promise<SentinelSet> {
  const name = 'voidkey-primary';
  const { password, sentinelPassword } = options;
  const g = await group('sentinel');
  try {
    const primary = await dataNode(g.dir, { password });
    g.servers.push(primary);
    const replica = await dataNode(g.dir, { password, replicaOf: primary.port });
    g.servers.push(replica);
    await waitFor('the replica in sync', async () =>
      String(await onNode(replica.port, password, 'INFO', 'replication')).includes('master_link_status:up'),
    );
    const sentinelPorts: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const port = await freePort();
      const conf = join(g.dir, `sentinel-${port}.conf`);
      const lines = [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${g.dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${primary.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 4000`,
        `sentinel parallel-syncs ${name} 1`,
      ];
      if (password !== undefined) lines.push(`sentinel auth-pass ${name} ${password}`);
      if (sentinelPassword !== undefined)
        lines.push(`requirepass "${sentinelPassword}"`, `sentinel sentinel-pass ${sentinelPassword}`);
      await writeFile(conf, `${lines.join('\n')}\n`, { mode: 0o600 });
      g.servers.push(await startServer([conf, '--sentinel'], port, /\+monitor master/));
      sentinelPorts.push(port);
    }
    const ask = async (...command: string[]) => {
      for (const port of sentinelPorts) {
        try {
          return await onNode(port, sentinelPassword, ...command);
        } catch {}
      }
      throw new Error('no Sentinel answers');
    };
    // Failover needs each Sentinel to know the replica and the other two.
    for (const port of sentinelPorts) {
      await waitFor('the Sentinels to know each other and the replica', async () => {
        const info = (await onNode(port, sentinelPassword, 'SENTINEL', 'MASTER', name)) as string[];
        const field = (key: string) => Number(info[info.indexOf(key) + 1]);
        return field('num-slaves') === 1 && field('num-other-sentinels') === 2;
      });
    }
    const primaryPort = async () =>
      Number(((await ask('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)) as string[])[1]);
    const awaitNewPrimary = async (old: number) => {
      let current = old;
      await waitFor(
        'a new primary',
        async () => {
          current = await primaryPort();
          if (current === old) return false;
          const role = String(await onNode(current, password, 'INFO', 'replication'));
          return role.includes('role:master');
        },
        20_000,
      );
      return current;
    };
    return {
      name,
      sentinels: sentinelPorts.map((p) => `127.0.0.1:${p}`),
      data: [primary, replica],
      primaryPort,
      failover: async () => {
        const old = await primaryPort();
        await ask('SENTINEL', 'FAILOVER', name);
        return awaitNewPrimary(old);
      },
      awaitNewPrimary,
      stop: g.stop,
    };
  } catch (error) {
    await g.stop();
    throw error;
  }
}

/** Two standalone servers; `demote()` makes the first a replica of the second (what a managed service's failover does behind one address). */
export interface StandalonePair {
  primary: ServerProcess;
  other: ServerProcess;
  /** `REPLICAOF` the other node: the first turns read-only, its address unchanged. */
  demote(): Promise<void>;
  /** `REPLICAOF NO ONE`: the first accepts writes again. */
  promote(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the pair (no replication until `demote()`). */
export async function startStandalonePair(): Promise<StandalonePair> {
  const g = await group('pair');
  try {
    const primary = await dataNode(g.dir);
    g.servers.push(primary);
    const other = await dataNode(g.dir);
    g.servers.push(other);
    return {
      primary,
      other,
      demote: async () => {
        await onNode(primary.port, undefined, 'REPLICAOF', '127.0.0.1', String(other.port));
      },
      promote: async () => {
        await onNode(primary.port, undefined, 'REPLICAOF', 'NO', 'ONE');
      },
      stop: g.stop,
    };
  } catch (error) {
    await g.stop();
    throw error;
  }
}

/** A TLS-only server with `tls-auth-clients yes`, a test CA, and a client certificate it issued. */
export interface TlsRedis {
  port: number;
  /** Files: the CA certificate, the client certificate and key (all under the temp dir). */
  ca: string;
  cert: string;
  key: string;
  /** The name in the server certificate besides 127.0.0.1. */
  servername: string;
  /** Where a config file may sit next to the certificates. */
  dir: string;
  stop(): Promise<void>;
}

/** Starts the TLS server (`--port 0 --tls-port N`), ACL user `voidkey` with `password` when given. */
export async function startTlsRedis(
  options: { username?: string; password?: string } = {},
): Promise<TlsRedis> {
  const g = await group('tls');
  try {
    const ca = testCa(g.dir);
    const servername = 'redis.voidkey.test';
    const server = ca.issue(servername);
    const client = ca.issue('voidkey-broker');
    const port = await freePort();
    const args = ['--port', '0', '--tls-port', String(port), '--dir', g.dir, ...NO_DISK];
    args.push('--tls-cert-file', server.cert, '--tls-key-file', server.key, '--tls-ca-cert-file', ca.ca);
    args.push('--tls-auth-clients', 'yes');
    if (options.username !== undefined && options.password !== undefined) {
      args.push('--user', options.username, 'on', `>${options.password}`, '~*', '+@all');
      args.push('--user', 'default', 'off');
    }
    g.servers.push(await startServer(args, port, READY));
    return { port, ca: ca.ca, ...client, servername, dir: g.dir, stop: g.stop };
  } catch (error) {
    await g.stop();
    throw error;
  }
}

/** Starts a plain server with extra `redis-server` arguments (ACL users, maxmemory…). */
export async function startConfiguredRedis(
  extra: string[],
): Promise<{ port: number; stop(): Promise<void> }> {
  const g = await group('redis');
  try {
    const node = await dataNode(g.dir, { extra });
    g.servers.push(node);
    return { port: node.port, stop: g.stop };
  } catch (error) {
    await g.stop();
    throw error;
  }
}

/** A lone Sentinel (monitoring a primary that need not exist): what a Sentinel address answers. */
export async function startLoneSentinel(): Promise<{ port: number; stop(): Promise<void> }> {
  const g = await group('lone-sentinel');
  try {
    const port = await freePort();
    const conf = join(g.dir, 'sentinel.conf');
    const lines = [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${g.dir}`,
      `sentinel monitor nobody 127.0.0.1 ${await freePort()} 1`,
    ];
    await writeFile(conf, `${lines.join('\n')}\n`, { mode: 0o600 });
    g.servers.push(await startServer([conf, '--sentinel'], port, /\+monitor master/));
    return { port, stop: g.stop };
  } catch (error) {
    await g.stop();
    throw error;
  }
}
