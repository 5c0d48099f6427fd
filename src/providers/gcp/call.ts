/**
 * One JSON POST to Google with our retry (408/429/5xx and network only),
 * inside the mint's deadline, with telemetry and a safe error. Answers are
 * capped at 64 KiB: Google's are a few hundred bytes.
 */
import { UpstreamError } from '../../core/errors.ts';
import { type HttpClient, noTelemetry, silentLogger } from '../../core/types.ts';
import { withRetry } from '../retry.ts';
import type { ProviderDeps } from '../types.ts';
import {
  type GoogleService,
  GoogleStatusError,
  isRetryableGoogleError,
  requestIdOf,
  SERVICE_NAME,
  toUpstreamError,
} from './errors.ts';

const MAX_ANSWER_BYTES = 64 * 1024;

/** What a successful call yields: the parsed JSON object and Google's request id, if any. */
export interface GoogleAnswer {
  json: Record<string, unknown>;
  requestId: string | undefined;
}

/** One call: `service` names the upstream in reasons, `operation` labels telemetry and logs. */
export interface GoogleCall {
  service: GoogleService;
  operation: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
}

/** A caller bound to one provider; every call of that provider goes through it. */
export type GoogleCaller = (call: GoogleCall) => Promise<GoogleAnswer>;

/** Builds the caller of provider `provider` over `http` (timeouts and retries from `deps`). */
export function createGoogleCaller(provider: string, deps: ProviderDeps, http: HttpClient): GoogleCaller {
  const logger = deps.logger ?? silentLogger;
  const telemetry = deps.telemetry ?? noTelemetry;
  return async (call) => {
    const { service, operation, signal } = call;
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const res = await withRetry(() => attempt(http, call, deps.httpTimeout), {
        maxRetries: deps.maxRetries,
        retryDelay: deps.retryDelay,
        isRetryable: isRetryableGoogleError,
        signal,
        onRetry: (attempt, err, delayMs) =>
          logger.debug(
            {
              provider,
              operation,
              attempt,
              delayMs,
              reason: toUpstreamError(err, service, operation, false).reason,
            },
            'retrying Google call',
          ),
      });
      const answer = { json: parseObject(res.body, service), requestId: requestIdOf(res.headers) };
      telemetry.providerCall(provider, operation, 'success', seconds());
      return answer;
    } catch (err) {
      telemetry.providerCall(provider, operation, 'failure', seconds());
      const mapped = toUpstreamError(err, service, operation, signal.aborted);
      logger.warn({ provider, operation, reason: mapped.reason, detail: mapped.cause }, 'Google call failed');
      throw mapped;
    }
  };
}

async function attempt(http: HttpClient, call: GoogleCall, timeoutMs: number) {
  const res = await http(call.url, {
    method: 'POST',
    headers: { accept: 'application/json', ...call.headers },
    body: call.body,
    timeoutMs,
    maxBytes: MAX_ANSWER_BYTES,
    signal: call.signal,
  });
  if (res.status < 200 || res.status > 299) throw new GoogleStatusError(res);
  return res;
}

function parseObject(body: Buffer, service: GoogleService): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    value = undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new UpstreamError('refused', `MALFORMED_RESPONSE: ${SERVICE_NAME[service]} answered without JSON`);
  }
  return value as Record<string, unknown>;
}
