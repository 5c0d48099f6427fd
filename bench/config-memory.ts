/**
 * `node --expose-gc --import tsx bench/config-memory.ts [IDENTITIES...]`: the
 * heap a loaded config and its compiled policy keep, for the bench config
 * with each number of identities (default 10 500 10000). Measured after
 * full collections, so only what stays reachable counts.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/core/config/index.ts';
import { compilePolicy } from '../src/core/policy/subjects.ts';
import { benchConfigYaml, SECRET_VARIABLE } from './config.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const collect = () => {
  for (let i = 0; i < 4; i++) gc();
};

const unreachable = (port: number) => `http://127.0.0.1:${port}`;
const endpoints = {
  clientIdps: Array.from({ length: 20 }, (_, i) => ({
    issuer: `${unreachable(9)}/idp-${i}`,
    jwksUri: `${unreachable(9)}/idp-${i}/jwks`,
  })),
  brokerIssuer: `${unreachable(9)}/broker`,
  stsEndpoint: `${unreachable(9)}/sts`,
};

const dir = await mkdtemp(join(tmpdir(), 'voidkey-config-memory-'));
try {
  // Load once first, so module code and caches are not counted against the first size.
  const warm = join(dir, 'warm.yaml');
  await writeFile(warm, benchConfigYaml(endpoints, 1));
  await loadConfig({ path: warm, env: { [SECRET_VARIABLE]: 'x' } });
  const counts = process.argv.slice(2).map(Number);
  for (const identities of counts.length > 0 ? counts : [10, 500, 10_000]) {
    const path = join(dir, `config-${identities}.yaml`);
    const text = benchConfigYaml(endpoints, identities);
    await writeFile(path, text);
    collect();
    const before = process.memoryUsage().heapUsed;
    const { config } = await loadConfig({ path, env: { [SECRET_VARIABLE]: 'x' } });
    const policy = compilePolicy(config.clientIdentities);
    collect();
    const held = process.memoryUsage().heapUsed - before;
    process.stdout.write(
      `${identities} identities (${(text.length / 1024).toFixed(0)} KB of YAML): config + policy hold ${(held / 1048576).toFixed(2)} MiB of heap\n`,
    );
    // Kept alive until measured.
    if (policy === undefined) throw new Error('no policy');
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
