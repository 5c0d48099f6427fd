/**
 * `voidkey dev [--port N]` runs the development sandbox until Ctrl-C or
 * SIGTERM; `voidkey dev token --sub S [--aud A] [--ttl SECONDS]` mints a
 * client token through the running sandbox and prints only the token.
 */
import { parseArgs } from 'node:util';
import type { Sandbox } from '../dev/sandbox.ts';
import { argsErrorMessage } from './client/flags.ts';

const USAGE = `Usage:
  voidkey dev [--port N]
      Start the development sandbox: a broker on 127.0.0.1:N (default 3000), a development
      OIDC issuer and an STS-compatible endpoint, wired by a generated config. Ctrl-C stops it.
  voidkey dev token --sub SUBJECT [--aud AUDIENCE] [--ttl SECONDS]
      Print a client token for any subject from the running sandbox (default audience
      'voidkey', ttl 3600, at most 86400), e.g. export VOIDKEY_OIDC_TOKEN=$(npx voidkey dev token --sub me)

DEVELOPMENT ONLY: plain http, a token for any subject on request, fresh keys at every start.

Exit codes:
  0  stopped cleanly (Ctrl-C or SIGTERM); token printed
  1  the sandbox could not start (e.g. a port in use), or no running sandbox for 'dev token'
  2  usage: unknown option, missing or bad value
`;

const RULE = '!'.repeat(78);
/** Printed at every start, on stdout and stderr. */
export const WARNING_BANNER = [
  RULE,
  '!!  WARNING: voidkey dev is a DEVELOPMENT SANDBOX. NEVER use it in production.',
  '!!  - everything speaks plain http on 127.0.0.1 (allowInsecureIssuers is on)',
  '!!  - its issuer signs a token for ANY subject on request',
  '!!  - signing keys and secrets are generated fresh at every start',
  '!!  - the STS endpoint is a local stand-in: its credentials open nothing',
  RULE,
].join('\n');

class UsageError extends Error {}

function printUsage(): number {
  process.stdout.write(USAGE);
  return 0;
}

/** One line per problem for a config the loader refused, else the error's message. */
function describe(err: unknown): string {
  const problems = (err as { problems?: unknown }).problems;
  if (Array.isArray(problems) && problems.length > 0) {
    return `the generated config is invalid:\n${problems.map((p) => `  ${typeof p === 'string' ? p : JSON.stringify(p)}`).join('\n')}`;
  }
  return err instanceof Error ? err.message : String(err);
}

type Flags = Record<string, string | boolean | undefined>;

function parse(
  command: string,
  args: string[],
  options: Record<string, { type: 'string' | 'boolean' }>,
): Flags {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean' } }, strict: true })
      .values as Flags;
  } catch (err) {
    // Only the flag's name is echoed, never a value.
    throw new UsageError(argsErrorMessage(command, err));
  }
}

function wholeNumber(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}`);
  return n;
}

/** The text printed once the sandbox is up: what to paste into another terminal. */
export function instructions(sandbox: Sandbox, ciSubject: string): string {
  return `${WARNING_BANNER}

voidkey dev sandbox is running.

  broker   ${sandbox.brokerUrl}
  issuer   ${sandbox.issuer.issuer}   (development OIDC issuer; client tokens carry aud "voidkey")
  sts      ${sandbox.stsUrl}   (STS-compatible endpoint behind the dev-aws provider)
  config   ${sandbox.configPath}

In another terminal, paste (the token is for subject dev-user, valid for 1 hour):

export VOIDKEY_BROKER_URL=${sandbox.brokerUrl}
export VOIDKEY_OIDC_TOKEN=${sandbox.token}
npx voidkey list-keys
npx voidkey mint --keys DEV_AWS

A token for any other subject (prints only the token; ${ciSubject} also has DEV_AWS):

npx voidkey dev token --sub ${ciSubject}

Press Ctrl-C to stop; the keys, secrets and config above are discarded.
`;
}

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      // A second Ctrl-C while closing ends the process at once.
      process.once('SIGINT', () => process.exit(130));
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function runSandbox(args: string[]): Promise<number> {
  const flags = parse('dev', args, { port: { type: 'string' } });
  if (flags.help) return printUsage();
  const port = wholeNumber(flags.port as string | undefined, '--port', 0, 65535) ?? 3000;
  process.stderr.write(`${WARNING_BANNER}\n`);
  const { startSandbox, DEV_CI_SUBJECT } = await import('../dev/sandbox.ts');
  const sandbox = await startSandbox({ port });
  for (const warning of sandbox.warnings) process.stderr.write(`warning: ${warning}\n`);
  process.stdout.write(instructions(sandbox, DEV_CI_SUBJECT));
  await waitForSignal();
  process.stderr.write('voidkey dev: stopping\n');
  await sandbox.close();
  // Keep-alive sockets of clients must not hold the process open once everything is closed.
  setTimeout(() => process.exit(0), 2000).unref();
  return 0;
}

async function runToken(args: string[]): Promise<number> {
  const flags = parse('dev token', args, {
    sub: { type: 'string' },
    aud: { type: 'string' },
    ttl: { type: 'string' },
  });
  if (flags.help) return printUsage();
  const sub = flags.sub as string | undefined;
  if (!sub) throw new UsageError('--sub SUBJECT is required');
  const ttlSeconds = wholeNumber(flags.ttl as string | undefined, '--ttl', 1, 86400);
  const { requestDevToken } = await import('../dev/sandbox/client.ts');
  const token = await requestDevToken({
    sub,
    ...(flags.aud === undefined ? {} : { aud: flags.aud as string }),
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
  });
  process.stdout.write(`${token}\n`);
  return 0;
}

/** Entry point of `voidkey dev`; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function run(args: string[]): Promise<number> {
  const [first, ...rest] = args;
  const command = first === 'token' ? 'voidkey dev token' : 'voidkey dev';
  try {
    return first === 'token' ? await runToken(rest) : await runSandbox(args);
  } catch (err) {
    if (err instanceof UsageError) {
      const see = err.message.endsWith("--help')") ? '' : ` (see '${command} --help')`;
      process.stderr.write(`voidkey: ${err.message}${see}\n`);
      return 2;
    }
    process.stderr.write(`${command}: ${describe(err)}\n`);
    return 1;
  }
}
