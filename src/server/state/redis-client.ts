/**
 * The one Redis connection of a broker process (docs/operations.md, Scale), shared by
 * the rate limiters and the replay guard. It is tuned to fail fast: with no
 * offline queue and one retry per command, a dead Redis answers every
 * command with an error within `commandTimeout` instead of holding requests,
 * so rate limits can fail open and replay protection can fail closed at once.
 * The URL's password is read here and never logged: logs show `target` only.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../../core/types.ts';

/** `redis` of the config (docs/configuration.md). */
export interface RedisSettings {
  url: string;
  keyPrefix: string;
  tls: boolean;
}

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
  readonly client: Redis;
  /** `redis[s]://host:port/db`: where it points, without credentials (safe to log). */
  readonly target: string;
  /** Opens the connection, logging the outcome; false when Redis cannot be reached now (it keeps retrying). */
  connect(): Promise<boolean>;
  /** True when Redis answers PING within the command timeout. */
  ping(): Promise<boolean>;
  /** Closes the connection (pending commands are answered first when Redis is up). */
  close(): Promise<void>;
}

/** Host, port, credentials, database and TLS from `settings`; throws TypeError for a URL that is not redis:// or rediss://. */
export function redisOptions(settings: Readonly<RedisSettings>, tuning: RedisTuning = {}): RedisOptions {
  const url = parseRedisUrl(settings.url);
  const tls = url.protocol === 'rediss:' || settings.tls;
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new TypeError('redis.url: the path must be a database number');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const maxDelay = tuning.maxReconnectDelay ?? 2000;
  return {
    host,
    port: url.port === '' ? 6379 : Number(url.port),
    db,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(tls ? { tls: { servername: host } } : {}),
    keyPrefix: settings.keyPrefix,
    // RESP2: every Redis and Redis-compatible proxy speaks it; nothing here needs RESP3.
    protocol: 2,
    lazyConnect: true,
    connectTimeout: tuning.connectTimeout ?? 2000,
    commandTimeout: tuning.commandTimeout ?? 1000,
    // Fail fast rather than queue: a request must not wait for Redis to come back.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // A SET NX sent again after a reconnect could claim a token twice over; never resend.
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times: number) => Math.min(times * 200, maxDelay),
  };
}

/** `settings.url` without its credentials, e.g. `rediss://cache.internal:6380/0`. */
export function redisTarget(settings: Readonly<Pick<RedisSettings, 'url' | 'tls'>>): string {
  const url = parseRedisUrl(settings.url);
  const scheme = url.protocol === 'rediss:' || settings.tls ? 'rediss' : 'redis';
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
  const client = new Redis(redisOptions(settings, tuning));
  const state = { closing: false };
  watchConnection(client, target, logger, state);
  return {
    client,
    target,
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

/**
 * Logs `ready` and the first error of each outage (ioredis reports every
 * failed reconnection, which would flood the log while Redis is down). The
 * listener also keeps ioredis from printing unhandled error events.
 */
function watchConnection(client: Redis, target: string, logger: Logger, state: { closing: boolean }): void {
  let down = false;
  let everReady = false;
  client.on('ready', () => {
    logger.info({ redis: target }, everReady ? 'reconnected to Redis' : 'connected to Redis');
    everReady = true;
    down = false;
  });
  client.on('error', (error: Error) => {
    if (down || state.closing) return;
    down = true;
    logger.warn(
      { redis: target, error: error.message },
      'Redis is unreachable: rate limits fail open, one-time tokens are refused (503) until it is back',
    );
  });
  client.on('close', () => {
    if (!everReady || down || state.closing) return;
    down = true;
    logger.warn({ redis: target }, 'lost the connection to Redis; reconnecting');
  });
}
