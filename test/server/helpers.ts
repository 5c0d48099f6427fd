/**
 * Fakes of the core ports (verifier, broker tokens, providers) and a config
 * fixture, for use-case and HTTP tests without any network.
 */
import { Value } from '@sinclair/typebox/value';
import { type Config, ConfigSchema } from '../../src/core/config/schema.ts';
import { InvalidTokenError, UpstreamError } from '../../src/core/errors.ts';
import {
  type CredentialBroker,
  createCredentialBroker,
  type MintRequest,
  type ReplayGuard,
} from '../../src/core/mint/index.ts';
import { DEFAULT_OUTPUTS, PROVIDER_FIELDS, providerDurations } from '../../src/core/providers-meta.ts';
import type {
  AccessProvider,
  BrokerTokenSource,
  MintInput,
  MintOutput,
  TokenVerifier,
  VerifiedToken,
} from '../../src/core/types.ts';
import { type AppOptions, buildApp } from '../../src/server/app.ts';

export const NOW = new Date('2030-01-01T00:00:00.000Z');
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';
export const MAIN_SUBJECT = 'repo:acme/app:ref:refs/heads/main';

/** Tokens the fake verifier accepts, and who they are. */
export const TOKENS = {
  main: 'main.token.sig',
  gitlabMain: 'gitlab-main.token.sig',
  stranger: 'stranger.token.sig',
} as const;

/** A validated-looking config: defaults filled by the schema. */
export function testConfig(
  overrides: { server?: Record<string, unknown>; denyRules?: ReadonlyArray<Record<string, unknown>> } = {},
): Config {
  const raw = {
    server: { requestTimeout: 2000, ...overrides.server },
    brokerIdp: { name: 'broker', issuer: 'https://idp.example.com', clientId: 'broker', clientSecret: 's' },
    clientIdps: [
      { name: 'github', issuer: GITHUB_ISSUER, audience: ['voidkey', 'second'] },
      { name: 'gitlab', issuer: 'https://gitlab.example.com', audience: 'vk-gitlab' },
      { name: 'anyaud', issuer: 'https://any.example.com', allowAnyAudience: true },
    ],
    accessProviders: [
      { name: 'aws-prod', type: 'aws-sts', region: 'us-east-1', audience: 'sts.aws', maxDuration: 7200 },
      { name: 'aws-dev', type: 'aws-sts', region: 'us-east-1', audience: 'sts.aws' },
      { name: 'minio-local', type: 'minio', endpoint: 'https://minio.example.com', audience: 'minio' },
      {
        name: 'gcp-prod',
        type: 'gcp',
        workloadIdentityProvider:
          '//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/b',
      },
      { name: 'azure-prod', type: 'azure', tenantId: 't', clientId: 'c' },
    ],
    clientIdentities: [
      {
        subject: MAIN_SUBJECT,
        idp: 'github',
        keys: {
          AWS_DEPLOY: {
            provider: 'aws-prod',
            description: 'Deploy to production',
            roleArn: 'arn:aws:iam::123456789012:role/Deploy',
            duration: 1800,
            outputs: {
              AWS_ACCESS_KEY_ID: 'AccessKeyId',
              AWS_SECRET_ACCESS_KEY: 'SecretAccessKey',
              AWS_SESSION_TOKEN: 'SessionToken',
              AWS_REGION: { value: 'us-east-1' },
              AWS_DEFAULT_REGION: 'eu-west-1',
            },
          },
          AWS_READ: { provider: 'aws-dev', roleArn: 'arn:aws:iam::123456789012:role/Read' },
          AWS_CHAINED: {
            provider: 'aws-dev',
            roleArn: 'arn:aws:iam::123456789012:role/A',
            assumeRole: { roleArn: 'arn:aws:iam::210987654321:role/B' },
          },
          MINIO_STORAGE: { provider: 'minio-local', duration: 3600 },
          GCP_DEPLOY: { provider: 'gcp-prod', serviceAccount: 'deploy@p.iam.gserviceaccount.com' },
          AZURE_DEPLOY: { provider: 'azure-prod', scope: 'https://management.azure.com/.default' },
        },
      },
      {
        subject: 'gitlab-user',
        idp: 'gitlab',
        keys: { AWS_READ: { provider: 'aws-dev', roleArn: 'arn:aws:iam::123456789012:role/Read' } },
      },
    ],
    denyRules: overrides.denyRules ?? [],
  };
  return Value.Default(ConfigSchema, raw) as Config;
}

