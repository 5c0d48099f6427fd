/**
 * Fastify's per-request logger, made on first use. Fastify gives every
 * request a child logger bound to its id; building one (bindings redacted and
 * serialized, a pino child set up) costs a few microseconds, and at `warn` or
 * above a request that succeeds never writes a line. The lazy logger answers
 * level questions from its parent and builds the real child only when a line
 * is actually written at an enabled level, or when someone asks for the child
 * itself (its own children, bindings, a level change).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString } from 'pino';

type LogMethod = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/** A `childLoggerFactory` for fastify: lazy children, except where options change the child's level or serializers. */
export function lazyRequestLogger(
  parent: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  if (Object.keys(options).length > 0) return parent.child(bindings, options);
  return new LazyChild(parent, bindings) as unknown as FastifyBaseLogger;
}

class LazyChild {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  #real(): FastifyBaseLogger {
    if (this.#child === undefined) this.#child = this.#parent.child(this.#bindings);
    return this.#child;
  }

  /** The logger that answers for its level: the child once it exists, else the parent it would copy. */
  #levelSource(): FastifyBaseLogger {
    return this.#child ?? this.#parent;
  }

  #write(method: LogMethod, args: unknown[]): void {
    if (!this.isLevelEnabled(method)) return;
    (this.#real()[method] as (...line: unknown[]) => void)(...args);
  }

  get level(): string {
    return this.#levelSource().level;
  }

  set level(level: LevelWithSilentOrString) {
    this.#real().level = level;
  }

  isLevelEnabled(level: string): boolean {
    const source = this.#levelSource() as FastifyBaseLogger & { isLevelEnabled?(level: string): boolean };
    return source.isLevelEnabled?.(level) ?? true;
  }

  fatal(...args: unknown[]): void {
    this.#write('fatal', args);
  }

  error(...args: unknown[]): void {
    this.#write('error', args);
  }

  warn(...args: unknown[]): void {
    this.#write('warn', args);
  }

  info(...args: unknown[]): void {
    this.#write('info', args);
  }

  debug(...args: unknown[]): void {
    this.#write('debug', args);
  }

  trace(...args: unknown[]): void {
    this.#write('trace', args);
  }

  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real().child(bindings, options);
  }

  bindings(): Bindings {
    return (this.#real() as FastifyBaseLogger & { bindings(): Bindings }).bindings();
  }

  flush(callback?: (error?: Error) => void): void {
    (this.#real() as FastifyBaseLogger & { flush(cb?: (error?: Error) => void): void }).flush(callback);
  }
}
