/**
 * Outbound HTTP for the client commands: the project's one HTTP client
 * (no redirects, size cap, proxy variables honoured) and the command's single
 * overall deadline.
 */
import { setFlagsFromString } from 'node:v8';
import type { HttpClient } from '../../core/types.ts';
import { CliError, type ExitCode } from './exit.ts';

/** One deadline for everything a command does over the network. */
export class Deadline {
  readonly totalMs: number;
  readonly #at: number;

  constructor(totalMs: number) {
    this.totalMs = totalMs;
    this.#at = Date.now() + totalMs;
  }

  /** ms left, never negative. */
  remaining(): number {
    return Math.max(0, this.#at - Date.now());
  }

  /** The error for `what` not answering in time (exit 5). */
  expired(what: string, exitCode: ExitCode = 5): CliError {
    return new CliError(exitCode, `${what} did not answer within the ${this.totalMs / 1000}s timeout`);
  }
}

/** An HTTP client and the means to release its sockets so the process exits at once. */
export interface Transport {
  http: HttpClient;
  close(): Promise<void>;
}

/**
 * Builds the transport (undici is loaded here, lazily, so `voidkey version`
 * never pays for it). Loading undici compiles its HTTP parser, a WebAssembly
 * module; V8 then optimises it on a background thread, and the process cannot
 * exit before that job ends: ~150 ms after the answer is printed, on every
 * run of a command that parses two or three responses. V8's baseline wasm
 * compiler alone is plenty for that, so a client command asks for nothing
 * more (set before undici loads; the broker's own process never calls this).
 */
export async function createTransport(env: NodeJS.ProcessEnv): Promise<Transport> {
  setFlagsFromString('--liftoff-only');
  const { createDispatcher, createHttpClient } = await import('../../providers/http.ts');
  const dispatcher = createDispatcher({ env, keepAliveTimeout: 1000 });
  return {
    http: createHttpClient(dispatcher),
    close: () => dispatcher.destroy(),
  };
}

/** Maps an HttpError from a call to `what` into one line with the given exit code. */
export function transportFailure(
  err: unknown,
  what: string,
  deadline: Deadline,
  exitCode: ExitCode,
): CliError {
  const kind = (err as { kind?: string }).kind;
  if (kind === 'timeout' || kind === 'aborted') return deadline.expired(what, exitCode);
  if (kind === 'too_large') return new CliError(exitCode, `${what} sent an answer over the size limit`);
  const detail = err instanceof Error && /\(([A-Z_]+)\)/.exec(err.message)?.[1];
  return new CliError(exitCode, `cannot reach ${what}${detail ? ` (${detail})` : ''}`);
}
