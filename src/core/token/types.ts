/** Options and surface of the client-token verifier (docs/security.md). */
import type { ClientIdpConfig } from '../config/schema.ts';
import type { HttpClient, Logger, Telemetry, TokenVerifier } from '../types.ts';
import type { KeySetHealth } from './issuer-keys.ts';

/** What {@link createTokenVerifier} needs; `jwks` durations are seconds (config `cache.jwks`). */
export interface VerifierOptions {
  idps: readonly ClientIdpConfig[];
  jwks: { ttl: number; staleIfError: number; cooldown: number; maxSize: number };
  http: HttpClient;
  /** ms per discovery or JWKS fetch. */
  httpTimeout: number;
  allowInsecureIssuers: boolean;
  logger?: Logger;
  telemetry?: Telemetry;
  /** Clock in ms since the epoch (default Date.now); frozen in tests. */
  now?: () => number;
}

/** The verifier plus what health checks, warm-up and `config validate` need. */
export interface ClientTokenVerifier extends TokenVerifier {
  /** Per client IdP name: healthy, degraded (stale keys, not fetched yet) or unhealthy (no keys). */
  keySetHealth(): Record<string, KeySetHealth>;
  /** Fetches discovery and JWKS now, ignoring the cool-down; throws on failure. */
  refreshKeys(idpName: string, signal?: AbortSignal): Promise<{ keys: number }>;
}
