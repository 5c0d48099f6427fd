/**
 * Read-only use cases: the keys a verified caller may mint, and the client
 * IdPs a CLI may get tokens from.
 */
import type { ClientIdpConfig } from '../config/schema.ts';
import { SubjectNotFoundError } from '../errors.ts';
import type { Policy } from '../policy/index.ts';
import type { VerifiedToken } from '../types.ts';
import { listedMaximum, type Providers } from './plan.ts';
import type { IdpProviderList, KeyList } from './types.ts';

/**
 * The keys that would mint now for the caller, in configuration order (an
 * empty list when identities match but every key is denied or unrenderable);
 * SubjectNotFoundError (404) only when no identity matches.
 */
export function listKeys(
  principal: Pick<VerifiedToken, 'idp' | 'sub' | 'claims'>,
  policy: Policy,
  providers: Providers,
): KeyList {
  const listed = policy.keysFor({ idp: principal.idp, claims: principal.claims });
  if (listed.matched.length === 0) throw new SubjectNotFoundError();
  const keys = listed.keys.map(({ name, key }) => ({
    name,
    provider: key.provider,
    ...(key.description === undefined ? {} : { description: key.description }),
    maxDuration: listedMaximum({ name, key }, providers),
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
