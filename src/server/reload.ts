/**
 * SIGHUP: reload the config from disk (docs/operations.md, Signals). The new file is loaded and
 * validated exactly as at start; then everything it needs is built (the
 * runtime, the TLS certificate) before anything changes, so a reload either
 * applies whole or not at all. A refused reload is logged with the same
 * `path: problem` lines as `config validate` and the running config keeps
 * serving. Requests in flight keep the runtime they started with. Fields
 * that only a restart can change are named in the log (never their values:
 * `redis.url` may hold a password).
 */
import { type Config, ConfigError, loadConfig } from '../core/config/index.ts';
import type { Policy } from '../core/policy/index.ts';
import type { Logger } from '../core/types.ts';
import type { BrokerMetrics } from './metrics.ts';

/** Fields read once at start; a reload that changes them is applied without them. */
const RESTART_FIELDS: ReadonlyArray<readonly [string, (c: Readonly<Config>) => unknown]> = [
  ['server.host', (c) => c.server.host],
  ['server.port', (c) => c.server.port],
  ['server.trustProxy', (c) => c.server.trustProxy],
  ['server.bodyLimit', (c) => c.server.bodyLimit],
  ['server.tls (on/off)', (c) => c.server.tls !== undefined],
  ['server.cors (on/off)', (c) => c.server.cors !== undefined],
  ['redis.url', (c) => c.redis?.url],
  ['redis.sentinels', (c) => c.redis?.sentinels],
  ['redis.name', (c) => c.redis?.name],
  ['redis.sentinelPassword', (c) => c.redis?.sentinelPassword],
  ['redis.cluster', (c) => c.redis?.cluster],
  ['redis.username', (c) => c.redis?.username],
  ['redis.password', (c) => c.redis?.password],
  ['redis.keyPrefix', (c) => c.redis?.keyPrefix],
  ['redis.tls', (c) => c.redis?.tls],
  ['logging.format', (c) => c.logging.format],
  ['logging.redact', (c) => c.logging.redact],
  ['logging.audit', (c) => c.logging.audit],
];

/** Names of the fields that differ between `running` and `next` and need a restart. */
export function restartRequired(running: Readonly<Config>, next: Readonly<Config>): string[] {
  return RESTART_FIELDS.filter(
    ([, read]) => JSON.stringify(read(running)) !== JSON.stringify(read(next)),
  ).map(([name]) => name);
}

/** What a reload did. */
export type ReloadOutcome =
  | { ok: true; restartRequired: string[]; warnings: string[] }
  | { ok: false; problems: string[] };

/** What a reload acts on. */
export interface ReloadTarget {
  configPath: string;
  /** Variables for `${VAR}` substitution (those of the start). */
  env: Record<string, string | undefined>;
  /** The config the process started with (what the restart-only fields still follow). */
  started: Readonly<Config>;
  /**
   * Builds everything `config` needs and returns the function that swaps it
   * in; throws (a safe message) to refuse the reload.
   */
  prepare(config: Readonly<Config>, policy: Policy): Promise<() => void>;
  logger: Logger;
  metrics: Pick<BrokerMetrics, 'configReload'>;
}

async function attempt(target: ReloadTarget): Promise<ReloadOutcome> {
  let loaded: Awaited<ReturnType<typeof loadConfig>>;
  try {
    loaded = await loadConfig({ path: target.configPath, env: target.env });
  } catch (error) {
    if (error instanceof ConfigError) return { ok: false, problems: [...error.problems] };
    return { ok: false, problems: [`(root): ${(error as Error).message}`] };
  }
  let commit: () => void;
  try {
    commit = await target.prepare(loaded.config, loaded.policy);
  } catch (error) {
    return { ok: false, problems: [(error as Error).message] };
  }
  commit();
  return {
    ok: true,
    restartRequired: restartRequired(target.started, loaded.config),
    warnings: loaded.warnings,
  };
}

/** Reloads once and logs the outcome; never throws. */
export async function reloadConfig(target: ReloadTarget): Promise<ReloadOutcome> {
  const { logger } = target;
  logger.info({ configPath: target.configPath }, 'SIGHUP: reloading the configuration');
  const outcome = await attempt(target);
  target.metrics.configReload(outcome.ok ? 'success' : 'failure');
  if (!outcome.ok) {
    logger.error(
      { problems: outcome.problems },
      `config reload refused; the running configuration keeps serving: ${outcome.problems.join('; ')}`,
    );
    return outcome;
  }
  for (const warning of outcome.warnings) logger.warn({ warning }, `config: ${warning}`);
  if (outcome.restartRequired.length > 0) {
    logger.warn(
      { fields: outcome.restartRequired },
      `config reloaded, but these fields need a restart to change: ${outcome.restartRequired.join(', ')}`,
    );
  }
  logger.info({ configPath: target.configPath }, 'config reloaded');
  return outcome;
}

/** Runs reloads one after another (a second SIGHUP waits for the first). */
export function serialized(run: () => Promise<ReloadOutcome>): () => Promise<ReloadOutcome> {
  let last: Promise<unknown> = Promise.resolve();
  return () => {
    const next = last.then(run, run);
    last = next.catch(() => undefined);
    return next;
  };
}