/** A deny rule `name` on every branch of MAIN_SUBJECT's repository, removing `keys` (`'*'`: every key). */
export function branchDenyRule(name: string, keys: readonly string[]): Record<string, unknown> {
  return {
    name,
    idp: 'github',
    match: { sub: { glob: 'repo:acme/app:ref:refs/heads/*' } },
    keys,
    message: 'Reads are frozen.',
    onMissingClaim: 'deny',
  };
}

function verified(idp: string, iss: string, sub: string): VerifiedToken {
  return {
    iss,
    sub,
    idp,
    claims: { iss, sub },
    tokenId: `jti-${sub}`,
    expiresAt: NOW.getTime() / 1000 + 600,
  };
}

/** A verifier that knows TOKENS and refuses anything else like the real one would. */
export function fakeVerifier(): TokenVerifier & { calls: string[] } {
  const known: Record<string, VerifiedToken> = {
    [TOKENS.main]: verified('github', GITHUB_ISSUER, MAIN_SUBJECT),
    // The same subject as `main`, presented by another IdP.
    [TOKENS.gitlabMain]: verified('gitlab', 'https://gitlab.example.com', MAIN_SUBJECT),
    [TOKENS.stranger]: verified('github', GITHUB_ISSUER, 'repo:acme/other:ref:refs/heads/main'),
  };
  const calls: string[] = [];
  return {
    calls,
    async verify(token) {
      calls.push(token);
      if (token.length > 16 * 1024) throw new InvalidTokenError('token_too_large');
      if (token.split('.').length !== 3) throw new InvalidTokenError('malformed');
      const found = known[token];
      if (!found) throw new InvalidTokenError('signature_invalid');
      return found;
    },
  };
}

/** Broker tokens by audience, recording every request; `fail` makes an audience fail. */
export function fakeBrokerTokens(
  fail: Record<string, UpstreamError> = {},
  cached: readonly string[] = [],
): BrokerTokenSource & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async getToken(audience) {
      calls.push(audience);
      const failure = fail[audience];
      if (failure) throw failure;
      return `broker-token-for-${audience}`;
    },
    // Only the audiences in `cached` have a token at hand.
    cachedToken: (audience) => (cached.includes(audience) ? `broker-token-for-${audience}` : undefined),
  };
}

export type MintBehaviour = (input: MintInput) => Promise<MintOutput>;

/** A provider of `type` that records calls and in-flight concurrency. */
export interface FakeProvider extends AccessProvider {
  calls: MintInput[];
  maxInFlight: number;
  behaviour: MintBehaviour | undefined;
}

/** Default mint: fields derived from the key name, expiry now + duration (or 1 h). */
export function defaultOutput(provider: string, input: MintInput): MintOutput {
  const seconds = input.durationSeconds ?? 3600;
  const expiresAt = new Date(NOW.getTime() + seconds * 1000);
  const fields: Record<string, string> = {
    AccessKeyId: `AKIA${input.keyName}`,
    SecretAccessKey: `secret-${input.keyName}`,
    SessionToken: `session-${input.keyName}`,
    Expiration: expiresAt.toISOString(),
    accessToken: `access-${input.keyName}`,
    expireTime: expiresAt.toISOString(),
    expiry: expiresAt.toISOString(),
  };
  return {
    fields,
    expiresAt,
    audit: { role: input.key.roleArn, accessKeyId: fields.AccessKeyId, upstreamRequestId: `req-${provider}` },
  };
}

