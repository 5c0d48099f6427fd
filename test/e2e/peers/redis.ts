/**
 * Redis for tests. The machine's shared Redis (127.0.0.1:6379) is used with a
 * unique key prefix per run and cleaned up afterwards; it is never stopped.
 * Outages are shown on a private `redis-server` this file starts on a free
 * port (no persistence) and can kill, or on a port nothing listens on.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { cleanEnv, freePort, spawnProcess, waitForOutput } from '../../helpers/process.ts';

/** The machine's shared Redis. */
export const SHARED_REDIS_URL = 'redis://127.0.0.1:6379';

/** A key prefix no other run uses: `voidkey-test:<uuid>:`. */
export function uniquePrefix(): string {
  return `voidkey-test:${randomUUID()}:`;
}

/** A raw client (no prefix) for looking at and cleaning up what a test wrote. */
export function rawClient(url = SHARED_REDIS_URL): Redis {
  return new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000 });
}

/** Every key under `prefix`, sorted. */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 500);
    found.push(...keys);
    cursor = next;
  } while (cursor !== '0');
  return found.sort();
}

/** Deletes every key under `prefix`; returns how many there were. */
export async function deleteUnder(client: Redis, prefix: string): Promise<number> {
  const keys = await keysUnder(client, prefix);
  if (keys.length > 0) await client.del(...keys);
  return keys.length;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/** A TCP port on 127.0.0.1 that was bound and closed: connecting to it is refused. */
export const deadPort: () => Promise<number> = freePort;

/** True when `redis-server` can be run. */
export function redisServerAvailable(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** A private redis-server process. */
export interface PrivateRedis {
  port: number;
  /** `redis://[:password@]127.0.0.1:port`. */
  url: string;
  /** Kills it at once (SIGKILL): clients see the connection drop, as in a crash. */
  kill(): Promise<void>;
}

/** Starts `redis-server` on `port` (default: a free one) without persistence, optionally with `requirepass`. */
export async function startPrivateRedis(
  options: { password?: string; port?: number } = {},
): Promise<PrivateRedis> {
  const port = options.port ?? (await deadPort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.password !== undefined) args.push('--requirepass', options.password);
  const child = spawnProcess({ command: 'redis-server', args, env: cleanEnv() });
  try {
    await waitForOutput(child, /Ready to accept connections/, 5000);
  } catch (error) {
    await child.stop('SIGKILL');
    throw new Error(`redis-server ${(error as Error).message}`);
  }
  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    kill: async () => {
      await child.stop('SIGKILL');
    },
  };
}
