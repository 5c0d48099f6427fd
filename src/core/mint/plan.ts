/**
 * Resolving granted keys against the config snapshot: which provider mints
 * each one and for how long. Every check here happens before any upstream
 * call, so a bad duration costs nothing and mints nothing.
 */
import { maximumDuration, resolveDuration } from '../duration.ts';
import type { Grant } from '../policy/index.ts';
import type { AccessProvider } from '../types.ts';
import type { KeyPlan } from './types.ts';

/** Provider instances by name, for one config snapshot. */
export type Providers = ReadonlyMap<string, AccessProvider>;

/** The provider named `name`; a missing one is a wiring bug (500), not a client error. */
export function providerNamed(providers: Providers, name: string): AccessProvider {
  const provider = providers.get(name);
  if (!provider) throw new Error(`no provider instance named ${name}`);
  return provider;
}

/** Plans every grant; throws InvalidRequestError (400) on the first duration refused. */
export function planKeys(
  grants: readonly Grant[],
  requestedDuration: number | undefined,
  providers: Providers,
): KeyPlan[] {
  return grants.map(({ name, key }) => {
    const provider = providerNamed(providers, key.provider);
    const durationSeconds = resolveDuration({ keyName: name, key, provider }, requestedDuration);
    return { name, key, provider, durationSeconds };
  });
}

/** The maximum duration shown for `grant` in the key list (seconds, or null). */
export function listedMaximum(grant: Grant, providers: Providers): number | null {
  const provider = providerNamed(providers, grant.key.provider);
  return maximumDuration({ keyName: grant.name, key: grant.key, provider });
}

/** The distinct broker-token audiences `plans` need, in first-use order. */
export function audiencesOf(plans: readonly KeyPlan[]): string[] {
  if (plans.length === 1) return [(plans[0] as KeyPlan).provider.audience];
  return [...new Set(plans.map((plan) => plan.provider.audience))];
}
