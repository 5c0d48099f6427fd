/**
 * One deadline per request (`server.requestTimeout`): an AbortSignal handed
 * to the use cases (and from them to every outbound call), and a race so a
 * dependency that ignores the signal still cannot hold the answer past it.
 */
import { ServiceUnavailableError } from '../../core/errors.ts';

/** A request's deadline; `clear` it when the request is done. */
export interface Deadline {
  signal: AbortSignal;
  /** Rejects with the 503 once the deadline passes; never settles if cleared first. */
  readonly expired: Promise<never>;
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
  let expire: (error: ServiceUnavailableError) => void = () => {};
  const expired = new Promise<never>((_resolve, reject) => {
    expire = reject;
  });
  // Nobody may be racing it when it fires.
  expired.catch(() => {});
  const timer = setTimeout(() => {
    const error = deadlinePassed();
    controller.abort(error);
    expire(error);
  }, ms);
  return { signal: controller.signal, expired, clear: () => clearTimeout(timer) };
}

function deadlinePassed(): ServiceUnavailableError {
  return new ServiceUnavailableError({
    message: 'The request did not complete within its deadline',
    details: { reason: 'deadline_exceeded' },
  });
}

/**
 * `work`, or a 503 ServiceUnavailableError once the deadline passes,
 * whichever comes first. (A race on the deadline's own promise: no abort
 * listener to add and remove per call.)
 */
export function untilDeadline<T>(
  work: Promise<T>,
  deadline: Pick<Deadline, 'signal' | 'expired'>,
): Promise<T> {
  if (deadline.signal.aborted) {
    work.catch(() => {});
    return Promise.reject(deadline.signal.reason);
  }
  return Promise.race([work, deadline.expired]);
}
