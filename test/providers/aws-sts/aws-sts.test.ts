import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { UpstreamError } from '../../../src/core/errors.ts';
import type { AccessProvider } from '../../../src/core/types.ts';
import { type StsServer, startStsServer } from '../../../src/dev/sts-server.ts';
import { createAwsStsProvider } from '../../../src/providers/aws-sts/index.ts';
import {
  captureCalls,
  deps,
  GITHUB_SUB,
  mintInput,
  providerConfig,
  ROLE,
  STS_AUDIENCE,
  startTestIssuer,
  TARGET_ROLE,
  type TestIssuer,
} from './fixture.ts';

// Ambient AWS configuration that must never be consulted: a profile that does
// not exist and static keys STS would reject (it only knows keys it issued).
process.env.AWS_PROFILE = 'voidkey-test-profile-that-does-not-exist';
process.env.AWS_ACCESS_KEY_ID = 'AKIAAMBIENTAMBIENT00';
process.env.AWS_SECRET_ACCESS_KEY = 'ambient-secret-never-used';
process.env.AWS_REGION = 'eu-west-3';

const GITHUB_ISS = 'https://token.actions.githubusercontent.com';
const expectedSessionName = `voidkey-repo-myorg-myapp-ref-refs-heads-main-${createHash('sha256')
  .update(`${GITHUB_ISS}|${GITHUB_SUB}`)
  .digest('hex')
  .slice(0, 8)}`;

const refusal = (reason: string) => (err: unknown) => {
  assert.ok(err instanceof UpstreamError, String(err));
  assert.equal(err.kind, 'refused');
  assert.equal(err.reason, reason);
  return true;
};

