/**
 * `voidkey exec [--keys A,B | --all] [--duration S] -- command args…`: mints,
 * then runs the command with the minted variables added to its environment —
 * no shell, nothing of voidkey's own on stdout, the command's exit status
 * returned and signals forwarded. A failed mint runs nothing.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { CliError, EXIT, runCommand, usageError } from './client/exit.ts';
import { parseDuration, parseFlags, parseKeyList } from './client/flags.ts';
import { flattenVariables } from './client/formats.ts';
import { commandHelp, exitCodesHelp } from './client/help.ts';
import { tokenIdentity } from './client/jwt.ts';
import { allKeys, mintAll } from './client/minting.ts';
import { openSession, warn } from './client/session.ts';
import { resolveSettings } from './client/settings.ts';

const OPTIONS = {
  keys: { type: 'string', multiple: true },
  all: { type: 'boolean' },
  duration: { type: 'string' },
} as const;

/** Signals passed on to the command; SIGKILL and SIGSTOP cannot be caught. */
const FORWARDED: NodeJS.Signals[] = [
  'SIGINT',
  'SIGTERM',
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
];

const HELP = commandHelp(
  'Usage: voidkey exec (--keys A,B | --all) [--duration SECONDS] [options] -- COMMAND [ARGS…]',
  `Mints the keys, then runs COMMAND with the minted variables added to its environment.
No shell is involved, voidkey prints nothing on stdout, signals (Ctrl-C, SIGTERM…) are passed
to the command, and the command's exit status becomes voidkey's. A failed mint runs nothing.
Prefer it to eval "$(voidkey mint …)", which carries on after a failed mint even under set -e.

Options:
  --keys A,B          keys to mint; repeatable (--keys A --keys B); default: default_keys in the config file
  --all               every key the broker lists for your identity
  --duration SECONDS  requested lifetime; the broker refuses more than the key's maximum
`,
  exitCodesHelp(
    [0, 1, 2, 3, 4, 5],
    [
      "  otherwise the command's own status (128+N when a signal N ended it; 126 not executable, 127 not found);",
      '  a command exiting 3, 4 or 5 reads like a voidkey failure, so check stderr',
    ],
  ),
);

/** Runs `voidkey exec`; returns the exit code (the command's, once it ran). */
export async function run(args: string[]): Promise<number> {
  return runCommand(async (secrets) => {
    const split = args.indexOf('--');
    const own = split === -1 ? args : args.slice(0, split);
    const flags = parseFlags('exec', own, OPTIONS);
    if (flags.help) {
      process.stdout.write(HELP);
      return EXIT.OK;
    }
    const [command, ...commandArgs] = split === -1 ? [] : args.slice(split + 1);
    if (command === undefined || command === '') {
      throw usageError("no command: put it after '--', e.g. voidkey exec --keys A -- aws s3 ls");
    }
    if (flags.all && flags.keys !== undefined) throw usageError('--keys and --all are mutually exclusive');
    const settings = await resolveSettings(flags, process.env, warn);
    const duration = parseDuration(flags.duration);
    const requested = flags.all ? undefined : requestedKeys(flags.keys, settings.config.default_keys);
    const session = await openSession(flags, settings, process.env, secrets);
    let variables: Array<[string, string]>;
    try {
      const token = await session.tokens.get();
      session.broker.subject = tokenIdentity(token)?.sub;
      const keys = requested ?? (await allKeys(session.broker, token));
      const { minted } = await mintAll(session, token, keys, duration);
      variables = flattenVariables(minted, 'exec');
    } finally {
      await session.close();
    }
    const nul = variables.find(([, value]) => value.includes('\0'));
    if (nul)
      throw new CliError(
        EXIT.OUTPUT,
        `variable ${nul[0]} holds a NUL byte, which an environment cannot carry`,
      );
    return runChild(command, commandArgs, { ...process.env, ...Object.fromEntries(variables) });
  });
}

function requestedKeys(flag: string[] | undefined, fallback: string[] | undefined): string[] {
  if (flag !== undefined)
    return parseKeyList(
      flag.flatMap((value) => value.split(',')),
      '--keys',
    );
  if (fallback !== undefined) return fallback;
  throw usageError('no keys: pass --keys A,B or --all, or set default_keys in ~/.voidkey/config.yaml');
}

/** Spawns without a shell, forwards signals, resolves with the status to exit with. */
function runChild(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', env });
    const forward = (signal: NodeJS.Signals) => {
      child.kill(signal);
    };
    for (const signal of FORWARDED) process.on(signal, forward);
    const stopForwarding = () => {
      for (const signal of FORWARDED) process.off(signal, forward);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      stopForwarding();
      if (err.code === 'ENOENT') reject(new CliError(127, `${command}: command not found`));
      else if (err.code === 'EACCES') reject(new CliError(126, `${command}: permission denied`));
      else reject(new CliError(126, `${command}: cannot run (${err.code ?? 'error'})`));
    });
    child.on('exit', (code, signal) => {
      stopForwarding();
      if (code !== null) resolve(code);
      else resolve(128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}
