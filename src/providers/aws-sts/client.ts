/**
 * The STS clients of a provider: one for signed calls, one for the unsigned
 * first hop, sharing their agents. Everything the SDK would otherwise look up
 * in the environment or ~/.aws is given explicitly, its retry step is gone (we
 * retry ourselves, only where it is safe), and its connections are kept alive.
 *
 * Credentials: AssumeRoleWithWebIdentity is unsigned, so the SDK asks for
 * none. The second hop (AssumeRole) is signed with the first hop's session,
 * which differs per mint; one shared client therefore reads them from an
 * AsyncLocalStorage set around that one call. The provider is marked
 * `memoized` so the SDK neither caches one call's credentials for the next
 * nor shares a pending lookup between concurrent calls, and it never falls
 * back to ambient credentials: outside a hop it throws.
 *
 * AssumeRoleWithWebIdentity, the call every mint makes, goes through a second
 * client with `cacheMiddleware`: the SDK resolves its middleware stack once
 * instead of on every call (~40 µs and tens of KB each). A cached stack
 * shares one context object between concurrent calls, and the SDK's auth
 * middleware writes the call's identity into that context before signing
 * reads it back; for this unsigned call the identity is always the same
 * (none), for AssumeRole it would be another mint's session. So signed calls
 * stay on `client`, which resolves a stack per call. A cached stack is only
 * used when `send` gets no options, so the call's abort signal travels
 * beside it: keyed by the command's input, handed on by a last middleware
 * to the request it became, and read by the request handler. (Not an
 * AsyncLocalStorage: on Node 20 its first `run` installs a promise hook that
 * taxes every promise in the process, and the version that used one gained
 * less in its A/B; docs/performance.md.)
 *
 * Its agents honour `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` from the
 * environment given at start (proxy-agent.ts), like the undici client.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  AssumeRoleWithWebIdentityCommand,
  type AssumeRoleWithWebIdentityCommandInput,
  type AssumeRoleWithWebIdentityCommandOutput,
  STSClient,
  type STSClientConfig,
} from '@aws-sdk/client-sts';
import { NodeHttpHandler, type NodeHttpHandlerOptions } from '@smithy/node-http-handler';
import { stsAgents } from './proxy-agent.ts';

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
  /** Connection and request timeout, ms. */
  httpTimeout: number;
  /** `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (default none: direct connections). */
  env?: Record<string, string | undefined>;
}

/** An STS client and the scope that supplies the second hop's credentials. */
export interface StsClientHandle {
  /** For signed calls (AssumeRole): every call resolves its own middleware stack. */
  client: STSClient;
  /** AssumeRoleWithWebIdentity on the cached stack; `signal` aborts it. */
  assumeRoleWithWebIdentity(
    input: AssumeRoleWithWebIdentityCommandInput,
    signal?: AbortSignal,
  ): Promise<AssumeRoleWithWebIdentityCommandOutput>;
  /** Runs `fn` with `credentials` signing every call it makes through `client`. */
  withCredentials<T>(credentials: HopCredentials, fn: () => Promise<T>): Promise<T>;
}

/** Creates the clients once per provider (region default us-east-1). */
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
  const agents = stsAgents(options.env ?? {}, {
    keepAlive: true,
    maxSockets: 128,
    connectTimeout: options.httpTimeout,
  });
  const handlerOptions: NodeHttpHandlerOptions = {
    connectionTimeout: options.httpTimeout,
    requestTimeout: options.httpTimeout,
    throwOnRequestTimeout: true,
    httpAgent: agents.httpAgent,
    httpsAgent: agents.httpsAgent,
  };
  const config: STSClientConfig = {
    region: options.region ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    credentials,
    maxAttempts: 1,
    retryMode: 'standard',
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    // AWS_ENDPOINT_URL(_STS) and ~/.aws endpoint settings are ambient configuration too.
    ignoreConfiguredEndpointUrls: true,
  };
  const client = new STSClient({ ...config, requestHandler: handlerOptions });
  const handler = new SignalledHandler(handlerOptions);
  const unsigned = new STSClient({ ...config, cacheMiddleware: true, requestHandler: handler });
  withoutSdkRetries(client);
  withoutSdkRetries(unsigned);
  const signals = new WeakMap<object, AbortSignal>();
  unsigned.middlewareStack.add(
    (next) => (args) => {
      const signal = signals.get(args.input as object);
      if (signal) handler.signal(args.request, signal);
      return next(args);
    },
    { step: 'deserialize', priority: 'low', name: 'voidkeyAbortSignal' },
  );
  return {
    client,
    assumeRoleWithWebIdentity: (input, signal) => {
      // A copy per call: the caller may send the same input twice with different signals. Field by
      // field (a spread copy costs ~2 µs here); the type makes a field the SDK adds a compile error.
      const own: AssumeRoleWithWebIdentityCommandInput = {
        RoleArn: input.RoleArn,
        RoleSessionName: input.RoleSessionName,
        WebIdentityToken: input.WebIdentityToken,
        ProviderId: input.ProviderId,
        PolicyArns: input.PolicyArns,
        Policy: input.Policy,
        DurationSeconds: input.DurationSeconds,
        MinimumSessionTokenSize: input.MinimumSessionTokenSize,
      } satisfies Record<keyof AssumeRoleWithWebIdentityCommandInput, unknown>;
      if (signal) signals.set(own, signal);
      return unsigned.send(new AssumeRoleWithWebIdentityCommand(own));
    },
    withCredentials: (creds, fn) => hop.run(creds, fn),
  };
}

/**
 * Replaces the SDK's retry step with a pass-through of the same name and
 * place (the signing step is positioned after it). With `maxAttempts: 1` it
 * never retried — stsCaller does, inside the request's deadline — but it
 * still ran on every call: a token bucket, two awaits and a UUID for two
 * informational headers (`amz-sdk-invocation-id`, `amz-sdk-request`),
 * 34–40 µs of client CPU per call (docs/performance.md).
 */
function withoutSdkRetries(client: STSClient): void {
  client.middlewareStack.add((next) => next, {
    step: 'finalizeRequest',
    priority: 'high',
    name: 'retryMiddleware',
    override: true,
  });
}

/** Node's handler, taking the abort signal of a request from {@link SignalledHandler.signal} when the call passes none. */
class SignalledHandler extends NodeHttpHandler {
  readonly #signals = new WeakMap<object, AbortSignal>();

  /** Makes `signal` abort `request` once it is handled. */
  signal(request: unknown, signal: AbortSignal): void {
    if (typeof request === 'object' && request !== null) this.#signals.set(request, signal);
  }

  override handle(
    ...[request, options]: Parameters<NodeHttpHandler['handle']>
  ): ReturnType<NodeHttpHandler['handle']> {
    if (options?.abortSignal) return super.handle(request, options);
    const abortSignal = this.#signals.get(request);
    if (!abortSignal) return super.handle(request, options);
    // Not `{ ...options, abortSignal }`: a spread followed by a field costs ~1 µs in V8.
    const own: NonNullable<typeof options> = Object.assign({}, options);
    own.abortSignal = abortSignal;
    return super.handle(request, own);
  }
}
