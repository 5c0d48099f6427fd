/**
 * Everything the HTTP server is built with, in one place: Node's and
 * fastify's limits, parser strictness, trust proxy, request ids and TLS.
 *
 * The limits are set explicitly: Node's defaults are loose (a 5-minute
 * request timeout, connections checked for expiry only every 30 s) and
 * fastify turns its request timeout off. What a request may cost before the
 * application sees it is bounded here; the body limit is `server.bodyLimit`
 * (fastify, 413 in the error format).
 *
 * | limit | value | why |
 * |---|---|---|
 * | requestTimeout | `server.requestTimeout` | the whole request (head and body) must arrive within it: slow bodies get 408 |
 * | headersTimeout | min(5 s, requestTimeout) | a head trickled byte by byte (slowloris) is cut with 408 |
 * | connectionsCheckingInterval | 500 ms | how often Node looks for expired requests (default 30 s would let a slowloris hold a socket 30 s longer) |
 * | keepAliveTimeout | 72 s | longer than load balancers' usual 60 s idle timeout, so the balancer closes first and never reuses a socket this side is closing |
 * | connectionTimeout | 120 s | socket inactivity, a backstop beyond the others |
 * | maxHeaderSize | 32 KiB | a 16 KiB token (the verifier's cap) plus request line and headers fits; a token somewhat over the cap gets the documented 401 `token_too_large`, not a 431 (Node's default of 16 KiB would 431 a token under the cap) |
 * | maxRequestsPerSocket | 1000 | long-lived balancer connections are recycled, so new replicas get traffic after a scale-out |
 *
 * `maxHeadersCount` stays at Node's 2000: past it Node drops headers instead
 * of refusing the request, and maxHeaderSize already bounds the count (a head
 * too large for it is a 431 from Node, exempt from the error format, docs/errors.md).
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../core/config/schema.ts';
import { requestLog } from './logger.ts';

/** Largest request head (request line plus headers), bytes; larger is a 431 from Node. */
export const MAX_HEADER_BYTES = 32 * 1024;
/** Longest time to receive a request head, ms (capped by `server.requestTimeout`). */
export const HEADERS_TIMEOUT_MS = 5_000;
/** How often Node looks for requests past their timeouts, ms. */
export const CONNECTIONS_CHECKING_INTERVAL_MS = 500;
/** How long an idle kept-alive socket stays open, ms. */
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;
/** Socket inactivity timeout, ms. */
export const SOCKET_TIMEOUT_MS = 120_000;
/** Requests served on one kept-alive socket before it is closed. */
export const MAX_REQUESTS_PER_SOCKET = 1_000;

/** Options Node's http.createServer (and https.createServer) takes. */
export interface NodeServerLimits {
  requestTimeout: number;
  headersTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
  maxHeaderSize: number;
  insecureHTTPParser: false;
  requireHostHeader: true;
  joinDuplicateHeaders: false;
}

/** The Node server limits for a request deadline of `requestTimeout` ms (config `server.requestTimeout`). */
export function nodeServerLimits(requestTimeout: number): NodeServerLimits {
  return {
    requestTimeout,
    // Node refuses a headersTimeout above requestTimeout.
    headersTimeout: Math.min(HEADERS_TIMEOUT_MS, requestTimeout),
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
    maxHeaderSize: MAX_HEADER_BYTES,
    // Lenient parsing is how request smuggling starts; a Host header is HTTP/1.1's rule.
    insecureHTTPParser: false,
    requireHostHeader: true,
    // Two Authorization headers must not become one comma-joined value.
    joinDuplicateHeaders: false,
  };
}

/**
 * Fastify constructor options carrying every limit, for `server.requestTimeout`
 * ms: fastify's own timeouts, and the Node options inside `http`, or inside
 * `https` merged with `tls` (https.createServer takes both kinds) when given.
 */
export function serverLimitOptions<T extends object>(server: { requestTimeout: number }, tls?: T) {
  const node = nodeServerLimits(server.requestTimeout);
  return {
    requestTimeout: node.requestTimeout,
    keepAliveTimeout: node.keepAliveTimeout,
    connectionTimeout: SOCKET_TIMEOUT_MS,
    maxRequestsPerSocket: MAX_REQUESTS_PER_SOCKET,
    ...(tls ? { https: { ...node, ...tls } } : { http: node }),
  };
}

