/** Small builders for policy tests: a config of rules, compiled, and a token's facts. */
import type { PathSegment } from '../../../src/core/config/report.ts';
import { formatPath } from '../../../src/core/config/report.ts';
import { compilePolicy, type Policy, type PolicyConfig } from '../../../src/core/policy/index.ts';

export const GITHUB = 'https://token.actions.githubusercontent.com';

/** A policy config: one GitHub IdP (`gh`), one private IdP (`corp`), and what `extra` adds. */
export function policyConfig(extra: Partial<Record<keyof PolicyConfig, unknown>> = {}): PolicyConfig {
  return {
    clientIdps: [
      { name: 'gh', issuer: GITHUB, audience: 'voidkey' },
      { name: 'corp', issuer: 'https://idp.corp.example', audience: 'voidkey' },
    ],
    clientIdentities: [],
    denyRules: [],
    ...extra,
  } as unknown as PolicyConfig;
}

/** Compiles `config`, failing the test on any load problem. */
export function compiled(extra: Partial<Record<keyof PolicyConfig, unknown>> = {}): Policy {
  return compilePolicy(policyConfig(extra));
}

/** The problems and warnings the load-time checks report, as `path: text`. */
export function check(extra: Partial<Record<keyof PolicyConfig, unknown>> = {}): {
  errors: string[];
  warnings: string[];
} {
  const errors: string[] = [];
  const warnings: string[] = [];
  const line = (p: readonly PathSegment[], t: string) => `${formatPath(p)}: ${t}`;
  compilePolicy(policyConfig(extra), {
    error: (p, t) => errors.push(line(p, t)),
    warn: (p, t) => warnings.push(line(p, t)),
  });
  return { errors, warnings };
}

/** A provider-less key recipe: enough for the policy, which never looks at providers. */
export const key = (extra: Record<string, unknown> = {}) => ({ provider: 'aws', ...extra });
