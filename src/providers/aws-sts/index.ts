/**
 * The `aws-sts` access provider: STS AssumeRoleWithWebIdentity through the
 * official AWS SDK with the broker token, optionally chained with AssumeRole
 * (docs/configuration.md).
 */
import type { AccessProviderConfig } from '../../core/config/schema.ts';
import type { AccessProvider } from '../../core/types.ts';
import type { ProviderDeps } from '../types.ts';
import { createStsProvider } from './provider.ts';

export { deriveSessionName, sanitise, sourceIdentity } from './request-parts.ts';

/** An aws-sts provider; its STSClient is created here, once (region default us-east-1). */
export function createAwsStsProvider(config: AccessProviderConfig, deps: ProviderDeps): AccessProvider {
  if (config.type !== 'aws-sts') throw new TypeError(`provider ${config.name} is not of type aws-sts`);
  return createStsProvider(config, deps, 'aws-sts');
}
