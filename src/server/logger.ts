/**
 * The broker's logging, in one place: the pino logger (JSON lines with ISO
 * times, redaction), whose children fastify makes per request, and the
 * request log lines (docs/operations.md).
 *
 * Redaction is by field name, at any depth, on every line and every child
 * logger's bindings: before a line is written its fields are walked (plain
 * objects, arrays and errors, the latter serialized first) and the value of
 * any sensitive field is replaced by `[redacted]` in a copy — the logged
 * objects themselves are never changed. Sensitive fields are the
 * Authorization, Proxy-Authorization and Cookie headers, tokens of every kind
 * (`oidcToken`, `token`, `accessToken`, …), client secrets and assertions,
 * private keys, passwords, the Redis URL (it may hold a password) and minted
 * credentials; names match whatever their case or `-`/`_` spelling.
 * `logging.redact` adds pino paths on top. Requests are serialized without
 * their query string.
 *
 * (A walk by name rather than pino's path redaction: wildcard paths such as
 * `*.token` cost every line, and every per-request child logger, far more
 * than the walk, and only reach the depth they spell out.)
 *
 * Redaction is the safety net; code logs token hashes, never tokens (STYLE.md).
 */
import { createRequire } from 'node:module';
import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import { type Logger as PinoLogger, pino } from 'pino';
import type { LoggingConfig } from '../core/config/schema.ts';

/** What replaces a sensitive value. */
export const CENSOR = '[redacted]';

/**
 * Field names whose values never reach a log, normalized (lower case, no
 * `-` or `_`): `SessionToken`, `session_token` and `session-token` all match
 * `sessiontoken`.
 */
export const SENSITIVE_FIELDS: ReadonlySet<string> = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'setcookie',
  'oidctoken',
  'token',
  'accesstoken',
  'idtoken',
  'refreshtoken',
  'brokertoken',
  'webidentitytoken',
  'subjecttoken',
  'clientsecret',
  'clientassertion',
  'privatekey',
  'password',
  'sentinelpassword',
  'credentials',
  'secretaccesskey',
  'awssecretaccesskey',
  'sessiontoken',
  'awssessiontoken',
]);

/** Fields sensitive only inside a given parent (`redis.url` may hold the Redis password). */
const SENSITIVE_CHILDREN: ReadonlyMap<string, ReadonlySet<string>> = new Map([['redis', new Set(['url'])]]);

/** Deeper than this, a value is replaced rather than walked (and redacted). */
const MAX_DEPTH = 12;

const normalizedCache = new Map<string, string>();

function normalize(field: string): string {
  let normalized = normalizedCache.get(field);
  if (normalized === undefined) {
    normalized = field.toLowerCase().replace(/[-_]/g, '');
    // The set of field names in logs is small; the cap only guards against unbounded ones.
    if (normalizedCache.size >= 4096) normalizedCache.clear();
    normalizedCache.set(field, normalized);
  }
  return normalized;
}

/** True for a field whose value is never logged; `alsoHere` are the names sensitive under this field's parent. */
function isSensitiveField(field: string, alsoHere: ReadonlySet<string> | undefined): boolean {
  const name = normalize(field);
  return SENSITIVE_FIELDS.has(name) || alsoHere?.has(name) === true;
}

function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with every sensitive field's value censored, copying only what
 * changes. Errors become pino's serialized form; cycles become `[Circular]`.
 */
export function redactValue(value: unknown, parent?: string, ancestors: object[] = []): unknown {
  if (typeof value === 'string')
    return parent === 'stack' ? escapeStackControls(value) : escapeControls(value);
  if (typeof value !== 'object' || value === null) return value;
  if (ancestors.includes(value)) return '[Circular]';
  if (ancestors.length >= MAX_DEPTH) return '[too deep]';
  if (value instanceof Error) return redactValue(pino.stdSerializers.err(value), parent, ancestors);
  if (Array.isArray(value)) {
    ancestors.push(value);
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      const redacted = redactValue(item, parent, ancestors);
      if (redacted !== item) {
        copy ??= value.slice();
        copy[i] = redacted;
      }
    }
    ancestors.pop();
    return copy ?? value;
  }
  if (!isPlain(value)) {
    // Binary data is left as is; an object with toJSON (dates, URLs) is
    // walked as what it stringifies to, any other as its own fields, as JSON would.
    if (ArrayBuffer.isView(value)) return value;
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      const json = (value as { toJSON(): unknown }).toJSON();
      if (json !== value) return redactValue(json, parent, ancestors);
    }
    return redactFields(value as Record<string, unknown>, ancestors, true, parent);
  }
  return redactFields(value as Record<string, unknown>, ancestors, false, parent);
}

