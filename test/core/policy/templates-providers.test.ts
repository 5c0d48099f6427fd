/**
 * Templates reach the clouds: keys rendered by the policy for one caller go
 * through the mint use case to the real providers (aws-sts with its
 * assumeRole hop, minio, gcp, azure), and the local peers record what each
 * one received. A key whose rendering fails never reaches a provider.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { type Config, ConfigSchema } from '../../../src/core/config/schema.ts';
import { ForbiddenError } from '../../../src/core/errors.ts';
import { type CredentialBroker, createCredentialBroker } from '../../../src/core/mint/index.ts';
import { compilePolicy } from '../../../src/core/policy/index.ts';
import type { VerifiedToken } from '../../../src/core/types.ts';
import { type AzureServer, startAzureServer } from '../../../src/dev/azure-server.ts';
import { type GcpServer, startGcpServer } from '../../../src/dev/gcp-server.ts';
import { type StsServer, startStsServer } from '../../../src/dev/sts-server.ts';
import { createProviders } from '../../../src/providers/index.ts';
import { STS_AUDIENCE, startTestIssuer, type TestIssuer } from '../../providers/aws-sts/fixture.ts';
import { azureConfig, SCOPE } from '../../providers/azure/fixture.ts';
import { gcpConfig, WIP } from '../../providers/gcp/fixture.ts';
import { GITHUB } from './helpers.ts';

process.env.AWS_PROFILE = 'voidkey-test-profile-that-does-not-exist';

const CLAIMS = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../fixtures/claims/github-actions-environment.json'), 'utf8'),
) as Record<string, unknown>;
const bucketPolicy = (resource: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: resource }],
  });

const KEYS = {
  AWS_KEY: {
    provider: 'aws',
    roleArn: 'arn:aws:iam::123456789012:role/deploy-{{ match.env }}',
    roleSessionName: 'gha-{{ claims.repository_id }}-{{ claims.run_id }}',
    policy: bucketPolicy('arn:aws:s3:::artifacts/{{ claims.repository | path(2) }}/*'),
    policyArns: ['arn:aws:iam::123456789012:policy/{{ match.env }}-read'],
    assumeRole: {
      roleArn: 'arn:aws:iam::210987654321:role/target-{{ match.env }}',
      tags: { repository: '{{ claims.repository_id }}', env: '{{ match.env }}', via: '{{ identity.name }}' },
    },
  },
  MINIO_KEY: { provider: 'minio', policy: bucketPolicy('arn:aws:s3:::{{ claims.actor | lower }}/*') },
  GCP_KEY: {
    provider: 'gcp',
    serviceAccount: 'deploy-{{ match.env }}@my-project-123.iam.gserviceaccount.com',
    description: 'deploys {{ claims.repository }}',
  },
  AZURE_KEY: {
    provider: 'azure',
    scope: SCOPE,
    outputs: { AZURE_ACCESS_TOKEN: 'accessToken', DEPLOY_ENV: { value: '{{ match.env }}' } },
  },
};

describe('rendered recipes reach the providers', () => {
  let issuer: TestIssuer;
  let aws: StsServer;
  let minio: StsServer;
  let google: GcpServer;
  let entra: AzureServer;
  let config: Config;
  let broker: CredentialBroker;

  const caller = (extra: Record<string, unknown> = {}): VerifiedToken => {
    const claims = { ...CLAIMS, ...extra };
    return {
      iss: GITHUB,
      sub: claims.sub as string,
      idp: 'gh',
      claims,
      tokenId: `jti-${Math.random()}`,
      expiresAt: Math.floor(Date.now() / 1000) + 600,
    };
  };
  const mint = (keys: string[], extra?: Record<string, unknown>) =>
    broker.mint(caller(extra), { keys }, AbortSignal.timeout(10_000));

  before(async () => {
    issuer = await startTestIssuer();
    const peer = { issuer: issuer.issuer, jwksUri: issuer.jwksUri };
    aws = await startStsServer({ ...peer, audience: STS_AUDIENCE });
    minio = await startStsServer({ ...peer, audience: STS_AUDIENCE, dialect: 'minio' });
    google = await startGcpServer({ ...peer, workloadIdentityProvider: WIP });
    entra = await startAzureServer({ ...peer, tenantId: 'tenant-1', clientId: 'app-1' });
    config = Value.Default(ConfigSchema, {
      brokerIdp: { name: 'broker', issuer: issuer.issuer, clientId: 'broker', clientSecret: 's' },
      clientIdps: [
        { name: 'gh', issuer: GITHUB, audience: 'voidkey', require: { repository_owner_id: '49812345' } },
      ],
      accessProviders: [
        { name: 'aws', type: 'aws-sts', region: 'us-east-1', endpoint: aws.url, audience: STS_AUDIENCE },
        { name: 'minio', type: 'minio', endpoint: minio.url, audience: STS_AUDIENCE },
        gcpConfig(google.url, { name: 'gcp' }),
        azureConfig(entra.url, { name: 'azure', tenantId: 'tenant-1', clientId: 'app-1' }),
      ],
      keys: KEYS,
      clientIdentities: [
        {
          name: 'deployers',
          idp: 'gh',
          match: {
            repository_id: '612345678',
            environment: { regex: '(?P<env>production|staging)' },
          },
          grants: Object.keys(KEYS),
        },
      ],
    }) as Config;
    const providers = createProviders(config, { env: {} });
    const audiences = new Map([...providers.values()].map((p) => [p.name, p.audience]));
    assert.equal(audiences.size, 4);
    broker = createCredentialBroker(config, {
      verifier: { verify: async () => assert.fail('not used') },
      brokerTokens: {
        getToken: (audience) => issuer.sign({ aud: audience }),
        cachedToken: () => undefined,
      },
      providers,
    });
  });
  beforeEach(() => {
    aws.calls.length = 0;
    minio.calls.length = 0;
    google.calls.length = 0;
    entra.calls.length = 0;
  });
  after(async () => {
    await aws.close();
    await minio.close();
    await google.close();
    await entra.close();
    issuer.close();
  });

  test('aws-sts: role and session name on the first hop; role, tags, policy and policy ARNs on the assumeRole hop', async () => {
    const result = await mint(['AWS_KEY']);
    assert.match(result.response.credentials.AWS_KEY?.AWS_ACCESS_KEY_ID ?? '', /^ASIA/);
    const [first, hop] = aws.calls;
    assert.equal(first?.action, 'AssumeRoleWithWebIdentity');
    assert.equal(first?.params.RoleArn, 'arn:aws:iam::123456789012:role/deploy-production');
    assert.equal(first?.params.RoleSessionName, 'gha-612345678-9988776655');
    assert.equal(hop?.action, 'AssumeRole');
    assert.equal(hop?.params.RoleArn, 'arn:aws:iam::210987654321:role/target-production');
    // With a chain, the session policies restrict the last hop.
    assert.deepEqual(
      JSON.parse(hop?.params.Policy ?? ''),
      JSON.parse(bucketPolicy('arn:aws:s3:::artifacts/acme-corp/payments-api/*')),
    );
    assert.equal(hop?.params['PolicyArns.member.1.arn'], 'arn:aws:iam::123456789012:policy/production-read');
    const tags = Object.fromEntries(
      [1, 2, 3].map((n) => [hop?.params[`Tags.member.${n}.Key`], hop?.params[`Tags.member.${n}.Value`]]),
    );
    assert.deepEqual(tags, { repository: '612345678', env: 'production', via: 'deployers' });
  });

  test('each caller gets its own rendering: another environment, repository and run', async () => {
    await mint(['AWS_KEY'], {
      environment: 'staging',
      repository_id: '612345678',
      repository: 'acme-corp/web',
      run_id: '1',
    });
    const [first, hop] = aws.calls;
    assert.equal(first?.params.RoleArn, 'arn:aws:iam::123456789012:role/deploy-staging');
    assert.equal(first?.params.RoleSessionName, 'gha-612345678-1');
    assert.match(hop?.params.Policy ?? '', /artifacts\/acme-corp\/web\/\*/);
    assert.equal(hop?.params['Tags.member.2.Value'], 'staging');
  });

  test('minio: the per-user bucket policy', async () => {
    await mint(['MINIO_KEY'], { actor: 'Dev-Alice' });
    const call = minio.calls.at(-1);
    assert.deepEqual(
      JSON.parse(call?.params.Policy ?? ''),
      JSON.parse(bucketPolicy('arn:aws:s3:::dev-alice/*')),
    );
  });

  test('gcp: the service account chosen by the capture', async () => {
    await mint(['GCP_KEY'], { environment: 'staging' });
    const generate = google.calls.find((c) => c.route === 'generateAccessToken');
    assert.equal(generate?.status, 200);
    assert.equal(generate?.serviceAccount, 'deploy-staging@my-project-123.iam.gserviceaccount.com');
  });

  test('azure: literal outputs rendered into the credentials (its scope takes no template)', async () => {
    const result = await mint(['AZURE_KEY']);
    assert.equal(result.response.credentials.AZURE_KEY?.DEPLOY_ENV, 'production');
    assert.match(result.response.credentials.AZURE_KEY?.AZURE_ACCESS_TOKEN ?? '', /\S{20,}/);
    assert.equal(entra.calls.length, 1);
    const templatedScope = {
      ...config,
      keys: { AZ: { provider: 'azure', scope: '{{ match.env }}/.default' } },
    };
    assert.throws(
      () => compilePolicy(templatedScope as Config),
      /keys\.AZ\.scope: templates are not allowed/,
    );
  });

  test('a key whose rendering fails is refused with its reason and never reaches a provider', async () => {
    await assert.rejects(
      mint(['AWS_KEY', 'MINIO_KEY'], { repository: 'acme-corp/*', actor: 'a/b' }),
      (err) => {
        assert.ok(err instanceof ForbiddenError, String(err));
        assert.deepEqual(
          { ...(err.details as { reasons: object }).reasons },
          { AWS_KEY: 'template_value_unsafe', MINIO_KEY: 'template_value_unsafe' },
        );
        return true;
      },
    );
    assert.equal(aws.calls.length + minio.calls.length, 0);
  });
});
