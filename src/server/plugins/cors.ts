/**
 * CORS for browser callers, only for the exact origins in
 * `server.cors.origins` (docs/configuration.md): never `*`, never credentials mode, only
 * the methods and headers the API uses. Other origins get no CORS headers
 * and their preflights the answer they would get without CORS (405). The list is read per request, so a reload
 * that changes it applies at once (turning CORS on or off needs a restart).
 */
import fastifyCors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** Methods a browser may use. */
export const CORS_METHODS = ['GET', 'POST', 'OPTIONS'] as const;
/** Request headers a browser may send. */
export const CORS_HEADERS = ['authorization', 'content-type', 'x-request-id'] as const;
/** Response headers a browser script may read. */
export const CORS_EXPOSED = [
  'x-request-id',
  'retry-after',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
];
/** How long a browser may cache a preflight answer, seconds. */
export const CORS_MAX_AGE = 600;

/** Options of {@link corsPlugin}: the configured origins, read per request. */
export interface CorsOptions {
  origins: () => readonly string[];
}

/** Registers CORS on the root instance. Throws TypeError for `*` (config validation refuses it first). */
async function cors(app: FastifyInstance, options: CorsOptions): Promise<void> {
  if (options.origins().includes('*')) throw new TypeError('server.cors.origins: "*" is refused');
  await app.register(fastifyCors, {
    origin: (origin, callback) => {
      const allowed = origin !== undefined && options.origins().includes(origin);
      callback(null, allowed ? origin : false);
    },
    methods: [...CORS_METHODS],
    allowedHeaders: [...CORS_HEADERS],
    exposedHeaders: CORS_EXPOSED,
    credentials: false,
    maxAge: CORS_MAX_AGE,
    strictPreflight: true,
  });
}

/** CORS on every route of the instance that registers it. */
export const corsPlugin = fp(cors, { name: 'voidkey-cors', fastify: '5.x' });
