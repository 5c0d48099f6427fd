/**
 * What the policy commands need from the broker's compiled policy, in the
 * shape they print and compare: the decision for one set of claims, key by
 * key, with who granted and who denied it. Everything is decided by core's
 * policy (the one `serve` compiles); this file only asks it and names the parts.
 */
import type { Config } from '../../core/config/index.ts';
import type { ClientIdpConfig } from '../../core/config/schema.ts';
import type { Explanation, Policy, ReasonCode } from '../../core/policy/index.ts';

export type { Explanation, ReasonCode } from '../../core/policy/index.ts';

/** How one key was decided. */
export interface KeyOutcome {
  /** Undefined when the key would mint. */
  readonly reason: ReasonCode | undefined;
  /** Identities of M that grant the key (names, `clientIdentities[i]` for unnamed ones). */
  readonly grantedBy: readonly string[];
  /** Matching deny rules that name the key or `*`. */
  readonly deniedBy: readonly string[];
  /** The key's recipe as rendered for these claims, when it rendered. */
  readonly rendered: Readonly<Record<string, unknown>> | undefined;
}

/** The policy's answer for one token. */
export interface Evaluation {
  /** M: the identities whose rules match. */
  readonly matched: readonly string[];
  /** Deny rules whose rules match. */
  readonly denyRules: readonly string[];
  /** Every requested key (without a request: every key some member of M grants). */
  readonly keys: ReadonlyMap<string, KeyOutcome>;
  /** Keys that would mint now (`GET /credentials/keys`). */
  readonly listable: readonly string[];
}

/** One compiled config, asked offline. */
export interface OfflinePolicy {
  /** The client IdP named `name`, if configured. */
  idp(name: string): ClientIdpConfig | undefined;
  /** The client IdP whose issuer is `iss`, if configured. */
  idpForIssuer(iss: string): ClientIdpConfig | undefined;
  /** Decides `requested` (or everything M grants) for `claims` presented through `idp`. */
  evaluate(idp: string, claims: Readonly<Record<string, unknown>>, requested?: readonly string[]): Evaluation;
  /** The full (operator-only) explanation of `requested`, or of every key an identity of `idp` grants. */
  explain(idp: string, claims: Readonly<Record<string, unknown>>, requested?: readonly string[]): Explanation;
  /** Labels of every identity, deny rule and catalog key, for coverage. */
  readonly inventory: { identities: string[]; denyRules: string[]; catalogKeys: string[] };
}

/** `config`'s policy (compiled by loadConfig), for offline questions. */
export function offlinePolicy({ config, policy }: { config: Config; policy: Policy }): OfflinePolicy {
  const { rules } = policy;
  const idps = config.clientIdps as readonly ClientIdpConfig[];
  const identities = [...rules.idps.values()].flatMap((r) => r.identities);
  return {
    idp: (name) => idps.find((i) => i.name === name),
    idpForIssuer: (iss) => idps.find((i) => i.issuer === iss),
    inventory: {
      identities: [...identities].sort((a, b) => a.index - b.index).map((i) => i.label),
      denyRules: [...rules.idps.values()].flatMap((r) => r.denies.map((d) => d.name)),
      catalogKeys: [...rules.catalog.keys()],
    },
    evaluate(idp, claims, requested) {
      const token = { idp, claims };
      const listed = policy.keysFor(token);
      const decision = policy.authorize(token, requested ?? policy.grantable(token));
      const keys = new Map<string, KeyOutcome>();
      for (const [name, o] of Object.entries(decision.outcomes)) {
        keys.set(
          name,
          o.granted
            ? { reason: undefined, grantedBy: o.grantedBy, deniedBy: [], rendered: o.key }
            : { reason: o.reason, grantedBy: o.grantedBy, deniedBy: o.deniedBy, rendered: undefined },
        );
      }
      return {
        matched: decision.matched,
        denyRules: policy.matchingDenyRules(token),
        keys,
        listable: listed.keys.map((k) => k.name),
      };
    },
    explain(idp, claims, requested) {
      const keys = new Set<string>();
      for (const identity of rules.idps.get(idp)?.identities ?? []) {
        for (const name of identity.keys.keys()) keys.add(name);
      }
      return policy.explain({ idp, claims }, requested ?? [...keys], 'full');
    },
  };
}
