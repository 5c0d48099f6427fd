import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { type StsServer, startStsServer } from '../../src/dev/sts-server.ts';
import {
  ROLE,
  STS_AUDIENCE,
  startTestIssuer,
  TARGET_ROLE,
  type TestIssuer,
} from '../providers/aws-sts/fixture.ts';

process.env.AWS_PROFILE = 'voidkey-test-profile-that-does-not-exist';

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

interface Answer {
  status: number;
  text: string;
  requestId: string | null;
}

/** The parts of an ErrorResponse, checking the whole document's shape. */
function errorOf(answer: Answer) {
  const m =
    /^<ErrorResponse xmlns="([^"]+)"><Error><Type>(Sender|Receiver)<\/Type><Code>([A-Za-z]+)<\/Code><Message>([^<]+)<\/Message><\/Error><RequestId>([0-9a-f-]{36})<\/RequestId><\/ErrorResponse>$/.exec(
      answer.text,
    );
  assert.ok(m, `not an STS ErrorResponse: ${answer.text}`);
  assert.equal(m[1], NS);
  assert.equal(m[5], answer.requestId);
  return { status: answer.status, type: m[2], code: m[3], message: m[4] };
}

function element(text: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];
}

describe('development STS endpoint', () => {
  let issuer: TestIssuer;
  let sts: StsServer;
  let restricted: StsServer;

  before(async () => {
    issuer = await startTestIssuer();
    const base = {
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      audience: [STS_AUDIENCE, 'second-client'],
    };
    sts = await startStsServer(base);
    restricted = await startStsServer({ ...base, allowedRoles: [ROLE] });
  });
  after(async () => {
    await sts.close();
    await restricted.close();
    issuer.close();
  });

  async function post(fields: Record<string, string>, server = sts): Promise<Answer> {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams(fields).toString(),
    });
    return { status: res.status, text: await res.text(), requestId: res.headers.get('x-amzn-requestid') };
  }

  const webIdentity = (token: string, extra: Record<string, string> = {}) => ({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: ROLE,
    RoleSessionName: 'voidkey-test',
    WebIdentityToken: token,
    ...extra,
  });

  test('answers AssumeRoleWithWebIdentityResponse XML for a valid token', async () => {
    const answer = await post(
      webIdentity(await issuer.sign({ sub: 'broker-service' }), { DurationSeconds: '900' }),
    );
    assert.equal(answer.status, 200);
    assert.ok(answer.text.startsWith(`<AssumeRoleWithWebIdentityResponse xmlns="${NS}">`));
    assert.match(element(answer.text, 'AccessKeyId') ?? '', /^ASIA[A-Z2-7]{16}$/);
    assert.match(element(answer.text, 'Expiration') ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(element(answer.text, 'SubjectFromWebIdentityToken'), 'broker-service');
    assert.equal(element(answer.text, 'Audience'), STS_AUDIENCE);
    assert.equal(element(answer.text, 'Provider'), issuer.issuer);
    assert.equal(element(answer.text, 'Arn'), 'arn:aws:sts::123456789012:assumed-role/Deploy/voidkey-test');
    assert.equal(element(answer.text, 'RequestId'), answer.requestId);
    const expires = Date.parse(element(answer.text, 'Expiration') ?? '');
    assert.ok(Math.abs(expires - (Date.now() + 900_000)) < 5000);
  });

  test('verifies a repeated token once and fetches the key set once', async () => {
    const token = await issuer.sign({ sub: 'repeat' });
    const before = { ...sts.stats };
    for (let i = 0; i < 5; i++) assert.equal((await post(webIdentity(token))).status, 200);
    assert.equal(sts.stats.requests - before.requests, 5);
    assert.equal(sts.stats.tokenVerifications - before.tokenVerifications, 1);
    assert.equal(sts.stats.jwksFetches, 1);
  });

  test('rejects a token from another issuer without fetching any key', async () => {
    const fetches = sts.stats.jwksFetches;
    const answer = await post(webIdentity(await issuer.sign({}, { iss: 'https://evil.example' })));
    assert.deepEqual(errorOf(answer), {
      status: 400,
      type: 'Sender',
      code: 'InvalidIdentityToken',
      message: 'No OpenIDConnect provider found in your account for the token issuer.',
    });
    assert.equal(sts.stats.jwksFetches, fetches);
  });

  test('rejects an expired token', async () => {
    const answer = await post(webIdentity(await issuer.sign({}, { ttl: -60 })));
    assert.equal(errorOf(answer).code, 'ExpiredTokenException');
    assert.equal(answer.status, 400);
  });

  test('rejects a token whose aud holds no configured client id', async () => {
    const answer = await post(webIdentity(await issuer.sign({ aud: ['other', 'another'] })));
    assert.deepEqual(errorOf(answer), {
      status: 400,
      type: 'Sender',
      code: 'InvalidIdentityToken',
      message: 'Incorrect token audience',
    });
  });

  test('accepts any one of several configured client ids', async () => {
    const answer = await post(webIdentity(await issuer.sign({ aud: ['x', 'second-client'] })));
    assert.equal(answer.status, 200);
    assert.equal(element(answer.text, 'Audience'), 'second-client');
  });

  test('rejects a token signed by another key', async () => {
    const answer = await post(webIdentity(await issuer.sign({}, { key: issuer.otherKey })));
    assert.equal(errorOf(answer).code, 'InvalidIdentityToken');
    assert.equal(answer.status, 400);
  });

  test('rejects a token that is not a JWT', async () => {
    assert.equal(errorOf(await post(webIdentity('not-a-jwt'))).code, 'InvalidIdentityToken');
  });

  const invalidRequests: [string, Record<string, string>][] = [
    ['a malformed RoleArn', { RoleArn: 'arn:aws:iam::12:role/x' }],
    ['a RoleSessionName with a colon', { RoleSessionName: 'repo:org' }],
    ['a one-character RoleSessionName', { RoleSessionName: 'a' }],
    ['DurationSeconds below 900', { DurationSeconds: '899' }],
    ['DurationSeconds above 43200', { DurationSeconds: '43201' }],
    ['a Policy over 2048 characters', { Policy: JSON.stringify({ a: 'x'.repeat(2050) }) }],
  ];
  for (const [name, extra] of invalidRequests) {
    test(`answers ValidationError for ${name}`, async () => {
      const answer = await post(webIdentity(await issuer.sign(), extra));
      assert.equal(errorOf(answer).code, 'ValidationError');
      assert.equal(answer.status, 400);
    });
  }

  test('denies a role outside allowedRoles with AccessDenied 403', async () => {
    const token = await issuer.sign();
    const other = 'arn:aws:iam::123456789012:role/Other';
    assert.equal((await post(webIdentity(token), restricted)).status, 200);
    const answer = await post(webIdentity(token, { RoleArn: other }), restricted);
    assert.deepEqual(errorOf(answer), {
      status: 403,
      type: 'Sender',
      code: 'AccessDenied',
      message: 'Not authorized to perform sts:AssumeRoleWithWebIdentity',
    });
  });

  test('injects Throttling, ServiceUnavailable and AccessDenied faults on demand', async () => {
    const token = await issuer.sign();
    sts.failNext('Throttling');
    sts.failNext('ServiceUnavailable');
    sts.failNext('AccessDenied');
    const answers = [
      await post(webIdentity(token)),
      await post(webIdentity(token)),
      await post(webIdentity(token)),
    ];
    assert.deepEqual(
      answers.map((a) => [errorOf(a).status, errorOf(a).type, errorOf(a).code]),
      [
        [400, 'Sender', 'Throttling'],
        [503, 'Receiver', 'ServiceUnavailable'],
        [403, 'Sender', 'AccessDenied'],
      ],
    );
    assert.equal((await post(webIdentity(token))).status, 200);
  });

  test('answers InvalidAction for an unknown action', async () => {
    assert.equal(
      errorOf(await post({ Action: 'GetSessionToken', Version: '2011-06-15' })).code,
      'InvalidAction',
    );
  });

  test('reports IDPCommunicationError when the key set cannot be fetched', async () => {
    const broken = await startStsServer({
      issuer: issuer.issuer,
      jwksUri: 'http://127.0.0.1:1/jwks',
      audience: STS_AUDIENCE,
    });
    try {
      const answer = await post(webIdentity(await issuer.sign()), broken);
      assert.equal(errorOf(answer).code, 'IDPCommunicationError');
    } finally {
      await broken.close();
    }
  });

  describe('AssumeRole', () => {
    async function issued() {
      const answer = await post(webIdentity(await issuer.sign()));
      return {
        accessKeyId: element(answer.text, 'AccessKeyId') ?? '',
        secretAccessKey: element(answer.text, 'SecretAccessKey') ?? '',
        sessionToken: element(answer.text, 'SessionToken') ?? '',
      };
    }
    const assumeRole = (credentials: Awaited<ReturnType<typeof issued>>, input = {}) =>
      new STSClient({ region: 'us-east-1', endpoint: sts.url, credentials, maxAttempts: 1 }).send(
        new AssumeRoleCommand({ RoleArn: TARGET_ROLE, RoleSessionName: 'hop', ...input }),
      );
    const codeOf = (err: unknown) => (err as { name: string; $metadata: { httpStatusCode: number } }).name;

    test('accepts a request signed with credentials it issued', async () => {
      const out = await assumeRole(await issued(), { DurationSeconds: 3600 });
      assert.match(out.Credentials?.AccessKeyId ?? '', /^ASIA/);
      assert.equal(out.AssumedRoleUser?.Arn, 'arn:aws:sts::210987654321:assumed-role/Target/hop');
    });

    test('refuses more than one hour for a chained session', async () => {
      await assert.rejects(assumeRole(await issued(), { DurationSeconds: 3601 }), (err) => {
        return codeOf(err) === 'ValidationError';
      });
    });

    test('refuses an access key it never issued', async () => {
      const stranger = {
        accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
        secretAccessKey: 'x'.repeat(40),
        sessionToken: 't',
      };
      await assert.rejects(assumeRole(stranger), (err) => codeOf(err) === 'InvalidClientTokenId');
    });

    test('refuses a signature made with the wrong secret', async () => {
      const creds = { ...(await issued()), secretAccessKey: 'y'.repeat(40) };
      await assert.rejects(assumeRole(creds), (err) => codeOf(err) === 'SignatureDoesNotMatch');
    });

    test('refuses an unsigned request with MissingAuthenticationToken 403', async () => {
      const answer = await post({
        Action: 'AssumeRole',
        Version: '2011-06-15',
        RoleArn: TARGET_ROLE,
        RoleSessionName: 'x1',
      });
      assert.deepEqual(errorOf(answer), {
        status: 403,
        type: 'Sender',
        code: 'MissingAuthenticationToken',
        message: 'Request is missing Authentication Token',
      });
    });
  });
});
