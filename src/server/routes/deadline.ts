/**
 * One deadline per request (`server.requestTimeout`): an AbortSignal handed
 * to the use cases (and from them to every outbound call), and a race so a
 * dependency that ignores the signal still cannot hold the answer past it.
 */
import { ServiceUnavailableError } from '../../core/errors.ts';

/** A request's deadline; `clear` it when the request is done. */
export interface Deadline {
  signal: AbortSignal;
  clear(): void;
}

/**
 * A deadline `ms` milliseconds from now. A plain timer rather than
 * AbortSignal.timeout: it is cleared as soon as the request ends, and keeps
 * the process alive while pending. (Not fastify's `request.signal`: without
 * `handlerTimeout` it aborts once a POST body has been read.)
 */
export function requestDeadline(ms: number): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(deadlinePassed()), ms);
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

function deadlinePassed(): ServiceUnavailableError {
  return new ServiceUnavailableError({
    message: 'The request did not complete within its deadline',
    details: { reason: 'deadline_exceeded' },
  });
}

/** `work`, or a 503 ServiceUnavailableError once `signal` aborts, whichever comes first. */
export function untilDeadline<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => {});
    return Promise.reject(deadlinePassed());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(deadlinePassed());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
