import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { AccessProvider } from '../../../src/core/types.ts';
import { type StsServer, startStsServer } from '../../../src/dev/sts-server.ts';
import { createMinioProvider } from '../../../src/providers/minio/index.ts';
import {
  deps,
  mintInput,
  STS_AUDIENCE,
  startTestIssuer,
  TARGET_ROLE,
  type TestIssuer,
} from '../aws-sts/fixture.ts';

process.env.AWS_PROFILE = 'voidkey-test-profile-that-does-not-exist';

const MINIO_ROLE = 'arn:minio:iam:::role/dummy-internal';

describe('minio provider', () => {
  let issuer: TestIssuer;
  let sts: StsServer;
  let provider: AccessProvider;
  let token: string;

  before(async () => {
    issuer = await startTestIssuer();
    sts = await startStsServer({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      audience: STS_AUDIENCE,
      dialect: 'minio',
    });
    provider = createMinioProvider({ name: 'minio-local', type: 'minio', endpoint: sts.url }, deps());
    token = await issuer.sign();
  });
  beforeEach(() => {
    sts.calls.length = 0;
  });
  after(async () => {
    await sts.close();
    issuer.close();
  });

  const params = () => sts.calls.at(-1)?.params ?? {};

  test('needs an endpoint', () => {
    assert.throws(() => createMinioProvider({ name: 'm', type: 'minio' }, deps()), {
      name: 'TypeError',
      message: 'provider m (minio) needs an endpoint',
    });
  });

  test('exposes MinIO default outputs and durations up to seven days', () => {
    assert.equal(provider.type, 'minio');
    assert.deepEqual(provider.defaultOutputs, {
      MINIO_ACCESS_KEY: 'AccessKeyId',
      MINIO_SECRET_KEY: 'SecretAccessKey',
      MINIO_SESSION_TOKEN: 'SessionToken',
    });
    assert.deepEqual(provider.durations, { min: 900, default: 3600, max: 604800 });
  });

  test('always sends DurationSeconds and no RoleArn when the key has none', async () => {
    const out = await provider.mint(mintInput(token, { roleArn: undefined }, { durationSeconds: undefined }));
    assert.equal(params().DurationSeconds, '3600');
    assert.equal(params().RoleArn, undefined);
    assert.equal(params().WebIdentityToken, undefined);
    assert.equal(out.audit.role, undefined);
    assert.match(out.fields.AccessKeyId ?? '', /^ASIA/);
  });

  test('sends RoleArn (role-policy mode) and the packed policy, a duration over 12 h included', async () => {
    const policy = '{ "Version": "2012-10-17", "Statement": [] }';
    const out = await provider.mint(
      mintInput(token, { roleArn: MINIO_ROLE, policy }, { durationSeconds: 86400 }),
    );
    assert.equal(params().RoleArn, MINIO_ROLE);
    assert.equal(params().Policy, '{"Version":"2012-10-17","Statement":[]}');
    assert.equal(params().DurationSeconds, '86400');
    assert.equal(out.audit.role, MINIO_ROLE);
  });

  test('sends neither policy ARNs nor a second hop', async () => {
    const key = {
      policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      assumeRole: { roleArn: TARGET_ROLE },
    };
    await provider.mint(mintInput(token, { roleArn: undefined, ...key }));
    assert.equal(sts.calls.length, 1);
    assert.equal(params()['PolicyArns.member.1.arn'], undefined);
  });
});
