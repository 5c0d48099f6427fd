/**
 * `voidkey policy explain [--config F] (--claims FILE | --token FILE) [--idp NAME]
 * [--keys A,B] [--jwks FILE] [--json]`: why these claims get, or do not get,
 * each key — in full (expected and actual values, hints), because the
 * operator running it already holds the config. No network.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { findConfigPath } from '../../core/config/index.ts';
import { parseKeyList } from '../client/flags.ts';
import { readClaimsFile, readTokenFile } from './claims-input.ts';
import {
  type CommandIo,
  InvalidInput,
  loadPolicyConfig,
  POLICY_EXIT,
  parsePolicyFlags,
  resolveIdp,
} from './common.ts';
import { offlinePolicy } from './engine.ts';
import { describeExplanation } from './format.ts';

/** `voidkey policy explain --help`. */
export const EXPLAIN_USAGE = `Usage: voidkey policy explain [--config PATH] (--claims FILE | --token FILE) [options]

Shows, offline, which identities and deny rules of the broker config match
these claims and what each key would get, with every condition's expected
and actual value and hints for near misses.

Options:
  --config PATH   the broker config; else $CONFIG_PATH, ./config/config.yaml,
                  /etc/voidkey/config.yaml (first found)
  --claims FILE   the token's claims as JSON or YAML
  --token FILE    a compact JWT, decoded locally (not verified unless --jwks is given)
  --jwks FILE     verify --token's signature against this JSON Web Key Set
  --idp NAME      the client IdP; else the one whose issuer is the claims' iss
  --keys A,B      the keys to explain; else every key an identity of the IdP grants
  --json          print one JSON document
  -h, --help      show this help

Exit status: 0 explained, 2 unreadable or invalid input or config, or a usage error.
`;

const OPTIONS = {
  config: { type: 'string' },
  claims: { type: 'string' },
  token: { type: 'string' },
  jwks: { type: 'string' },
  idp: { type: 'string' },
  keys: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const usage = (text: string) => new InvalidInput([`voidkey: ${text} (see 'voidkey policy explain --help')`]);

/** Runs `voidkey policy explain`; returns the exit code, or throws {@link InvalidInput} (exit 2). */
export async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parsePolicyFlags('policy explain', args, OPTIONS);
  if (values.help) {
    io.stdout(EXPLAIN_USAGE);
    return POLICY_EXIT.OK;
  }
  if (positionals.length > 0) throw usage('takes no positional argument');
  if ((values.claims === undefined) === (values.token === undefined)) {
    throw usage('give exactly one of --claims and --token');
  }
  if (values.jwks !== undefined && values.token === undefined) throw usage('--jwks needs --token');
  let keys: string[] | undefined;
  try {
    keys = values.keys === undefined ? undefined : parseKeyList(values.keys, '--keys');
  } catch (err) {
    throw usage((err as Error).message);
  }
  const found = findConfigPath({
    ...(values.config === undefined ? {} : { flag: values.config }),
    env: io.env,
    exists: (p) => existsSync(resolve(io.cwd, p)),
  });
  if (found === undefined) throw usage('no config found: pass --config PATH or set CONFIG_PATH');
  const claims =
    values.claims !== undefined
      ? readClaimsFile(resolve(io.cwd, values.claims))
      : await readTokenFile(
          resolve(io.cwd, values.token as string),
          values.jwks === undefined ? undefined : resolve(io.cwd, values.jwks),
        );
  const policy = offlinePolicy(await loadPolicyConfig(resolve(io.cwd, found), io));
  const idp = resolveIdp(policy, values.idp, claims);
  if ('problem' in idp) throw new InvalidInput([`voidkey: ${idp.problem}`]);
  const explanation = policy.explain(idp.idp, claims, keys);
  io.stdout(
    values.json
      ? `${JSON.stringify(explanation, null, 2)}\n`
      : `${describeExplanation(explanation).join('\n')}\n`,
  );
  return POLICY_EXIT.OK;
}
