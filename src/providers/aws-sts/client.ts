/**
 * The STS client of a provider: one SDK client, created once, that sends
 * through the broker's own transport (http.ts: keep-alive, proxy variables)
 * and takes each call's abort signal as `send(command, { abortSignal })`.
 * Everything the SDK would otherwise look up in the environment or ~/.aws
 * is given explicitly, and the SDK never retries: stsCaller retries, only
 * where it is safe and inside the request's deadline.
 *
 * Credentials: AssumeRoleWithWebIdentity is unsigned, so the SDK asks for
 * none. The second hop (AssumeRole) is signed with the first hop's session,
 * which differs per mint; the client therefore reads them from an
 * AsyncLocalStorage set around that one call. The provider is marked
 * `memoized` so the SDK neither caches one call's credentials for the next
 * nor shares a pending lookup between concurrent calls, and it never falls
 * back to ambient credentials: outside a hop it throws.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  AssumeRoleWithWebIdentityCommand,
  type AssumeRoleWithWebIdentityCommandInput,
  type AssumeRoleWithWebIdentityCommandOutput,
  STSClient,
} from '@aws-sdk/client-sts';
import { type Dispatcher, request } from 'undici';
import { createDispatcher, type ExchangeSignal, exchangeSignal, flattenHeaders } from '../http.ts';

/** Static credentials of one hop. */
export interface HopCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

/** Options of {@link createStsClient}. */
export interface StsClientOptions {
  /** Default us-east-1. */
  region?: string;
  /** Endpoint override (GovCloud, China, MinIO, a local peer). */
  endpoint?: string;
  /** Connection timeout and the timeout of each whole exchange, ms. */
  httpTimeout: number;
  /** Where the proxy variables are read (default none: direct connections). */
  env?: Record<string, string | undefined>;
}

/** The STS client of a provider and the scope that supplies the second hop's credentials. */
export interface StsClientHandle {
  client: STSClient;
  /** AssumeRoleWithWebIdentity; `signal` aborts it. */
  assumeRoleWithWebIdentity(
    input: AssumeRoleWithWebIdentityCommandInput,
    signal?: AbortSignal,
  ): Promise<AssumeRoleWithWebIdentityCommandOutput>;
  /** Runs `fn` with `credentials` signing every call it makes through `client`. */
  withCredentials<T>(credentials: HopCredentials, fn: () => Promise<T>): Promise<T>;
}

/** Creates the client once per provider (region default us-east-1). */
export function createStsClient(options: StsClientOptions): StsClientHandle {
  const hop = new AsyncLocalStorage<HopCredentials>();
  const credentials = Object.assign(
    async () => {
      const current = hop.getStore();
      if (!current) throw new Error('no hop credentials in scope; ambient AWS credentials are never used');
      return current;
    },
    { memoized: true },
  );
  const dispatcher = createDispatcher({
    connectTimeout: options.httpTimeout,
    ...(options.env ? { env: options.env } : {}),
  });
  const client = new STSClient({
    region: options.region ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    credentials,
    requestHandler: undiciHandler(dispatcher, options.httpTimeout),
    maxAttempts: 1,
    // Resolve the middleware stack once per command class: nothing is added to it after creation.
    cacheMiddleware: true,
    // A strategy that sends once and adds nothing: stsCaller owns retries.
    retryStrategy: { retry: (next, args) => next(args) },
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    // AWS_ENDPOINT_URL(_STS) and ~/.aws endpoint settings are ambient configuration too.
    ignoreConfiguredEndpointUrls: true,
  });
  return {
    client,
    assumeRoleWithWebIdentity: (input, signal) =>
      client.send(new AssumeRoleWithWebIdentityCommand(input), signal ? { abortSignal: signal } : {}),
    withCredentials: (creds, fn) => hop.run(creds, fn),
  };
}

/** The parts of the SDK's HTTP request a handler reads. */
interface SdkRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number | undefined;
  path: string;
  query?: Record<string, string | Array<string> | null> | undefined;
  headers: Record<string, string>;
  body?: unknown;
}

/**
 * The SDK's request handler on an undici dispatcher: the whole answer is read
 * before the SDK parses it; `timeoutMs` bounds each exchange. Transport
 * failures carry the names the SDK's own handler gives them (AbortError,
 * TimeoutError), which errors.ts maps.
 */
function undiciHandler(dispatcher: Dispatcher, timeoutMs: number) {
  return {
    metadata: { handlerProtocol: 'http/1.1' },
    async handle(req: SdkRequest, options: { abortSignal?: unknown } = {}) {
      const caller = options.abortSignal as AbortSignal | undefined;
      const exchange = exchangeSignal(caller, timeoutMs);
      try {
        const res = await request(urlOf(req), {
          dispatcher,
          method: req.method as Dispatcher.HttpMethod,
          headers: req.headers,
          body: req.body as string | Uint8Array | undefined,
          signal: exchange.signal,
          maxRedirections: 0,
        });
        const body = new Uint8Array(await res.body.arrayBuffer());
        return { response: { statusCode: res.statusCode, headers: flattenHeaders(res.headers), body } };
      } catch (err) {
        throw transportError(err, caller, exchange);
      } finally {
        exchange.done();
      }
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
    destroy() {},
  };
}

function urlOf(req: SdkRequest): string {
  const port = req.port ? `:${req.port}` : '';
  const query = Object.entries(req.query ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .flatMap(([key, value]) =>
      value === null
        ? [rfc3986(key)]
        : (Array.isArray(value) ? value : [value]).map((v) => `${rfc3986(key)}=${rfc3986(v)}`),
    )
    .join('&');
  return `${req.protocol}//${req.hostname}${port}${req.path}${query ? `?${query}` : ''}`;
}

/** RFC 3986 escaping, as SigV4 signs the query. */
function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function transportError(err: unknown, caller: AbortSignal | undefined, exchange: ExchangeSignal): Error {
  const named = (name: string, message: string) =>
    Object.assign(new Error(message, { cause: err }), { name });
  if (caller?.aborted) return named('AbortError', 'Request aborted');
  const code = (err as { code?: string })?.code;
  if (exchange.timedOut() || code === 'UND_ERR_CONNECT_TIMEOUT')
    return named('TimeoutError', 'Request timed out');
  return err instanceof Error ? err : new Error(String(err));
}
