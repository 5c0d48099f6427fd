/**
 * The one STSClient of a provider. Everything the SDK would otherwise look up
 * in the environment or ~/.aws is given explicitly, its retries are off (we
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
 * Its agents honour `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` from the
 * environment given at start (proxy-agent.ts), like the undici client.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { STSClient } from '@aws-sdk/client-sts';
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
  client: STSClient;
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
  const agents = stsAgents(options.env ?? {}, {
    keepAlive: true,
    maxSockets: 128,
    connectTimeout: options.httpTimeout,
  });
  const client = new STSClient({
    region: options.region ?? 'us-east-1',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    credentials,
    maxAttempts: 1,
    retryMode: 'standard',
    useFipsEndpoint: false,
    useDualstackEndpoint: false,
    // AWS_ENDPOINT_URL(_STS) and ~/.aws endpoint settings are ambient configuration too.
    ignoreConfiguredEndpointUrls: true,
    requestHandler: {
      connectionTimeout: options.httpTimeout,
      requestTimeout: options.httpTimeout,
      throwOnRequestTimeout: true,
      httpAgent: agents.httpAgent,
      httpsAgent: agents.httpsAgent,
    },
  });
  return { client, withCredentials: (creds, fn) => hop.run(creds, fn) };
}
