/**
 * The one outbound HTTP transport: keep-alive pooling, a timeout for the whole
 * exchange, no redirects followed, and a body cap enforced while streaming.
 * Every outbound client (this one, the AWS SDK's, the CLI's) takes its
 * dispatcher from createDispatcher, so the proxy variables mean one thing
 * everywhere (docs/operations.md).
 */
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, EnvHttpProxyAgent, request } from 'undici';
import { isRetryableHttpError, withRetry } from '../core/retry.ts';
import { type HttpClient, HttpError, type HttpRequest, type HttpResponse } from '../core/types.ts';

/** Options of the shared dispatcher. */
export interface HttpClientOptions {
  /** ms a connection may take to establish (default 5000). */
  connectTimeout?: number;
  /** ms an idle kept-alive socket is kept (default 30000). */
  keepAliveTimeout?: number;
  /** Where the proxy variables are read (default none: direct connections). */
  env?: Record<string, string | undefined>;
}

/** The proxies a dispatcher uses; undefined fields mean none. */
export interface ProxySettings {
  httpProxy: string | undefined;
  httpsProxy: string | undefined;
  noProxy: string | undefined;
}

/**
 * The proxy settings in `env`, by undici's rule: each lower-case name wins
 * over its upper-case one (`https_proxy`, then `HTTPS_PROXY`; likewise
 * `http_proxy` and `no_proxy`), and HTTPS falls back to the HTTP proxy.
 * Undefined when no proxy is set. A proxy without a scheme is taken as
 * `http://`; TypeError names a variable that is not a URL.
 */
export function proxySettings(env: Record<string, string | undefined>): ProxySettings | undefined {
  const read = (name: string) => {
    const value = env[name.toLowerCase()] ?? env[name];
    if (!value) return undefined;
    const url = value.includes('://') ? value : `http://${value}`;
    if (!URL.canParse(url)) throw new TypeError(`${name} is not a URL`);
    return url;
  };
  const httpProxy = read('HTTP_PROXY');
  const httpsProxy = read('HTTPS_PROXY') ?? httpProxy;
  if (!httpProxy && !httpsProxy) return undefined;
  return { httpProxy, httpsProxy, noProxy: env.no_proxy ?? env.NO_PROXY };
}

/** Builds a keep-alive dispatcher that honours the proxy variables of `options.env`. */
export function createDispatcher(options: HttpClientOptions = {}): Dispatcher {
  const connect = { timeout: options.connectTimeout ?? 5000 };
  const common = { connect, keepAliveTimeout: options.keepAliveTimeout ?? 30_000, connections: 128 };
  const proxies = proxySettings(options.env ?? {});
  if (!proxies) return new Agent(common);
  // Every value is given explicitly (an empty NO_PROXY too), so undici never reads process.env itself.
  return new EnvHttpProxyAgent({
    ...common,
    httpProxy: proxies.httpProxy ?? '',
    httpsProxy: proxies.httpsProxy ?? '',
    noProxy: proxies.noProxy ?? '',
  });
}

/** An HttpClient over `dispatcher` (a fresh keep-alive agent when omitted). */
export function createHttpClient(dispatcher: Dispatcher = createDispatcher()): HttpClient {
  return (url, req) => send(dispatcher, url, req);
}

/** The signal of one exchange and whether its own timeout (not the caller) ended it. */
export interface ExchangeSignal {
  signal: AbortSignal;
  timedOut(): boolean;
  /** Clears the timer and the listener on the caller's signal; call when the exchange ends. */
  done(): void;
}

/**
 * A signal that aborts when `caller` does or `ms` after now. A plain
 * controller and timer, both released by `done()`: AbortSignal.any and
 * AbortSignal.timeout leave weakly held signals and timers to the garbage
 * collector, one set per outbound call.
 */
export function exchangeSignal(caller: AbortSignal | undefined, ms: number): ExchangeSignal {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException('The operation timed out', 'TimeoutError'));
  }, ms);
  const follow = () => controller.abort(caller?.reason);
  if (caller?.aborted) follow();
  else caller?.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    done() {
      clearTimeout(timer);
      caller?.removeEventListener('abort', follow);
    },
  };
}

async function send(dispatcher: Dispatcher, url: string, req: HttpRequest): Promise<HttpResponse> {
  const exchange = exchangeSignal(req.signal, req.timeoutMs);
  try {
    const res = await request(url, {
      dispatcher,
      method: req.method ?? 'GET',
      headers: req.headers,
      body: req.body,
      signal: exchange.signal,
      maxRedirections: 0,
    });
    const body = await readCapped(res.body, req.maxBytes, res.headers['content-length']);
    return { status: res.statusCode, headers: flattenHeaders(res.headers), body };
  } catch (err) {
    throw classify(err, exchange, req.signal);
  } finally {
    exchange.done();
  }
}

async function readCapped(
  body: Readable,
  maxBytes: number,
  declared: string | string[] | undefined,
): Promise<Buffer> {
  if (typeof declared === 'string' && Number(declared) > maxBytes) {
    discard(body);
    throw new HttpError('too_large', `response declares ${declared} bytes, over the ${maxBytes}-byte cap`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBytes) {
      discard(body);
      throw new HttpError('too_large', `response exceeds the ${maxBytes}-byte cap`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

/** Drops the rest of a body; the abort it causes is expected, not an error. */
function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

/** Response headers with repeated ones joined by `, `. */
export function flattenHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function classify(err: unknown, exchange: ExchangeSignal, caller: AbortSignal | undefined): HttpError {
  if (err instanceof HttpError) return err;
  if (caller?.aborted) return new HttpError('aborted', 'request aborted by caller', { cause: err });
  if (exchange.timedOut()) return new HttpError('timeout', 'request timed out', { cause: err });
  const code = (err as { code?: string }).code;
  return new HttpError('network', code ? `network error (${code})` : 'network error', { cause: err });
}

/** A 5xx answer to a GET, carried through the retry loop. */
class ServerErrorAnswer extends Error {
  constructor(readonly response: HttpResponse) {
    super(`HTTP ${response.status}`);
  }
}

/**
 * `http` with retries for idempotent fetches (JWKS, discovery): GETs that
 * failed on the network, timed out or answered 5xx are tried again with
 * jittered backoff, never after the caller's signal fired. A 4xx is never
 * retried; POSTs pass through untouched (their callers retry where safe).
 * When retries run out, the last 5xx answer is returned as it came.
 */
export function withIdempotentRetries(
  http: HttpClient,
  options: { maxRetries: number; retryDelay: number; random?: () => number },
): HttpClient {
  return (url, req) => {
    if ((req.method ?? 'GET') !== 'GET' || options.maxRetries === 0 || req.signal?.aborted) {
      return http(url, req);
    }
    const attempt = async () => {
      const res = await http(url, req);
      if (res.status >= 500) throw new ServerErrorAnswer(res);
      return res;
    };
    return withRetry(attempt, {
      maxRetries: options.maxRetries,
      retryDelay: options.retryDelay,
      isRetryable: (err) => err instanceof ServerErrorAnswer || isRetryableHttpError(err),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(options.random ? { random: options.random } : {}),
    }).catch((err: unknown) => {
      if (err instanceof ServerErrorAnswer) return err.response;
      throw err;
    });
  };
}