/** What fastify's `trustProxy` option takes. */
export type TrustProxyOption = boolean | string[] | ((address: string, hop: number) => boolean);

/**
 * `server.trustProxy` (`false` | hop count | CIDR list) as fastify needs it;
 * 0 hops is false. A hop count becomes a trust function because fastify
 * (5.12+) no longer honours a number: it fails closed, so `trustProxy: 1` —
 * the deployment guide's setting behind one proxy — would silently key rate
 * limits and audit events on the proxy's address. A hop count trusts exactly
 * that many addresses counted from the socket; it is safe only when clients
 * cannot bypass the proxies (docs/deployment.md: the NetworkPolicy admits
 * only the ingress).
 */
export function trustProxyOption(value: false | number | readonly string[]): TrustProxyOption {
  if (typeof value === 'number') return value <= 0 ? false : (_address, hop) => hop < value;
  return value === false ? false : [...value];
}

const ACCEPTED_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The id for `raw`: its `X-Request-ID` when short and plain (docs/errors.md),
 * else a new UUID. It becomes `request.id`, so every log line of
 * the request carries it as `requestId`, and every response echoes it.
 */
export function requestIdFor(raw: Pick<IncomingMessage, 'headers'>): string {
  const offered = raw.headers['x-request-id'];
  return typeof offered === 'string' && ACCEPTED_REQUEST_ID.test(offered) ? offered : randomUUID();
}

/** Lowest TLS version served. */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

/** A certificate chain and its private key, PEM. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/**
 * Reads and checks `server.tls` (paths relative to `configDir`). Throws an
 * Error naming the field (never the key's content) when a file is unreadable
 * or the pair does not form a usable context, so a SIGHUP with a broken pair
 * changes nothing.
 */
export async function loadTls(tls: { cert: string; key: string }, configDir: string): Promise<TlsMaterial> {
  const read = (field: 'cert' | 'key') =>
    readFile(resolve(configDir, tls[field])).catch((error: { code?: string }) => {
      throw new Error(`server.tls.${field}: cannot read ${tls[field]} (${error.code ?? 'error'})`);
    });
  const material = { cert: await read('cert'), key: await read('key') };
  try {
    createSecureContext({ ...material, minVersion: MIN_TLS_VERSION });
  } catch (error) {
    const reason = (error as { code?: string }).code ?? 'invalid certificate or key';
    throw new Error(`server.tls: the certificate and key do not load (${reason})`);
  }
  return material;
}

/** Serves `material` for new TLS handshakes on `server` (connections already open keep theirs). */
export function applyTls(server: HttpsServer, material: TlsMaterial): void {
  server.setSecureContext({ ...material, minVersion: MIN_TLS_VERSION });
}

/**
 * The fastify constructor options for `server` (everything but the router's
 * error hook, which app.ts adds): logger, limits, body limit, trust proxy,
 * request ids and request logs, parser and schema strictness, and HTTPS when
 * `https` is given.
 */
export function serverOptions(
  server: Readonly<Config['server']>,
  options: {
    logger?: FastifyBaseLogger | false | undefined;
    https?: { cert: string | Buffer; key: string | Buffer } | undefined;
  },
) {
  return {
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    // Fastify's own header handling would accept any value; genReqId validates.
    requestIdHeader: false as const,
    genReqId: requestIdFor,
    logController: requestLog(),
    ...serverLimitOptions(server, options.https && { ...options.https, minVersion: MIN_TLS_VERSION }),
    bodyLimit: server.bodyLimit,
    trustProxy: trustProxyOption(server.trustProxy as false | number | string[]),
    // Requests arriving while closing still get a 503, but through the error
    // handler (body format, X-Request-ID): see app.ts's edge hook.
    return503OnClosing: false,
    forceCloseConnections: 'idle' as const,
    routerOptions: { maxParamLength: 100, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false },
    onProtoPoisoning: 'error' as const,
    onConstructorPoisoning: 'error' as const,
    // No coercion ("5" is not 5), no silent removal of unknown fields, no defaults.
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
    },
  };
}
