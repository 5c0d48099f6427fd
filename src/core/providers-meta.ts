/**
 * What core knows of each provider type without importing providers/: the
 * fields a key's `outputs` may map, default outputs, duration rules, and the
 * broker-token audience a provider gets (docs/configuration.md).
 */
import type { AccessProviderConfig, BrokerIdpConfig, ProviderType } from './config/schema.ts';
import type { Durations } from './types.ts';

/** Provider fields a key's `outputs` may name, by type. */
export const PROVIDER_FIELDS: Readonly<Record<ProviderType, readonly string[]>> = {
  'aws-sts': ['AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration'],
  minio: ['AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration'],
  gcp: ['accessToken', 'expireTime'],
  azure: ['accessToken', 'expiry'],
};

/** ENV_VAR → field used when a key has no `outputs`, by type. */
export const DEFAULT_OUTPUTS: Readonly<Record<ProviderType, Readonly<Record<string, string>>>> = {
  'aws-sts': {
    AWS_ACCESS_KEY_ID: 'AccessKeyId',
    AWS_SECRET_ACCESS_KEY: 'SecretAccessKey',
    AWS_SESSION_TOKEN: 'SessionToken',
  },
  minio: {
    MINIO_ACCESS_KEY: 'AccessKeyId',
    MINIO_SECRET_KEY: 'SecretAccessKey',
    MINIO_SESSION_TOKEN: 'SessionToken',
  },
  gcp: { GOOGLE_OAUTH_ACCESS_TOKEN: 'accessToken', GOOGLE_TOKEN_EXPIRY: 'expireTime' },
  azure: { AZURE_ACCESS_TOKEN: 'accessToken', AZURE_TOKEN_EXPIRY: 'expiry' },
};

/**
 * Duration rules by type, seconds: `min` (shorter requests are raised to it),
 * `default` (when neither request nor key says), `max` (hard ceiling of the
 * cloud). `undefined`: the provider chooses the lifetime (azure).
 * AWS allows 43,200 s only when the role's MaxSessionDuration does; chained
 * sessions (assumeRole) are capped at 3,600 s. GCP allows 43,200 s only when
 * the organisation permits it.
 */
export const DURATION_RULES: Readonly<
  Record<ProviderType, { min: number; default: number; max: number; chainedMax?: number } | undefined>
> = {
  'aws-sts': { min: 900, default: 3600, max: 43200, chainedMax: 3600 },
  minio: { min: 900, default: 3600, max: 604800 },
  gcp: { min: 1, default: 3600, max: 43200 },
  azure: undefined,
};

/**
 * The `durations` of a provider of `type` capped by its configured
 * `maxDuration`; undefined when the provider chooses the lifetime (azure).
 */
export function providerDurations(type: ProviderType, maxDuration?: number): Durations | undefined {
  const rules = DURATION_RULES[type];
  if (!rules) return undefined;
  const max = Math.min(rules.max, maxDuration ?? rules.max);
  const durations: Durations = { min: rules.min, default: Math.min(rules.default, max), max };
  if (rules.chainedMax !== undefined) durations.chainedMax = Math.min(rules.chainedMax, max);
  return durations;
}

/** Entra defaults per Azure environment (docs/configuration.md). */
export const AZURE_ENVIRONMENTS = {
  AzurePublicCloud: {
    authorityHost: 'https://login.microsoftonline.com',
    audience: 'api://AzureADTokenExchange',
  },
  AzureUSGovernment: {
    authorityHost: 'https://login.microsoftonline.us',
    audience: 'api://AzureADTokenExchangeUSGov',
  },
  AzureChina: {
    authorityHost: 'https://login.chinacloudapi.cn',
    audience: 'api://AzureADTokenExchangeChina',
  },
} as const;

/**
 * The broker-token audience a provider presents: its own `audience`, else the
 * type's default (gcp: `https:` + workloadIdentityProvider; azure: the
 * environment's exchange audience), else `brokerIdp.audience`. Undefined when
 * none applies (a config error).
 */
export function resolveProviderAudience(
  provider: Pick<AccessProviderConfig, 'type' | 'audience' | 'workloadIdentityProvider' | 'environment'>,
  brokerIdp: Pick<BrokerIdpConfig, 'audience'>,
): string | undefined {
  if (provider.audience) return provider.audience;
  if (provider.type === 'gcp' && provider.workloadIdentityProvider) {
    return `https:${provider.workloadIdentityProvider}`;
  }
  if (provider.type === 'azure')
    return AZURE_ENVIRONMENTS[provider.environment ?? 'AzurePublicCloud'].audience;
  return brokerIdp.audience;
}
