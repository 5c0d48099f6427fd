/**
 * The one Redis connection of a broker process (docs/operations.md, Redis),
 * shared by the rate limiters and the replay guard, in the configured
 * topology: one server (`url`), a primary found through Sentinels
 * (`sentinels` + `name`), or a Redis Cluster (`cluster`). Failover is
 * ioredis's own: the Sentinel client asks the Sentinels for the current
 * primary whenever it reconnects, the Cluster client follows MOVED/ASK and
 * refreshes its slot map, and a READONLY answer (a primary demoted in place)
 * drops the connection so that it reconnects.
 *
 * It is tuned to fail fast and never to send a command twice: no offline
 * queue, no resend after a reconnect, and no Cluster retry of a command
 * whose connection closed. A SET NX whose answer was lost may have landed;
 * sending it again would turn the token's own first use into a replay, or,
 * after a failover, claim it on a second primary. Such a mint fails with 503
 * instead. Passwords are read here and never logged: logs show `target` only.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { parseHostPort } from '../../core/config/checks-general.ts';
import type { Config } from '../../core/config/schema.ts';
import type { Logger } from '../../core/types.ts';

/** `redis` of the config (docs/configuration.md). */
export type RedisSettings = NonNullable<Config['redis']>;

/** Which deployment the config describes. */
export type RedisTopology = 'standalone' | 'sentinel' | 'cluster';

/** A client of any topology (both run the same commands). */
export type RedisClient = Redis | Cluster;

/** Timeouts of the connection, ms. */
export interface RedisTuning {
  /** Most time to open a connection (default 2000). */
  connectTimeout?: number;
  /** Most time for one command's answer (default 1000). */
  commandTimeout?: number;
  /** Longest wait between reconnection attempts (default 2000). */
  maxReconnectDelay?: number;
}

/** The shared connection and its lifecycle. */
export interface SharedRedis {
  readonly client: RedisClient;
  readonly topology: RedisTopology;
  /** Where it points, without credentials (safe to log): `redis://host:port/db`, `sentinel://…/name`, `cluster://…`. */
  readonly target: string;
  /** The last connection error, while the client is not ready (for health and `config validate`). */
  lastError(): Error | undefined;
  /** Opens the connection, logging the outcome; false when Redis cannot be reached now (it keeps retrying). */
  connect(): Promise<boolean>;
  /** True when Redis answers PING within the command timeout. */
  ping(): Promise<boolean>;
  /** Closes the connection (pending commands are answered first when Redis is up). */
  close(): Promise<void>;
}

/** The topology `settings` names. */
export function topologyOf(settings: Readonly<RedisSettings>): RedisTopology {
  if (settings.sentinels) return 'sentinel';
  if (settings.cluster) return 'cluster';
  return 'standalone';
}

/** Options every connection shares: credentials, TLS, timeouts, and the never-resend rules. */
function connectionOptions(
  settings: Readonly<RedisSettings>,
  tuning: RedisTuning,
  tls: ConnectionOptions | undefined,
) {
  return {
    ...(settings.username === undefined ? {} : { username: settings.username }),
    ...(settings.password === undefined ? {} : { password: settings.password }),
    ...(tls ? { tls } : {}),
    keyPrefix: settings.keyPrefix,
    // RESP2: every Redis and Redis-compatible proxy speaks it; nothing here needs RESP3.
    protocol: 2 as const,
    lazyConnect: true,
    connectTimeout: tuning.connectTimeout ?? 2000,
    commandTimeout: tuning.commandTimeout ?? 1000,
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    // A demoted primary answers writes with READONLY: reconnect (through the Sentinels, to the new primary)
    // without resending the refused command.
    reconnectOnError: (error: Error) => (error.message.startsWith('READONLY') ? 1 : false),
  } satisfies RedisOptions;
}

/** Node TLS options from `redis.tls` (files read now); undefined without TLS. Throws TypeError naming an unreadable file. */
export function tlsOptions(settings: Readonly<RedisSettings>, host?: string): ConnectionOptions | undefined {
  const rediss = settings.url?.startsWith('rediss:') === true;
  const tls = settings.tls;
  if (tls === false && !rediss) return undefined;
  const files = typeof tls === 'object' ? tls : {};
  const read = (field: 'ca' | 'cert' | 'key') => {
    const path = files[field];
    if (path === undefined) return {};
    try {
      return { [field]: readFileSync(path) };
    } catch (error) {
      throw new TypeError(
        `redis.tls.${field}: cannot read ${path} (${(error as { code?: string }).code ?? 'error'})`,
      );
    }
  };
  // Node checks the certificate against `servername`, else the host; an IP is no SNI name.
  const servername = files.servername ?? (host !== undefined && isIP(host) === 0 ? host : undefined);
  return { ...read('ca'), ...read('cert'), ...read('key'), ...(servername ? { servername } : {}) };
}

/** Waits 0.2 s more per attempt, up to `maxReconnectDelay`; never gives up. */
function reconnectDelay(tuning: RedisTuning): (times: number) => number {
  const maxDelay = tuning.maxReconnectDelay ?? 2000;
  return (times) => Math.min(times * 200, maxDelay);
}

function hostPorts(list: readonly string[]): { host: string; port: number }[] {
  return list.map((entry) => {
    const parsed = parseHostPort(entry);
    if (!parsed) throw new TypeError('redis: an address is not host:port');
    return parsed;
  });
}

