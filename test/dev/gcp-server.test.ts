import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type GcpServer, startGcpServer } from '../../src/dev/gcp-server.ts';
import { startTestIssuer, type TestIssuer } from '../providers/aws-sts/fixture.ts';
import { CLOUD_PLATFORM, GCP_AUDIENCE, OTHER_SA, SA, WIP } from '../providers/gcp/fixture.ts';

const EXCHANGE = {
  grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
  audience: WIP,
  scope: CLOUD_PLATFORM,
  requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
  subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt',
};

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

describe('development Google STS and IAM Credentials endpoint', () => {
  let issuer: TestIssuer;
  let google: GcpServer;
  let token: string;

  before(async () => {
    issuer = await startTestIssuer();
    google = await startGcpServer({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      workloadIdentityProvider: WIP,
      serviceAccounts: [SA],
    });
    token = await issuer.sign({ aud: GCP_AUDIENCE });
  });
  after(async () => {
    await google.close();
    issuer.close();
  });

  async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await fetch(`${google.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
    });
    assert.equal(res.headers.get('content-type'), 'application/json; charset=UTF-8');
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const exchange = (fields: Record<string, unknown>, headers?: Record<string, string>) =>
    post('/v1/token', JSON.stringify({ ...EXCHANGE, subjectToken: token, ...fields }), headers);
  const federated = async () => (await exchange({})).body.access_token as string;
  const generate = (bearer: string | undefined, body: unknown, account = SA, project = '-') =>
    post(
      `/v1/projects/${project}/serviceAccounts/${encodeURIComponent(account)}:generateAccessToken`,
      JSON.stringify(body),
      bearer ? { authorization: `Bearer ${bearer}` } : {},
    );
  const oauthError = (error: string) => (answer: Answer) => {
    assert.deepEqual(Object.keys(answer.body), ['error', 'error_description']);
    assert.equal(answer.body.error, error);
    assert.equal(typeof answer.body.error_description, 'string');
  };
  const rpcError = (answer: Answer, code: number, status: string) => {
    assert.equal(answer.status, code);
    const error = answer.body.error as Record<string, unknown>;
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    assert.equal(typeof error.message, 'string');
  };

  test('exchanges a broker token for a federated token in the shape Google STS answers', async () => {
    const answer = await exchange({});
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body), [
      'access_token',
      'issued_token_type',
      'token_type',
      'expires_in',
    ]);
    assert.match(answer.body.access_token as string, /^ya29\.d\./);
    assert.equal(answer.body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
    assert.equal(answer.body.token_type, 'Bearer');
    assert.ok((answer.body.expires_in as number) > 500 && (answer.body.expires_in as number) <= 600);
  });

  test('accepts a form-encoded exchange with snake_case fields and the un-prefixed audience', async () => {
    const plain = await issuer.sign({ aud: WIP });
    const form = new URLSearchParams({
      grant_type: EXCHANGE.grantType,
      audience: WIP,
      scope: CLOUD_PLATFORM,
      requested_token_type: EXCHANGE.requestedTokenType,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      subject_token: plain,
    });
    const answer = await post('/v1/token', form.toString(), {
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(answer.status, 200);
  });

  test('refuses exchanges the way Google STS does', async () => {
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['grant type', { grantType: 'client_credentials' }, 'unsupported_grant_type'],
      ['requested token type', { requestedTokenType: 'urn:x' }, 'invalid_request'],
      ['subject token type', { subjectTokenType: 'urn:x' }, 'invalid_request'],
      ['audience not a resource name', { audience: GCP_AUDIENCE }, 'invalid_request'],
      ['unknown provider', { audience: WIP.replace('voidkey', 'other') }, 'invalid_target'],
      ['no scope', { scope: '' }, 'invalid_scope'],
      ['no subject token', { subjectToken: '' }, 'invalid_request'],
      ['not a JWT', { subjectToken: 'opaque' }, 'invalid_grant'],
      ['wrong audience', { subjectToken: await issuer.sign({ aud: 'elsewhere' }) }, 'invalid_grant'],
      [
        'wrong issuer',
        { subjectToken: await issuer.sign({ aud: WIP }, { iss: 'https://evil.example' }) },
        'invalid_grant',
      ],
      ['expired', { subjectToken: await issuer.sign({ aud: WIP }, { ttl: -60 }) }, 'invalid_grant'],
      [
        'bad signature',
        { subjectToken: await issuer.sign({ aud: WIP }, { key: issuer.otherKey }) },
        'invalid_grant',
      ],
    ];
    for (const [name, fields, error] of cases) {
      const answer = await exchange(fields);
      assert.equal(answer.status, 400, name);
      oauthError(error)(answer);
    }
  });

  test('answers an exchange carrying an Authorization header with 401 UNAUTHENTICATED', async () => {
    rpcError(await exchange({}, { authorization: 'Bearer x' }), 401, 'UNAUTHENTICATED');
  });

  test('generates an access token for a federated token it issued', async () => {
    const before = Date.now();
    const answer = await generate(await federated(), { scope: [CLOUD_PLATFORM], lifetime: '600s' });
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body), ['accessToken', 'expireTime']);
    assert.match(answer.body.expireTime as string, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const lifetime = Date.parse(answer.body.expireTime as string) - before;
    assert.ok(lifetime > 598_000 && lifetime <= 601_000, `lifetime ${lifetime}`);
    assert.equal(google.calls.at(-1)?.subject, 'broker-service');
  });

  test('refuses generateAccessToken without a federated token it issued', async () => {
    rpcError(await generate(undefined, { scope: [CLOUD_PLATFORM] }), 401, 'UNAUTHENTICATED');
    rpcError(await generate('ya29.d.forged', { scope: [CLOUD_PLATFORM] }), 401, 'UNAUTHENTICATED');
    rpcError(await generate(token, { scope: [CLOUD_PLATFORM] }), 401, 'UNAUTHENTICATED');
  });

  test('refuses bad generateAccessToken requests with INVALID_ARGUMENT or PERMISSION_DENIED', async () => {
    const bearer = await federated();
    const invalid: unknown[] = [
      {},
      { scope: [] },
      { scope: [CLOUD_PLATFORM], lifetime: '3601s' },
      { scope: [CLOUD_PLATFORM], lifetime: '900' },
      { scope: [CLOUD_PLATFORM], delegates: [SA] },
    ];
    for (const body of invalid) rpcError(await generate(bearer, body), 400, 'INVALID_ARGUMENT');
    rpcError(
      await generate(bearer, { scope: [CLOUD_PLATFORM] }, SA, 'my-project-123'),
      400,
      'INVALID_ARGUMENT',
    );
    const denied = await generate(bearer, { scope: [CLOUD_PLATFORM] }, OTHER_SA);
    rpcError(denied, 403, 'PERMISSION_DENIED');
    const details = (denied.body.error as { details: Array<Record<string, unknown>> }).details;
    assert.equal(details[0]?.reason, 'IAM_PERMISSION_DENIED');
    const delegated = { scope: [CLOUD_PLATFORM], delegates: [`projects/-/serviceAccounts/${OTHER_SA}`] };
    rpcError(await generate(bearer, delegated), 403, 'PERMISSION_DENIED');
  });

  test('allows lifetimes up to maxLifetime when the organisation constraint is modelled', async () => {
    const extended = await startGcpServer({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      workloadIdentityProvider: WIP,
      maxLifetime: 43200,
    });
    try {
      const res = await fetch(`${extended.url}/v1/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ...EXCHANGE, subjectToken: token }),
      });
      const { access_token } = (await res.json()) as { access_token: string };
      const answer = await fetch(
        `${extended.url}/v1/projects/-/serviceAccounts/${OTHER_SA}:generateAccessToken`,
        {
          method: 'POST',
          headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ scope: [CLOUD_PLATFORM], lifetime: '43200s' }),
        },
      );
      assert.equal(answer.status, 200);
    } finally {
      await extended.close();
    }
  });

  test('failNext injects failures per route in the shape of that route', async () => {
    google.failNext(400, 1, 'token');
    const refused = await exchange({});
    assert.equal(refused.status, 400);
    oauthError('invalid_grant')(refused);
    google.failNext(429, 1, 'token');
    rpcError(await exchange({}), 429, 'RESOURCE_EXHAUSTED');
    const bearer = await federated();
    google.failNext(503, 1, 'generateAccessToken');
    rpcError(await generate(bearer, { scope: [CLOUD_PLATFORM] }), 503, 'UNAVAILABLE');
    assert.equal((await generate(bearer, { scope: [CLOUD_PLATFORM] })).status, 200);
  });

  test('answers unknown routes with 404', async () => {
    const res = await fetch(`${google.url}/v1/projects/-/serviceAccounts/${SA}:signJwt`, { method: 'POST' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: { status: string } }).error.status, 'NOT_FOUND');
  });
});
