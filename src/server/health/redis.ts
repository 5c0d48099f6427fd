/**
 * The `redis` health check (docs/operations.md): it does what the broker
 * needs — a write with a TTL under the key prefix, read back — and compares
 * what the server says it is (INFO: mode, role, memory policy) with the
 * configured topology. A PING alone answers from a replica, a Sentinel, a
 * Cluster node or an ACL user without key rights just the same, while every
 * one-time mint fails.
 *
 * Unreachable is "degraded" (an outage of the shared Redis must not take
 * every instance out of the load balancer; it heals by itself); a server
 * that answers but cannot do the job is "unhealthy" (it needs an operator).
 * Both leave the overall status "degraded" and 200. The messages name the
 * cause and the fix, never the address: `/health` is public.
 */
import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { RedisClient, RedisTopology, SharedRedis } from '../state/redis-client.ts';
import { REDIS_DOWN_ERROR, type RedisCheck } from './probe.ts';

const FIX = {
  cluster: 'this is a cluster node: configure `redis.cluster` with its address',
  sentinel: 'this is a Sentinel, not a data node: configure `redis.sentinels` and `redis.name`',
  notCluster: 'not a cluster node (cluster support disabled): configure `redis.url` or `redis.sentinels`',
  replica:
    'the server is a read-only replica: writes go to the primary (a demoted primary behind `redis.url`? ' +
    'use `redis.sentinels` to follow failovers)',
} as const;

/** The operator's explanation of a Redis error reply or connection error, or undefined for "unreachable". */
export function explainRedisError(error: Error, topology: RedisTopology): string | undefined {
  const message = error.message;
  const word = message.split(' ')[0] ?? '';
  if (word === 'READONLY') return FIX.replica;
  if (word === 'MOVED' || word === 'ASK' || word === 'CROSSSLOT') return FIX.cluster;
  if (/cluster support disabled/i.test(message)) return FIX.notCluster;
  if (/unknown command/i.test(message) && topology !== 'cluster') return FIX.sentinel;
  if (word === 'NOPERM') {
    return 'the ACL user lacks a permission the broker needs (NOPERM): allow its keys under `redis.keyPrefix` and the commands listed in docs/operations.md';
  }
  if (word === 'OOM') {
    return 'the server is out of memory (maxmemory reached, noeviction): writes are refused; raise maxmemory';
  }
  if (word === 'WRONGPASS' || word === 'NOAUTH' || /AUTH/.test(word)) {
    return 'authentication failed: check `redis.username` and `redis.password`';
  }
  if (word === 'LOADING') return 'the server is loading its data set';
  if (word === 'CLUSTERDOWN') return 'the cluster is down (slots not covered)';
  if (word === 'MASTERDOWN') return 'the replica lost its primary';
  if (/^(ERR|WRONGTYPE)\b/.test(message)) return `the server refused a command: ${message.slice(0, 120)}`;
  return undefined;
}

/** `INFO` as a map of field → value. */
function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

/** What INFO of one data node says is wrong for `topology`, or undefined. */
function checkInfo(info: Map<string, string>, topology: RedisTopology): string | undefined {
  if (info.get('redis_mode') === 'sentinel') return FIX.sentinel;
  const clusterNode = info.get('cluster_enabled') === '1';
  if (clusterNode && topology !== 'cluster') return FIX.cluster;
  if (!clusterNode && topology === 'cluster') return FIX.notCluster;
  if (info.get('role') !== 'master') return FIX.replica;
  const policy = info.get('maxmemory_policy');
  if (Number(info.get('maxmemory') ?? 0) > 0 && policy !== undefined && policy !== 'noeviction') {
    return `maxmemory-policy is ${policy}: one-time-token records may be evicted before they expire (a replay would pass); set noeviction`;
  }
  return undefined;
}

function dataNodes(client: RedisClient): Redis[] {
  return client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
}

/** Runs the check once against `redis`. Never throws. */
export async function checkRedis(
  redis: Pick<SharedRedis, 'client' | 'topology' | 'lastError'>,
): Promise<RedisCheck> {
  const { client, topology } = redis;
  const problem = (error: string): RedisCheck => ({ state: 'unhealthy', error: `redis: ${error}` });
  if (client.status !== 'ready') {
    const last = redis.lastError();
    const explained = last && explainRedisError(last, topology);
    return explained ? problem(explained) : { state: 'degraded', error: REDIS_DOWN_ERROR };
  }
  try {
    for (const node of dataNodes(client)) {
      const found = checkInfo(parseInfo(await node.info()), topology);
      if (found) return problem(found);
    }
    const key = `health:${randomUUID()}`;
    const value = randomUUID();
    await client.set(key, value, 'PX', 10_000);
    if ((await client.get(key)) !== value) return problem('a value written was not read back');
    return { state: 'healthy' };
  } catch (error) {
    const explained = error instanceof Error ? explainRedisError(error, topology) : undefined;
    return explained ? problem(explained) : { state: 'degraded', error: REDIS_DOWN_ERROR };
  }
}
