/**
 * Turns a broker error answer (docs/errors.md body) into one line and an exit code a
 * user or a CI log can act on: the reason of a 401, the denied keys of a 403,
 * the request id of a 5xx, the wait of a 429.
 */
import { CliError, EXIT, type ExitCode, UNPRINTABLE } from './exit.ts';

/** The error body of docs/errors.md, as far as the client reads it. */
export interface ErrorBody {
  error?: unknown;
  message?: unknown;
  details?: { reason?: unknown; deniedKeys?: unknown; failures?: unknown };
  requestId?: unknown;
  retryAfter?: unknown;
}

/**
 * 503 reasons that clear on their own. Anything else (`audit_write_failed`,
 * a 503 without a reason) is final: a retry could make the broker mint
 * upstream again only to throw the credentials away.
 */
export const RETRYABLE_503_REASONS: ReadonlySet<string> = new Set([
  'throttled',
  'unavailable',
  'deadline_exceeded',
  'keys_unavailable',
  'replay_store_unavailable',
]);

/** Whether an answer may be retried: 429, or a 503 whose `details.reason` is retryable. */
export function isRetryable(status: number, body: ErrorBody): boolean {
  if (status === 429) return true;
  const reason = body.details?.reason;
  return status === 503 && typeof reason === 'string' && RETRYABLE_503_REASONS.has(reason);
}

/** What the client knows about a failed call. */
export interface FailedCall {
  status: number;
  body: ErrorBody;
  /** Request id from the body, else the X-Request-ID header. */
  requestId: string | undefined;
  /** `METHOD /path` of the call. */
  route: string;
  /** Attempts made (> 1 when 429/503 were retried). */
  attempts: number;
  /** Seconds the broker asked to wait, when it did. */
  retryAfter: number | undefined;
  timeoutMs: number;
  /** Subject of the token, when it could be decoded locally (for 404). */
  subject?: string;
  /** What to do about it, appended to the line. */
  hint?: string | undefined;
}

/** The CliError for a non-2xx broker answer. */
export function brokerFailure(call: FailedCall): CliError {
  const code = typeof call.body.error === 'string' ? call.body.error : undefined;
  const head = `${call.status}${code ? ` ${code}` : ''}`;
  const [exit, text] = describe(call, head, code);
  const id = call.requestId ? ` [request id ${call.requestId}]` : '';
  const hint = call.hint ? `; ${call.hint}` : '';
  return new CliError(exit, `${text}${hint}${id}`);
}

function describe(call: FailedCall, head: string, code: string | undefined): [ExitCode, string] {
  const message = safeText(call.body.message);
  const said = message ? `: ${message}` : '';
  const { status } = call;
  if (status === 400) return [EXIT.USAGE, `the broker refused the request (${head})${said}`];
  if (status === 401) return [EXIT.AUTH, `authentication failed (${head}${reasonOf(call)})${said}`];
  if (status === 403) return [EXIT.DENIED, `denied (${head}): ${deniedText(call.body)}`];
  if (status === 404 && code === 'SUBJECT_NOT_FOUND') {
    const who = call.subject ? ` '${call.subject.slice(0, 255)}'` : '';
    return [EXIT.DENIED, `denied (${head}): the broker has no identity for the token's subject${who}`];
  }
  if (status === 429 || status === 503) {
    const outcome = isRetryable(status, call.body) ? gaveUp(call) : '; not retried';
    return [EXIT.BROKER, `${throttled(call, head)}${said}${failuresText(call.body)}${outcome}`];
  }
  if (status >= 500) return [EXIT.BROKER, `the broker failed (${head})${said}${failuresText(call.body)}`];
  if (status === 404) {
    return [EXIT.BROKER, `the broker answered ${head} to ${call.route}; is the broker URL right?`];
  }
  if (status >= 300 && status < 400) {
    return [EXIT.BROKER, `the broker answered a redirect (${status}) to ${call.route}; use the final URL`];
  }
  return [EXIT.BROKER, `the broker answered ${head} to ${call.route}${said}`];
}

function reasonOf(call: FailedCall): string {
  const reason = safeText(call.body.details?.reason);
  return reason ? `, reason ${reason}` : '';
}

function deniedText(body: ErrorBody): string {
  const denied = body.details?.deniedKeys;
  if (Array.isArray(denied) && denied.length > 0) {
    return `keys not granted: ${denied.map((key) => safeText(key)).join(', ')}`;
  }
  return safeText(body.message) || 'the identity is not granted the requested keys';
}

function failuresText(body: ErrorBody): string {
  const failures = body.details?.failures;
  if (!Array.isArray(failures) || failures.length === 0) return '';
  const items = failures
    .slice(0, 10)
    .map((failure: { key?: unknown; provider?: unknown; reason?: unknown }) => {
      return `${safeText(failure.key)} (${safeText(failure.provider)}): ${safeText(failure.reason)}`;
    });
  return `; failed keys: ${items.join('; ')}`;
}

function throttled(call: FailedCall, head: string): string {
  const wait = call.retryAfter !== undefined ? `, retry after ${call.retryAfter}s` : '';
  return call.status === 429
    ? `rate limited by the broker (${head}${wait})`
    : `the broker is unavailable (${head}${reasonOf(call)}${wait})`;
}

function gaveUp(call: FailedCall): string {
  const plural = call.attempts === 1 ? 'attempt' : 'attempts';
  return `; gave up after ${call.attempts} ${plural} within the ${call.timeoutMs / 1000}s timeout`;
}

/** A broker-supplied value made printable: strings and numbers only, one line, at most 300 characters. */
export function safeText(value: unknown): string {
  if (typeof value !== 'string' && typeof value !== 'number') return '';
  const text = String(value).replace(UNPRINTABLE, ' ').trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}
