/**
 * The broker's pino logger: JSON lines with ISO times, and redaction
 * configured in one place (SPEC §7): the Authorization and Cookie headers,
 * `oidcToken`, `?token=`, broker and web-identity tokens, client secrets and
 * private keys, the Redis URL (it may hold a password), and minted
 * credentials — plus `logging.redact`. Requests are serialized without their
 * query string. Redaction is the safety net; code logs token hashes, never
 * tokens (STYLE.md).
 */
import { createRequire } from 'node:module';
import { type Logger as PinoLogger, pino } from 'pino';
import type { LoggingConfig } from '../core/config/schema.ts';

const anyDepth = (field: string) => [field, `*.${field}`, `*.*.${field}`];

/** Paths censored in every log line, before `logging.redact`. */
export const BUILT_IN_REDACTIONS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'authorization',
  'req.query.token',
  'query.token',
  'req.body.oidcToken',
  ...anyDepth('oidcToken'),
  ...anyDepth('token'),
  ...anyDepth('accessToken'),
  ...anyDepth('brokerToken'),
  ...anyDepth('webIdentityToken'),
  ...anyDepth('WebIdentityToken'),
  ...anyDepth('clientSecret'),
  ...anyDepth('client_secret'),
  ...anyDepth('client_assertion'),
  ...anyDepth('privateKey'),
  ...anyDepth('password'),
  'redis.url',
  '*.redis.url',
  ...anyDepth('credentials'),
  ...anyDepth('SecretAccessKey'),
  ...anyDepth('secretAccessKey'),
  ...anyDepth('SessionToken'),
  ...anyDepth('sessionToken'),
];

/** A request as logged: method, path without query, and the peer; never headers or body. */
function serializeRequest(req: { method?: string; url?: string; ip?: string; id?: string }) {
  return {
    method: req.method,
    path: typeof req.url === 'string' ? req.url.split('?', 1)[0] : undefined,
    ...(req.ip ? { remoteAddress: req.ip } : {}),
  };
}

/** A pino logger per `logging` (JSON lines, ISO time, built-in redactions plus `logging.redact`). */
export function createLogger(
  logging: Readonly<LoggingConfig>,
  destination?: NodeJS.WritableStream,
): PinoLogger {
  const options = {
    level: logging.level,
    base: { service: 'voidkey' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...BUILT_IN_REDACTIONS, ...logging.redact], censor: '[redacted]' },
    serializers: { req: serializeRequest, err: pino.stdSerializers.err },
  };
  const pretty = logging.format === 'pretty' && prettyAvailable();
  const logger = pretty
    ? pino({ ...options, transport: { target: 'pino-pretty' } })
    : pino(options, (destination ?? pino.destination({ dest: 1, sync: true })) as pino.DestinationStream);
  if (logging.format === 'pretty' && !pretty) {
    logger.info('logging.format is pretty but pino-pretty is not installed; logging JSON');
  }
  return logger;
}

function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}
