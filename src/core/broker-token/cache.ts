/**
 * One cached broker token per audience: handed out while it has more than
 * MIN_REMAINING_MS left, refreshed in the background once less than
 * max(60 s, 10 % of its lifetime) remains, and fetched by at most one request
 * at a time however many callers wait (single flight).
 */
import { createHash } from 'node:crypto';
import { UpstreamError } from '../errors.ts';
import type { Logger, Telemetry } from '../types.ts';
import type { ObtainedToken } from './request.ts';

/** Health of one audience's token. */
export interface BrokerTokenStatus {
  status: 'healthy' | 'degraded' | 'unhealthy';
  /** Expiry of the cached token, Unix seconds. */
  expiresAt?: number;
  /** Safe reason of the last failure. */
  error?: string;
}

/** Below this remaining lifetime a cached token is not handed out, ms. */
export const MIN_REMAINING_MS = 10_000;
/** Refresh ahead of expiry by at least this much, ms. */
export const REFRESH_AHEAD_MS = 60_000;

interface Entry {
  current?: ObtainedToken;
  refreshAt?: number;
  inflight?: Promise<string>;
  error?: string;
}

/** What the cache needs: a fetcher that throws UpstreamError, a clock (ms), and observers. */
export interface TokenCacheOptions {
  fetch: (audience: string) => Promise<ObtainedToken>;
  now: () => number;
  logger: Logger;
  telemetry: Telemetry;
}

/** Creates the per-audience cache. */
export function createTokenCache(options: TokenCacheOptions) {
  const { now, logger, telemetry } = options;
  const entries = new Map<string, Entry>();

  const refresh = (audience: string, entry: Entry): Promise<string> => {
    entry.inflight ??= options
      .fetch(audience)
      .then((obtained) => {
        const lifetime = obtained.expiresAt - obtained.receivedAt;
        entry.current = obtained;
        entry.refreshAt = obtained.expiresAt - Math.max(REFRESH_AHEAD_MS, lifetime / 10);
        entry.error = undefined;
        telemetry.brokerTokenRefresh(audience, 'success');
        const expiresAt = new Date(obtained.expiresAt).toISOString();
        logger.info({ audience, expiresAt, tokenSha256: sha256(obtained.token) }, 'broker token obtained');
        return obtained.token;
      })
      .catch((err: unknown) => {
        const upstream = err as UpstreamError;
        entry.error = upstream.reason;
        telemetry.brokerTokenRefresh(audience, 'failure');
        const detail = { audience, kind: upstream.kind, reason: upstream.reason, detail: upstream.cause };
        logger.warn(detail, 'broker token request failed');
        throw upstream;
      })
      .finally(() => {
        entry.inflight = undefined;
      });
    return entry.inflight;
  };

  /** The cached token while it is fresh enough to hand out (a refresh starts ahead of expiry). */
  const fresh = (audience: string, entry: Entry): string | undefined => {
    const t = now();
    const { current } = entry;
    if (!current || t >= current.expiresAt - MIN_REMAINING_MS) return undefined;
    // Failures of a background refresh are recorded in the entry (status) and logged.
    if (t >= (entry.refreshAt ?? 0)) refresh(audience, entry).catch(() => {});
    return current.token;
  };

  const get = (audience: string, signal?: AbortSignal): Promise<string> => {
    const entry = entries.get(audience) ?? {};
    entries.set(audience, entry);
    const token = fresh(audience, entry);
    return token === undefined ? abortable(refresh(audience, entry), signal) : Promise.resolve(token);
  };

  const cached = (audience: string): string | undefined => {
    const entry = entries.get(audience);
    return entry && fresh(audience, entry);
  };

  return { get, cached, status: () => statusOf(entries, now()) };
}

/** Waits for `promise` unless the caller's signal fires first (the shared request goes on). */
function abortable(promise: Promise<string>, signal: AbortSignal | undefined): Promise<string> {
  if (!signal) return promise;
  const aborted = () =>
    new UpstreamError('unavailable', 'broker token request aborted', { cause: signal.reason });
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(aborted());
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function statusOf(entries: Map<string, Entry>, t: number): Record<string, BrokerTokenStatus> {
  const out: Record<string, BrokerTokenStatus> = {};
  for (const [audience, { current, error }] of entries) {
    const valid = current !== undefined && t < current.expiresAt - MIN_REMAINING_MS;
    if (!valid) {
      const lapsed = current ? 'broker token expired and not yet refreshed' : 'no broker token obtained yet';
      out[audience] = { status: 'unhealthy', error: error ?? lapsed };
      continue;
    }
    const expiresAt = Math.floor(current.expiresAt / 1000);
    out[audience] = error ? { status: 'degraded', expiresAt, error } : { status: 'healthy', expiresAt };
  }
  return out;
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}
