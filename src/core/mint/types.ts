/**
 * Shapes of the mint and key-listing use cases: what they take, what goes
 * on the wire, and what the audit log receives.
 */
import type { KeyConfig } from '../config/schema.ts';
import type { Explanation } from '../policy/index.ts';
import type { AccessProvider } from '../types.ts';

/** What a client asked for (already shape-checked by the HTTP layer). */
export interface MintRequest {
  /** Key names, 1–10, unique. */
  keys: readonly string[];
  /** Requested lifetime, seconds; applies to every key. */
  duration?: number | undefined;
  /**
   * Runs once the policy allowed every key and the durations are resolved,
   * before a one-time token is claimed or anything is asked upstream; a throw
   * refuses the mint (the server checks here that it can audit it).
   */
  beforeUpstream?: (() => Promise<void>) | undefined;
}

/** The 200 body of `POST /credentials/mint` (docs/architecture.md). */
export interface MintResponse {
  credentials: Record<string, Record<string, string>>;
  /** Earliest expiry of all keys, ISO 8601. */
  expiresAt: string;
  subject: string;
  /** When the broker answered, ISO 8601. */
  issuedAt: string;
  keyExpiresAt: Record<string, string>;
}

/** Audit facts of one minted key (never a secret). */
export interface MintedKeyAudit {
  key: string;
  provider: string;
  role?: string;
  serviceAccount?: string;
  sessionName?: string;
  accessKeyId?: string;
  upstreamRequestId?: string;
  /** ISO 8601. */
  expiresAt: string;
}

/**
 * What a mint that failed upstream throws: its 502 or 503 BrokerError, or a
 * bug's own error. `discarded` lists the keys minted before the failure,
 * whose credentials were dropped (empty when none).
 */
export type MintError = Error & { readonly discarded: readonly MintedKeyAudit[] };

/** A successful mint: the wire answer, one audit entry per key and the identities that matched. */
export interface MintResult {
  response: MintResponse;
  audit: MintedKeyAudit[];
  /** Names of the matching identities (M), for the audit event. */
  identities?: readonly string[];
}

/** One requested key, resolved against the config and ready to mint. */
export interface KeyPlan {
  name: string;
  key: Readonly<KeyConfig>;
  provider: AccessProvider;
  /** Seconds; undefined when the provider chooses (azure). */
  durationSeconds: number | undefined;
}

/** One entry of `GET /credentials/keys`. */
export interface KeyListing {
  name: string;
  provider: string;
  description?: string;
  /** Seconds; null when the provider chooses the lifetime (azure). */
  maxDuration: number | null;
}

/** The 200 body of `GET /credentials/keys`. */
export interface KeyList {
  subject: string;
  idp: string;
  keys: KeyListing[];
}

/** The 200 body of `POST /credentials/explain`. */
export interface ExplainAnswer {
  explanation: Explanation;
}

/** The 200 body of `GET /credentials/idp-providers`. */
export interface IdpProviderList {
  providers: Array<{ name: string; issuer: string; type: 'oidc'; audience?: string }>;
}
