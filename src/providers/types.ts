/**
 * What the provider layer shares: the dependencies every provider gets and
 * the factory shape a provider type plugs in with (see index.ts).
 */
import type { AccessProviderConfig } from '../core/config/schema.ts';
import type { AccessProvider, HttpClient, Logger, Telemetry } from '../core/types.ts';

/** What every provider gets besides its own config; times in ms. */
export interface ProviderDeps {
  httpTimeout: number;
  maxRetries: number;
  retryDelay: number;
  /** Audience of the broker token this provider presents (resolved per provider). */
  brokerAudience: string;
  logger?: Logger;
  telemetry?: Telemetry;
  /** Outbound HTTP for providers that speak plain HTTPS (gcp, azure); default a fresh createHttpClient(). */
  http?: HttpClient;
  /** Where the STS client's transport reads the proxy variables (createDispatcher in http.ts). */
  env?: Record<string, string | undefined>;
}

/** Builds one provider from its config. */
export type ProviderFactory = (config: AccessProviderConfig, deps: ProviderDeps) => AccessProvider;
