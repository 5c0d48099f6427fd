/**
 * The client's own config file (`~/.voidkey/config.yaml`, which the broker
 * never reads): `broker_url`, `output_format`, `default_keys`, `audience`. Unknown fields
 * are refused, because a mis-spelt `output_format: github` silently falling
 * back to `env` would print credentials into a CI log.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { usageError } from './exit.ts';
import { parseKeyList } from './flags.ts';

/** The client config file's fields, validated. */
export interface ClientConfig {
  broker_url?: string;
  output_format?: string;
  default_keys?: string[];
  /** Audience to request from the GitHub Actions runner. */
  audience?: string;
}

const FIELDS = ['broker_url', 'output_format', 'default_keys', 'audience'] as const;

/** `~/.voidkey/config.yaml` under the current HOME. */
export function defaultConfigPath(): string {
  return join(homedir(), '.voidkey', 'config.yaml');
}

/**
 * Loads the client config: `path` when given (it must exist), else the default
 * path when present. Any problem is a usage error naming the file and field.
 */
export async function loadClientConfig(path: string | undefined): Promise<ClientConfig> {
  const file = path ?? defaultConfigPath();
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (path === undefined && code === 'ENOENT') return {};
    throw usageError(`cannot read the config file ${file} (${code ?? 'error'})`);
  }
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(text, { prettyErrors: false });
  } catch {
    throw usageError(`${file}: not valid YAML`);
  }
  return validate(doc ?? {}, file);
}

function validate(doc: unknown, file: string): ClientConfig {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw usageError(`${file}: expected a mapping with ${FIELDS.join(', ')}`);
  }
  const config: ClientConfig = {};
  for (const [field, value] of Object.entries(doc)) {
    if (field === 'broker_url' || field === 'output_format' || field === 'audience') {
      if (typeof value !== 'string') throw usageError(`${file}: ${field} must be a string`);
      config[field] = value;
    } else if (field === 'default_keys') {
      config.default_keys = parseDefaultKeys(value, file);
    } else {
      throw usageError(`${file}: unknown field '${field}'${suggest(field)}`);
    }
  }
  return config;
}

function parseDefaultKeys(value: unknown, file: string): string[] {
  const isList = Array.isArray(value) && value.every((item) => typeof item === 'string');
  if (typeof value !== 'string' && !isList) {
    throw usageError(`${file}: default_keys must be a list of key names or a comma-separated string`);
  }
  return parseKeyList(value as string | string[], `${file}: default_keys`);
}

function suggest(field: string): string {
  const normalised = field.toLowerCase().replace(/[^a-z]/g, '');
  const close = FIELDS.find((name) => name.replace(/_/g, '') === normalised);
  return close ? ` (did you mean ${close}?)` : ` (known fields: ${FIELDS.join(', ')})`;
}
