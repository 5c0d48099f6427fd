/**
 * Where `policy explain` gets its claims: a JSON or YAML claims file, or a
 * token file decoded locally — verified against a JWKS file only when one is
 * given, since the command never goes to the network.
 */
import { readFileSync } from 'node:fs';
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import { Report } from '../../core/config/report.ts';
import { ALLOWED_ALGORITHMS } from '../../core/config/schema.ts';
import { parseYaml } from '../../core/config/yaml.ts';
import { decodeJwt } from '../client/jwt.ts';
import { InvalidInput } from './common.ts';

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InvalidInput([
      `${what}: cannot read ${path} (${(err as { code?: string }).code ?? 'unreadable'})`,
    ]);
  }
}

/** The claims in a JSON or YAML file holding one map. */
export function readClaimsFile(path: string): Record<string, unknown> {
  // The config's reader: the same schema, limits and messages (which never quote the source).
  const report = new Report();
  const value = parseYaml(readText(path, '--claims'), `${path} is not JSON or YAML`, report);
  if (value === undefined) throw new InvalidInput(report.problems().map((p) => `--claims: ${p}`));
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidInput([`--claims: ${path} must hold one map of claims`]);
  }
  return value as Record<string, unknown>;
}

/** The payload of the compact JWT in a file, its signature checked against `jwksPath` when given. */
export async function readTokenFile(
  path: string,
  jwksPath: string | undefined,
): Promise<Record<string, unknown>> {
  const token = readText(path, '--token').trim();
  let payload: Record<string, unknown>;
  try {
    payload = decodeJwt(token).payload;
  } catch (err) {
    throw new InvalidInput([`--token: ${(err as Error).message}`]);
  }
  if (jwksPath !== undefined) {
    let jwks: JSONWebKeySet;
    try {
      jwks = JSON.parse(readText(jwksPath, '--jwks')) as JSONWebKeySet;
      const keys = createLocalJWKSet(jwks);
      await compactVerify(token, keys, { algorithms: [...ALLOWED_ALGORITHMS] });
    } catch (err) {
      if (err instanceof InvalidInput) throw err;
      throw new InvalidInput([
        `--token: the signature does not verify against ${jwksPath}: ${(err as Error).message}`,
      ]);
    }
  }
  return payload;
}
