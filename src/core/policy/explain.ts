/**
 * Explanations: why each requested key was granted or refused. Two levels:
 *
 * - `caller` (what `server.explain` puts on the wire): for each key, the
 *   identities of the token's IdP that grant it — by name, unnamed ones as
 *   `clientIdentities[i]`, never by subject, at most 20 — and only for those
 *   whose `require` and tenant pin pass, each condition as `{claim, result}`;
 *   identities failing their pin are counted, not named. Matching deny rules
 *   by name with their message. Never an expected value, a pattern or a
 *   subject: an explanation must not teach a caller how to forge a match.
 * - `full` (offline, for the operator): every identity with expected and
 *   actual values, and hints for the usual mistakes.
 */
import { editDistance } from '../config/suggest.ts';
import { asciiLower, readClaim } from './claims.ts';
import type { CompiledRules, Identity, IdpRules } from './compile.ts';
import {
  type Branch,
  type ClaimCondition,
  type Condition,
  type ConditionResult,
  evaluate,
  matchBranch,
} from './conditions.ts';
import {
  decideKey,
  type Matched,
  matchDenies,
  matchIdentities,
  type ReasonCode,
  type TokenFacts,
} from './decide.ts';
import { conditionPin } from './pin.ts';

/** Most identities listed per key. */
export const MAX_EXPLAINED_IDENTITIES = 20;
/** Largest explanation, bytes of JSON. */
export const MAX_EXPLANATION_BYTES = 64 * 1024;

/** Hints the full explanation gives. */
export type Hint = 'case_mismatch' | 'wildcard_stops_at_separator' | 'environment_in_sub';

/** One condition's outcome. */
export interface ConditionExplanation {
  claim: string;
  result: ConditionResult;
  /** Full level only. */
  expected?: string;
  actual?: string | string[] | null;
  hint?: Hint;
}

/** One identity that grants a key. */
export interface IdentityExplanation {
  identity: string;
  matched: boolean;
  /** Per branch of `match` (one for a map); a subject identity has one branch on `sub`. */
  branches?: ConditionExplanation[][];
  /** Full level: the closest configured subject of the IdP when a subject identity missed. */
  closestSubject?: string;
}

/** One requested key. */
export interface KeyExplanation {
  decision: 'allow' | 'deny';
  reason?: ReasonCode;
  identities: IdentityExplanation[];
  /** Granting identities not shown because their tenant pin or `require` failed. */
  unpinnedIdentities: number;
  /** Granting identities past the listing cap. */
  moreIdentities: number;
  denyRules: Array<{ name: string; message?: string }>;
}

/** An explanation of a request. */
export interface Explanation {
  idp: string;
  matchedIdentities: string[];
  keys: Record<string, KeyExplanation>;
  truncated?: true;
}

/** Explains `requested` for `facts` at `level`. */
export function explain(
  compiled: CompiledRules,
  facts: TokenFacts,
  requested: readonly string[],
  level: 'caller' | 'full',
): Explanation {
  const rules = compiled.idps.get(facts.idp);
  const matched = matchIdentities(rules, facts.claims);
  const denies = matchDenies(rules, facts.claims);
  const keys: Record<string, KeyExplanation> = Object.create(null);
  for (const name of requested) {
    const outcome = decideKey(name, matched, denies, facts);
    const granting = rules ? rules.identities.filter((i) => i.keys.has(name)) : [];
    const listing = listIdentities(granting, matched, rules, facts, level);
    keys[name] = {
      decision: outcome.granted ? 'allow' : 'deny',
      ...(outcome.granted ? {} : { reason: outcome.reason }),
      ...listing,
      denyRules: denies
        .filter((d) => d.keys === '*' || d.keys.has(name))
        .map((d) => (d.message === undefined ? { name: d.name } : { name: d.name, message: d.message })),
    };
  }
  const out: Explanation = { idp: facts.idp, matchedIdentities: matched.map((m) => m.identity.label), keys };
  return capSize(out);
}

function listIdentities(
  granting: readonly Identity[],
  matched: readonly Matched[],
  rules: IdpRules | undefined,
  facts: TokenFacts,
  level: 'caller' | 'full',
): Pick<KeyExplanation, 'identities' | 'unpinnedIdentities' | 'moreIdentities'> {
  const identities: IdentityExplanation[] = [];
  let unpinned = 0;
  let more = 0;
  for (const identity of granting) {
    const isMatched = matched.some((m) => m.identity === identity);
    if (level === 'caller' && !isMatched && !pinPasses(identity, rules, facts)) {
      unpinned++;
      continue;
    }
    if (identities.length >= MAX_EXPLAINED_IDENTITIES) {
      more++;
      continue;
    }
    identities.push(describeIdentity(identity, isMatched, rules, facts, level));
  }
  return { identities, unpinnedIdentities: unpinned, moreIdentities: more };
}

/** True when `require` passes and (under a shared issuer) some branch's tenant pin conditions pass. */
function pinPasses(identity: Identity, rules: IdpRules | undefined, facts: TokenFacts): boolean {
  if (!rules) return false;
  if (rules.require && !matchBranch(rules.require, facts.claims, 'allow')) return false;
  if (identity.subject !== undefined) return !rules.shared;
  if (!rules.shared) return true;
  return identity.branches.some((b) => {
    const pins = b.conditions.filter((c) => conditionPin(c, rules.tenantClaims) !== undefined);
    return pins.every((c) => evaluate(c, facts.claims, 'allow').ok);
  });
}

