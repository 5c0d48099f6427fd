/**
 * Shared pieces of the gcp provider tests: the pool provider, the service
 * accounts, configs and inputs. The broker IdP (a local JWKS) comes from the
 * aws-sts fixture.
 */
import type { AccessProviderConfig, KeyConfig } from '../../../src/core/config/schema.ts';
import type { Logger, MintInput } from '../../../src/core/types.ts';
import type { ProviderDeps } from '../../../src/providers/types.ts';

export const WIP =
  '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/voidkey/providers/broker';
/** The broker-token audience a gcp provider gets by default. */
export const GCP_AUDIENCE = `https:${WIP}`;
export const SA = 'deploy@my-project-123.iam.gserviceaccount.com';
export const OTHER_SA = 'intruder@my-project-123.iam.gserviceaccount.com';
export const CLOUD_PLATFORM = 'https://www.googleapis.com/auth/cloud-platform';

/** A gcp provider config whose STS and IAM endpoints are both `url`. */
export function gcpConfig(url: string, extra: Partial<AccessProviderConfig> = {}): AccessProviderConfig {
  return {
    name: 'gcp-test',
    type: 'gcp',
    workloadIdentityProvider: WIP,
    stsEndpoint: url,
    endpoint: url,
    ...extra,
  };
}

/** Provider deps with fast retries. */
export function gcpDeps(extra: Partial<ProviderDeps> = {}): ProviderDeps {
  return { httpTimeout: 2000, maxRetries: 2, retryDelay: 1, brokerAudience: GCP_AUDIENCE, ...extra };
}

/** A mint input for a key of SA, 900 s. */
export function gcpMint(brokerToken: string, key: Partial<KeyConfig> = {}, extra: Partial<MintInput> = {}) {
  return {
    keyName: 'GCP_DEPLOY',
    key: { provider: 'gcp-test', serviceAccount: SA, ...key },
    durationSeconds: 900,
    brokerToken,
    subject: 'repo:myorg/myapp:ref:refs/heads/main',
    issuer: 'https://token.actions.githubusercontent.com',
    signal: new AbortController().signal,
    ...extra,
  } satisfies MintInput;
}

/** A logger that keeps every line as JSON text. */
export function captureLogs(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (obj: object, msg?: string) => {
    lines.push(JSON.stringify({ ...obj, msg }));
  };
  return { lines, debug: push, info: push, warn: push, error: push };
}
