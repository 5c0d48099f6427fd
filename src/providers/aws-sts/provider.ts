/**
 * The STS protocol behind both `aws-sts` and `minio`: AssumeRoleWithWebIdentity
 * with the broker token, and for aws-sts an optional second hop (AssumeRole)
 * signed with the first hop's session. One client per provider; our own
 * retry (throttling, IdP trouble, 5xx, network only) inside the request's
 * deadline; failures mapped to UpstreamError with the AWS code and a fixed
 * phrase.
 */
import { AssumeRoleCommand, type Credentials } from '@aws-sdk/client-sts';
import type { AccessProviderConfig } from '../../core/config/schema.ts';
import { UpstreamError } from '../../core/errors.ts';
import { DEFAULT_OUTPUTS, PROVIDER_FIELDS, providerDurations } from '../../core/providers-meta.ts';
import {
  type AccessProvider,
  type Durations,
  type MintInput,
  type MintOutput,
  noTelemetry,
  silentLogger,
} from '../../core/types.ts';
import { withRetry } from '../retry.ts';
import type { ProviderDeps } from '../types.ts';
import { createStsClient, type HopCredentials, type StsClientHandle } from './client.ts';
import { isRetryableStsError, toUpstreamError } from './errors.ts';
import { packPolicy, policyArns, sessionNames, sessionTags, sourceIdentity } from './request-parts.ts';

/** The two dialects of the protocol. */
export type StsFlavor = 'aws-sts' | 'minio';

interface StsAnswer {
  Credentials?: Credentials | undefined;
  $metadata: { requestId?: string | undefined };
}

/** An STS-protocol provider of `flavor` (shared by createAwsStsProvider and createMinioProvider). */
export function createStsProvider(
  config: AccessProviderConfig,
  deps: ProviderDeps,
  flavor: StsFlavor,
): AccessProvider {
  const durations = providerDurations(flavor, config.maxDuration);
  if (!durations) throw new TypeError(`no duration rules for ${flavor}`);
  const ctx: StsContext = {
    config,
    flavor,
    durations,
    sts: createStsClient({
      ...(config.region ? { region: config.region } : {}),
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      httpTimeout: deps.httpTimeout,
      ...(deps.env ? { env: deps.env } : {}),
    }),
    call: stsCaller(config.name, deps),
    sessionName: sessionNames(),
  };
  return {
    name: config.name,
    type: flavor,
    audience: deps.brokerAudience,
    fields: PROVIDER_FIELDS[flavor],
    defaultOutputs: DEFAULT_OUTPUTS[flavor],
    durations,
    mint: (input) => mintSts(ctx, input),
  };
}

interface StsContext {
  config: AccessProviderConfig;
  flavor: StsFlavor;
  durations: Durations;
  sts: StsClientHandle;
  call: ReturnType<typeof stsCaller>;
  /** Default RoleSessionName of a caller (remembered for this provider's life). */
  sessionName: ReturnType<typeof sessionNames>;
}

