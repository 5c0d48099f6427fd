import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { Config } from '../../../src/core/config/schema.ts';
import { UpstreamError } from '../../../src/core/errors.ts';
import type { AccessProvider } from '../../../src/core/types.ts';
import { type GcpServer, startGcpServer } from '../../../src/dev/gcp-server.ts';
import { createGcpProvider } from '../../../src/providers/gcp/index.ts';
import { createProviders } from '../../../src/providers/index.ts';
import { captureCalls, startTestIssuer, type TestIssuer } from '../aws-sts/fixture.ts';
import { CLOUD_PLATFORM, GCP_AUDIENCE, gcpConfig, gcpDeps, gcpMint, OTHER_SA, SA, WIP } from './fixture.ts';

const refusal = (reason: string) => (err: unknown) => {
  assert.ok(err instanceof UpstreamError, String(err));
  assert.equal(err.kind, 'refused');
  assert.equal(err.reason, reason);
  return true;
};

const unavailable = (reason: string) => (err: unknown) => {
  assert.ok(err instanceof UpstreamError, String(err));
  assert.equal(err.kind, 'unavailable');
  assert.equal(err.reason, reason);
  return true;
};

describe('gcp provider against Google STS and IAM Credentials', () => {
  let issuer: TestIssuer;
  let google: GcpServer;
  let restricted: GcpServer;
  let provider: AccessProvider;
  let token: string;
  const telemetry = captureCalls();

  before(async () => {
    issuer = await startTestIssuer();
    const peer = { issuer: issuer.issuer, jwksUri: issuer.jwksUri, workloadIdentityProvider: WIP };
    google = await startGcpServer(peer);
    restricted = await startGcpServer({ ...peer, serviceAccounts: [SA] });
    provider = createGcpProvider(gcpConfig(google.url), gcpDeps({ telemetry }));
    token = await issuer.sign({ aud: GCP_AUDIENCE });
  });
  beforeEach(() => {
    telemetry.calls.length = 0;
    google.calls.length = 0;
  });
  after(async () => {
    await google.close();
    await restricted.close();
    issuer.close();
  });

  /** A provider with a cache of its own, so each test sees both steps. */
  const fresh = (server = google, extra = {}) =>
    createGcpProvider(gcpConfig(server.url, extra), gcpDeps({ telemetry }));

  test('exchanges the broker token at STS, then generates an access token for the service account', async () => {
    const before = Date.now();
    const out = await fresh().mint(gcpMint(token));
    assert.deepEqual(Object.keys(out.fields), ['accessToken', 'expireTime']);
    assert.match(out.fields.accessToken ?? '', /^ya29\.c\.[\w-]{100,}$/);
    assert.match(out.fields.expireTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(out.expiresAt.getTime(), Date.parse(out.fields.expireTime ?? ''));
    const lifetime = out.expiresAt.getTime() - before;
    assert.ok(lifetime > 898_000 && lifetime <= 901_000, `lifetime ${lifetime}`);
    assert.deepEqual(out.audit, { serviceAccount: SA });
    assert.deepEqual(telemetry.calls, ['StsTokenExchange:success', 'GenerateAccessToken:success']);

    const [exchange, generate] = google.calls;
    assert.equal(exchange?.route, 'token');
    assert.equal(exchange?.authorization, undefined);
    assert.equal(exchange?.contentType, 'application/json');
    assert.deepEqual(exchange?.body, {
      grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
      audience: WIP,
      scope: CLOUD_PLATFORM,
      requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
      subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt',
      subjectToken: token,
    });
    assert.equal(generate?.route, 'generateAccessToken');
    assert.equal(generate?.status, 200);
    assert.equal(generate?.serviceAccount, SA);
    assert.equal(generate?.subject, 'broker-service');
    assert.match(generate?.authorization ?? '', /^Bearer ya29\.d\.[\w-]+$/);
    assert.deepEqual(generate?.body, { scope: [CLOUD_PLATFORM], lifetime: '900s' });
  });

  test('exposes the gcp fields, default outputs, audience and durations', () => {
    assert.equal(provider.name, 'gcp-test');
    assert.equal(provider.type, 'gcp');
    assert.equal(provider.audience, GCP_AUDIENCE);
    assert.deepEqual(provider.fields, ['accessToken', 'expireTime']);
    assert.deepEqual(provider.defaultOutputs, {
      GOOGLE_OAUTH_ACCESS_TOKEN: 'accessToken',
      GOOGLE_TOKEN_EXPIRY: 'expireTime',
    });
    assert.deepEqual(provider.durations, { min: 1, default: 3600, max: 43200 });
    assert.deepEqual(fresh(google, { maxDuration: 1800 }).durations, { min: 1, default: 1800, max: 1800 });
  });

  test('sends the key scopes, delegates as projects/-/serviceAccounts/EMAIL and the default lifetime', async () => {
    const scopes = ['https://www.googleapis.com/auth/devstorage.read_only', CLOUD_PLATFORM];
    const delegates = ['hop1@my-project-123.iam.gserviceaccount.com', `projects/-/serviceAccounts/${SA}`];
    await provider.mint(gcpMint(token, { scopes, delegates }, { durationSeconds: undefined }));
    assert.deepEqual(google.calls.at(-1)?.body, {
      scope: scopes,
      lifetime: '3600s',
      delegates: [
        'projects/-/serviceAccounts/hop1@my-project-123.iam.gserviceaccount.com',
        `projects/-/serviceAccounts/${SA}`,
      ],
    });
  });

  test('reuses the federated token of a broker token and exchanges again for a new one', async () => {
    const gcp = fresh();
    const exchanges = google.stats.exchanges;
    await gcp.mint(gcpMint(token));
    await gcp.mint(gcpMint(token, { serviceAccount: OTHER_SA }));
    assert.equal(google.stats.exchanges, exchanges + 1);
    assert.deepEqual(
      google.calls.map((c) => c.route),
      ['token', 'generateAccessToken', 'generateAccessToken'],
    );
    await gcp.mint(gcpMint(await issuer.sign({ aud: GCP_AUDIENCE, jti: 'rotated' })));
    assert.equal(google.stats.exchanges, exchanges + 2);
  });

  test('a broker token for another audience is refused with invalid_grant and not retried', async () => {
    const requests = google.stats.requests;
    const wrong = await issuer.sign({ aud: 'sts.amazonaws.example' });
    await assert.rejects(
      fresh().mint(gcpMint(wrong)),
      refusal('invalid_grant: Google STS rejected the broker token'),
    );
    assert.equal(google.stats.requests, requests + 1);
    assert.deepEqual(telemetry.calls, ['StsTokenExchange:failure']);
  });

  test('a pool provider Google does not know is refused with invalid_target', async () => {
    const other = WIP.replace('/providers/broker', '/providers/other');
    await assert.rejects(
      fresh(google, { workloadIdentityProvider: other }).mint(gcpMint(token)),
      refusal('invalid_target: the workload identity pool or provider does not exist or is disabled'),
    );
    assert.equal(google.calls.at(-1)?.body.audience, other);
  });

  test('the audience is the resource name exactly: an https: form is refused with invalid_request', async () => {
    await assert.rejects(
      fresh(google, { workloadIdentityProvider: GCP_AUDIENCE }).mint(gcpMint(token)),
      refusal('invalid_request: Google STS rejected the request (check workloadIdentityProvider)'),
    );
  });

  test('a service account outside the grant is refused with PERMISSION_DENIED, delegates too', async () => {
    const gcp = fresh(restricted);
    const denied = refusal('PERMISSION_DENIED: the broker identity may not impersonate this service account');
    await assert.rejects(gcp.mint(gcpMint(token, { serviceAccount: OTHER_SA })), denied);
    await assert.rejects(gcp.mint(gcpMint(token, { delegates: [OTHER_SA] })), denied);
    const out = await gcp.mint(gcpMint(token));
    assert.equal(out.audit.serviceAccount, SA);
  });

  test('a lifetime above what the organisation allows is refused with INVALID_ARGUMENT', async () => {
    await assert.rejects(
      fresh().mint(gcpMint(token, {}, { durationSeconds: 7200 })),
      refusal('INVALID_ARGUMENT: a request parameter was rejected (lifetime, scope or delegates)'),
    );
    assert.equal(google.calls.at(-1)?.body.lifetime, '7200s');
  });

  test('a key without a serviceAccount is refused before any call', async () => {
    const requests = google.stats.requests;
    await assert.rejects(
      fresh().mint(gcpMint(token, { serviceAccount: undefined })),
      refusal('INVALID_ARGUMENT: the key names no serviceAccount'),
    );
    assert.equal(google.stats.requests, requests);
  });

  test('throttling at STS is retried and then succeeds', async () => {
    const requests = google.stats.requests;
    google.failNext(429, 2, 'token');
    const out = await fresh().mint(gcpMint(token));
    assert.match(out.fields.accessToken ?? '', /^ya29\.c\./);
    assert.equal(google.stats.requests, requests + 4);
    assert.deepEqual(
      google.calls.map((c) => c.status),
      [429, 429, 200, 200],
    );
  });

  test('a 503 from IAM Credentials is retried', async () => {
    google.failNext(503, 1, 'generateAccessToken');
    await fresh().mint(gcpMint(token));
    assert.deepEqual(
      google.calls.map((c) => `${c.route}:${c.status}`),
      ['token:200', 'generateAccessToken:503', 'generateAccessToken:200'],
    );
  });

  test('throttling beyond the retries is unavailable', async () => {
    const requests = google.stats.requests;
    google.failNext(429, 3, 'token');
    await assert.rejects(
      fresh().mint(gcpMint(token)),
      unavailable('RESOURCE_EXHAUSTED: Google STS unavailable after retries'),
    );
    assert.equal(google.stats.requests, requests + 3);
    google.failNext(503, 3, 'generateAccessToken');
    await assert.rejects(
      fresh().mint(gcpMint(token)),
      unavailable('UNAVAILABLE: IAM Credentials unavailable after retries'),
    );
  });

  test('a refusal by IAM Credentials is not retried and the next mint exchanges afresh', async () => {
    const gcp = fresh();
    await gcp.mint(gcpMint(token));
    google.failNext(401, 1, 'generateAccessToken');
    await assert.rejects(
      gcp.mint(gcpMint(token)),
      refusal('UNAUTHENTICATED: the presented token was not accepted'),
    );
    await gcp.mint(gcpMint(token));
    assert.deepEqual(
      google.calls.map((c) => `${c.route}:${c.status}`),
      [
        'token:200',
        'generateAccessToken:200',
        'generateAccessToken:401',
        'token:200',
        'generateAccessToken:200',
      ],
    );
  });
});

describe('gcp provider construction', () => {
  const base = {
    brokerIdp: { name: 'idp', issuer: 'https://idp.example', clientId: 'b', audience: 'voidkey-broker' },
    broker: { httpTimeout: 1000, maxRetries: 1, retryDelay: 10 },
  };

  test('createProviders builds gcp providers whose broker audience defaults to https: + the pool provider', () => {
    const config = {
      ...base,
      accessProviders: [
        { name: 'gcp-prod', type: 'gcp', workloadIdentityProvider: WIP },
        { name: 'gcp-own', type: 'gcp', workloadIdentityProvider: WIP, audience: 'voidkey-gcp' },
      ],
    } as unknown as Config;
    const providers = createProviders(config);
    assert.equal(providers.get('gcp-prod')?.type, 'gcp');
    assert.equal(providers.get('gcp-prod')?.audience, GCP_AUDIENCE);
    assert.equal(providers.get('gcp-own')?.audience, 'voidkey-gcp');
  });

  test('a provider of another type or without workloadIdentityProvider is a TypeError', () => {
    assert.throws(() => createGcpProvider({ name: 'x', type: 'azure' }, gcpDeps()), {
      name: 'TypeError',
      message: 'provider x is not of type gcp',
    });
    assert.throws(() => createGcpProvider({ name: 'g', type: 'gcp' }, gcpDeps()), {
      name: 'TypeError',
      message: 'provider g (gcp) needs a workloadIdentityProvider',
    });
  });
});
