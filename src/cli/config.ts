/**
 * `voidkey config validate [--config PATH] [--check-connectivity]`: loads a
 * broker config exactly as `serve` would and reports every problem at once.
 * Exit 0 valid (warnings on stderr, prefixed `warning:`), 1 invalid (one line
 * per problem), 2 usage error.
 */
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createBrokerTokenSource } from '../core/broker-token/index.ts';
import {
  type Config,
  ConfigError,
  checkConfigFiles,
  findConfigPath,
  type LoadedConfig,
  loadConfig,
} from '../core/config/index.ts';
import type { AccessProviderConfig, BrokerIdpConfig, ClientIdpConfig } from '../core/config/schema.ts';
import { resolveProviderAudience } from '../core/providers-meta.ts';
import { createTokenVerifier } from '../core/token/index.ts';
import { type HttpClient, silentLogger } from '../core/types.ts';
import { createDispatcher, createHttpClient } from '../providers/http.ts';
import { prettyAvailable } from '../server/logger.ts';
import { argsErrorMessage } from './client/flags.ts';
import { type CommandIo, processIo } from './io.ts';

const USAGE = `Usage: voidkey config validate [--config PATH] [--check-connectivity]

Validates a broker config and prints every problem at once, one line each as
"path.to.field: what is wrong". Warnings go to stderr prefixed "warning:".

Options:
  --config PATH          the config file; else $CONFIG_PATH, ./config/config.yaml,
                         /etc/voidkey/config.yaml (first found)
  --check-connectivity   also fetch each issuer's discovery document and JWKS and
                         one broker token per audience, and check Redis as
                         /health does (write, read back, topology), reporting
                         what fails (and, on success, what it checked)
  -h, --help             show this help

Exit codes:
  0  valid (warnings may be printed)
  1  invalid, or (with --check-connectivity) something unreachable or wrong
  2  usage: unknown option, missing value, unknown subcommand
`;

interface ValidateFlags {
  config: string | undefined;
  checkConnectivity: boolean;
  help: boolean;
}

function parseFlags(args: string[]): ValidateFlags | string {
  try {
    const { values } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        'check-connectivity': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    return {
      config: values.config,
      checkConnectivity: values['check-connectivity'] === true,
      help: values.help === true,
    };
  } catch (err) {
    return argsErrorMessage('config validate', err);
  }
}

/** What {@link checkConnectivity} needs besides the config. */
export interface ConnectivityOptions {
  /** Outbound HTTP client (the broker's own: no redirects, size caps, timeouts). */
  http: HttpClient;
  /** Directory of the root config file (a relative `privateKeyFile`). */
  configDir: string;
}

/** Longest upstream detail quoted in a connectivity line. */
const MAX_DETAIL = 300;

function detail(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? (err.cause as { message?: unknown } | undefined) : undefined;
  const extra = cause && typeof cause.message === 'string' ? ` (${cause.message})` : '';
  return `${message}${extra}`.split('\n')[0]?.slice(0, MAX_DETAIL) ?? '';
}

async function checkClientIdps(config: Config, options: ConnectivityOptions): Promise<string[]> {
  const idps = config.clientIdps as readonly ClientIdpConfig[];
  const verifier = createTokenVerifier({
    idps,
    jwks: config.cache.jwks,
    http: options.http,
    httpTimeout: config.broker.httpTimeout,
    allowInsecureIssuers: config.server.allowInsecureIssuers,
  });
  const results = await Promise.all(
    idps.map(async (idp, i) => {
      try {
        const { keys } = await verifier.refreshKeys(idp.name);
        return keys > 0 ? undefined : `clientIdps[${i}].issuer: the JWKS holds no usable key`;
      } catch (err) {
        return `clientIdps[${i}].issuer: cannot fetch discovery/JWKS: ${detail(err)}`;
      }
    }),
  );
  return results.filter((r): r is string => r !== undefined);
}

