/** Shared helpers of the config tests: temp files and a minimal valid config. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { type Config, ConfigError, loadConfig } from '../../../src/core/config/index.ts';

const created: string[] = [];

/** A fresh directory under the OS temp dir, removed by {@link cleanup}. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'voidkey-config-test-'));
  created.push(dir);
  return dir;
}

/** Removes every directory {@link tempDir} made; pass to `after()`. */
export async function cleanup(): Promise<void> {
  await Promise.all(created.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Writes `files` (relative path → text) under `dir`. */
export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
}

/** What a load produced: a config, or the problems it threw; warnings either way. */
export interface Outcome {
  config?: Config;
  problems: readonly string[];
  warnings: readonly string[];
}

/** Loads `path`, capturing a ConfigError as problems. */
export async function loadPath(path: string, env: Record<string, string | undefined> = {}): Promise<Outcome> {
  try {
    const { config, warnings } = await loadConfig({ path, env });
    return { config, problems: [], warnings };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { problems: err.problems, warnings: err.warnings };
  }
}

/** Writes `text` as config.yaml (plus `extra` files) in a temp dir and loads it. */
export async function loadText(
  text: string,
  env: Record<string, string | undefined> = {},
  extra: Record<string, string> = {},
): Promise<Outcome> {
  const dir = await tempDir();
  await writeFiles(dir, { 'config.yaml': text, ...extra });
  return loadPath(join(dir, 'config.yaml'), env);
}

/** Loads a config given as data (serialised to YAML first). */
export async function loadObject(
  data: unknown,
  env: Record<string, string | undefined> = {},
): Promise<Outcome> {
  return loadText(stringify(data), env);
}

/** A minimal valid config, fresh each call so tests may change it. */
// biome-ignore lint/suspicious/noExplicitAny: tests reshape this freely, valid or not
export function baseConfig(): Record<string, any> {
  return {
    brokerIdp: {
      name: 'keycloak',
      issuer: 'https://auth.example.com/realms/voidkey',
      audience: 'voidkey-broker',
      clientId: 'broker-service',
      clientSecret: 'not-a-real-secret',
    },
    clientIdps: [
      { name: 'github-actions', issuer: 'https://token.actions.githubusercontent.com', audience: 'voidkey' },
    ],
    accessProviders: [{ name: 'aws-prod', type: 'aws-sts', region: 'us-east-1' }],
    clientIdentities: [
      {
        subject: 'repo:myorg/myapp:ref:refs/heads/main',
        idp: 'github-actions',
        keys: { AWS_DEPLOY: { provider: 'aws-prod', roleArn: 'arn:aws:iam::123456789012:role/Deploy' } },
      },
    ],
  };
}
