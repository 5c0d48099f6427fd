/**
 * The `gcp` access provider (docs/configuration.md): the broker token is exchanged at
 * Google STS for a federated token (no Authorization header), which then
 * asks IAM Credentials to generateAccessToken for the key's service
 * account. The federated token never leaves the broker; it is reused per
 * broker token while it lives.
 */
import type { AccessProviderConfig } from '../../core/config/schema.ts';
import { UpstreamError } from '../../core/errors.ts';
import { DEFAULT_OUTPUTS, PROVIDER_FIELDS, providerDurations } from '../../core/providers-meta.ts';
import type { AccessProvider, Durations, MintInput, MintOutput } from '../../core/types.ts';
import { createHttpClient } from '../http.ts';
import type { ProviderDeps } from '../types.ts';
import { createGoogleCaller, type GoogleAnswer, type GoogleCaller } from './call.ts';
import { createFederatedCache, type FederatedCache } from './federated-cache.ts';
import {
  DEFAULT_IAM_ENDPOINT,
  DEFAULT_STS_ENDPOINT,
  generateAccessTokenBody,
  generateAccessTokenUrl,
  stsExchangeBody,
  trimSlashes,
} from './requests.ts';

interface GcpContext {
  /** The workloadIdentityProvider, sent as the STS audience. */
  audience: string;
  stsUrl: string;
  iamBase: string;
  durations: Durations;
  call: GoogleCaller;
  federated: FederatedCache;
}

/** A gcp provider; throws TypeError without a workloadIdentityProvider. Endpoints default to Google's. */
export function createGcpProvider(config: AccessProviderConfig, deps: ProviderDeps): AccessProvider {
  if (config.type !== 'gcp') throw new TypeError(`provider ${config.name} is not of type gcp`);
  if (!config.workloadIdentityProvider) {
    throw new TypeError(`provider ${config.name} (gcp) needs a workloadIdentityProvider`);
  }
  const durations = providerDurations('gcp', config.maxDuration);
  if (!durations) throw new TypeError('no duration rules for gcp');
  const ctx: GcpContext = {
    audience: config.workloadIdentityProvider,
    stsUrl: `${trimSlashes(config.stsEndpoint ?? DEFAULT_STS_ENDPOINT)}/v1/token`,
    iamBase: trimSlashes(config.endpoint ?? DEFAULT_IAM_ENDPOINT),
    durations,
    call: createGoogleCaller(config.name, deps, deps.http ?? createHttpClient()),
    federated: createFederatedCache(),
  };
  return {
    name: config.name,
    type: 'gcp',
    audience: deps.brokerAudience,
    fields: PROVIDER_FIELDS.gcp,
    defaultOutputs: DEFAULT_OUTPUTS.gcp,
    durations,
    mint: (input) => mintGcp(ctx, input),
  };
}

async function mintGcp(ctx: GcpContext, input: MintInput): Promise<MintOutput> {
  const { key, signal } = input;
  const account = key.serviceAccount;
  if (!account) throw new UpstreamError('refused', 'INVALID_ARGUMENT: the key names no serviceAccount');
  const lifetime = Math.max(ctx.durations.min, input.durationSeconds ?? ctx.durations.default);
  const federated = await federatedToken(ctx, input.brokerToken, signal);
  let answer: GoogleAnswer;
  try {
    answer = await ctx.call({
      service: 'iam',
      operation: 'GenerateAccessToken',
      url: generateAccessTokenUrl(ctx.iamBase, account),
      headers: { authorization: `Bearer ${federated}`, 'content-type': 'application/json' },
      body: generateAccessTokenBody(lifetime, key.scopes, key.delegates),
      signal,
    });
  } catch (err) {
    // After a refusal the next mint exchanges afresh: a federated token IAM
    // stopped accepting must not be offered again, and telling that case
    // apart from the others would mean trusting Google's wording.
    if (err instanceof UpstreamError && err.kind === 'refused') ctx.federated.drop(input.brokerToken);
    throw err;
  }
  return output(answer, account);
}

/** The cached federated token of this broker token, or a fresh STS exchange. */
async function federatedToken(ctx: GcpContext, brokerToken: string, signal: AbortSignal): Promise<string> {
  const cached = ctx.federated.get(brokerToken);
  if (cached) return cached;
  const sentAt = Date.now();
  const { json } = await ctx.call({
    service: 'sts',
    operation: 'StsTokenExchange',
    url: ctx.stsUrl,
    headers: { 'content-type': 'application/json' },
    body: stsExchangeBody(ctx.audience, brokerToken),
    signal,
  });
  const token = json.access_token;
  const type = json.token_type;
  if (typeof token !== 'string' || token === '' || (typeof type === 'string' && !/^bearer$/i.test(type))) {
    throw new UpstreamError('refused', 'MALFORMED_RESPONSE: Google STS answered without a federated token');
  }
  const expiresIn = Number(json.expires_in);
  if (Number.isFinite(expiresIn) && expiresIn > 0) ctx.federated.set(brokerToken, token, expiresIn, sentAt);
  return token;
}

function output(answer: GoogleAnswer, serviceAccount: string): MintOutput {
  const { accessToken, expireTime } = answer.json;
  const expiresAt = new Date(typeof expireTime === 'string' ? expireTime : Number.NaN);
  if (typeof accessToken !== 'string' || accessToken === '' || Number.isNaN(expiresAt.getTime())) {
    throw new UpstreamError(
      'refused',
      'MALFORMED_RESPONSE: IAM Credentials answered without an access token and expiry',
    );
  }
  return {
    fields: { accessToken, expireTime: expireTime as string },
    expiresAt,
    audit: {
      serviceAccount,
      ...(answer.requestId ? { upstreamRequestId: answer.requestId } : {}),
    },
  };
}
