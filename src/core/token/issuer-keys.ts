/**
 * One issuer's signing keys: the only key-set cache. jose gets the checked set
 * as `createLocalJWKSet`; this class decides when the network is touched:
 *
 * - the set is refreshed once older than `ttl`, or after an unknown `kid`;
 * - at most one attempt per cool-down, successful or not, and concurrent
 *   callers share the attempt in flight;
 * - each download goes through the HttpClient (no redirects, 512 KiB cap,
 *   timeout), then the key-set checks; jose only ever sees the filtered set;
 * - when an attempt fails, the last good set is served until `staleIfError`
 *   seconds after it was fetched; after that, or before any success, the keys
 *   are unavailable (503).
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import type { ClientIdpConfig } from '../config/schema.ts';
import { DiscoveryError, fetchDiscovery, isAllowedUrl } from '../discovery.ts';
import type { HttpClient, Logger, Telemetry } from '../types.ts';
import { checkKeySet } from './keyset.ts';
import { KeySetUnavailableError } from './map-error.ts';
import { parseStrictJson } from './strict-json.ts';

/** Largest JWKS response read, bytes (docs/security.md). */
export const MAX_JWKS_BYTES = 512 * 1024;

/** Everything one issuer's key set needs. Durations in seconds unless named ms. */
export interface IssuerKeysOptions {
  idp: ClientIdpConfig;
  algorithms: readonly string[];
  jwks: { ttl: number; staleIfError: number; cooldown: number };
  http: HttpClient;
  httpTimeout: number;
  allowInsecureIssuers: boolean;
  logger: Logger;
  telemetry: Telemetry;
  now: () => number;
}

/** Health of one issuer's key set. */
export interface KeySetHealth {
  status: 'healthy' | 'degraded' | 'unhealthy';
  error?: string;
}

interface Attempt {
  at: number;
  ok: boolean;
  error?: string;
}

export class IssuerKeys {
  readonly #o: IssuerKeysOptions;
  #good: { jwks: JSONWebKeySet; fetchedAt: number; getKey: JWTVerifyGetKey } | undefined;
  #attempt: Attempt | undefined;
  #inFlight: Promise<JSONWebKeySet> | undefined;
  #discoveredJwksUri: string | undefined;
  #generation = 0;

  constructor(options: IssuerKeysOptions) {
    this.#o = options;
  }

  /** Counts successful downloads; a change means new keys arrived. */
  get generation(): number {
    return this.#generation;
  }

  /** The key resolver for jwtVerify, refreshed first when the set is older than `ttl`. */
  async resolver(): Promise<JWTVerifyGetKey> {
    return this.freshResolver() ?? this.#resolverOf(await this.#obtain());
  }

