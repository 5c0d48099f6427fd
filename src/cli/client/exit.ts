/**
 * Exit codes of the client commands and the one error type they throw. A
 * command turns any failure into exactly one stderr line `voidkey: <cause>`.
 */

/** Process exit codes of `mint`, `list-keys` and `validate` (docs/cli.md). */
export const EXIT = {
  OK: 0,
  /** The credentials were minted but cannot be written in the chosen format, or GITHUB_ENV could not be written. */
  OUTPUT: 1,
  USAGE: 2,
  /** 401, or no token could be had from the GitHub Actions runner. */
  AUTH: 3,
  /** 403, or 404 SUBJECT_NOT_FOUND. */
  DENIED: 4,
  /** 5xx, 429 after retries, broker unreachable, timeout, or an answer that is not the API's. */
  BROKER: 5,
} as const;

/** One of the EXIT values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure with its exit code; `message` is one safe line (no token, no credential). */
export class CliError extends Error {
  readonly exitCode: number;
  /** `exitCode` is one of {@link EXIT}, or (exec) 126/127 when the command could not run. */
  constructor(exitCode: ExitCode | 126 | 127, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** Shorthand for a usage error (exit 2). */
export function usageError(message: string): CliError {
  return new CliError(EXIT.USAGE, message);
}

/** What each client exit code means, as `--help` prints it. */
const EXIT_CODE_LINES: Readonly<Record<number, string>> = {
  0: '0  success',
  1: '1  minted, but the output could not be written (format restriction, refused or colliding name, GITHUB_ENV)',
  2: '2  usage: unknown flag, bad value, missing broker URL, keys or token; broker 400',
  3: '3  authentication: the broker refused the token (401), or the GitHub Actions runner gave none',
  4: "4  denied: keys not granted (403) or no identity for the token's subject (404)",
  5: '5  broker or provider failure: 5xx, 429 after retries, unreachable, timeout',
};

/** The "Exit codes:" section of a command's help, listing only the codes it can return. */
export function exitCodesHelp(codes: readonly number[], extra: readonly string[] = []): string {
  const lines = codes.map((code) => `  ${EXIT_CODE_LINES[code] ?? code}`);
  return `Exit codes:\n${[...lines, ...extra].join('\n')}\n`;
}

/** C0 and C1 controls, DEL and the Unicode line separators: what breaks a one-line message or drives a terminal. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this matches
export const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/**
 * Replaces every occurrence of each secret in `text` (tokens, runner request
 * tokens), and strips control characters so one message stays one line.
 */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length >= 8) out = out.split(secret).join('[redacted]');
  }
  return out.replace(UNPRINTABLE, ' ');
}

/** Runs a command body, printing a CliError (or anything else) as one stderr line. */
export async function runCommand(body: (secrets: string[]) => Promise<number>): Promise<number> {
  const secrets: string[] = [];
  try {
    return await body(secrets);
  } catch (err) {
    const code = err instanceof CliError ? err.exitCode : EXIT.OUTPUT;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`voidkey: ${scrub(message, secrets)}\n`);
    return code;
  }
}
