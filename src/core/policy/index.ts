/**
 * The policy engine: who may mint what (identities by exact subject or by
 * claim rules, the key catalog, deny rules, templates) and why not.
 *
 * API (used by the mint, the HTTP routes and `voidkey policy test|explain`):
 *
 * ```ts
 * const policy = compilePolicy(config);            // once per config snapshot (loadConfig does it);
 *                                                   // throws TypeError on a config it did not validate
 * const token = { idp: 'github-actions', claims }; // claims as verified (or, offline, as given)
 * const d = policy.authorize(token, ['DEPLOY']);   // Decision, never throws:
 *   d.allowed                  // every requested key granted
 *   d.matched                  // names of the matching identities (M; unnamed: `clientIdentities[i]`)
 *   d.granted                  // [{ name, key }]: every granted key with its recipe rendered for this
 *                              // token, in request order (mint only when d.allowed: all-or-nothing)
 *   d.denied / d.reasons       // refused names; { KEY: reason code } (decide.ts REASON_CODES)
 *   d.outcomes                 // { KEY: KeyOutcome } with grantedBy / deniedBy (identity / rule names)
 * policy.keysFor(token)        // { matched, keys: [{ name, key, grantedBy }] }: what would mint now
 * policy.grantable(token)      // every key M grants, before denials and rendering
 * policy.matchingDenyRules(token)  // names of the deny rules that match
 * policy.explain(token, keys, 'caller' | 'full')   // Explanation (explain.ts): 'caller' is what
 *                              // server.explain may show a caller; 'full' adds expected/actual values
 *                              // and hints, for offline use only
 * policy.rules                 // the compiled rules (identities, deny rules, catalog) for coverage
 * ```
 *
 * Load-time checks: `compilePolicy(config, sink)` reports every problem and
 * warning with its path instead of throwing; loadConfig passes its report, so
 * `serve`, `config validate` and SIGHUP reload agree, and the policy it
 * returns is the one the broker serves.
 */
import type { Config, KeyConfig } from '../config/schema.ts';
import { type CompiledRules, compileRules, type PolicyConfig, type PolicySink } from './compile.ts';
import {
  decideKey,
  grantableKeys,
  type KeyOutcome,
  matchDenies,
  matchIdentities,
  type ReasonCode,
  type TokenFacts,
} from './decide.ts';
import { type Explanation, explain } from './explain.ts';

export type { CompiledRules, DenyRule, Identity, IdpRules, PolicyConfig, PolicySink } from './compile.ts';
export { type KeyOutcome, REASON_CODES, type ReasonCode, type TokenFacts } from './decide.ts';
export type { ConditionExplanation, Explanation, IdentityExplanation, KeyExplanation } from './explain.ts';

/** A key the caller may mint, with its recipe rendered for this caller. */
export interface Grant {
  readonly name: string;
  readonly key: Readonly<KeyConfig>;
}

/** The answer for one request. */
export interface Decision {
  /** True when every requested key is granted. */
  readonly allowed: boolean;
  /** Names of the identities that matched (M), in configuration order. */
  readonly matched: readonly string[];
  /** Granted keys, in request order. */
  readonly granted: readonly Grant[];
  /** Refused keys, in request order. */
  readonly denied: readonly string[];
  /** Refused key → reason code. */
  readonly reasons: Readonly<Record<string, ReasonCode>>;
  /** Every requested key's outcome. */
  readonly outcomes: Readonly<Record<string, KeyOutcome>>;
}

/** One key of {@link Policy.keysFor}. */
export interface ListedKey extends Grant {
  readonly grantedBy: readonly string[];
}

/** A compiled policy of one config snapshot. */
export interface Policy {
  readonly rules: CompiledRules;
  /** Decides `requested` (names, in request order) for `token`. */
  authorize(token: TokenFacts, requested: readonly string[]): Decision;
  /** The keys that would mint now (union minus denials, conflicts and rendering failures). */
  keysFor(token: TokenFacts): { matched: readonly string[]; keys: readonly ListedKey[] };
  /** Every key some member of M grants (before denials and rendering), configuration order. */
  grantable(token: TokenFacts): string[];
  /** Names of the deny rules that match `token`. */
  matchingDenyRules(token: TokenFacts): string[];
  /** Why each of `requested` is granted or refused; 'caller' is safe to show the token's holder. */
  explain(token: TokenFacts, requested: readonly string[], level: 'caller' | 'full'): Explanation;
}

/**
 * Compiles the policy of `config`. Without a sink, a problem throws TypeError
 * (for a config loadConfig validated); with one, every problem goes to it and
 * the result must not serve unless none was reported.
 */
export function compilePolicy(config: PolicyConfig | Readonly<Config>, sink?: PolicySink): Policy {
  const rules = compileRules(config, sink);
  return Object.freeze({
    rules,
    authorize: (token: TokenFacts, requested: readonly string[]) => authorize(rules, token, requested),
    keysFor: (token: TokenFacts) => keysFor(rules, token),
    grantable: (token: TokenFacts) => grantableKeys(matchIdentities(rules.idps.get(token.idp), token.claims)),
    matchingDenyRules: (token: TokenFacts) =>
      matchDenies(rules.idps.get(token.idp), token.claims).map((d) => d.name),
    explain: (token: TokenFacts, requested: readonly string[], level: 'caller' | 'full') =>
      explain(rules, token, requested, level),
  });
}

function authorize(rules: CompiledRules, token: TokenFacts, requested: readonly string[]): Decision {
  const idp = rules.idps.get(token.idp);
  const matched = matchIdentities(idp, token.claims);
  const denies = matchDenies(idp, token.claims);
  const granted: Grant[] = [];
  const denied: string[] = [];
  const reasons: Record<string, ReasonCode> = Object.create(null);
  const outcomes: Record<string, KeyOutcome> = Object.create(null);
  for (const name of requested) {
    const outcome = decideKey(name, matched, denies, token);
    outcomes[name] = outcome;
    if (outcome.granted) granted.push({ name, key: outcome.key });
    else {
      denied.push(name);
      reasons[name] = outcome.reason;
    }
  }
  return {
    allowed: denied.length === 0,
    matched: matched.map((m) => m.identity.label),
    granted,
    denied,
    reasons,
    outcomes,
  };
}

function keysFor(rules: CompiledRules, token: TokenFacts) {
  const idp = rules.idps.get(token.idp);
  const matched = matchIdentities(idp, token.claims);
  const denies = matchDenies(idp, token.claims);
  const keys: ListedKey[] = [];
  for (const name of grantableKeys(matched)) {
    const outcome = decideKey(name, matched, denies, token);
    if (outcome.granted) keys.push({ name, key: outcome.key, grantedBy: outcome.grantedBy });
  }
  return { matched: matched.map((m) => m.identity.label), keys };
}
