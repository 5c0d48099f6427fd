/**
 * The `azure` access provider (docs/configuration.md): one client-credentials request at
 * the Entra token endpoint with the broker token as client assertion
 * (workload identity federation). Entra chooses the lifetime; `expiry` is
 * computed from `expires_in`, counted from when the request was sent.
 */
import { randomUUID } from 'node:crypto';
import type { AccessProviderConfig } from '../../core/config/schema.ts';
import { UpstreamError } from '../../core/errors.ts';
import { AZURE_ENVIRONMENTS, DEFAULT_OUTPUTS, PROVIDER_FIELDS } from '../../core/providers-meta.ts';
import {
  type AccessProvider,
  type HttpClient,
  type HttpResponse,
  type MintInput,
  type MintOutput,
  noTelemetry,
  silentLogger,
} from '../../core/types.ts';
import { createHttpClient } from '../http.ts';
import { withRetry } from '../retry.ts';
import type { ProviderDeps } from '../types.ts';
import { EntraStatusError, entraRequestId, isRetryableEntraError, toUpstreamError } from './errors.ts';

/** The assertion type of a JWT client assertion (RFC 7523). */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const OPERATION = 'EntraTokenRequest';
const MAX_ANSWER_BYTES = 64 * 1024;

interface AzureContext {
  name: string;
  clientId: string;
  tokenUrl: string;
  deps: ProviderDeps;
  http: HttpClient;
}

/** The token endpoint of `tenantId` under `authorityHost` (no trailing slash needed). */
export function entraTokenUrl(authorityHost: string, tenantId: string): string {
  return `${authorityHost.replace(/\/+$/, '')}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`;
}

/** An azure provider; throws TypeError without tenantId or clientId. Authority from `environment` unless set. */
export function createAzureProvider(config: AccessProviderConfig, deps: ProviderDeps): AccessProvider {
  if (config.type !== 'azure') throw new TypeError(`provider ${config.name} is not of type azure`);
  if (!config.tenantId || !config.clientId) {
    throw new TypeError(`provider ${config.name} (azure) needs a tenantId and a clientId`);
  }
  const environment = AZURE_ENVIRONMENTS[config.environment ?? 'AzurePublicCloud'];
  const ctx: AzureContext = {
    name: config.name,
    clientId: config.clientId,
    tokenUrl: entraTokenUrl(config.authorityHost ?? environment.authorityHost, config.tenantId),
    deps,
    http: deps.http ?? createHttpClient(),
  };
  return {
    name: config.name,
    type: 'azure',
    audience: deps.brokerAudience,
    fields: PROVIDER_FIELDS.azure,
    defaultOutputs: DEFAULT_OUTPUTS.azure,
    durations: undefined,
    mint: (input) => mintAzure(ctx, input),
  };
}

async function mintAzure(ctx: AzureContext, input: MintInput): Promise<MintOutput> {
  const scope = input.key.scope;
  if (!scope) throw new UpstreamError('refused', 'invalid_scope: the key names no scope');
  if (!scope.endsWith('/.default') || /\s/.test(scope)) {
    throw new UpstreamError('refused', 'invalid_scope: the scope must be one resource ending /.default');
  }
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: ctx.clientId,
    scope,
    client_assertion_type: JWT_BEARER,
    client_assertion: input.brokerToken,
  });
  const sentAt = Date.now();
  const res = await requestToken(ctx, form.toString(), input.signal);
  return output(res, sentAt);
}

/** POSTs the form with retries (408/429/5xx, network), telemetry and a safe error. */
async function requestToken(ctx: AzureContext, body: string, signal: AbortSignal): Promise<HttpResponse> {
  const { deps } = ctx;
  const logger = deps.logger ?? silentLogger;
  const telemetry = deps.telemetry ?? noTelemetry;
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  // Entra echoes it as correlation_id, which ties our logs to Microsoft's.
  const headers = {
    accept: 'application/json',
    'content-type': 'application/x-www-form-urlencoded',
    'client-request-id': randomUUID(),
    'return-client-request-id': 'true',
  };
  try {
    const res = await withRetry(() => postOnce(ctx, headers, body, signal), {
      maxRetries: deps.maxRetries,
      retryDelay: deps.retryDelay,
      isRetryable: isRetryableEntraError,
      signal,
      onRetry: (attempt, err, delayMs) =>
        logger.debug(
          {
            provider: ctx.name,
            operation: OPERATION,
            attempt,
            delayMs,
            reason: toUpstreamError(err, false).reason,
          },
          'retrying Entra call',
        ),
    });
    telemetry.providerCall(ctx.name, OPERATION, 'success', seconds());
    return res;
  } catch (err) {
    telemetry.providerCall(ctx.name, OPERATION, 'failure', seconds());
    const mapped = toUpstreamError(err, signal.aborted);
    const detail = { ...(mapped.cause as object), clientRequestId: headers['client-request-id'] };
    logger.warn(
      { provider: ctx.name, operation: OPERATION, reason: mapped.reason, detail },
      'Entra call failed',
    );
    throw mapped;
  }
}

/** One attempt; a non-2xx answer becomes an EntraStatusError for the retry loop to judge. */
async function postOnce(
  ctx: AzureContext,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<HttpResponse> {
  const res = await ctx.http(ctx.tokenUrl, {
    method: 'POST',
    headers,
    body,
    timeoutMs: ctx.deps.httpTimeout,
    maxBytes: MAX_ANSWER_BYTES,
    signal,
  });
  if (res.status < 200 || res.status > 299) throw new EntraStatusError(res);
  return res;
}

function output(res: HttpResponse, sentAt: number): MintOutput {
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    json = undefined;
  }
  const token = json?.access_token;
  const expiresIn = Number(json?.expires_in);
  const type = json?.token_type;
  const bearer = typeof type !== 'string' || /^bearer$/i.test(type);
  if (
    typeof token !== 'string' ||
    token === '' ||
    !bearer ||
    !Number.isInteger(expiresIn) ||
    expiresIn <= 0
  ) {
    throw new UpstreamError(
      'refused',
      'malformed_response: Entra answered without an access token and expiry',
    );
  }
  const expiresAt = new Date(sentAt + expiresIn * 1000);
  const requestId = entraRequestId(res.headers);
  return {
    fields: { accessToken: token, expiry: expiresAt.toISOString() },
    expiresAt,
    audit: requestId ? { upstreamRequestId: requestId } : {},
  };
}
