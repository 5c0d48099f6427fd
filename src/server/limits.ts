/**
 * The HTTP server's own limits, every one set explicitly: Node's defaults are
 * loose (a 5-minute request timeout, connections checked for expiry only
 * every 30 s) and fastify turns its request timeout off. What a request may
 * cost before the application sees it is bounded here; the body limit is
 * `server.bodyLimit` (fastify, 413 in the error format).
 *
 * | limit | value | why |
 * |---|---|---|
 * | requestTimeout | `server.requestTimeout` | the whole request (head and body) must arrive within it: slow bodies get 408 |
 * | headersTimeout | min(5 s, requestTimeout) | a head trickled byte by byte (slowloris) is cut with 408 |
 * | connectionsCheckingInterval | 500 ms | how often Node looks for expired requests (default 30 s would let a slowloris hold a socket 30 s longer) |
 * | keepAliveTimeout | 72 s | longer than load balancers' usual 60 s idle timeout, so the balancer closes first and never reuses a socket this side is closing |
 * | connectionTimeout | 120 s | socket inactivity, a backstop beyond the others |
 * | maxHeaderSize | 32 KiB | a 16 KiB token (SPEC §3 cap) plus request line and headers fits; a token somewhat over the cap gets the SPEC's 401 `token_too_large`, not a 431 (Node's default of 16 KiB would 431 a token under the cap) |
 * | maxRequestsPerSocket | 1000 | long-lived balancer connections are recycled, so new replicas get traffic after a scale-out |
 *
 * `maxHeadersCount` stays at Node's 2000: past it Node drops headers instead
 * of refusing the request, and maxHeaderSize already bounds the count (a head
 * too large for it is a 431 from Node, exempt from the body format, SPEC §4).
 */

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
