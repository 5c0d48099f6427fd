/**
 * Exact subjects: today's form, `{subject, idp, keys}`. Identities are
 * compiled once, when a config is loaded, into maps keyed by (IdP name,
 * subject), so a lookup costs the same whatever the number of identities. An
 * identity is bound to its IdP: the same subject presented by another issuer
 * finds nothing. A config of only such identities runs on this alone.
 */
import type { ClientIdentityConfig, KeyConfig } from '../config/schema.ts';
import { ForbiddenError } from '../errors.ts';

/** One configured identity with its keys indexed by name. */
export interface CompiledIdentity {
  readonly subject: string;
  readonly idp: string;
  /** Key name → key, in configuration order. */
  readonly keys: ReadonlyMap<string, Readonly<KeyConfig>>;
}

/** A key the identity is granted, with its configuration. */
export interface Grant {
  readonly name: string;
  readonly key: Readonly<KeyConfig>;
}

/** The caller as the policy sees it: the verified token's IdP and subject. */
export interface Principal {
  readonly idp: string;
  readonly sub: string;
}

/** The compiled policy of one config snapshot. */
export interface Policy {
  /** The identity of `principal`, or undefined when none is configured under its IdP. */
  findIdentity(principal: Principal): CompiledIdentity | undefined;
  /** Names of every key `principal` may mint (empty when it has no identity). */
  grantedKeys(principal: Principal): string[];
  /**
   * The grants for `requested`, in request order. Throws ForbiddenError whose
   * `deniedKeys` lists every requested key not granted (all of them when
   * `identity` is undefined).
   */
  checkKeys(identity: CompiledIdentity | undefined, requested: readonly string[]): Grant[];
}

/**
 * Compiles the exact-subject identities among `identities` (already
 * validated: no duplicate (idp, subject) pairs); claim-rule identities are
 * the policy engine's.
 */
export function compilePolicy(identities: readonly ClientIdentityConfig[]): Policy {
  const byIdp = new Map<string, Map<string, CompiledIdentity>>();
  for (const identity of identities) {
    if (identity.subject === undefined) continue;
    const subjects = byIdp.get(identity.idp) ?? new Map<string, CompiledIdentity>();
    subjects.set(identity.subject, compileIdentity(identity, identity.subject));
    byIdp.set(identity.idp, subjects);
  }

  const findIdentity = (principal: Principal) => byIdp.get(principal.idp)?.get(principal.sub);
  return {
    findIdentity,
    grantedKeys: (principal) => [...(findIdentity(principal)?.keys.keys() ?? [])],
    checkKeys,
  };
}

function compileIdentity(identity: ClientIdentityConfig, subject: string): CompiledIdentity {
  // A Map, not the config object: key names such as `constructor` or
  // `__proto__` must never resolve to something inherited.
  const keys = new Map<string, Readonly<KeyConfig>>(Object.entries(identity.keys));
  return Object.freeze({ subject, idp: identity.idp, keys });
}

function checkKeys(identity: CompiledIdentity | undefined, requested: readonly string[]): Grant[] {
  const grants: Grant[] = [];
  const denied: string[] = [];
  for (const name of requested) {
    const key = identity?.keys.get(name);
    if (key) grants.push({ name, key });
    else denied.push(name);
  }
  if (denied.length > 0) throw new ForbiddenError(denied);
  return grants;
}
