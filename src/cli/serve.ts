/**
 * `voidkey serve [--config PATH] [--port N] [--host ADDR]`: runs the broker.
 * Config search: `--config`, `$CONFIG_PATH`, ./config/config.yaml,
 * /etc/voidkey/config.yaml. Port: `--port`, `$PORT`, `server.port` (3000).
 * An invalid config exits 1 at once with one line per problem, exactly as
 * `config validate` prints them — never a half-started broker.
 */
import { parseArgs } from 'node:util';
import type { Config } from '../core/config/index.ts';
import type { LoggingConfig } from '../core/config/schema.ts';
import { createLogger, startBroker, tuneHeapGrowth } from '../server/main.ts';
import { argsErrorMessage } from './client/flags.ts';
import { loadCommandConfig } from './config.ts';
import { processIo } from './io.ts';
import { stopWhenOrphaned } from './orphan.ts';

const USAGE = `Usage: voidkey serve [--config PATH] [--port N] [--host ADDR]

Runs the credential broker.

Options:
  --config PATH   the config file; else $CONFIG_PATH, ./config/config.yaml,
                  /etc/voidkey/config.yaml (first found)
  --port N        port to listen on; else $PORT, server.port, 3000
  --host ADDR     address to listen on; else server.host (0.0.0.0)
  -h, --help      show this help

Exit codes:
  0  stopped cleanly (SIGTERM or SIGINT)
  1  invalid config, no config found, or the broker could not start (e.g. port in use)
  2  usage: unknown option, missing value, bad --port
`;

interface ServeFlags {
  config?: string;
  port?: string;
  host?: string;
  help: boolean;
}

function parseFlags(args: string[]): ServeFlags | string {
  try {
    const { values } = parseArgs({
      args,
      options: {
        config: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    });
    return { ...values, help: values.help === true };
  } catch (err) {
    return argsErrorMessage('serve', err);
  }
}

/** A TCP port from text, or undefined when it is not one. */
function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

/** Development conveniences warned at every start, whether or not the loader already said so. */
function startWarnings(config: Readonly<Config>, warnings: readonly string[]): string[] {
  const all = [...warnings];
  if (config.server.allowInsecureIssuers && !all.some((w) => w.includes('allowInsecureIssuers'))) {
    all.push('server.allowInsecureIssuers: http:// issuers and endpoints are permitted (development only)');
  }
  config.clientIdps.forEach((idp, i) => {
    const path = `clientIdps[${i}].allowAnyAudience`;
    if (idp.allowAnyAudience && !all.some((w) => w.startsWith(path))) {
      all.push(`${path}: tokens of any audience are accepted from ${idp.name}`);
    }
  });
  return all;
}

/** Runs `voidkey serve`; resolves once listening (the server keeps the process alive). */
export async function run(
  args: string[],
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const flags = parseFlags(args);
  if (typeof flags === 'string') {
    process.stderr.write(`voidkey: ${flags}\n`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  tuneHeapGrowth();
  const port = choosePort(flags.port, env.PORT);
  if (typeof port === 'string') {
    process.stderr.write(
      `voidkey: ${port}${flags.port === undefined ? '' : " (see 'voidkey serve --help')"}\n`,
    );
    return flags.port === undefined ? 1 : 2;
  }

  const io = { ...processIo(), env };
  const loaded = await loadCommandConfig('serve', flags.config, io);
  if (loaded === undefined) return 1;
  const { config } = loaded;
  // The files validate reads, read before anything starts, with the same messages.
  if (loaded.fileProblems.length > 0) {
    for (const problem of loaded.fileProblems) io.stderr(`${problem}\n`);
    return 1;
  }
  const logger = createLogger(config.logging as LoggingConfig);
  for (const warning of startWarnings(config, loaded.warnings))
    logger.warn({ warning }, `config: ${warning}`);
  if (quietAwsSdkNodeWarning(env)) {
    logger.warn(
      { node: process.version },
      'the AWS SDK will require Node.js 22 or later for releases after January 2027; plan the upgrade',
    );
  }
  try {
    await startBroker({
      config,
      policy: loaded.policy,
      configPath: loaded.path,
      ...(flags.host === undefined ? {} : { host: flags.host }),
      ...(port === undefined ? {} : { port }),
      logger,
      env,
      handleSignals: true,
    });
    stopWhenOrphaned(env);
  } catch (err) {
    logger.error({ err }, 'the broker could not start');
    process.stderr.write(`voidkey serve: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  return 0;
}

/**
 * On Node < 22 the AWS SDK prints a multi-line notice to stderr, outside the
 * JSON log stream. Say it once as a log line instead (unless the operator
 * already silenced it). True when the caller should log it.
 */
function quietAwsSdkNodeWarning(env: Record<string, string | undefined>): boolean {
  const major = Number(process.versions.node.split('.')[0]);
  if (major >= 22 || env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === 'true') return false;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  return true;
}

/** `--port`, else `$PORT`, else undefined (config decides); a string is the error. */
function choosePort(flag: string | undefined, fromEnv: string | undefined): number | undefined | string {
  if (flag !== undefined) return parsePort(flag) ?? `--port: not a port number: ${JSON.stringify(flag)}`;
  if (fromEnv !== undefined && fromEnv !== '') {
    return parsePort(fromEnv) ?? `PORT: not a port number: ${JSON.stringify(fromEnv)}`;
  }
  return undefined;
}
