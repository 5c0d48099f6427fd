/**
 * Security headers on every response (docs/operations.md), as helmet defines them,
 * tuned for a JSON API: nothing on it is a document, so the CSP forbids
 * everything and framing is denied; `nosniff` keeps a browser from reading
 * JSON as something else; HSTS is sent only when the broker itself serves
 * TLS (over plain HTTP a browser ignores it, and the proxy in front sets it).
 *
 * The headers do not depend on the request, so helmet runs once, at start,
 * and buildApp sets the precomputed set first thing on every request (and on
 * answers the router gives before any hook runs), so no later refusal can
 * leave them off. (helmet's fastify plugin rebuilds its middleware on every
 * request.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';

/** HSTS max-age, seconds (one year). */
export const HSTS_MAX_AGE = 31_536_000;

/** Options of {@link securityHeaders}. */
export interface SecurityHeaderOptions {
  /** The broker serves HTTPS itself: send Strict-Transport-Security. */
  tls: boolean;
}

/** The headers helmet sets with the broker's settings, names in lower case. */
export function securityHeaders(options: SecurityHeaderOptions): Readonly<Record<string, string>> {
  const middleware = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    frameguard: { action: 'deny' },
    strictTransportSecurity: options.tls ? { maxAge: HSTS_MAX_AGE, includeSubDomains: true } : false,
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: { allow: false },
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: { permittedPolicies: 'none' },
  });
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return Object.freeze(headers);
}
