/**
 * The broker's own identity: client-credentials tokens from `brokerIdp`, one
 * per audience (docs/configuration.md), cached and refreshed ahead of expiry with a single
 * request in flight per audience (see cache.ts). Requests are
 * retried with jittered backoff on network errors, 408, 429 and 5xx only.
 */
import { readFile as readFileFs } from 'node:fs/promises';
import type { BrokerIdpConfig } from '../config/schema.ts';
import { fetchDiscovery, isAllowedUrl } from '../discovery.ts';
import { UpstreamError } from '../errors.ts';
import { isRetryableHttpError, withRetry } from '../retry.ts';
import {
  type BrokerTokenSource,
  type HttpClient,
  HttpError,
  type Logger,
  noTelemetry,
  silentLogger,
  type Telemetry,
} from '../types.ts';
import { type BrokerTokenStatus, createTokenCache } from './cache.ts';
import { type ClientAuthenticator, createClientAuthenticator, PrivateKeyError } from './client-auth.ts';
import { type ObtainedToken, RetryableStatusError, requestBrokerToken } from './request.ts';

export type { BrokerTokenStatus } from './cache.ts';

/** Options of {@link createBrokerTokenSource}; times in ms. */
export interface BrokerTokenOptions {
  idp: BrokerIdpConfig;
  /** Base directory of a relative `privateKeyFile` (the config file's directory). */
  configDir: string;
  http: HttpClient;
  httpTimeout: number;
  maxRetries: number;
  retryDelay: number;
  allowInsecureIssuers: boolean;
  logger?: Logger;
  telemetry?: Telemetry;
  /** Clock, ms since the epoch; default Date.now. */
  now?: () => number;
  /** Reads the private key file (utf8); default fs.readFile. */
  readFile?: (path: string) => Promise<string>;
}

/** A broker-token source with health and warm-up. */
export interface BrokerTokens extends BrokerTokenSource {
  cachedToken(audience: string): string | undefined;
  /**
   * One entry per audience asked for so far, from the cache alone (no I/O).
   * Tokens refresh on use, so a health check calls `prefetch` first.
   */
  status(): Record<string, BrokerTokenStatus>;
  /** Obtains a token for each audience; rejects with the first failure once all have settled. */
  prefetch(audiences: string[], signal?: AbortSignal): Promise<void>;
}

/** Builds the broker-token source. Misconfiguration (no secret, non-https endpoint) is a TypeError. */
export function createBrokerTokenSource(options: BrokerTokenOptions): BrokerTokens {
  const now = options.now ?? Date.now;
  const logger = options.logger ?? silentLogger;
  const { idp } = options;
  if (idp.tokenEndpoint && !isAllowedUrl(idp.tokenEndpoint, options.allowInsecureIssuers)) {
    throw new TypeError('brokerIdp.tokenEndpoint must be an https URL');
  }
  const authenticate = createClientAuthenticator(idp, {
    configDir: options.configDir,
    readFile: options.readFile ?? ((path) => readFileFs(path, 'utf8')),
    now,
  });
  const cache = createTokenCache({
    fetch: tokenFetcher(options, authenticate, now, logger),
    now,
    logger,
    telemetry: options.telemetry ?? noTelemetry,
  });
  return {
    getToken: cache.get,
    cachedToken: cache.cached,
    status: cache.status,
    async prefetch(audiences, signal) {
      const results = await Promise.allSettled([...new Set(audiences)].map((a) => cache.get(a, signal)));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}

/** One token fetch for an audience, with retries; always rejects with an UpstreamError. */
function tokenFetcher(
  options: BrokerTokenOptions,
  authenticate: ClientAuthenticator,
  now: () => number,
  logger: Logger,
): (audience: string) => Promise<ObtainedToken> {
  const endpoint = endpointResolver(options);
  return (audience) => {
    const attempt = async () =>
      requestBrokerToken({
        endpoint: await endpoint(),
        audience,
        idp: options.idp,
        http: options.http,
        httpTimeout: options.httpTimeout,
        authenticate,
        now,
      });
    return withRetry(attempt, {
      maxRetries: options.maxRetries,
      retryDelay: options.retryDelay,
      isRetryable,
      onRetry: (n, err, delayMs) => {
        const reason = toUpstreamError(err).reason;
        logger.debug({ audience, attempt: n, delayMs, reason }, 'retrying broker token request');
      },
    }).catch((err: unknown) => {
      throw toUpstreamError(err);
    });
  };
}

/** The token endpoint: configured, else from discovery (kept once found; retried after a failure). */
function endpointResolver(options: BrokerTokenOptions): () => Promise<string> {
  const configured = options.idp.tokenEndpoint;
  if (configured) return async () => configured;
  let found: Promise<string> | undefined;
  return () => {
    found ??= fetchDiscovery(options.idp.issuer, {
      http: options.http,
      timeoutMs: options.httpTimeout,
      allowInsecure: options.allowInsecureIssuers,
    }).then((doc) => {
      if (!doc.token_endpoint)
        throw new UpstreamError('refused', 'broker IdP discovery names no token_endpoint');
      return doc.token_endpoint;
    });
    found.catch(() => {
      found = undefined;
    });
    return found;
  };
}

function isRetryable(err: unknown): boolean {
  return (
    err instanceof RetryableStatusError ||
    isRetryableHttpError(err) ||
    (err instanceof Error && err.name === 'DiscoveryError')
  );
}

/** Maps whatever the last attempt threw to an UpstreamError with a fixed reason. */
function toUpstreamError(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (err instanceof PrivateKeyError) return new UpstreamError('unavailable', err.message);
  if (err instanceof RetryableStatusError) {
    return new UpstreamError('unavailable', `broker IdP unavailable (HTTP ${err.status})`);
  }
  if (err instanceof HttpError) {
    if (err.kind === 'too_large')
      return new UpstreamError('refused', 'broker IdP answered an oversized response');
    return new UpstreamError('unavailable', `broker IdP unreachable (${err.kind})`);
  }
  if (err instanceof Error && err.name === 'DiscoveryError') {
    return new UpstreamError('unavailable', 'broker IdP discovery failed', {
      cause: { message: err.message },
    });
  }
  return new UpstreamError('unavailable', 'broker token request failed');
}
