/**
 * What the policy commands need from the broker's compiled policy, in the
 * shape they print and compare: the decision for one set of claims, key by
 * key, with who granted and who denied it. Everything is decided by core's
 * policy; this file only asks it and names the parts.
 */
import type { Config } from '../../core/config/index.ts';
import type { ClientIdpConfig } from '../../core/config/schema.ts';
import { compilePolicy } from '../../core/policy.ts';
import type { REASON_CODES } from './test-file.ts';

export type ReasonCode = (typeof REASON_CODES)[number];

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
  /** Decides `requested` (or everything grantable) for `claims` presented through `idp`. */
  evaluate(idp: string, claims: Readonly<Record<string, unknown>>, requested?: readonly string[]): Evaluation;
  /** Labels of every identity, deny rule and catalog key, for coverage. */
  readonly inventory: { identities: string[]; denyRules: string[]; catalogKeys: string[] };
}

/** Compiles `config`'s policy for offline questions. */
export function compileOffline(config: Config): OfflinePolicy {
  const policy = compilePolicy(config.clientIdentities);
  const idps = config.clientIdps as readonly ClientIdpConfig[];
  const labels = new Map(config.clientIdentities.map((c, i) => [c, `clientIdentities[${i}]`]));
  return {
    idp: (name) => idps.find((i) => i.name === name),
    idpForIssuer: (iss) => idps.find((i) => i.issuer === iss),
    inventory: { identities: [...labels.values()], denyRules: [], catalogKeys: [] },
    evaluate(idp, claims, requested) {
      const sub = typeof claims.sub === 'string' ? claims.sub : '';
      const identity = policy.findIdentity({ idp, sub });
      const config_ = config.clientIdentities.find((c) => c.idp === idp && c.subject === sub);
      const label = config_ === undefined ? undefined : labels.get(config_);
      const granted = identity ? [...identity.keys.keys()] : [];
      const keys = new Map<string, KeyOutcome>();
      for (const name of requested ?? granted) {
        const key = identity?.keys.get(name);
        keys.set(name, {
          reason: identity === undefined ? 'no_identity_matched' : key ? undefined : 'key_not_granted',
          grantedBy: key && label ? [label] : [],
          deniedBy: [],
          rendered: key ? { ...key } : undefined,
        });
      }
      return { matched: label ? [label] : [], denyRules: [], keys, listable: granted };
    },
  };
}