function redactFields(
  value: Record<string, unknown>,
  ancestors: object[],
  alwaysCopy: boolean,
  parent?: string,
): Record<string, unknown> {
  ancestors.push(value);
  const fields = Object.keys(value);
  // Looked up once per object, not once per field.
  const alsoHere = parent === undefined ? undefined : SENSITIVE_CHILDREN.get(normalize(parent));
  let copy: Record<string, unknown> | undefined = alwaysCopy ? {} : undefined;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as string;
    const item = value[field];
    const redacted =
      item !== undefined && isSensitiveField(field, alsoHere) ? CENSOR : redactValue(item, field, ancestors);
    if (copy === undefined && redacted !== item) {
      copy = {};
      for (let j = 0; j < i; j++) setField(copy, fields[j] as string, value[fields[j] as string]);
    }
    if (copy !== undefined) setField(copy, field, redacted);
  }
  ancestors.pop();
  return copy ?? value;
}

/** `target[field] = value`, also for a field named `__proto__`. */
function setField(target: Record<string, unknown>, field: string, value: unknown): void {
  if (field === '__proto__') {
    Object.defineProperty(target, field, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[field] = value;
  }
}

/** A request as logged: method, path without query, and the peer; never headers or body. */
function serializeRequest(req: { method?: unknown; url?: unknown; ip?: unknown }) {
  return {
    method: req.method,
    path: typeof req.url === 'string' ? req.url.split('?', 1)[0] : undefined,
    ...(typeof req.ip === 'string' ? { remoteAddress: req.ip } : {}),
  };
}

/** One line's fields (or a child's bindings), as written: requests reduced, sensitive values censored. */
export function redactLine(fields: Record<string, unknown>): Record<string, unknown> {
  try {
    const req = fields.req;
    const line = typeof req === 'object' && req !== null ? { ...fields, req: serializeRequest(req) } : fields;
    return redactValue(line) as Record<string, unknown>;
  } catch {
    // A getter or toJSON that throws: log that, not the fields, and never throw at the caller.
    return { logFieldsUnavailable: true };
  }
}

/** A pino logger per `logging` (JSON lines, ISO time, redaction by field name plus `logging.redact`). */
export function createLogger(
  logging: Readonly<LoggingConfig>,
  destination?: NodeJS.WritableStream,
): PinoLogger {
  const options: pino.LoggerOptions = {
    level: logging.level,
    base: { service: 'voidkey' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Child bindings are redacted by the `child` wrapper below (pino applies
    // `formatters.bindings` to the root's base only).
    formatters: { log: redactLine, bindings: redactLine },
    // Errors are serialized (and redacted) by redactLine already.
    serializers: { err: (err: unknown) => err },
    ...(logging.redact.length > 0 ? { redact: { paths: [...logging.redact], censor: CENSOR } } : {}),
  };
  const pretty = logging.format === 'pretty' && prettyAvailable();
  const logger = pretty
    ? pino({ ...options, transport: { target: 'pino-pretty' } })
    : pino(options, (destination ?? stdoutDestination()) as pino.DestinationStream);
  redactChildBindings(logger);
  if (logging.format === 'pretty' && !pretty) {
    logger.warn('logging.format is pretty but pino-pretty is not installed; logging JSON');
  }
  return logger;
}

/**
 * Standard output, written asynchronously: a line is queued and written as
 * soon as the previous write is done, so under load many lines share one
 * write instead of each blocking the event loop. pino flushes what is queued
 * synchronously on exit and after a `fatal` line; a SIGKILL loses at most
 * the lines of the write in flight.
 */
function stdoutDestination(): pino.DestinationStream {
  return pino.destination({ dest: 1, sync: false });
}

/**
 * Makes `child(bindings)` redact its bindings, for `logger` and every logger
 * derived from it (pino's children inherit from their parent).
 */
function redactChildBindings(logger: PinoLogger): void {
  const child = logger.child as (this: unknown, bindings: pino.Bindings, options?: unknown) => unknown;
  Object.defineProperty(logger, 'child', {
    configurable: true,
    writable: true,
    value: function redactedChild(this: unknown, bindings: pino.Bindings, options?: unknown) {
      return child.call(this, redactLine(bindings), options);
    },
  });
}

/** True when `pino-pretty` (an optional package) can be loaded for `logging.format: pretty`. */
export function prettyAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/** The URL path of `request`, without its query string: a `?token=` must never reach a log. */
export function pathOf(request: Pick<FastifyRequest, 'url'>): string {
  const url = request.url;
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** True when `log` is a pino logger that would drop lines at `level`. */
function levelDisabled(log: FastifyRequest['log'], level: 'debug' | 'info'): boolean {
  return (log as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.(level) === false;
}

/** Fastify's per-request log lines, without query strings; health probes and scrapes at debug. */
class RequestLog extends LogController {
  constructor() {
    super({ requestIdLogLabel: 'requestId' });
  }

  override incomingRequest(): void {}

  override routeNotFound(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (!error && levelDisabled(request.log, 'info')) return;
    const path = pathOf(request);
    const probe = path.startsWith('/health') || path === '/metrics';
    if (!error && probe && levelDisabled(request.log, 'debug')) return;
    const agent = request.headers['user-agent'];
    const facts = {
      method: request.method,
      // The template (bounded, no ids); `unmatched` when only the 404 handler saw it.
      route: request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched'),
      path,
      statusCode: reply.statusCode,
      responseTime: reply.elapsedTime,
      ...(typeof agent === 'string' ? { userAgent: agent.slice(0, 256) } : {}),
    };
    if (error) request.log.error({ ...facts, err: error }, 'request errored');
    else if (probe) request.log.debug(facts, 'request completed');
    else request.log.info(facts, 'request completed');
  }
}

/** Fastify's `logController`: one completion line per request, logged as `requestId`. */
export function requestLog(): LogController {
  return new RequestLog();
}

/*
 * Control characters in logged text, made visible. A User-Agent, a token's
 * subject or an upstream request id is someone else's text: written raw, an
 * escape sequence could repaint the terminal of whoever reads the log and a
 * line break could forge a line in a viewer that prints decoded values. Each
 * such character becomes `\xHH` (C0, DEL, C1) or `\uHHHH` (line and
 * paragraph separators, bidirectional overrides), as docs/operations.md says.
 * Backslashes are left as they are, so escaping twice changes nothing.
 */

// Built from a string so the linter's rule against control characters in regex literals stays on elsewhere.
const RANGES = '\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';
const CONTROL = new RegExp(`[${RANGES}]`);
const CONTROLS = new RegExp(`[${RANGES}]`, 'g');
/** The same set without the line feed: error stacks keep their lines. */
const STACK_CONTROLS = new RegExp(
  `[${RANGES.replace('\\u0000-\\u001f', '\\u0000-\\u0009\\u000b-\\u001f')}]`,
  'g',
);

function visible(char: string): string {
  const code = char.charCodeAt(0);
  return code < 0x100
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control character written as an escape; `text` itself when it has none. */
export function escapeControls(text: string): string {
  return CONTROL.test(text) ? text.replace(CONTROLS, visible) : text;
}

/** As {@link escapeControls}, keeping line feeds (for error stacks, one frame per line). */
export function escapeStackControls(text: string): string {
  return CONTROL.test(text) ? text.replace(STACK_CONTROLS, visible) : text;
}

/**
 * `value` with control characters escaped in every string of its plain
 * objects and arrays (field names too), copying only what changes.
 */
export function escapeControlsDeep(value: unknown): unknown {
  if (typeof value === 'string') return escapeControls(value);
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const escaped = escapeControlsDeep(value[i]);
      if (escaped !== value[i]) {
        copy ??= value.slice();
        copy[i] = escaped;
      }
    }
    return copy ?? value;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let copy: Record<string, unknown> | undefined;
  const fields = Object.keys(value);
  for (const field of fields) {
    const item = (value as Record<string, unknown>)[field];
    const escaped = escapeControlsDeep(item);
    const name = escapeControls(field);
    if (escaped === item && name === field) continue;
    copy ??= { ...(value as Record<string, unknown>) };
    if (name !== field) delete copy[field];
    // A data field even when named `__proto__`.
    Object.defineProperty(copy, name, {
      value: escaped,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy ?? value;
}