/** The ioredis client for `settings`, not yet connected. Throws TypeError for a bad URL or an unreadable TLS file. */
export function createRedisClient(settings: Readonly<RedisSettings>, tuning: RedisTuning = {}): RedisClient {
  const retry = reconnectDelay(tuning);
  if (settings.cluster) {
    const options: ClusterOptions = {
      redisOptions: connectionOptions(settings, tuning, tlsOptions(settings)),
      keyPrefix: settings.keyPrefix,
      lazyConnect: true,
      enableOfflineQueue: false,
      clusterRetryStrategy: retry,
      // MOVED, ASK, TRYAGAIN and CLUSTERDOWN are answers to a command that did not run: ioredis
      // redirects those. A closed connection leaves the outcome unknown: never retried.
      retryDelayOnFailover: 0,
      slotsRefreshTimeout: tuning.connectTimeout ?? 2000,
    };
    return new Cluster(hostPorts(settings.cluster), options);
  }
  if (settings.sentinels) {
    const tls = tlsOptions(settings);
    return new Redis({
      ...connectionOptions(settings, tuning, tls),
      sentinels: hostPorts(settings.sentinels),
      name: settings.name,
      role: 'master',
      ...(settings.sentinelPassword === undefined ? {} : { sentinelPassword: settings.sentinelPassword }),
      ...(tls ? { enableTLSForSentinelMode: true, sentinelTLS: tls } : {}),
      sentinelCommandTimeout: tuning.connectTimeout ?? 2000,
      sentinelRetryStrategy: retry,
      // No +switch-master subscription: ioredis 6's detector can close the connection while the client is
      // reconnecting after a killed primary, which ends the client for good. A closed connection and a demoted
      // primary's READONLY already send the client back to the Sentinels for the current primary.
      failoverDetector: false,
      enableOfflineQueue: false,
      retryStrategy: retry,
    });
  }
  return new Redis(redisOptions(settings, tuning));
}

/** Options of a standalone client: host, port, credentials and database from `url`, then the shared ones. Throws TypeError for a bad URL. */
export function redisOptions(settings: Readonly<RedisSettings>, tuning: RedisTuning = {}): RedisOptions {
  const url = parseRedisUrl(settings.url ?? '');
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new TypeError('redis.url: the path must be a database number');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return {
    host,
    port: url.port === '' ? 6379 : Number(url.port),
    db,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...connectionOptions(settings, tuning, tlsOptions(settings, host)),
    enableOfflineQueue: false,
    retryStrategy: reconnectDelay(tuning),
  };
}

/** Where `settings` points, without credentials. */
export function redisTarget(settings: Readonly<RedisSettings>): string {
  const tls = settings.tls !== false;
  if (settings.sentinels)
    return `sentinel${tls ? 's' : ''}://${settings.sentinels.join(',')}/${settings.name ?? ''}`;
  if (settings.cluster) return `cluster${tls ? 's' : ''}://${settings.cluster.join(',')}`;
  const url = parseRedisUrl(settings.url ?? '');
  const scheme = url.protocol === 'rediss:' || tls ? 'rediss' : 'redis';
  const db = url.pathname.length > 1 ? url.pathname.slice(1) : '0';
  return `${scheme}://${url.hostname}:${url.port === '' ? '6379' : url.port}/${db}`;
}

function parseRedisUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The message must not echo the text: it may hold a password.
    throw new TypeError('redis.url: not a URL');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new TypeError('redis.url: must be a redis:// or rediss:// URL');
  }
  return url;
}

/** A lazily connected client for `settings` (call `connect()`); connection changes are logged once each. */
export function createSharedRedis(
  settings: Readonly<RedisSettings>,
  logger: Logger,
  tuning: RedisTuning = {},
): SharedRedis {
  const target = redisTarget(settings);
  const client = createRedisClient(settings, tuning);
  const state: ConnectionState = { closing: false, lastError: undefined };
  watchConnection(client, target, logger, state);
  return {
    client,
    topology: topologyOf(settings),
    target,
    lastError: () => (client.status === 'ready' ? undefined : state.lastError),
    async connect() {
      logger.info({ redis: target }, 'connecting to Redis');
      try {
        await client.connect();
        return true;
      } catch {
        // The `error` listener has logged why; ioredis keeps reconnecting in the background.
        return false;
      }
    },
    async ping() {
      try {
        return (await client.ping()) === 'PONG';
      } catch {
        return false;
      }
    },
    async close() {
      state.closing = true;
      if (client.status === 'end') return;
      if (client.status !== 'ready') {
        client.disconnect();
        return;
      }
      const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
      await ended;
    },
  };
}

interface ConnectionState {
  closing: boolean;
  lastError: Error | undefined;
}

/**
 * Logs `ready` and the first error of each outage (ioredis reports every
 * failed reconnection, which would flood the log while Redis is down). The
 * listener also keeps ioredis from printing unhandled error events.
 */
function watchConnection(client: RedisClient, target: string, logger: Logger, state: ConnectionState): void {
  let down = false;
  let everReady = false;
  client.on('ready', () => {
    logger.info({ redis: target }, everReady ? 'reconnected to Redis' : 'connected to Redis');
    everReady = true;
    down = false;
    state.lastError = undefined;
  });
  client.on('error', (error: Error & { lastNodeError?: Error }) => {
    // A Cluster that cannot load its slot map says why in the last node's error.
    state.lastError = error.lastNodeError ?? error;
    if (down || state.closing) return;
    down = true;
    logger.warn(
      { redis: target, error: state.lastError.message },
      'Redis is unreachable: rate limits fail open, one-time tokens are refused (503) until it is back',
    );
  });
  client.on('close', () => {
    if (!everReady || down || state.closing) return;
    down = true;
    logger.warn({ redis: target }, 'lost the connection to Redis; reconnecting');
  });
}
