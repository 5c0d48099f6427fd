/**
 * Security headers on every response (SPEC §7) through @fastify/helmet,
 * tuned for a JSON API: nothing on it is a document, so the CSP forbids
 * everything and framing is denied; `nosniff` keeps a browser from reading
 * JSON as something else; HSTS is sent only when the broker itself serves
 * TLS (over plain HTTP a browser ignores it, and the proxy in front sets it).
 */
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance } from 'fastify';
import { rootPlugin } from './root.ts';

/** HSTS max-age, seconds (one year). */
export const HSTS_MAX_AGE = 31_536_000;

/** Options of {@link securityHeadersPlugin}. */
export interface SecurityHeaderOptions {
  /** The broker serves HTTPS itself: send Strict-Transport-Security. */
  tls: boolean;
}

/** Registers helmet on the root instance. */
export const securityHeadersPlugin = rootPlugin(
  async (app: FastifyInstance, options: SecurityHeaderOptions) => {
    await app.register(fastifyHelmet, {
      global: true,
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
      },
      frameguard: { action: 'deny' },
      hsts: options.tls ? { maxAge: HSTS_MAX_AGE, includeSubDomains: true } : false,
      referrerPolicy: { policy: 'no-referrer' },
      crossOriginResourcePolicy: { policy: 'same-origin' },
      crossOriginOpenerPolicy: { policy: 'same-origin' },
      crossOriginEmbedderPolicy: false,
      originAgentCluster: false,
      xDnsPrefetchControl: { allow: false },
      xDownloadOptions: false,
      xPermittedCrossDomainPolicies: { permittedPolicies: 'none' },
    });
  },
);