function fakeProvider(config: Config['accessProviders'][number], audience: string): FakeProvider {
  const type = config.type as AccessProvider['type'];
  let inFlight = 0;
  const provider: FakeProvider = {
    name: config.name,
    type,
    audience,
    fields: PROVIDER_FIELDS[type],
    defaultOutputs: DEFAULT_OUTPUTS[type],
    durations: providerDurations(type, config.maxDuration),
    calls: [],
    maxInFlight: 0,
    behaviour: undefined,
    async mint(input) {
      provider.calls.push(input);
      inFlight += 1;
      provider.maxInFlight = Math.max(provider.maxInFlight, inFlight);
      try {
        return provider.behaviour ? await provider.behaviour(input) : defaultOutput(config.name, input);
      } finally {
        inFlight -= 1;
      }
    },
  };
  return provider;
}

/** Everything a test needs to drive and observe the use cases. */
export interface World {
  config: Config;
  verifier: ReturnType<typeof fakeVerifier>;
  brokerTokens: ReturnType<typeof fakeBrokerTokens>;
  providers: Map<string, FakeProvider>;
  broker: CredentialBroker;
}

/** Builds the use cases over fakes for `config` (default: testConfig()). */
export function world(
  options: {
    config?: Config;
    failAudiences?: Record<string, UpstreamError>;
    /** Audiences whose broker token is at hand (BrokerTokenSource.cachedToken). */
    cachedAudiences?: readonly string[];
    replayGuard?: ReplayGuard;
  } = {},
): World {
  const config = options.config ?? testConfig();
  const verifier = fakeVerifier();
  const brokerTokens = fakeBrokerTokens(options.failAudiences, options.cachedAudiences);
  const audiences: Record<string, string> = {
    'gcp-prod': 'https://gcp.example',
    'azure-prod': 'api://AzureADTokenExchange',
  };
  const providers = new Map(
    config.accessProviders.map((p) => [p.name, fakeProvider(p, p.audience ?? (audiences[p.name] as string))]),
  );
  const broker = createCredentialBroker(config, {
    verifier,
    brokerTokens,
    providers,
    replayGuard: options.replayGuard,
    now: () => NOW,
  });
  return { config, verifier, brokerTokens, providers, broker };
}

/** The provider named `name` of `w` (throws when absent). */
export function providerOf(w: World, name: string): FakeProvider {
  const provider = w.providers.get(name);
  if (!provider) throw new Error(`no fake provider ${name}`);
  return provider;
}

/** The verified caller presenting `token` to `w`. */
export function callerOf(w: World, token: string): Promise<VerifiedToken> {
  return w.broker.authenticate(token, AbortSignal.timeout(5000));
}

/** What `work` throws or rejects with; throws when it succeeds. */
export async function errorOf(work: () => unknown): Promise<unknown> {
  let value: unknown;
  try {
    value = await work();
  } catch (error) {
    return error;
  }
  throw new Error(`expected an error, got ${JSON.stringify(value)}`);
}

/*
 * What the core answers, to compare an HTTP answer with. Asked again on the
 * world an app already served, the core answers the same: the fakes are
 * deterministic and the clock is frozen.
 */

/** The core's answer to `request` from the holder of `token`. */
export async function mintAnswer(w: World, token: string, request: MintRequest) {
  const caller = await callerOf(w, token);
  return (await w.broker.mint(caller, request, AbortSignal.timeout(5000))).response;
}

/** The error the core refuses `request` from the holder of `token` with. */
export async function mintRefusal(w: World, token: string, request: MintRequest): Promise<unknown> {
  const caller = await callerOf(w, token);
  return errorOf(() => w.broker.mint(caller, request, AbortSignal.timeout(5000)));
}

/** An app over `w` (no logger unless given). */
export function appFor(w: World, options: Partial<AppOptions> = {}) {
  return buildApp({ broker: w.broker, config: w.config, version: '9.9.9-test', ...options });
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export { UpstreamError };
