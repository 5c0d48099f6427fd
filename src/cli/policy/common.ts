/**
 * What `policy test` and `policy explain` share: flag parsing with one usage
 * line per mistake, loading the broker config exactly as `serve` does, and
 * deciding which client IdP a set of claims belongs to.
 */
import { parseArgs } from 'node:util';
import { ConfigError, type LoadedConfig, loadConfig } from '../../core/config/index.ts';
import { argsErrorMessage } from '../client/flags.ts';
import type { CommandIo } from '../io.ts';
import type { OfflinePolicy } from './engine.ts';

export type { CommandIo } from '../io.ts';

/** Exit codes of the policy commands. */
export const POLICY_EXIT = { OK: 0, FAILED: 1, INVALID: 2 } as const;

/** A problem that ends the command with exit 2; `lines` go to stderr as they are. */
export class InvalidInput extends Error {
  readonly lines: readonly string[];
  constructor(lines: readonly string[]) {
    super(lines.join('\n'));
    this.name = 'InvalidInput';
    this.lines = lines;
  }
}

type Spec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** Parses `args` strictly; throws {@link InvalidInput} naming the flag (never its value). */
export function parsePolicyFlags<T extends Spec>(
  command: string,
  args: string[],
  options: T,
): { values: { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string }; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, strict: true, allowPositionals: true });
    return {
      values: values as { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string },
      positionals,
    };
  } catch (err) {
    throw new InvalidInput([`voidkey: ${argsErrorMessage(command, err)}`]);
  }
}

/** Loads the broker config at `path` as `serve` would; warnings go to stderr, problems throw (exit 2). */
export async function loadPolicyConfig(path: string, io: CommandIo): Promise<LoadedConfig> {
  try {
    const loaded = await loadConfig({ path, env: io.env });
    for (const warning of loaded.warnings) io.stderr(`warning: ${warning}\n`);
    return loaded;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    throw new InvalidInput([`${path}: invalid configuration:`, ...err.problems.map((p) => `  ${p}`)]);
  }
}

/**
 * The client IdP of `claims`: `idp` when given (its issuer must equal
 * `claims.iss` when both are there), else the one whose issuer is
 * `claims.iss`. Returns the IdP name or a problem text.
 */
export function resolveIdp(
  policy: OfflinePolicy,
  idp: string | undefined,
  claims: Readonly<Record<string, unknown>>,
): { idp: string } | { problem: string } {
  const iss = claims.iss;
  if (iss !== undefined && typeof iss !== 'string') return { problem: 'claims.iss must be a string' };
  if (idp !== undefined) {
    const found = policy.idp(idp);
    if (!found) return { problem: `no client IdP named ${JSON.stringify(idp)} in the config` };
    if (iss !== undefined && iss !== found.issuer) {
      return {
        problem: `idp ${JSON.stringify(idp)} has issuer ${JSON.stringify(found.issuer)}, but claims.iss is ${JSON.stringify(iss)}`,
      };
    }
    return { idp };
  }
  if (iss === undefined) return { problem: 'name the IdP: give `idp` or `claims.iss`' };
  const found = policy.idpForIssuer(iss);
  return found ? { idp: found.name } : { problem: `no client IdP has issuer ${JSON.stringify(iss)}` };
}
