/**
 * Ports between the broker's core and the layers around it. Core defines
 * them; providers/ and server/ implement or call them.
 */
import type { JWTPayload } from 'jose';
import type { KeyConfig, ProviderType } from './config/schema.ts';

/** A client token that passed every check in docs/security.md. */
export interface VerifiedToken {
  /** Exact `iss` claim (equals the configured issuer). */
  iss: string;
  sub: string;
  /** Configured name of the client IdP that issued it. */
  idp: string;
  claims: JWTPayload;
  /** `jti`, or the SHA-256 (hex) of the canonical decoded payload when there is none. */
  tokenId: string;
  /** `exp`, Unix seconds. */
  expiresAt: number;
}

/** Verifies client tokens; throws InvalidTokenError (401) or ServiceUnavailableError (503). */
export interface TokenVerifier {
  verify(token: string, signal?: AbortSignal): Promise<VerifiedToken>;
}

/** Obtains broker tokens (client-credentials grant) per audience, cached. */
export interface BrokerTokenSource {
  /** A valid broker token whose `aud` contains `audience`. Throws UpstreamError. */
  getToken(audience: string, signal?: AbortSignal): Promise<string>;
  /**
   * The token getToken would resolve with at once, when one is cached and
   * fresh; undefined otherwise (then call getToken). Lets a mint skip the
   * promise when nothing is to be fetched.
   */
  cachedToken?(audience: string): string | undefined;
}

/** What a provider needs to mint one key. */
export interface MintInput {
  keyName: string;
  key: Readonly<KeyConfig>;
  /** Effective duration in seconds, already checked against the maxima (undefined for providers without one). */
  durationSeconds: number | undefined;
  /** Broker token for this provider's audience. */
  brokerToken: string;
  subject: string;
  issuer: string;
  /** Aborted when the request's deadline passes. */
  signal: AbortSignal;
}

/** Audit facts of one minted key; never a secret. */
export interface MintAudit {
  role?: string;
  serviceAccount?: string;
  sessionName?: string;
  accessKeyId?: string;
  upstreamRequestId?: string;
}

/**
 * A provider's lifetimes, seconds: `min` (shorter requests are raised to it),
 * `default` (when neither request nor key says), `max` (the cloud's ceiling
 * and the provider's `maxDuration` together), `chainedMax` (a key with
 * `assumeRole`, when the cloud caps chained sessions).
 */
export interface Durations {
  min: number;
  default: number;
  max: number;
  chainedMax?: number;
}

/** What a provider returns for one key. */
export interface MintOutput {
  /** Provider fields by name (see `fields`), e.g. AccessKeyId. */
  fields: Record<string, string>;
  expiresAt: Date;
  audit: MintAudit;
}

/**
 * One configured access provider. `mint` throws UpstreamError ('refused' →
 * 502, 'unavailable' → 503) with a safe reason, never an upstream body.
 */
export interface AccessProvider {
  readonly name: string;
  readonly type: ProviderType;
  /** Audience of the broker token this provider presents. */
  readonly audience: string;
  /** Field names a key's `outputs` may map. */
  readonly fields: readonly string[];
  /** ENV_VAR → field, used when a key has no `outputs`. */
  readonly defaultOutputs: Readonly<Record<string, string>>;
  /** Duration rules in seconds, the only caps a mint applies; `undefined` when the provider chooses (azure). */
  readonly durations: Durations | undefined;
  mint(input: MintInput): Promise<MintOutput>;
}

/** Options of one outbound HTTP call. */
export interface HttpRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** ms for the whole exchange. */
  timeoutMs: number;
  /** Stop reading (and fail) past this many bytes. */
  maxBytes: number;
  signal?: AbortSignal;
}

/** A complete, size-capped response. Redirects are never followed. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Outbound HTTP port. Rejects with HttpError on timeout, network failure,
 * oversize bodies and redirects (3xx is returned as a response, not followed).
 */
export type HttpClient = (url: string, request: HttpRequest) => Promise<HttpResponse>;

/** Why an outbound call produced no usable response. */
export class HttpError extends Error {
  readonly kind: 'timeout' | 'network' | 'too_large' | 'aborted';
  constructor(kind: HttpError['kind'], message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'HttpError';
    this.kind = kind;
  }
}

/** The logging surface core needs (a pino logger satisfies it). */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A logger that drops everything (tests, library use). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/**
 * Hooks through which core reports what it does; server/ implements them with
 * prom-client. Labels are bounded: configured names only, never a subject.
 */
export interface Telemetry {
  /** A client token was checked; `reason` is a TokenReason or 'ok'. */
  tokenVerification(idp: string, result: 'success' | 'failure', reason: string): void;
  /** A JWKS or discovery fetch for a configured issuer. */
  jwksFetch(issuer: string, result: 'success' | 'failure' | 'stale'): void;
  /** A broker token was requested from the broker IdP. */
  brokerTokenRefresh(audience: string, result: 'success' | 'failure'): void;
  /** One provider call, seconds. */
  providerCall(provider: string, operation: string, result: 'success' | 'failure', seconds: number): void;
}

/** Telemetry that records nothing. */
export const noTelemetry: Telemetry = {
  tokenVerification() {},
  jwksFetch() {},
  brokerTokenRefresh() {},
  providerCall() {},
};
