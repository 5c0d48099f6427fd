/**
 * `voidkey mint`: mints credentials for named keys (or every granted key) and
 * prints them in one format. Nothing is printed unless every key was minted.
 */
import {
  cachedOrMinted,
  cacheLocation,
  formatProcessCredentials,
  toProcessCredentials,
} from './client/credential-process.ts';
import { EXIT, runCommand, usageError } from './client/exit.ts';
import { parseDuration, parseFlags, parseKeyList } from './client/flags.ts';
import { formatDotenv, formatEnv, formatJson, formatYaml, type Minted } from './client/formats.ts';
import { exportToGithub, requireGithubEnv } from './client/github.ts';
import { commandHelp, exitCodesHelp } from './client/help.ts';
import { tokenIdentity } from './client/jwt.ts';
import { allKeys, mintAll } from './client/minting.ts';
import { openSession, type Session, warn } from './client/session.ts';
import { resolveSettings, type Settings } from './client/settings.ts';

const OPTIONS = {
  keys: { type: 'string' },
  all: { type: 'boolean' },
  output: { type: 'string' },
  duration: { type: 'string' },
} as const;

const FORMATS = ['env', 'json', 'yaml', 'dotenv', 'github', 'credential-process'] as const;
type Format = (typeof FORMATS)[number];

const HELP = commandHelp(
  'Usage: voidkey mint (--keys A,B | --all) [--output FORMAT] [--duration SECONDS] [options]',
  `Mints short-lived credentials for the named keys and prints them to stdout (messages go to stderr).

Options:
  --keys A,B          keys to mint (default: default_keys in the config file)
  --all               every key the broker lists for your identity (minted 10 per request)
  --output FORMAT     env (default; config output_format) | json | yaml | dotenv | github | credential-process
                        env        export NAME='value' lines, for creds=$(voidkey mint ...) && eval "$creds"
                        dotenv     NAME=value lines for docker --env-file (no newlines allowed in values)
                        json       {"KEY": {"NAME": "value"}}
                        yaml       KEY: / NAME: "value", every value double-quoted
                        github     masks each secret value (::add-mask::; not regions, see docs/cli.md), appends all to $GITHUB_ENV
                        credential-process
                                   one AWS key as AWS credential_process JSON, cached in ~/.voidkey/cache
                                   until 5 minutes before expiry (per --duration; parallel runs mint once).
                                   SDK programs refresh 15 minutes before expiry: use --duration 3600 or more
  --duration SECONDS  requested lifetime; the broker refuses more than the key's maximum

Refused in every format: outputs named BASH_ENV, ENV, PATH, IFS, PS4, PROMPT_COMMAND, SHELLOPTS,
BASHOPTS, NODE_OPTIONS, PYTHONPATH, PYTHONSTARTUP, PERL5OPT, RUBYOPT, JAVA_TOOL_OPTIONS, or
starting with LD_, DYLD_, GIT_, GITHUB_, RUNNER_ (any case): they could run code here.
Prefer 'voidkey exec --keys A -- command' to eval; where eval stays, stop on a failed mint:
  creds=$(voidkey mint --keys A) && eval "$creds"
`,
  exitCodesHelp([0, 1, 2, 3, 4, 5]),
);

/** Runs `voidkey mint`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  return runCommand(async (secrets) => {
    const flags = parseFlags('mint', args, OPTIONS);
    if (flags.help) {
      process.stdout.write(HELP);
      return EXIT.OK;
    }
    const settings = await resolveSettings(flags, process.env, warn);
    const format = resolveFormat(flags.output, settings);
    const duration = parseDuration(flags.duration);
    const requested = flags.all ? undefined : resolveKeys(flags, settings);
    if (flags.all && flags.keys !== undefined) throw usageError('--keys and --all are mutually exclusive');
    if (format === 'credential-process' && requested !== undefined && requested.length !== 1) {
      throw usageError(`--output credential-process needs exactly one key, got ${requested.length}`);
    }
    // Checked before minting, so nothing is minted that could not be exported.
    if (format === 'github') requireGithubEnv(process.env);
    const session = await openSession(flags, settings, process.env, secrets);
    try {
      const token = await session.tokens.get();
      session.broker.subject = tokenIdentity(token)?.sub;
      const keys = requested ?? (await allKeys(session.broker, token));
      if (format === 'credential-process')
        return await credentialProcess(session, settings, token, keys, duration);
      const { minted } = await mintAll(session, token, keys, duration);
      if (format === 'github') {
        const names = await exportToGithub(minted, requireGithubEnv(process.env), (t) =>
          process.stdout.write(t),
        );
        warn(`exported ${names.join(', ')} to $GITHUB_ENV`);
      } else {
        process.stdout.write(render(format, minted));
      }
      return EXIT.OK;
    } finally {
      await session.close();
    }
  });
}

function resolveFormat(flag: string | undefined, settings: Settings): Format {
  const value = flag ?? settings.config.output_format ?? 'env';
  if (!(FORMATS as readonly string[]).includes(value)) {
    const source = flag !== undefined ? '--output' : 'output_format in the config file';
    throw usageError(`${source}: '${value.slice(0, 40)}' is not one of ${FORMATS.join(', ')}`);
  }
  return value as Format;
}

function resolveKeys(flags: { keys?: string }, settings: Settings): string[] {
  if (flags.keys !== undefined) return parseKeyList(flags.keys, '--keys');
  if (settings.config.default_keys !== undefined) return settings.config.default_keys;
  throw usageError('no keys: pass --keys A,B or --all, or set default_keys in ~/.voidkey/config.yaml');
}

function render(format: Exclude<Format, 'github' | 'credential-process'>, minted: Minted): string {
  switch (format) {
    case 'env':
      return formatEnv(minted);
    case 'dotenv':
      return formatDotenv(minted);
    case 'json':
      return formatJson(minted);
    case 'yaml':
      return formatYaml(minted);
  }
}

async function credentialProcess(
  session: Session,
  settings: Settings,
  token: string,
  keys: string[],
  duration: number | undefined,
): Promise<number> {
  const [key] = keys;
  if (key === undefined || keys.length !== 1) {
    throw usageError(`--output credential-process needs exactly one key; the broker lists ${keys.length}`);
  }
  const file = cacheLocation(settings.brokerUrl, key, tokenIdentity(token), duration);
  const credentials = await cachedOrMinted(
    file,
    () => session.deadline.remaining(),
    async () => {
      const { minted, expiries } = await mintAll(session, token, keys, duration);
      return toProcessCredentials(key, minted[0]?.[1] ?? {}, expiries[key]);
    },
    warn,
  );
  process.stdout.write(formatProcessCredentials(credentials));
  return EXIT.OK;
}
