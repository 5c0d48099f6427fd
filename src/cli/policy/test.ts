/**
 * `voidkey policy test FILE [--config F] [--coverage] [--json]`: runs the
 * cases of FILE against a broker config, offline, through the same compiled
 * policy as `serve`. Exit 0 all passed, 1 a case failed, 2 an unreadable or
 * invalid config or cases file (or a usage error).
 */
import { dirname, resolve } from 'node:path';
import { type CommandIo, InvalidInput, loadPolicyConfig, POLICY_EXIT, parsePolicyFlags } from './common.ts';
import { offlinePolicy } from './engine.ts';
import { describeExplanation } from './format.ts';
import { type CaseResult, prepareCases, runCase, uncovered } from './run-cases.ts';
import { readCasesFile } from './test-file.ts';

/** `voidkey policy test --help`. */
export const TEST_USAGE = `Usage: voidkey policy test FILE [--config PATH] [--coverage] [--json]

Runs the cases in FILE (YAML: {version: 1, config?: PATH, cases: [...]}, see
docs/policy.md) against a broker config, offline, with the same compiled
policy and templates as 'voidkey serve'. Prints one 'ok' or 'FAIL' line per
case (a failure followed by what was expected and the explanation), and last
'N passed, N failed'.

Options:
  --config PATH   the broker config; else FILE's 'config' (relative to FILE)
  --coverage      also list the identities, deny rules and catalog keys no case touched
  --json          print one JSON document instead of the lines
  -h, --help      show this help

Exit status: 0 every case passed, 1 a case failed, 2 FILE or the config is
unreadable or invalid, or a usage error.
`;

const OPTIONS = {
  config: { type: 'string' },
  coverage: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs `voidkey policy test`; returns the exit code, or throws {@link InvalidInput} (exit 2). */
export async function run(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parsePolicyFlags('policy test', args, OPTIONS);
  if (values.help) {
    io.stdout(TEST_USAGE);
    return POLICY_EXIT.OK;
  }
  const [file, ...more] = positionals;
  if (file === undefined || more.length > 0) {
    throw new InvalidInput([
      `voidkey: ${file === undefined ? 'missing FILE' : 'give exactly one FILE'} (see 'voidkey policy test --help')`,
    ]);
  }
  const filePath = resolve(io.cwd, file);
  const spec = readCasesFile(filePath, file);
  const configPath =
    values.config !== undefined
      ? resolve(io.cwd, values.config)
      : spec.config !== undefined
        ? resolve(dirname(filePath), spec.config)
        : undefined;
  if (configPath === undefined) {
    throw new InvalidInput([`${file}: no config: pass --config PATH or set 'config' in the file`]);
  }
  const policy = offlinePolicy(await loadPolicyConfig(configPath, io));
  const cases = prepareCases(policy, spec.cases, file);
  const results = cases.map((c) => runCase(policy, c));
  const coverage = values.coverage ? uncovered(policy, results) : undefined;
  io.stdout(values.json ? toJson(results, coverage) : toText(results, coverage));
  return results.some((r) => r.failures.length > 0) ? POLICY_EXIT.FAILED : POLICY_EXIT.OK;
}

type Coverage = ReturnType<typeof uncovered>;

function toText(results: readonly CaseResult[], coverage: Coverage | undefined): string {
  const lines: string[] = [];
  for (const r of results) {
    if (r.failures.length === 0) {
      lines.push(`ok   ${r.name}`);
      continue;
    }
    lines.push(`FAIL ${r.name}`);
    for (const f of r.failures) lines.push(`       ${f}`);
    if (r.explanation) for (const l of describeExplanation(r.explanation)) lines.push(`     ${l}`);
  }
  if (coverage) lines.push(...coverageLines(coverage));
  const failed = results.filter((r) => r.failures.length > 0).length;
  lines.push(`${results.length - failed} passed, ${failed} failed`);
  return `${lines.join('\n')}\n`;
}

function coverageLines(coverage: Coverage): string[] {
  const rows = [
    ...coverage.identities.map((n) => `  identity   ${n}`),
    ...coverage.denyRules.map((n) => `  deny rule  ${n}`),
    ...coverage.keys.map((n) => `  key        ${n}`),
  ];
  return rows.length === 0
    ? ['coverage: every identity, deny rule and catalog key was touched by a case']
    : ['coverage: not touched by any case:', ...rows];
}

function toJson(results: readonly CaseResult[], coverage: Coverage | undefined): string {
  const failed = results.filter((r) => r.failures.length > 0).length;
  const doc = {
    cases: results.map((r) => ({
      name: r.name,
      ok: r.failures.length === 0,
      idp: r.idp,
      decision: r.decision,
      failures: r.failures,
      matched: r.evaluation.matched,
      denyRules: r.evaluation.denyRules,
      grantedKeys: r.evaluation.listable,
      keys: Object.fromEntries(
        [...r.evaluation.keys].map(([name, k]) => [
          name,
          {
            reason: k.reason ?? null,
            grantedBy: k.grantedBy,
            deniedBy: k.deniedBy,
            ...(k.rendered === undefined ? {} : { rendered: k.rendered }),
          },
        ]),
      ),
    })),
    ...(coverage === undefined ? {} : { coverage }),
    passed: results.length - failed,
    failed,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
