/**
 * Shared pieces of the azure provider tests: tenant, application, scope,
 * configs, inputs and a scripted HttpClient. The broker IdP (a local JWKS)
 * comes from the aws-sts fixture.
 */
import type { AccessProviderConfig, KeyConfig } from '../../../src/core/config/schema.ts';
import type { HttpClient, HttpRequest, MintInput } from '../../../src/core/types.ts';
import type { ProviderDeps } from '../../../src/providers/types.ts';

export const TENANT = '12345678-1234-1234-1234-123456789012';
export const CLIENT_ID = '87654321-4321-4321-4321-210987654321';
export const EXCHANGE_AUDIENCE = 'api://AzureADTokenExchange';
export const SCOPE = 'https://management.azure.com/.default';
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** An azure provider config whose authority is `url`. */
export function azureConfig(url: string, extra: Partial<AccessProviderConfig> = {}): AccessProviderConfig {
  return {
    name: 'azure-test',
    type: 'azure',
    tenantId: TENANT,
    clientId: CLIENT_ID,
    authorityHost: url,
    ...extra,
  };
}

/** Provider deps with fast retries. */
export function azureDeps(extra: Partial<ProviderDeps> = {}): ProviderDeps {
  return { httpTimeout: 2000, maxRetries: 2, retryDelay: 1, brokerAudience: EXCHANGE_AUDIENCE, ...extra };
}

/** A mint input for a key with SCOPE; azure keys have no duration. */
export function azureMint(brokerToken: string, key: Partial<KeyConfig> = {}, extra: Partial<MintInput> = {}) {
  return {
    keyName: 'AZURE_DEPLOY',
    key: { provider: 'azure-test', scope: SCOPE, ...key },
    durationSeconds: undefined,
    brokerToken,
    subject: 'repo:myorg/myapp:ref:refs/heads/main',
    issuer: 'https://token.actions.githubusercontent.com',
    signal: new AbortController().signal,
    ...extra,
  } satisfies MintInput;
}

/** An HttpClient answering every call with `status` and `body`, recording the requests. */
export function scriptedHttp(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpClient & { seen: Array<{ url: string; request: HttpRequest }> } {
  const seen: Array<{ url: string; request: HttpRequest }> = [];
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const client = async (url: string, request: HttpRequest) => {
    seen.push({ url, request });
    return { status, headers, body: Buffer.from(text) };
  };
  return Object.assign(client, { seen });
}