function describeIdentity(
  identity: Identity,
  isMatched: boolean,
  rules: IdpRules | undefined,
  facts: TokenFacts,
  level: 'caller' | 'full',
): IdentityExplanation {
  const out: IdentityExplanation = { identity: identity.label, matched: isMatched };
  if (identity.subject !== undefined) {
    const sub = typeof facts.claims.sub === 'string' ? facts.claims.sub : undefined;
    const result: ConditionResult =
      sub === undefined ? 'missing' : sub === identity.subject ? 'pass' : 'fail';
    const cond: ConditionExplanation = { claim: 'sub', result };
    if (level === 'full') {
      cond.expected = JSON.stringify(identity.subject);
      cond.actual = sub ?? null;
      const hint = sub === undefined ? undefined : subjectHint(identity.subject, sub);
      if (hint) cond.hint = hint;
      if (!isMatched && sub !== undefined && rules) {
        const near = closestSubject(rules, sub);
        if (near !== undefined) out.closestSubject = near;
      }
    }
    out.branches = [[cond]];
    return out;
  }
  out.branches = identity.branches.map((b) => describeBranch(b, facts, level));
  return out;
}

function describeBranch(branch: Branch, facts: TokenFacts, level: 'caller' | 'full'): ConditionExplanation[] {
  return branch.conditions.map((c) => {
    const { result } = evaluate(c, facts.claims, 'allow');
    const out: ConditionExplanation = { claim: c.claim.key, result };
    if (level === 'full') {
      out.expected = describeCondition(c.condition);
      const value = readClaim(facts.claims, c.claim);
      out.actual = value.kind === 'scalar' ? value.text : value.kind === 'array' ? [...value.items] : null;
      const hint =
        result === 'fail' ? conditionHint(c, value.kind === 'scalar' ? value.text : undefined) : undefined;
      if (hint) out.hint = hint;
    }
    return out;
  });
}

/** A condition as the operator wrote it, for the full explanation only. */
export function describeCondition(c: Condition): string {
  const fold = 'ignoreCase' in c && c.ignoreCase ? ' (ignoreCase)' : '';
  switch (c.op) {
    case 'equals':
      return `${c.values.length === 1 ? 'equals' : 'one of'} ${c.values.map((v) => JSON.stringify(v)).join(', ')}${fold}`;
    case 'glob':
      return `glob ${c.globs.map((g) => JSON.stringify(g.source)).join(' | ')}${fold}`;
    case 'regex':
      return `regex ${c.regexes.map((r) => JSON.stringify(r.source)).join(' | ')}${fold}`;
    case 'containsAll':
      return `contains all of ${c.values.map((v) => JSON.stringify(v)).join(', ')}${fold}`;
    case 'present':
      return c.want ? 'present' : 'absent';
    case 'not':
      return `not (${describeCondition(c.inner)})`;
    case 'every':
      return `every element: ${describeCondition(c.inner)}`;
  }
}

function conditionHint(c: ClaimCondition, actual: string | undefined): Hint | undefined {
  if (actual === undefined) return undefined;
  const cond = c.condition;
  if (cond.op === 'equals' && cond.values.some((v) => asciiLower(v) === asciiLower(actual)))
    return 'case_mismatch';
  if (cond.op === 'glob') {
    if (
      cond.globs.some((g) => looseGlob(asciiLower(g.source), asciiLower(actual))) &&
      !cond.globs.some((g) => looseGlob(g.source, actual))
    ) {
      return 'case_mismatch';
    }
    if (cond.globs.some((g) => looseGlob(g.source, actual))) return 'wildcard_stops_at_separator';
  }
  if (c.claim.key === 'sub' && cond.op === 'equals') {
    const hint = cond.values.map((v) => subjectHint(v, actual)).find((h) => h !== undefined);
    if (hint) return hint;
  }
  return undefined;
}

function subjectHint(expected: string, actual: string): Hint | undefined {
  if (asciiLower(expected) === asciiLower(actual) && expected !== actual) return 'case_mismatch';
  if (actual.includes(':environment:') && expected.includes(':ref:')) return 'environment_in_sub';
  return undefined;
}

/** A glob where every wildcard crosses separators: did the rule fail only because `*` stops at `/` or `:`? */
function looseGlob(source: string, value: string): boolean {
  const parts = source.split(/\*+|\?/);
  if (parts.length === 1) return source === value;
  let at = 0;
  for (const [i, part] of parts.entries()) {
    const found = i === 0 ? (value.startsWith(part) ? 0 : -1) : value.indexOf(part, at);
    if (found < 0) return false;
    at = found + part.length;
  }
  return value.endsWith(parts[parts.length - 1] as string);
}

function closestSubject(rules: IdpRules, sub: string): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const subject of rules.subjects.keys()) {
    if (Math.abs(subject.length - sub.length) > 32) continue;
    const d = editDistance(subject, sub);
    if (d < bestDistance) {
      best = subject;
      bestDistance = d;
    }
  }
  return best;
}

/** Keeps an explanation within its size cap by dropping per-condition detail. */
function capSize(out: Explanation): Explanation {
  if (Buffer.byteLength(JSON.stringify(out)) <= MAX_EXPLANATION_BYTES) return out;
  for (const key of Object.values(out.keys)) for (const id of key.identities) delete id.branches;
  out.truncated = true;
  if (Buffer.byteLength(JSON.stringify(out)) <= MAX_EXPLANATION_BYTES) return out;
  for (const key of Object.values(out.keys)) key.identities = [];
  return out;
}
