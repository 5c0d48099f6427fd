/**
 * Builds the broker's fastify app; never listens (main.ts does). Everything
 * a request can meet is set here or in options.ts explicitly: body limit,
 * strict JSON-only parsing, schema validation without coercion or silent
 * stripping, request ids, one error handler, and the routes.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyReply } from 'fastify';
import Fastify from 'fastify';
import type { Config } from '../core/config/schema.ts';
import { InvalidRequestError, ServiceUnavailableError } from '../core/errors.ts';
import type { CredentialBroker } from '../core/mint/index.ts';
import { configOnlyProbe, type HealthProbe } from './health/probe.ts';
import { registerHealthRoutes } from './health/routes.ts';
import { serverOptions } from './options.ts';
import { handleError, registerErrorHandling } from './plugins/errors.ts';
import { type RequestObserver, registerCredentialRoutes, type SubjectLimiter } from './routes/credentials.ts';
import { readPackageVersion } from './version.ts';

export type { HealthProbe, HealthReport, HealthState } from './health/probe.ts';
export type { RequestObserver } from './routes/credentials.ts';

/** Options of {@link buildApp}. */
export interface AppOptions {
  /** The use cases, or a function returning the current ones (swapped atomically on reload). */
  broker: CredentialBroker | (() => CredentialBroker);
  /** Settings fixed for the app's life: body limit, trust proxy. */
  config: Readonly<Config>;
  /** A pino logger (default: none). */
  logger?: FastifyBaseLogger | false;
  /** Reported by `/health` (default: package.json's). */
  version?: string;
  /**
   * Headers every response carries, refusals included: the security headers
   * (security-headers.ts). Set before anything else can answer.
   */
  headers?: Readonly<Record<string, string>>;
  /** Health checks (default: config only, always ready). */
  health?: HealthProbe;
  /** Audit and metrics around authentication and minting. */
  observer?: RequestObserver;
  /** The per-subject limit, a step of the mint route (default: none). */
  limitSubject?: SubjectLimiter;
  /** PEM certificate and key: serve HTTPS. */
  https?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Runs on the root instance before any route is added: the place for
   * global hooks and plugins (metrics, rate limits, CORS, security headers).
   */
  extend?: (app: FastifyInstance) => void;
}

/** A 503 (with `Connection: close`) for requests that arrive on kept-alive sockets once `close()` has begun. */
function closingError(reply: FastifyReply): Error {
  reply.header('connection', 'close');
  return new ServiceUnavailableError({
    message: 'The broker is shutting down',
    details: { reason: 'closing' },
  });
}

/**
 * A 400 for a Transfer-Encoding other than `chunked`, whose body cannot be
 * delimited. Node's parser refuses it too, but only after it has handed the
 * head to the app; refusing here makes the answer the same every time.
 */
function framingError(transferEncoding: string | undefined, reply: FastifyReply): Error | undefined {
  if (transferEncoding === undefined || transferEncoding.trim().toLowerCase() === 'chunked') return undefined;
  reply.header('connection', 'close');
  return new InvalidRequestError('Unsupported Transfer-Encoding');
}

/**
 * The first hook of every request, one hook for what every answer needs: no
 * caching (credentials, key lists and errors must never sit in a cache;
 * nothing here should), the static headers, the request id; then the
 * refusals no route should see (closing, unframeable body). Headers are set
 * before any refusal, and a hook that refuses skips the hooks after it, so
 * these come first of all.
 */
function edgeHook(app: FastifyInstance, headers: Readonly<Record<string, string>>): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', (request, reply, done) => {
    reply.headers(headers);
    reply.header('x-request-id', request.id);
    done(closing ? closingError(reply) : framingError(request.headers['transfer-encoding'], reply));
  });
}

/** Builds the app (call `ready()` or `listen()` on it). */
export function buildApp(options: AppOptions): FastifyInstance {
  const { server } = options.config;
  const headers = Object.freeze({ 'cache-control': 'no-store', ...options.headers });
  const app = Fastify({
    ...serverOptions(server, { logger: options.logger, https: options.https }),
    // Refusals of the router (a malformed URL) come before any hook: the headers go on here.
    frameworkErrors: (error, request, reply) => {
      reply.headers(headers);
      handleError(error, request, reply);
    },
  }) as unknown as FastifyInstance;

  // Only JSON bodies: fastify would otherwise parse text/plain into a string.
  app.removeContentTypeParser(['text/plain']);
  registerErrorHandling(app);
  edgeHook(app, headers);
  options.extend?.(app);

  const broker = options.broker;
  const current = typeof broker === 'function' ? broker : () => broker;
  const version = options.version ?? readPackageVersion();
  // Routes load as a plugin, after whatever `extend` registered, so global
  // hooks of plugins (rate limit, CORS, metrics) apply to every route.
  app.register(async (scope) => {
    registerCredentialRoutes(scope, {
      current,
      observer: options.observer ?? {},
      limitSubject: options.limitSubject,
    });
    registerHealthRoutes(scope, { version, probe: options.health ?? configOnlyProbe });
  });
  return app;
}
