/**
 * Every example config of docs/policy.md (and config/example-policy.yaml)
 * loads as `serve` would load it, and every case file beside them passes
 * when run by the built `voidkey` binary, touching every identity, deny rule
 * and catalog key.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { loadConfig } from '../../src/core/config/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'dist/cli/main.js');
const EXAMPLES = 'docs/examples/policy';
/** The variables the examples document (the broker's secret, which policy never uses). */
const ENV = { BROKER_CLIENT_SECRET: 'example-secret' };

const exampleFiles = readdirSync(join(ROOT, EXAMPLES)).sort();
const configs = [
  ...exampleFiles
    .filter((f) => !f.endsWith('.cases.yaml') && f !== 'base.yaml')
    .map((f) => `${EXAMPLES}/${f}`),
  'config/example-policy.yaml',
];
const caseFiles = [
  ...exampleFiles.filter((f) => f.endsWith('.cases.yaml')).map((f) => `${EXAMPLES}/${f}`),
  'config/policy-tests.example.yaml',
];

/** Warnings an example is meant to show; every other example loads without any. */
const EXPECTED_WARNINGS: Record<string, string[]> = {
  [`${EXAMPLES}/gitlab-groups.yaml`]: [
    'clientIdentities[0].match: pinned only by names, which can be re-registered; prefer ids (repository_owner_id, namespace_id, …)',
  ],
};

function voidkey(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...ENV },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => {
    stdout += c;
  });
  child.stderr.setEncoding('utf8').on('data', (c: string) => {
    stderr += c;
  });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const validateCases = new Ajv({ strict: false }).compile(
  JSON.parse(readFileSync(join(ROOT, 'schema/policy-tests.schema.json'), 'utf8')),
);
const validateConfig = new Ajv({ strict: false }).compile(
  JSON.parse(readFileSync(join(ROOT, 'schema/config.schema.json'), 'utf8')),
);

describe('policy example configs', () => {
  for (const file of configs) {
    test(`${file} loads, with only the warnings it is meant to show`, async () => {
      const { warnings } = await loadConfig({ path: join(ROOT, file), env: ENV });
      assert.deepEqual(warnings, EXPECTED_WARNINGS[file] ?? []);
    });
    test(`${file} passes its JSON Schema`, () => {
      const doc = parse(readFileSync(join(ROOT, file), 'utf8'), { merge: true });
      assert.ok(validateConfig(doc), JSON.stringify(validateConfig.errors));
    });
  }

  test('the explain sample in docs/policy.md is what the binary prints', async () => {
    const doc = readFileSync(join(ROOT, 'docs/policy.md'), 'utf8');
    const block = /```\n\$ (voidkey policy explain [^\n]*\\\n\s+[^\n]*)\n([\s\S]*?)```/.exec(doc);
    assert.ok(block, 'no explain sample found');
    const args = (block[1] as string)
      .replace(/\\\n\s+/, '')
      .split(/\s+/)
      .slice(1);
    const { code, stdout } = await voidkey(args);
    assert.equal(code, 0);
    assert.equal(stdout, block[2]);
  });

  test('docs/policy.md links every example config and its cases', () => {
    const doc = readFileSync(join(ROOT, 'docs/policy.md'), 'utf8');
    for (const file of exampleFiles.filter((f) => f !== 'base.yaml')) {
      assert.ok(doc.includes(`(examples/policy/${file})`), file);
    }
  });
});

describe('policy example case files (run by the built binary)', () => {
  for (const file of caseFiles) {
    test(`${file} passes every case and touches every rule`, async () => {
      const spec = parse(readFileSync(join(ROOT, file), 'utf8'), { merge: true }) as { cases: unknown[] };
      assert.ok(validateCases(spec), JSON.stringify(validateCases.errors));
      const { code, stdout } = await voidkey(['policy', 'test', file, '--coverage']);
      const lines = stdout.trimEnd().split('\n');
      assert.equal(lines.filter((l) => l.startsWith('ok   ')).length, spec.cases.length, stdout);
      assert.equal(lines.at(-2), 'coverage: every identity, deny rule and catalog key was touched by a case');
      assert.equal(lines.at(-1), `${spec.cases.length} passed, 0 failed`);
      assert.equal(code, 0);
    });
  }
});
