/**
 * A cap on concurrent calls to one provider, so a spike of mints cannot
 * exhaust an upstream quota (an STS's requests per second) for every other
 * caller of the same account. Past the cap, mints wait in a bounded FIFO
 * queue, inside the request's deadline (MintInput.signal); past the queue
 * they are refused at once. Both refusals are UpstreamError 'unavailable',
 * a 503 the client may retry. The cap is per runtime: for the moment a
 * config reload overlaps, old and new runtime each have their own.
 */
import { UpstreamError } from '../core/errors.ts';
import type { AccessProvider, MintInput, MintOutput } from '../core/types.ts';

/** Calls in flight per provider. */
export const PROVIDER_CONCURRENCY = 128;
/** Calls waiting for a slot per provider; more are refused at once. */
export const PROVIDER_QUEUE = 256;

/** Options of {@link limitConcurrency}. */
export interface ConcurrencyOptions {
  /** Calls in flight (default {@link PROVIDER_CONCURRENCY}). */
  limit?: number;
  /** Calls waiting (default {@link PROVIDER_QUEUE}). */
  queue?: number;
}

interface Waiter {
  grant(): void;
}

/**
 * `provider` with at most `limit` mints in flight (default 128) and `queue`
 * waiting (default 256). Throws TypeError for a limit below 1 or a negative queue.
 */
export function limitConcurrency(provider: AccessProvider, options: ConcurrencyOptions = {}): AccessProvider {
  const limit = options.limit ?? PROVIDER_CONCURRENCY;
  const queueSize = options.queue ?? PROVIDER_QUEUE;
  if (!Number.isInteger(limit) || limit < 1) throw new TypeError(`concurrency limit ${limit} is below 1`);
  if (!Number.isInteger(queueSize) || queueSize < 0)
    throw new TypeError(`queue size ${queueSize} is negative`);
  let inFlight = 0;
  const waiting: Waiter[] = [];

  function release(): void {
    const next = waiting.shift();
    if (next) next.grant();
    else inFlight--;
  }

  /** Resolves once a slot is this call's (the slot passes from releaser to waiter, never back to zero). */
  function acquire(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(refused('request deadline passed before the provider call'));
    if (inFlight < limit) {
      inFlight++;
      return Promise.resolve();
    }
    if (waiting.length >= queueSize) return Promise.reject(refused('provider concurrency limit reached'));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant() {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        waiting.splice(waiting.indexOf(waiter), 1);
        reject(refused('request deadline passed while waiting for a provider slot'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      waiting.push(waiter);
    });
  }

  async function mint(input: MintInput): Promise<MintOutput> {
    await acquire(input.signal);
    try {
      return await provider.mint(input);
    } finally {
      release();
    }
  }

  return {
    name: provider.name,
    type: provider.type,
    audience: provider.audience,
    fields: provider.fields,
    defaultOutputs: provider.defaultOutputs,
    durations: provider.durations,
    mint,
  };
}

function refused(reason: string): UpstreamError {
  return new UpstreamError('unavailable', reason);
}
