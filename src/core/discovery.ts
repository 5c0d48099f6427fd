/**
 * OpenID Connect discovery: fetch `<issuer>/.well-known/openid-configuration`
 * once, check that its `issuer` equals the configured one exactly, and that
 * the endpoints it names are HTTPS (unless insecure issuers are allowed).
 */
import type { HttpClient } from './types.ts';

/** The fields of a discovery document the broker uses. */
export interface DiscoveryDocument {
  issuer: string;
  jwks_uri?: string;
  token_endpoint?: string;
}

/** Why discovery failed; the message is safe to log (no response body). */
export class DiscoveryError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'DiscoveryError';
  }
}

/** Options for {@link fetchDiscovery}. */
export interface DiscoveryOptions {
  http: HttpClient;
  /** ms for the whole fetch. */
  timeoutMs: number;
  allowInsecure: boolean;
  signal?: AbortSignal;
}

const MAX_DISCOVERY_BYTES = 512 * 1024;

/** The discovery URL of `issuer` (a trailing slash on the issuer is not doubled). */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

/** True when `url` may be fetched: https, or http with `allowInsecure`. */
export function isAllowedUrl(url: string, allowInsecure: boolean): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  return parsed.protocol === 'https:' || (allowInsecure && parsed.protocol === 'http:');
}

/** Fetches and checks the discovery document of `issuer`. Throws DiscoveryError. */
export async function fetchDiscovery(issuer: string, options: DiscoveryOptions): Promise<DiscoveryDocument> {
  const url = discoveryUrl(issuer);
  if (!isAllowedUrl(url, options.allowInsecure))
    throw new DiscoveryError(`discovery URL is not https: ${url}`);
  const res = await options
    .http(url, {
      timeoutMs: options.timeoutMs,
      maxBytes: MAX_DISCOVERY_BYTES,
      headers: { accept: 'application/json' },
      ...(options.signal ? { signal: options.signal } : {}),
    })
    .catch((err: unknown) => {
      throw new DiscoveryError(`discovery fetch failed for ${issuer}: ${(err as Error).message}`, {
        cause: err,
      });
    });
  if (res.status !== 200) throw new DiscoveryError(`discovery for ${issuer} answered HTTP ${res.status}`);
  let doc: unknown;
  try {
    doc = JSON.parse(res.body.toString('utf8'));
  } catch (err) {
    throw new DiscoveryError(`discovery document of ${issuer} is not JSON`, { cause: err });
  }
  if (typeof doc !== 'object' || doc === null)
    throw new DiscoveryError(`discovery document of ${issuer} is not an object`);
  const d = doc as Record<string, unknown>;
  if (d.issuer !== issuer) {
    // Shown so the operator can copy it (a trailing slash is the usual difference); never a secret.
    const named = typeof d.issuer === 'string' ? JSON.stringify(d.issuer.slice(0, 256)) : 'no string';
    throw new DiscoveryError(
      `the discovery document of ${issuer} names issuer ${named}, not the configured ${JSON.stringify(issuer)}`,
    );
  }
  for (const field of ['jwks_uri', 'token_endpoint'] as const) {
    const value = d[field];
    if (value === undefined) continue;
    if (typeof value !== 'string' || !isAllowedUrl(value, options.allowInsecure)) {
      throw new DiscoveryError(`discovery ${field} of ${issuer} is not an allowed URL`);
    }
  }
  return {
    issuer,
    ...(typeof d.jwks_uri === 'string' ? { jwks_uri: d.jwks_uri } : {}),
    ...(typeof d.token_endpoint === 'string' ? { token_endpoint: d.token_endpoint } : {}),
  };
}
