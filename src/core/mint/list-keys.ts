/**
 * Read-only use cases: the keys a verified caller may mint, and the client
 * IdPs a CLI may get tokens from.
 */
import type { ClientIdpConfig } from '../config/schema.ts';
import { SubjectNotFoundError } from '../errors.ts';
import type { Policy, Principal } from '../policy/subjects.ts';
import { listedMaximum, type Providers } from './plan.ts';
import type { IdpProviderList, KeyList, ProviderConfigs } from './types.ts';

/** The caller's keys in configuration order; SubjectNotFoundError (404) when it has no identity. */
export function listKeys(
  principal: Principal,
  policy: Policy,
  providers: Providers,
  providerConfigs: ProviderConfigs,
): KeyList {
  const identity = policy.findIdentity(principal);
  if (!identity) throw new SubjectNotFoundError();
  const keys = [...identity.keys].map(([name, key]) => ({
    name,
    provider: key.provider,
    ...(key.description === undefined ? {} : { description: key.description }),
    maxDuration: listedMaximum({ name, key }, providers, providerConfigs),
  }));
  return { subject: principal.sub, idp: principal.idp, keys };
}

/**
 * The configured client IdPs with their first audience, so a CLI knows what
 * to ask its IdP for. An IdP accepting any audience lists none.
 */
export function describeIdps(
  idps: ReadonlyArray<Pick<ClientIdpConfig, 'name' | 'issuer' | 'audience'>>,
): IdpProviderList {
  return {
    providers: idps.map((idp) => {
      const audience = Array.isArray(idp.audience) ? idp.audience[0] : idp.audience;
      return {
        name: idp.name,
        issuer: idp.issuer,
        type: 'oidc' as const,
        ...(audience === undefined ? {} : { audience }),
      };
    }),
  };
}
