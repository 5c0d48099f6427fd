/**
 * Flag parsing shared by the client commands: node:util parseArgs in strict
 * mode, with every parse failure turned into one usage line naming the flag.
 */
import { parseArgs } from 'node:util';
import { usageError } from './exit.ts';

type OptionSpec = { type: 'string' | 'boolean'; short?: string; multiple?: boolean };

/** The parsed value of one option: a list for a repeatable string option. */
type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean'
  ? boolean
  : S['multiple'] extends true
    ? string[]
    : string;

/** Flags every client command accepts. */
export const GLOBAL_OPTIONS = {
  'broker-url': { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  config: { type: 'string' },
  timeout: { type: 'string' },
  audience: { type: 'string' },
  'allow-insecure': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Record<string, OptionSpec>;

/** The global flag values as parsed (strings, unvalidated). */
export interface GlobalFlags {
  'broker-url'?: string;
  token?: string;
  'token-file'?: string;
  config?: string;
  timeout?: string;
  audience?: string;
  'allow-insecure'?: boolean;
  help?: boolean;
}

/**
 * Parses `args` against the global flags plus `extra`; throws a usage
 * CliError (exit 2) for unknown flags, missing values and positionals.
 */
export function parseFlags<T extends Record<string, OptionSpec>>(
  command: string,
  args: string[],
  extra: T,
): GlobalFlags & { [K in keyof T]?: ValueOf<T[K]> } {
  try {
    const { values } = parseArgs({
      args,
      options: { ...GLOBAL_OPTIONS, ...extra },
      strict: true,
      allowPositionals: false,
    });
    return values as GlobalFlags & { [K in keyof T]?: ValueOf<T[K]> };
  } catch (err) {
    throw usageError(argsErrorMessage(command, err));
  }
}

/**
 * The one usage line every command prints for a node:util parseArgs failure,
 * without the `voidkey: ` prefix: `unknown option --x (see 'voidkey serve --help')`.
 */
export function argsErrorMessage(command: string, err: unknown): string {
  return `${describeParseError(err)} (see 'voidkey ${command} --help')`;
}

/** One usage line for a node:util parseArgs failure; echoes only the flag's name, never its value. */
export function describeParseError(err: unknown): string {
  const code = (err as { code?: string }).code;
  const message = err instanceof Error ? err.message : '';
  // Only the flag's name is echoed: a mistyped `--tokn=<jwt>` must not print the token.
  const flag = /'(-{1,2}[A-Za-z0-9-]+)/.exec(message)?.[1] ?? 'an option';
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${flag}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return message.includes('does not take an argument')
        ? `option ${flag} takes no value`
        : `option ${flag} needs a value (use ${flag}=VALUE for a value starting with '-')`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL': {
      const arg = /argument '([^']*)'/.exec(message)?.[1] ?? '';
      return `unexpected argument '${shorten(arg)}'; this command takes only flags`;
    }
    default:
      return 'invalid arguments';
  }
}

/** Long arguments are cut so that a token passed without its flag is not echoed whole. */
function shorten(arg: string): string {
  return arg.length > 24 ? `${arg.slice(0, 12)}…` : arg;
}

/** Parses `--timeout` (seconds, > 0, ≤ 3600, fractions allowed) into ms; default 30 s. */
export function parseTimeout(value: string | undefined): number {
  if (value === undefined) return 30_000;
  const seconds = /^\d+(\.\d+)?$/.test(value) ? Number(value) : Number.NaN;
  if (!(seconds > 0 && seconds <= 3600)) {
    throw usageError(`--timeout must be a number of seconds between 0 and 3600, got '${shorten(value)}'`);
  }
  return Math.round(seconds * 1000);
}

/** Parses `--duration` (whole seconds, 1–604800). */
export function parseDuration(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = /^\d{1,6}$/.test(value) ? Number(value) : Number.NaN;
  if (!(seconds >= 1 && seconds <= 604_800)) {
    throw usageError(
      `--duration must be a whole number of seconds from 1 to 604800, got '${shorten(value)}'`,
    );
  }
  return seconds;
}

const KEY_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Splits a comma-separated key list, trimming blanks and dropping duplicates; names are checked. */
export function parseKeyList(value: string | readonly string[], source: string): string[] {
  const parts = typeof value === 'string' ? value.split(',') : value;
  const names = [...new Set(parts.map((part) => part.trim()).filter((part) => part !== ''))];
  if (names.length === 0) throw usageError(`${source} names no key`);
  const bad = names.find((name) => !KEY_NAME.test(name));
  if (bad !== undefined) {
    throw usageError(
      `${source}: '${shorten(bad)}' is not a key name (letters, digits, '_' and '-', at most 64)`,
    );
  }
  return names;
}
