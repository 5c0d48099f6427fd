/**
 * Process signals (docs/operations.md, Signals). SIGTERM/SIGINT start the graceful stop once
 * (readiness false → keep serving `drainDelay` → stop accepting → finish
 * in-flight requests within `shutdownGracePeriod` → close idle keep-alive
 * connections → flush logs and audit) and exit 0; a repeated signal is
 * logged and ignored. SIGHUP reloads the config.
 */
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../core/types.ts';

/** What the signal handlers drive. */
export interface SignalTarget {
  /** The graceful stop; resolves when everything is closed and flushed. */
  shutdown(signal: NodeJS.Signals): Promise<void>;
  reload(): Promise<unknown>;
}

/** Options of {@link installSignalHandlers}. */
export interface SignalOptions {
  logger: Logger;
  /** Flushes the log stream before exit. */
  flush?: () => void;
  /** Default process.exit. */
  exit?: (code: number) => void;
  /** Where signals arrive (default `process`; tests pass an EventEmitter). */
  source?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
}

/** Installs SIGTERM, SIGINT and SIGHUP handlers; returns a function that removes them. */
export function installSignalHandlers(target: SignalTarget, options: SignalOptions): () => void {
  const { logger } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onStop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.info({ signal }, 'already shutting down');
      return;
    }
    stopping = true;
    target.shutdown(signal).then(
      () => {
        options.flush?.();
        exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'error while shutting down');
        options.flush?.();
        exit(1);
      },
    );
  };
  const onHup = () => {
    if (stopping) return;
    void target.reload();
  };
  const source = options.source ?? process;
  source.on('SIGTERM', onStop);
  source.on('SIGINT', onStop);
  source.on('SIGHUP', onHup);
  return () => {
    source.off('SIGTERM', onStop);
    source.off('SIGINT', onStop);
    source.off('SIGHUP', onHup);
  };
}

/** How often idle kept-alive sockets are closed while in-flight requests finish, ms. */
export const IDLE_SWEEP_MS = 100;

/** Resolves after `ms`. */
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** What a graceful stop needs. */
export interface DrainOptions {
  app: FastifyInstance;
  logger: Logger;
  /** Turns readiness false. */
  startDraining(): void;
  /** Current `server.drainDelay` and `server.shutdownGracePeriod`, ms. */
  timings(): { drainDelay: number; shutdownGracePeriod: number };
  /** Flushes what must outlive the server (the audit file). */
  flush(): Promise<void>;
}

/**
 * The graceful stop: readiness false, keep serving for `drainDelay` (load
 * balancers notice), then close — fastify stops accepting, answers requests
 * arriving on kept-alive sockets with 503 + `Connection: close`, closes idle
 * sockets and waits for in-flight ones; past `shutdownGracePeriod` the rest
 * are cut. Then the audit file is flushed.
 */
export async function drainAndClose(options: DrainOptions, signal: NodeJS.Signals): Promise<void> {
  const { app, logger } = options;
  const { drainDelay, shutdownGracePeriod } = options.timings();
  options.startDraining();
  logger.info(
    { signal, drainDelay },
    'shutting down: not ready any more, still serving during the drain delay',
  );
  if (drainDelay > 0) await sleep(drainDelay);
  logger.info({ shutdownGracePeriod }, 'closing: no new connections, finishing in-flight requests');
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), shutdownGracePeriod);
  });
  const closing = app.close();
  // Node closes idle kept-alive sockets once, when closing starts; a socket whose request
  // finishes later would idle on and hold the close until the grace period ends.
  const sweeper = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
  const first = await Promise.race([closing.then(() => 'closed' as const), graceOver]);
  clearTimeout(timer);
  clearInterval(sweeper);
  if (first === 'timeout') {
    logger.warn({ shutdownGracePeriod }, 'shutdown grace period over; closing the remaining connections');
    app.server.closeAllConnections();
    await closing;
  }
  await options.flush();
  logger.info({ signal }, 'stopped');
}
