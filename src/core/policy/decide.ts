/**
 * Deciding a token's keys. M is the set of identities of the token's IdP
 * whose rules match; the grantable keys are the union of what M grants, a
 * matching deny rule removes its keys and nothing overrides it. A key
 * granted by several members is rendered for each: one failed rendering
 * refuses it with that reason, and rendered recipes that differ in any field
 * refuse it as `conflicting_grants` — configuration order never settles it.
 */
import type { KeyConfig } from '../config/schema.ts';
import type { DenyRule, Identity, IdpRules } from './compile.ts';
import { type Branch, matchBranch } from './conditions.ts';
import type { RenderFailure } from './recipe.ts';

/** Why a key was refused, in the order a 403 reports the first that applies. */
export const REASON_CODES = [
  'denied_by_rule',
  'no_identity_matched',
  'key_not_granted',
  'conflicting_grants',
  'template_claim_missing',
  'template_value_invalid',
  'template_value_unsafe',
  'policy_too_large',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** A member of M with the captures of its first matching branch. */
export interface Matched {
  readonly identity: Identity;
  readonly captures: Readonly<Record<string, string>>;
}

/** The outcome for one key. */
export type KeyOutcome =
  | { readonly granted: true; readonly key: Readonly<KeyConfig>; readonly grantedBy: readonly string[] }
  | {
      readonly granted: false;
      readonly reason: ReasonCode;
      /** Identities that grant the key by name (empty for denied_by_rule, no_identity_matched, key_not_granted). */
      readonly grantedBy: readonly string[];
      /** Names of the deny rules that removed it. */
      readonly deniedBy: readonly string[];
    };

/** What the policy sees of a token. */
export interface TokenFacts {
  readonly idp: string;
  /** The verified claims; `sub` among them. */
  readonly claims: Readonly<Record<string, unknown>>;
}

const NO_CAPTURES: Readonly<Record<string, string>> = Object.freeze(Object.create(null));

/** The members of M, in configuration order. */
export function matchIdentities(
  rules: IdpRules | undefined,
  claims: Readonly<Record<string, unknown>>,
): Matched[] {
  if (!rules) return [];
  if (rules.require && !matchBranch(rules.require, claims, 'allow')) return [];
  const out: Matched[] = [];
  const sub = claims.sub;
  const exact = typeof sub === 'string' ? rules.subjects.get(sub) : undefined;
  if (exact) out.push({ identity: exact, captures: NO_CAPTURES });
  if (rules.rules.size === 0) return out;
  const candidates = rules.rules.candidates(claims);
  candidates.sort((a, b) => a.identity.index - b.identity.index || a.branch - b.branch);
  let last: Identity | undefined;
  for (const { identity, branch } of candidates) {
    if (identity === last) continue;
    const captures = matchBranch(identity.branches[branch] as Branch, claims, 'allow');
    if (captures === undefined) continue;
    out.push({ identity, captures });
    last = identity;
  }
  if (exact && out.length > 1) out.sort((a, b) => a.identity.index - b.identity.index);
  return out;
}

/** The deny rules of the token's IdP that match it (a condition on a missing claim fails closed unless `skip`). */
export function matchDenies(
  rules: IdpRules | undefined,
  claims: Readonly<Record<string, unknown>>,
): DenyRule[] {
  if (!rules || rules.denies.length === 0) return [];
  return rules.denies.filter((rule) => {
    const mode = rule.skip ? 'deny-skip' : 'deny';
    if (rules.require && !matchBranch(rules.require, claims, mode)) return false;
    return rule.branches.some((b) => matchBranch(b, claims, mode) !== undefined);
  });
}

/** Decides one key for a token whose M and matching deny rules are known. */
export function decideKey(
  name: string,
  matched: readonly Matched[],
  denies: readonly DenyRule[],
  facts: TokenFacts,
): KeyOutcome {
  const deniedBy = denies.filter((d) => d.keys === '*' || d.keys.has(name)).map((d) => d.name);
  if (deniedBy.length > 0) return { granted: false, reason: 'denied_by_rule', grantedBy: [], deniedBy };
  if (matched.length === 0) return { granted: false, reason: 'no_identity_matched', grantedBy: [], deniedBy };
  const granting =
    matched.length === 1
      ? matched[0]?.identity.keys.has(name)
        ? matched
        : []
      : matched.filter((m) => m.identity.keys.has(name));
  if (granting.length === 0) return { granted: false, reason: 'key_not_granted', grantedBy: [], deniedBy };
  const grantedBy = granting.map((m) => m.identity.label);
  const outcomes = granting.map((m) =>
    (m.identity.keys.get(name) as NonNullable<ReturnType<Identity['keys']['get']>>).render({
      claims: facts.claims,
      captures: m.captures,
      identity: m.identity.label,
      idp: facts.idp,
    }),
  );
  const first = outcomes[0] as (typeof outcomes)[number];
  if (outcomes.length > 1 && !allSame(outcomes)) {
    return { granted: false, reason: 'conflicting_grants', grantedBy, deniedBy };
  }
  if ('reason' in first)
    return { granted: false, reason: first.reason as RenderFailure, grantedBy, deniedBy };
  return { granted: true, key: first.key, grantedBy };
}

function allSame(outcomes: ReadonlyArray<{ key: Readonly<KeyConfig> } | { reason: RenderFailure }>): boolean {
  const first = outcomes[0] as (typeof outcomes)[number];
  const text = (o: (typeof outcomes)[number]) => ('reason' in o ? `!${o.reason}` : JSON.stringify(o.key));
  const a = 'key' in first ? first.key : undefined;
  if (a && outcomes.every((o) => 'key' in o && o.key === a)) return true;
  const t = text(first);
  return outcomes.every((o) => text(o) === t);
}

/** Every key M grants, in configuration order (first identity first). */
export function grantableKeys(matched: readonly Matched[]): string[] {
  const names = new Set<string>();
  for (const m of matched) for (const k of m.identity.keys.keys()) names.add(k);
  return [...names];
}
