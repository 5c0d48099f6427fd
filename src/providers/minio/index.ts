/**
 * The `minio` access provider: MinIO's STS AssumeRoleWithWebIdentity at the
 * configured `endpoint`, the same protocol as AWS (docs/configuration.md). DurationSeconds
 * is always sent; `roleArn` (role-policy mode) and `policy` are optional;
 * there is no second hop.
 */
import type { AccessProviderConfig } from '../../core/config/schema.ts';
import type { AccessProvider } from '../../core/types.ts';
import { createStsProvider } from '../aws-sts/provider.ts';
import type { ProviderDeps } from '../types.ts';

/** A minio provider; `endpoint` is required (TypeError otherwise). */
export function createMinioProvider(config: AccessProviderConfig, deps: ProviderDeps): AccessProvider {
  if (config.type !== 'minio') throw new TypeError(`provider ${config.name} is not of type minio`);
  if (!config.endpoint) throw new TypeError(`provider ${config.name} (minio) needs an endpoint`);
  return createStsProvider(config, deps, 'minio');
}