  /** The key resolver when the set is younger than `ttl` (nothing to wait for), else undefined. */
  freshResolver(): JWTVerifyGetKey | undefined {
    const good = this.#good;
    if (!good || this.#o.now() - good.fetchedAt >= this.#o.jwks.ttl * 1000) return undefined;
    return good.getKey;
  }

  /**
   * After an unknown `kid`: refetch unless the cool-down forbids it. True when
   * keys newer than `generationBefore` are now loaded (retry once), else false.
   */
  async refetchForUnknownKid(generationBefore: number): Promise<boolean> {
    if (this.#generation === generationBefore && !this.#inFlight && this.#coolingDown()) return false;
    await this.#obtain();
    return this.#generation !== generationBefore;
  }

  /** Downloads now, ignoring the cool-down; throws on failure. Returns the number of usable keys. */
  async refreshNow(signal?: AbortSignal): Promise<number> {
    await this.#inFlight?.catch(() => undefined);
    // Shared like any attempt, so concurrent verifications still get the stale set if this one fails.
    await this.#attemptDownload(signal).catch(() => undefined);
    const { ok, error } = this.#attempt ?? { ok: false };
    if (!ok || !this.#good) {
      throw new KeySetUnavailableError(
        `keys of ${this.#o.idp.issuer} unavailable: ${error ?? 'unknown error'}`,
      );
    }
    return this.#good.jwks.keys.length;
  }

  /** healthy: last attempt succeeded; degraded: serving a stale set or not fetched yet; unhealthy: no keys. */
  health(): KeySetHealth {
    const attempt = this.#attempt;
    if (!attempt) return { status: 'degraded', error: 'keys not fetched yet' };
    const good = this.#good;
    if (attempt.ok && good) {
      return good.jwks.keys.length > 0
        ? { status: 'healthy' }
        : { status: 'degraded', error: 'no usable keys' };
    }
    if (attempt.error === undefined) {
      return good ? { status: 'healthy' } : { status: 'degraded', error: 'keys being fetched' };
    }
    const { error } = attempt;
    return this.#withinStaleWindow(this.#o.now())
      ? { status: 'degraded', error }
      : { status: 'unhealthy', error };
  }

  /** The resolver of `jwks`: the cached one when it is the current good set. */
  #resolverOf(jwks: JSONWebKeySet): JWTVerifyGetKey {
    const good = this.#good;
    return good && good.jwks === jwks ? good.getKey : createLocalJWKSet(jwks);
  }

  /**
   * The shared attempt, the cached set within the cool-down, or a new attempt.
   * No caller's signal: the download is shared, and the HttpClient times it out.
   */
  #obtain(): Promise<JSONWebKeySet> {
    if (this.#inFlight) return this.#inFlight;
    if (this.#coolingDown()) return Promise.resolve(this.#cached());
    return this.#attemptDownload(undefined);
  }

  #attemptDownload(signal: AbortSignal | undefined): Promise<JSONWebKeySet> {
    this.#attempt = { at: this.#o.now(), ok: false };
    const shared = this.#download(signal)
      .then(
        (jwks) => this.#succeeded(jwks),
        (err: unknown) => this.#failed(err),
      )
      .finally(() => {
        if (this.#inFlight === shared) this.#inFlight = undefined;
      });
    this.#inFlight = shared;
    return shared;
  }

  #succeeded(jwks: JSONWebKeySet): JSONWebKeySet {
    const now = this.#o.now();
    this.#good = { jwks, fetchedAt: now, getKey: createLocalJWKSet(jwks) };
    this.#attempt = { at: this.#attempt?.at ?? now, ok: true };
    this.#generation++;
    this.#o.telemetry.jwksFetch(this.#o.idp.issuer, 'success');
    this.#o.logger.debug({ issuer: this.#o.idp.issuer, keys: jwks.keys.length }, 'fetched JWKS');
    return jwks;
  }

  #failed(err: unknown): JSONWebKeySet {
    const { idp, telemetry, logger } = this.#o;
    const error = err instanceof Error ? err.message : 'unknown error';
    this.#attempt = { at: this.#attempt?.at ?? this.#o.now(), ok: false, error };
    this.#discoveredJwksUri = undefined;
    telemetry.jwksFetch(idp.issuer, 'failure');
    const stale = this.#withinStaleWindow(this.#o.now());
    logger.warn({ issuer: idp.issuer, error, servingStale: stale }, 'JWKS fetch failed');
    if (!stale || !this.#good)
      throw new KeySetUnavailableError(`keys of ${idp.issuer} unavailable: ${error}`);
    telemetry.jwksFetch(idp.issuer, 'stale');
    return this.#good.jwks;
  }

  /** Within the cool-down no network is used: the last good set while it may be served, else failure. */
  #cached(): JSONWebKeySet {
    const good = this.#good;
    if (good && (this.#attempt?.ok || this.#withinStaleWindow(this.#o.now()))) return good.jwks;
    const error = this.#attempt?.error ?? 'no keys fetched';
    throw new KeySetUnavailableError(`keys of ${this.#o.idp.issuer} unavailable (cooling down): ${error}`);
  }

  #coolingDown(): boolean {
    const attempt = this.#attempt;
    return attempt !== undefined && this.#o.now() - attempt.at < this.#o.jwks.cooldown * 1000;
  }

  #withinStaleWindow(now: number): boolean {
    const good = this.#good;
    return good !== undefined && now - good.fetchedAt <= this.#o.jwks.staleIfError * 1000;
  }

  async #download(signal: AbortSignal | undefined): Promise<JSONWebKeySet> {
    const { http, httpTimeout, idp, algorithms, logger } = this.#o;
    const url = await this.#jwksUri(signal);
    const res = await http(url, {
      timeoutMs: httpTimeout,
      maxBytes: MAX_JWKS_BYTES,
      headers: { accept: 'application/jwk-set+json, application/json' },
      ...(signal ? { signal } : {}),
    });
    if (res.status !== 200) throw new KeySetUnavailableError(`JWKS answered HTTP ${res.status}`);
    let json: unknown;
    try {
      json = parseStrictJson(res.body.toString('utf8'));
    } catch (cause) {
      throw new KeySetUnavailableError('JWKS is not strict JSON', { cause });
    }
    const { keys, dropped } = checkKeySet(json, algorithms);
    for (const { kid, reason } of dropped) {
      logger.warn({ issuer: idp.issuer, kid: kid ?? null, reason }, 'dropped a key from the JWKS');
    }
    return { keys };
  }

  async #jwksUri(signal: AbortSignal | undefined): Promise<string> {
    const { idp, http, httpTimeout, allowInsecureIssuers } = this.#o;
    if (idp.jwksUri !== undefined) {
      if (!isAllowedUrl(idp.jwksUri, allowInsecureIssuers)) {
        throw new KeySetUnavailableError('jwksUri is not an allowed URL');
      }
      return idp.jwksUri;
    }
    if (this.#discoveredJwksUri) return this.#discoveredJwksUri;
    const doc = await fetchDiscovery(idp.issuer, {
      http,
      timeoutMs: httpTimeout,
      allowInsecure: allowInsecureIssuers,
      ...(signal ? { signal } : {}),
    });
    if (!doc.jwks_uri) throw new DiscoveryError(`discovery document of ${idp.issuer} names no jwks_uri`);
    this.#discoveredJwksUri = doc.jwks_uri;
    return doc.jwks_uri;
  }
}
