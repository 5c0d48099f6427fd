/**
 * The `gcp` access provider: Google STS token exchange of the broker token,
 * then IAM Credentials generateAccessToken for the key's service account
 * (docs/configuration.md). Plain HTTPS through the shared client; no Google SDK.
 */
export { createGcpProvider } from './provider.ts';
export { DEFAULT_IAM_ENDPOINT, DEFAULT_STS_ENDPOINT, delegateName, GOOGLE } from './requests.ts';