/** One broker token per distinct provider audience, each checked for its `aud` by the token source. */
async function checkBrokerTokens(config: Config, options: ConnectivityOptions): Promise<string[]> {
  const idp = config.brokerIdp as BrokerIdpConfig;
  let tokens: ReturnType<typeof createBrokerTokenSource>;
  try {
    tokens = createBrokerTokenSource({
      idp,
      configDir: options.configDir,
      http: options.http,
      httpTimeout: config.broker.httpTimeout,
      maxRetries: config.broker.maxRetries,
      retryDelay: config.broker.retryDelay,
      allowInsecureIssuers: config.server.allowInsecureIssuers,
    });
  } catch (err) {
    return [`brokerIdp: ${detail(err)}`];
  }
  const firstByAudience = new Map<string, number>();
  for (const [i, p] of config.accessProviders.entries()) {
    const audience = resolveProviderAudience(p as AccessProviderConfig, idp);
    if (audience !== undefined && !firstByAudience.has(audience)) firstByAudience.set(audience, i);
  }
  const results = await Promise.all(
    [...firstByAudience].map(async ([audience, i]) => {
      try {
        await tokens.getToken(audience);
        return undefined;
      } catch (err) {
        return `accessProviders[${i}].audience: cannot obtain a broker token for ${JSON.stringify(audience)}: ${detail(err)}`;
      }
    }),
  );
  return results.filter((r): r is string => r !== undefined);
}

/** Most time the Redis check of `--check-connectivity` waits for a connection, ms. */
const REDIS_CONNECT_WAIT = 5000;

/**
 * The health check's Redis probe, once: connects in the configured topology,
 * writes and reads back a key, and compares the server with the config.
 */
async function checkRedisConnectivity(config: Config): Promise<string[]> {
  const settings = config.redis;
  if (!settings) return [];
  const field = settings.sentinels ? 'sentinels' : settings.cluster ? 'cluster' : 'url';
  const { createSharedRedis } = await import('../server/state/redis-client.ts');
  const { checkRedis } = await import('../server/health/redis.ts');
  let redis: ReturnType<typeof createSharedRedis>;
  try {
    redis = createSharedRedis(settings, silentLogger, { maxReconnectDelay: 500 });
  } catch (err) {
    return [detail(err)];
  }
  try {
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, REDIS_CONNECT_WAIT).unref());
    await Promise.race([redis.connect(), timeout]);
    const result = await checkRedis(redis);
    if (result.state === 'healthy') return [];
    const last = redis.lastError();
    const reason =
      result.state === 'degraded' && last
        ? `unreachable (${detail(last)})`
        : result.error.replace(/^redis: /, '');
    return [`redis.${field}: ${reason}`];
  } finally {
    await redis.close();
  }
}

/**
 * `--check-connectivity`: fetches every client issuer's discovery document and
 * JWKS now, one broker token per distinct provider audience (its `aud`
 * checked), and Redis as its health check sees it. Returns one
 * `path.to.field: what failed` line per failure; never prints a token.
 */
export async function checkConnectivity(config: Config, options: ConnectivityOptions): Promise<string[]> {
  const [idps, tokens, redis] = await Promise.all([
    checkClientIdps(config, options),
    checkBrokerTokens(config, options),
    checkRedisConnectivity(config),
  ]);
  return [...idps, ...tokens, ...redis];
}

const redisKind = (redis: NonNullable<Config['redis']>) =>
  redis.sentinels ? 'Sentinel' : redis.cluster ? 'Cluster' : 'standalone';

/** What `--check-connectivity` fetched, said on success so a pass is not mistaken for a skipped check. */
export function connectivitySummary(config: Config): string[] {
  const idp = config.brokerIdp as BrokerIdpConfig;
  const audiences = new Set<string>();
  for (const p of config.accessProviders) {
    const audience = resolveProviderAudience(p as AccessProviderConfig, idp);
    if (audience !== undefined) audiences.add(audience);
  }
  return [
    ...config.clientIdps.map(
      (c) => `reachable: ${c.name} (${c.issuer}): discovery document and JWKS with usable keys`,
    ),
    ...[...audiences].map(
      (a) => `reachable: broker token from ${idp.issuer} for audience ${JSON.stringify(a)}, its aud checked`,
    ),
    ...(config.redis
      ? [`reachable: redis (${redisKind(config.redis)}): a writable primary, a key written and read back`]
      : []),
  ];
}

