/**
 * The access-provider registry: one factory per provider type. A new type
 * plugs in by adding its factory to PROVIDER_FACTORIES; types the config
 * schema knows but this build lacks fail at construction with a TypeError.
 */
import type { AccessProviderConfig, Config, ProviderType } from '../core/config/schema.ts';
import { resolveProviderAudience } from '../core/providers-meta.ts';
import type { AccessProvider, HttpClient, Logger, Telemetry } from '../core/types.ts';
import { createAwsStsProvider } from './aws-sts/index.ts';
import { createAzureProvider } from './azure/index.ts';
import { limitConcurrency } from './concurrency.ts';
import { createGcpProvider } from './gcp/index.ts';
import { createMinioProvider } from './minio/index.ts';
import type { ProviderDeps, ProviderFactory } from './types.ts';

/** Factories by type. */
export const PROVIDER_FACTORIES: Readonly<Partial<Record<ProviderType, ProviderFactory>>> = {
  'aws-sts': createAwsStsProvider,
  minio: createMinioProvider,
  gcp: createGcpProvider,
  azure: createAzureProvider,
};

/**
 * One provider per `accessProviders` entry, keyed by name. Throws TypeError
 * for a type this build does not implement or a provider without an audience.
 */
export function createProviders(
  config: Config,
  options: {
    logger?: Logger;
    telemetry?: Telemetry;
    http?: HttpClient;
    env?: Record<string, string | undefined>;
  } = {},
): Map<string, AccessProvider> {
  const providers = new Map<string, AccessProvider>();
  for (const entry of config.accessProviders as AccessProviderConfig[]) {
    const factory = PROVIDER_FACTORIES[entry.type as ProviderType];
    if (!factory) {
      throw new TypeError(`provider ${entry.name}: type ${entry.type} is not available in this build`);
    }
    const brokerAudience = resolveProviderAudience(entry, config.brokerIdp);
    if (!brokerAudience) {
      throw new TypeError(
        `provider ${entry.name}: no broker-token audience (set audience or brokerIdp.audience)`,
      );
    }
    const deps: ProviderDeps = {
      httpTimeout: config.broker.httpTimeout,
      maxRetries: config.broker.maxRetries,
      retryDelay: config.broker.retryDelay,
      brokerAudience,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.telemetry ? { telemetry: options.telemetry } : {}),
      ...(options.http ? { http: options.http } : {}),
      ...(options.env ? { env: options.env } : {}),
    };
    // A spike of mints must not exhaust the upstream's quota: at most 32 calls in flight per provider.
    providers.set(entry.name, limitConcurrency(factory(entry, deps)));
  }
  return providers;
}
