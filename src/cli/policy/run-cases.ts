/**
 * Running the cases of a policy test file against one compiled policy:
 * resolve each case's IdP and claims (every problem reported before any case
 * runs), decide, and compare with what the case expects. Only the fields a
 * case states are compared; `expect.decision` alone is a complete case.
 */
import { isDeepStrictEqual } from 'node:util';
import { decodeJwt } from '../client/jwt.ts';
import { InvalidInput, resolveIdp } from './common.ts';
import type { Evaluation, Explanation, KeyOutcome, OfflinePolicy } from './engine.ts';
import type { KeyExpectation, PolicyCase } from './test-file.ts';

/** A case ready to run: its IdP decided, its claims decoded. */
export interface PreparedCase {
  readonly spec: PolicyCase;
  readonly idp: string;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** What one case produced. */
export interface CaseResult {
  readonly name: string;
  readonly idp: string;
  readonly claims: Readonly<Record<string, unknown>>;
  readonly decision: 'allow' | 'deny';
  /** One line per unmet expectation; empty when the case passed. */
  readonly failures: readonly string[];
  readonly evaluation: Evaluation;
  /** The full explanation, for a failed case only. */
  readonly explanation: Explanation | undefined;
}

/** Resolves every case's IdP and claims; throws {@link InvalidInput} listing every problem. */
export function prepareCases(
  policy: OfflinePolicy,
  cases: readonly PolicyCase[],
  file: string,
): PreparedCase[] {
  const problems: string[] = [];
  const prepared: PreparedCase[] = [];
  for (const [i, spec] of cases.entries()) {
    let claims: Readonly<Record<string, unknown>>;
    if (spec.token !== undefined) {
      try {
        claims = decodeJwt(spec.token).payload;
      } catch (err) {
        problems.push(`${file}: cases[${i}].token: ${(err as Error).message}`);
        continue;
      }
    } else claims = spec.claims ?? {};
    const resolved = resolveIdp(policy, spec.idp, claims);
    if ('problem' in resolved) {
      problems.push(`${file}: cases[${i}]${spec.idp === undefined ? '' : '.idp'}: ${resolved.problem}`);
      continue;
    }
    prepared.push({ spec, idp: resolved.idp, claims });
  }
  if (problems.length > 0) throw new InvalidInput(problems);
  return prepared;
}

/** Runs one prepared case. */
export function runCase(policy: OfflinePolicy, c: PreparedCase): CaseResult {
  const { spec } = c;
  const evaluation = policy.evaluate(c.idp, c.claims, spec.request);
  const decision = decide(evaluation, spec.request);
  const failures: string[] = [];
  if (decision !== spec.expect.decision) {
    failures.push(`decision: expected ${spec.expect.decision}, got ${decision}`);
  }
  if (spec.expect.grantedKeys !== undefined) {
    const want = [...spec.expect.grantedKeys].sort();
    const got = [...evaluation.listable].sort();
    if (!isDeepStrictEqual(want, got)) {
      failures.push(`grantedKeys: expected ${list(want)}, got ${list(got)}`);
    }
  }
  const expectations = Object.entries(spec.expect.keys ?? {});
  const missing = expectations.map(([name]) => name).filter((name) => !evaluation.keys.has(name));
  const extra = missing.length > 0 ? policy.evaluate(c.idp, c.claims, missing).keys : new Map();
  for (const [name, want] of expectations) {
    const outcome = evaluation.keys.get(name) ?? extra.get(name);
    if (outcome) failures.push(...compareKey(name, want, outcome));
  }
  const explained = spec.request && [...new Set([...spec.request, ...expectations.map(([name]) => name)])];
  const explanation = failures.length > 0 ? policy.explain(c.idp, c.claims, explained) : undefined;
  return { name: spec.name, idp: c.idp, claims: c.claims, decision, failures, evaluation, explanation };
}

/** allow: every requested key mints; without a request, at least one key would. */
function decide(evaluation: Evaluation, request: readonly string[] | undefined): 'allow' | 'deny' {
  if (request === undefined) return evaluation.listable.length > 0 ? 'allow' : 'deny';
  return request.every((k) => evaluation.keys.get(k)?.reason === undefined) ? 'allow' : 'deny';
}

function compareKey(name: string, want: KeyExpectation, got: KeyOutcome): string[] {
  const out: string[] = [];
  const at = `keys.${name}`;
  if (want.reason !== undefined && want.reason !== got.reason) {
    out.push(`${at}.reason: expected ${want.reason}, got ${got.reason ?? '(granted)'}`);
  }
  for (const field of ['grantedBy', 'deniedBy'] as const) {
    const expected = want[field];
    if (expected === undefined) continue;
    const w = (typeof expected === 'string' ? [expected] : [...expected]).sort();
    const g = [...got[field]].sort();
    if (!isDeepStrictEqual(w, g)) out.push(`${at}.${field}: expected ${list(w)}, got ${list(g)}`);
  }
  for (const [field, value] of Object.entries(want.rendered ?? {})) {
    const actual = renderedValue(got.rendered?.[field], value);
    if (got.rendered === undefined) {
      out.push(`${at}.rendered.${field}: expected ${JSON.stringify(value)}, but the key was not rendered`);
    } else if (!isDeepStrictEqual(actual, value)) {
      out.push(
        `${at}.rendered.${field}: expected ${JSON.stringify(value)}, got ${JSON.stringify(actual) ?? '(absent)'}`,
      );
    }
  }
  return out;
}

/** A rendered JSON policy compares as data when the case writes it as a map. */
function renderedValue(actual: unknown, expected: unknown): unknown {
  if (typeof actual !== 'string' || typeof expected !== 'object' || expected === null) return actual;
  try {
    return JSON.parse(actual);
  } catch {
    return actual;
  }
}

const list = (names: readonly string[]) => (names.length === 0 ? '[]' : `[${names.join(', ')}]`);

/** Identities, deny rules and catalog keys that no case touched. */
export function uncovered(
  policy: OfflinePolicy,
  results: readonly CaseResult[],
): { identities: string[]; denyRules: string[]; keys: string[] } {
  const identities = new Set<string>();
  const denyRules = new Set<string>();
  const keys = new Set<string>();
  for (const r of results) {
    for (const name of r.evaluation.matched) identities.add(name);
    for (const name of r.evaluation.denyRules) denyRules.add(name);
    for (const [key, outcome] of r.evaluation.keys) if (outcome.grantedBy.length > 0) keys.add(key);
    for (const key of r.evaluation.listable) keys.add(key);
  }
  const { inventory } = policy;
  return {
    identities: inventory.identities.filter((n) => !identities.has(n)),
    denyRules: inventory.denyRules.filter((n) => !denyRules.has(n)),
    keys: inventory.catalogKeys.filter((n) => !keys.has(n)),
  };
}