/** One mint: AssumeRoleWithWebIdentity, then (aws-sts with `assumeRole`) AssumeRole with that session. */
async function mintSts(ctx: StsContext, input: MintInput): Promise<MintOutput> {
  const { key, signal } = input;
  const { client, assumeRoleWithWebIdentity, withCredentials } = ctx.sts;
  if (ctx.flavor === 'aws-sts' && !key.roleArn) throw refuse('the key names no roleArn');
  const sessionName = key.roleSessionName ?? ctx.sessionName(input.issuer, input.subject);
  const duration = Math.max(ctx.durations.min, input.durationSeconds ?? ctx.durations.default);
  const chain = ctx.flavor === 'aws-sts' ? key.assumeRole : undefined;
  // Checked before any call: a key outside AWS's limits never reaches STS.
  const restrictions = finalHopOptions(input, ctx.flavor);
  const tags = chain ? sessionTags(ctx.config.tags, chain.tags) : undefined;
  const first = await ctx.call('AssumeRoleWithWebIdentity', signal, (abortSignal) =>
    assumeRoleWithWebIdentity(
      {
        RoleArn: key.roleArn,
        RoleSessionName: sessionName,
        WebIdentityToken: input.brokerToken,
        // The first hop of a chain only has to live long enough to sign the second.
        DurationSeconds: chain ? ctx.durations.min : duration,
        Policy: chain ? undefined : restrictions.Policy,
        PolicyArns: chain ? undefined : restrictions.PolicyArns,
      },
      abortSignal,
    ),
  );
  if (!chain) return output(first, key.roleArn, sessionName);
  const second = await withCredentials(hopCredentials(first), () =>
    ctx.call('AssumeRole', signal, (abortSignal) =>
      client.send(
        new AssumeRoleCommand({
          RoleArn: chain.roleArn,
          RoleSessionName: sessionName,
          DurationSeconds: Math.min(duration, ctx.durations.chainedMax ?? ctx.durations.max),
          ExternalId: chain.externalId ?? ctx.config.externalId,
          Tags: tags,
          SourceIdentity: sourceIdentity(input.issuer, input.subject),
          Policy: restrictions.Policy,
          PolicyArns: restrictions.PolicyArns,
        }),
        { abortSignal },
      ),
    ),
  );
  return output(second, chain.roleArn, sessionName);
}

/** Session policy (both flavors) and policy ARNs (aws-sts) apply to the credentials handed out. */
function finalHopOptions(input: MintInput, flavor: StsFlavor) {
  const policy = packPolicy(input.key.policy);
  const arns = flavor === 'aws-sts' ? policyArns(input.key.policyArns) : undefined;
  return { Policy: policy, PolicyArns: arns };
}

/** Runs one STS operation with retries, telemetry and error mapping. */
function stsCaller(provider: string, deps: ProviderDeps) {
  const logger = deps.logger ?? silentLogger;
  const telemetry = deps.telemetry ?? noTelemetry;
  return async <T>(operation: string, signal: AbortSignal, send: (signal: AbortSignal) => Promise<T>) => {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    try {
      const answer = await withRetry(() => send(signal), {
        maxRetries: deps.maxRetries,
        retryDelay: deps.retryDelay,
        isRetryable: isRetryableStsError,
        signal,
        onRetry: (attempt, err, delayMs) =>
          logger.debug(
            { provider, operation, attempt, delayMs, reason: toUpstreamError(err, operation, false).reason },
            'retrying STS call',
          ),
      });
      telemetry.providerCall(provider, operation, 'success', seconds());
      return answer;
    } catch (err) {
      telemetry.providerCall(provider, operation, 'failure', seconds());
      const mapped = toUpstreamError(err, operation, signal.aborted);
      logger.warn({ provider, operation, reason: mapped.reason, detail: mapped.cause }, 'STS call failed');
      throw mapped;
    }
  };
}

interface CompleteCredentials {
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: Date;
}

function complete(answer: StsAnswer): CompleteCredentials {
  const c = answer.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !(c.Expiration instanceof Date)) {
    throw refuse('STS answered without complete credentials');
  }
  return {
    AccessKeyId: c.AccessKeyId,
    SecretAccessKey: c.SecretAccessKey,
    SessionToken: c.SessionToken,
    Expiration: c.Expiration,
  };
}

function hopCredentials(answer: StsAnswer): HopCredentials {
  const c = complete(answer);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
}

function output(answer: StsAnswer, role: string | undefined, sessionName: string): MintOutput {
  const c = complete(answer);
  const requestId = answer.$metadata.requestId;
  // In the order the audit log shows the fields.
  const audit: MintOutput['audit'] = {};
  if (role) audit.role = role;
  audit.sessionName = sessionName;
  audit.accessKeyId = c.AccessKeyId;
  if (requestId) audit.upstreamRequestId = requestId;
  return {
    fields: {
      AccessKeyId: c.AccessKeyId,
      SecretAccessKey: c.SecretAccessKey,
      SessionToken: c.SessionToken,
      Expiration: c.Expiration.toISOString(),
    },
    expiresAt: c.Expiration,
    audit,
  };
}

function refuse(reason: string): UpstreamError {
  return new UpstreamError('refused', `ValidationError: ${reason}`);
}
