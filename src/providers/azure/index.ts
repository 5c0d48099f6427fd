/**
 * The `azure` access provider: Microsoft Entra client-credentials grant with
 * the broker token as a federated client assertion (docs/configuration.md). Plain HTTPS
 * through the shared client; no Azure SDK.
 */
export { createAzureProvider, entraTokenUrl, JWT_BEARER } from './provider.ts';
