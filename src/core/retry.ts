/**
 * The one retry loop for outbound calls: jittered exponential backoff, only
 * for failures a predicate calls retryable, never past the caller's deadline
 * or after its AbortSignal fired. It lives in core because the broker-token
 * source (core) retries too; providers use it through src/providers/retry.ts.
 */
import { HttpError } from './types.ts';

/** Options of {@link withRetry}. */
export interface RetryOptions {
  /** Retries after the first attempt (0 = try once). */
  maxRetries: number;
  /** Base delay, ms; attempt n waits between ½ and 1 × retryDelay × 2ⁿ. */
  retryDelay: number;
  /** Whether a failure may be tried again (408/429/5xx/network, say). */
  isRetryable: (err: unknown) => boolean;
  /** Stops the loop: no further attempt starts and a pending wait ends at once. */
  signal?: AbortSignal;
  /** Absolute deadline, ms since the epoch: a retry whose wait would pass it is not made. */
  deadline?: number;
  /** Clock, ms; default Date.now. */
  now?: () => number;
  /** Uniform [0, 1) source for the jitter; default Math.random. */
  random?: () => number;
  /** Told before each wait (for logs); `attempt` is the 1-based attempt that failed. */
  onRetry?: (attempt: number, err: unknown, delayMs: number) => void;
}

/** True for HTTP statuses worth retrying: 408, 429 and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** True for transport failures worth retrying: network errors and timeouts, not aborts or oversize bodies. */
export function isRetryableHttpError(err: unknown): boolean {
  return err instanceof HttpError && (err.kind === 'network' || err.kind === 'timeout');
}

/** Delay before retry `n` (0-based), ms: equal jitter over retryDelay × 2ⁿ. */
export function backoffDelay(n: number, retryDelay: number, random: () => number = Math.random): number {
  const ceiling = retryDelay * 2 ** n;
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/**
 * Runs `fn` until it succeeds, fails with a non-retryable error, the retries
 * are spent, the signal fires, or the deadline would pass; then rethrows the
 * last failure (or the signal's reason when it fired before any attempt).
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  options.signal?.throwIfAborted();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt > options.maxRetries || !options.isRetryable(err) || options.signal?.aborted) throw err;
      const delay = backoffDelay(attempt - 1, options.retryDelay, random);
      if (options.deadline !== undefined && now() + delay >= options.deadline) throw err;
      options.onRetry?.(attempt, err, delay);
      if (!(await sleep(delay, options.signal))) throw err;
    }
  }
}

/** Waits `ms`; resolves false when the signal fires first. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(!signal?.aborted);
  return new Promise((resolve) => {
    const done = (completed: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(completed);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