describe('aws-sts provider against the STS query protocol', () => {
  let issuer: TestIssuer;
  let sts: StsServer;
  let provider: AccessProvider;
  let token: string;
  const telemetry = captureCalls();

  before(async () => {
    issuer = await startTestIssuer();
    sts = await startStsServer({ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: STS_AUDIENCE });
    provider = createAwsStsProvider(providerConfig(sts.url), deps({ telemetry }));
    token = await issuer.sign();
  });
  beforeEach(() => {
    telemetry.calls.length = 0;
    sts.calls.length = 0;
  });
  after(async () => {
    await sts.close();
    issuer.close();
  });

  const lastCall = () => sts.calls.at(-1);

  test('mints all four fields with expiresAt and the audit facts', async () => {
    const before = Date.now();
    const out = await provider.mint(mintInput(token));
    assert.deepEqual(Object.keys(out.fields), [
      'AccessKeyId',
      'SecretAccessKey',
      'SessionToken',
      'Expiration',
    ]);
    assert.match(out.fields.AccessKeyId ?? '', /^ASIA[A-Z2-7]{16}$/);
    assert.equal(out.fields.SecretAccessKey?.length, 40);
    assert.ok((out.fields.SessionToken?.length ?? 0) > 100);
    assert.equal(out.fields.Expiration, out.expiresAt.toISOString());
    const lifetime = out.expiresAt.getTime() - before;
    assert.ok(lifetime > 895_000 && lifetime <= 901_000, `lifetime ${lifetime}`);
    assert.equal(out.audit.role, ROLE);
    assert.equal(out.audit.sessionName, expectedSessionName);
    assert.equal(out.audit.accessKeyId, out.fields.AccessKeyId);
    assert.match(out.audit.upstreamRequestId ?? '', /^[0-9a-f-]{36}$/);
    assert.deepEqual(lastCall()?.params, {
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: ROLE,
      RoleSessionName: expectedSessionName,
      DurationSeconds: '900',
    });
    assert.deepEqual(telemetry.calls, ['AssumeRoleWithWebIdentity:success']);
  });

  test('exposes the aws-sts fields, default outputs, audience and durations', () => {
    assert.equal(provider.name, 'aws-test');
    assert.equal(provider.type, 'aws-sts');
    assert.equal(provider.audience, STS_AUDIENCE);
    assert.deepEqual(provider.fields, ['AccessKeyId', 'SecretAccessKey', 'SessionToken', 'Expiration']);
    assert.deepEqual(provider.defaultOutputs, {
      AWS_ACCESS_KEY_ID: 'AccessKeyId',
      AWS_SECRET_ACCESS_KEY: 'SecretAccessKey',
      AWS_SESSION_TOKEN: 'SessionToken',
    });
    assert.deepEqual(provider.durations, { min: 900, default: 3600, max: 43200, chainedMax: 3600 });
    const capped = createAwsStsProvider(providerConfig(sts.url, { maxDuration: 1800 }), deps());
    assert.deepEqual(capped.durations, { min: 900, default: 1800, max: 1800, chainedMax: 1800 });
  });

  test('sends the default duration when none is given and raises short ones to 900 s', async () => {
    await provider.mint(mintInput(token, {}, { durationSeconds: undefined }));
    assert.equal(lastCall()?.params.DurationSeconds, '3600');
    await provider.mint(mintInput(token, {}, { durationSeconds: 60 }));
    assert.equal(lastCall()?.params.DurationSeconds, '900');
  });

  test('uses a configured roleSessionName as it is', async () => {
    const out = await provider.mint(mintInput(token, { roleSessionName: 'deploy' }));
    assert.equal(lastCall()?.params.RoleSessionName, 'deploy');
    assert.equal(out.audit.sessionName, 'deploy');
  });

  test('sends the packed policy and the policy ARNs', async () => {
    const policy =
      '{\n  "Version": "2012-10-17",\n  "Statement": [ { "Effect": "Allow", "Action": "s3:*", "Resource": "*" } ]\n}';
    const arns = ['arn:aws:iam::aws:policy/ReadOnlyAccess', 'arn:aws:iam::123456789012:policy/Extra'];
    await provider.mint(mintInput(token, { policy, policyArns: arns }));
    const params = lastCall()?.params ?? {};
    assert.equal(
      params.Policy,
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
    );
    assert.equal(params['PolicyArns.member.1.arn'], arns[0]);
    assert.equal(params['PolicyArns.member.2.arn'], arns[1]);
    assert.equal(params['PolicyArns.member.3.arn'], undefined);
  });

  test('refuses a key outside AWS limits before calling STS', async () => {
    const requests = sts.stats.requests;
    const big = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'x'.repeat(2100) }] });
    await assert.rejects(
      provider.mint(mintInput(token, { policy: big })),
      refusal('PackedPolicyTooLarge: the session policy exceeds 2048 characters'),
    );
    await assert.rejects(
      provider.mint(mintInput(token, { policy: '{not json' })),
      refusal('MalformedPolicyDocument: the session policy is not valid JSON'),
    );
    const eleven = Array.from({ length: 11 }, (_, i) => `arn:aws:iam::aws:policy/P${i}`);
    await assert.rejects(
      provider.mint(mintInput(token, { policyArns: eleven })),
      refusal('ValidationError: more than 10 policy ARNs'),
    );
    assert.equal(sts.stats.requests, requests);
  });

  test('chains AssumeRole with ExternalId, merged Tags, SourceIdentity and at most 3600 s', async () => {
    const chained = createAwsStsProvider(
      providerConfig(sts.url, { externalId: 'provider-ext', tags: { ManagedBy: 'voidkey', team: 'base' } }),
      deps({ telemetry }),
    );
    const policy = '{ "Version": "2012-10-17" }';
    const key = { policy, assumeRole: { roleArn: TARGET_ROLE, externalId: 'key-ext', tags: { team: 'a' } } };
    const out = await chained.mint(mintInput(token, key, { durationSeconds: 7200 }));
    const [first, second] = sts.calls;
    assert.deepEqual(first?.params, {
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: ROLE,
      RoleSessionName: expectedSessionName,
      DurationSeconds: '900',
    });
    assert.deepEqual(second?.params, {
      Action: 'AssumeRole',
      Version: '2011-06-15',
      RoleArn: TARGET_ROLE,
      RoleSessionName: expectedSessionName,
      DurationSeconds: '3600',
      ExternalId: 'key-ext',
      'Tags.member.1.Key': 'ManagedBy',
      'Tags.member.1.Value': 'voidkey',
      'Tags.member.2.Key': 'team',
      'Tags.member.2.Value': 'a',
      SourceIdentity: expectedSessionName.slice('voidkey-'.length),
      Policy: '{"Version":"2012-10-17"}',
    });
    assert.equal(second?.signedBy?.roleArn, ROLE);
    assert.equal(out.audit.role, TARGET_ROLE);
    assert.equal(out.audit.accessKeyId, out.fields.AccessKeyId);
    assert.notEqual(out.fields.AccessKeyId, second?.signedBy?.accessKeyId);
    assert.deepEqual(telemetry.calls, ['AssumeRoleWithWebIdentity:success', 'AssumeRole:success']);
  });

  test('the second hop falls back to the provider ExternalId', async () => {
    const chained = createAwsStsProvider(providerConfig(sts.url, { externalId: 'provider-ext' }), deps());
    await chained.mint(mintInput(token, { assumeRole: { roleArn: TARGET_ROLE } }));
    assert.equal(lastCall()?.params.ExternalId, 'provider-ext');
    assert.equal(lastCall()?.params['Tags.member.1.Key'], undefined);
  });

  test('concurrent chained mints each sign the second hop with their own first-hop session', async () => {
    const subjects = Array.from({ length: 8 }, (_, i) => `repo:org/app${i}:ref:refs/heads/main`);
    const key = { assumeRole: { roleArn: TARGET_ROLE } };
    await Promise.all(subjects.map((subject) => provider.mint(mintInput(token, key, { subject }))));
    const hops = sts.calls.filter((c) => c.action === 'AssumeRole');
    assert.equal(hops.length, subjects.length);
    for (const hop of hops) assert.equal(hop.signedBy?.sessionName, hop.params.RoleSessionName);
    assert.equal(new Set(hops.map((h) => h.signedBy?.accessKeyId)).size, subjects.length);
  });

  test('concurrent first hops each send their own role, session name and duration', async () => {
    const subjects = Array.from({ length: 8 }, (_, i) => `repo:org/app${i}:ref:refs/heads/main`);
    const outs = await Promise.all(
      subjects.map((subject, i) =>
        provider.mint(mintInput(token, { roleArn: `${ROLE}${i}` }, { subject, durationSeconds: 900 + i })),
      ),
    );
    const hops = sts.calls.filter((c) => c.action === 'AssumeRoleWithWebIdentity');
    assert.equal(hops.length, subjects.length);
    subjects.forEach((subject, i) => {
      const hop = hops.find((h) => h.params.RoleArn === `${ROLE}${i}`);
      assert.ok(hop, `a call for role ${i}`);
      assert.match(hop.params.RoleSessionName ?? '', new RegExp(`^voidkey-repo-org-app${i}-`));
      assert.equal(hop.params.DurationSeconds, String(900 + i));
      assert.equal(outs[i]?.audit?.role, `${ROLE}${i}`, subject);
    });
  });

  test('never consults ambient AWS credentials or profiles', async () => {
    assert.equal(process.env.AWS_PROFILE, 'voidkey-test-profile-that-does-not-exist');
    const out = await provider.mint(mintInput(token, { assumeRole: { roleArn: TARGET_ROLE } }));
    assert.match(out.fields.AccessKeyId ?? '', /^ASIA/);
    assert.match(lastCall()?.signedBy?.accessKeyId ?? '', /^ASIA/);
  });

  test('a token for another audience is refused with InvalidIdentityToken and not retried', async () => {
    const requests = sts.stats.requests;
    const wrong = await issuer.sign({ aud: 'another-cloud' });
    await assert.rejects(provider.mint(mintInput(wrong)), (err) => {
      refusal('InvalidIdentityToken: STS rejected the broker token')(err);
      assert.match((err as UpstreamError).upstreamRequestId ?? '', /^[0-9a-f-]{36}$/);
      return true;
    });
    assert.equal(sts.stats.requests, requests + 1);
    assert.deepEqual(telemetry.calls, ['AssumeRoleWithWebIdentity:failure']);
  });

  test('AccessDenied is a refusal', async () => {
    sts.failNext('AccessDenied');
    await assert.rejects(
      provider.mint(mintInput(token)),
      refusal('AccessDenied: the role does not trust this broker identity'),
    );
  });

  test('throttling is retried and then succeeds', async () => {
    const requests = sts.stats.requests;
    sts.failNext('Throttling', 2);
    const out = await provider.mint(mintInput(token));
    assert.match(out.fields.AccessKeyId ?? '', /^ASIA/);
    assert.equal(sts.stats.requests, requests + 3);
  });

  test('ServiceUnavailable is retried', async () => {
    sts.failNext('ServiceUnavailable');
    await provider.mint(mintInput(token));
    assert.deepEqual(telemetry.calls, ['AssumeRoleWithWebIdentity:success']);
  });

  test('throttling beyond the retries is unavailable', async () => {
    const requests = sts.stats.requests;
    sts.failNext('Throttling', 3);
    await assert.rejects(provider.mint(mintInput(token)), (err) => {
      assert.ok(err instanceof UpstreamError);
      assert.equal(err.kind, 'unavailable');
      assert.equal(err.reason, 'Throttling: STS unavailable after retries');
      return true;
    });
    assert.equal(sts.stats.requests, requests + 3);
  });
});