/** Warnings about this machine rather than the file: what serve would do differently than written. */
function environmentWarnings(config: Config): string[] {
  if (config.logging.format === 'pretty' && !prettyAvailable()) {
    return [
      'logging.format: pretty needs the optional package pino-pretty, which is not installed; ' +
        'the broker will log JSON (install it with `npm install pino-pretty`, or set format: json)',
    ];
  }
  return [];
}

/** A config as both `serve` and `config validate` start from it. */
export interface CommandConfig extends LoadedConfig {
  /** The path as found: `--config`, `$CONFIG_PATH` or a default. */
  found: string;
  /** `found` resolved against the working directory. */
  path: string;
  /** What is wrong with the files the config names, one `path.to.field: problem` line each. */
  fileProblems: string[];
}

/**
 * Finds the config file, loads it and reads the files it names. When there is
 * no file or it is invalid, says so on stderr (one line per problem) and
 * returns undefined: the command exits 1.
 */
export async function loadCommandConfig(
  command: string,
  flag: string | undefined,
  io: Pick<CommandIo, 'stderr' | 'env' | 'cwd'>,
): Promise<CommandConfig | undefined> {
  const found = findConfigPath({
    ...(flag === undefined ? {} : { flag }),
    env: io.env,
    exists: (p) => existsSync(resolve(io.cwd, p)),
  });
  if (found === undefined) {
    io.stderr(
      `voidkey ${command}: no config file found: pass --config PATH or set CONFIG_PATH ` +
        '(searched ./config/config.yaml and /etc/voidkey/config.yaml)\n',
    );
    return undefined;
  }
  const path = resolve(io.cwd, found);
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig({ path, env: io.env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) io.stderr(`${problem}\n`);
    return undefined;
  }
  return { ...loaded, found, path, fileProblems: await checkConfigFiles(loaded.config) };
}

/** Runs `voidkey config <subcommand>`; returns the exit code. */
export async function run(args: string[], io: CommandIo = processIo()): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout(USAGE);
    return 0;
  }
  if (sub !== 'validate') {
    const what = sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub.slice(0, 40)}'`;
    io.stderr(`voidkey: ${what} (see 'voidkey config --help')\n`);
    return 2;
  }
  const flags = parseFlags(rest);
  if (typeof flags === 'string') {
    io.stderr(`voidkey: ${flags}\n`);
    return 2;
  }
  if (flags.help) {
    io.stdout(USAGE);
    return 0;
  }
  return validate(flags, io);
}

async function validate(flags: ValidateFlags, io: CommandIo): Promise<number> {
  const loaded = await loadCommandConfig('config validate', flags.config, io);
  if (loaded === undefined) return 1;
  for (const warning of [...loaded.warnings, ...environmentWarnings(loaded.config)])
    io.stderr(`warning: ${warning}\n`);
  for (const problem of loaded.fileProblems) io.stderr(`${problem}\n`);
  if (loaded.fileProblems.length > 0) return 1;
  if (flags.checkConnectivity) {
    const dispatcher = createDispatcher({ env: io.env });
    try {
      const failures = await checkConnectivity(loaded.config, {
        http: createHttpClient(dispatcher),
        configDir: dirname(loaded.path),
      });
      for (const failure of failures) io.stderr(`${failure}\n`);
      if (failures.length > 0) return 1;
      for (const line of connectivitySummary(loaded.config)) io.stdout(`${line}\n`);
    } finally {
      await dispatcher.destroy();
    }
  }
  io.stdout(`config OK: ${loaded.found}\n`);
  return 0;
}
