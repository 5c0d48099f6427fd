import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { type AzureServer, startAzureServer } from '../../src/dev/azure-server.ts';
import { startTestIssuer, type TestIssuer } from '../providers/aws-sts/fixture.ts';
import { CLIENT_ID, EXCHANGE_AUDIENCE, JWT_BEARER, SCOPE, TENANT } from '../providers/azure/fixture.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

describe('development Entra token endpoint', () => {
  let issuer: TestIssuer;
  let entra: AzureServer;
  let token: string;

  before(async () => {
    issuer = await startTestIssuer();
    entra = await startAzureServer({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      tenantId: TENANT,
      clientId: CLIENT_ID,
      subject: 'broker-service',
    });
    token = await issuer.sign({ aud: EXCHANGE_AUDIENCE });
  });
  after(async () => {
    await entra.close();
    issuer.close();
  });

  const form = (fields: Record<string, string | undefined> = {}) => {
    const all: Record<string, string | undefined> = {
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      scope: SCOPE,
      client_assertion_type: JWT_BEARER,
      client_assertion: token,
      ...fields,
    };
    return new URLSearchParams(Object.entries(all).filter((e): e is [string, string] => e[1] !== undefined));
  };

  async function post(
    body: URLSearchParams | string,
    options: { tenant?: string; headers?: Record<string, string>; server?: AzureServer } = {},
  ): Promise<Answer> {
    const server = options.server ?? entra;
    const res = await fetch(`${server.url}/${options.tenant ?? TENANT}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...options.headers },
      body: body.toString(),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }

  const entraError = (answer: Answer, status: number, error: string, aadsts: number) => {
    assert.equal(answer.status, status, `${error} ${aadsts}: ${answer.status}`);
    assert.deepEqual(Object.keys(answer.body), [
      'error',
      'error_description',
      'error_codes',
      'timestamp',
      'trace_id',
      'correlation_id',
      'error_uri',
    ]);
    assert.equal(answer.body.error, error);
    assert.deepEqual(answer.body.error_codes, [aadsts]);
    assert.match(answer.body.error_description as string, new RegExp(`^AADSTS${aadsts}: .+ Trace ID: `));
    assert.equal(answer.body.trace_id, answer.headers.get('x-ms-request-id'));
    assert.match(answer.body.timestamp as string, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
  };

  test('issues an app token in the shape Entra answers, echoing client-request-id', async () => {
    const clientRequestId = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const answer = await post(form(), { headers: { 'client-request-id': clientRequestId } });
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body), [
      'token_type',
      'expires_in',
      'ext_expires_in',
      'access_token',
    ]);
    assert.equal(answer.body.token_type, 'Bearer');
    assert.equal(answer.body.expires_in, 3599);
    assert.match(answer.headers.get('x-ms-request-id') ?? '', GUID);
    assert.equal(answer.headers.get('client-request-id'), clientRequestId);
    const claims = decodeJwt(answer.body.access_token as string);
    assert.equal(claims.iss, `https://sts.windows.net/${TENANT}/`);
    assert.equal(claims.aud, 'https://management.azure.com');
    assert.equal(claims.appid, CLIENT_ID);
    assert.equal(claims.xms_fic_sub, 'broker-service');
    assert.ok(Math.abs((claims.exp as number) - (now + 3599)) <= 1);
  });

  test('errors carry the correlation id the client sent', async () => {
    const clientRequestId = randomUUID();
    const answer = await post(form({ client_id: 'nope' }), {
      headers: { 'client-request-id': clientRequestId },
    });
    entraError(answer, 400, 'unauthorized_client', 700016);
    assert.equal(answer.body.correlation_id, clientRequestId);
  });

  test('refuses malformed requests the way Entra does', async () => {
    entraError(await post(form(), { tenant: 'contoso.example' }), 400, 'invalid_request', 90002);
    for (const name of ['grant_type', 'client_id', 'scope', 'client_assertion_type', 'client_assertion']) {
      entraError(await post(form({ [name]: undefined })), 400, 'invalid_request', 900144);
    }
    entraError(await post(form({ grant_type: 'password' })), 400, 'unsupported_grant_type', 70003);
    entraError(await post(form({ client_assertion_type: 'urn:x' })), 400, 'invalid_request', 90014);
    entraError(
      await post(form({ scope: 'https://graph.microsoft.com/User.Read' })),
      400,
      'invalid_scope',
      1002012,
    );
    entraError(await post(form({ client_assertion: 'opaque' })), 400, 'invalid_request', 50027);
    const json = await post(JSON.stringify(Object.fromEntries(form())), {
      headers: { 'content-type': 'application/json' },
    });
    entraError(json, 400, 'invalid_request', 900144);
  });

  test('matches the assertion to the federated credential, then checks signature and time', async () => {
    const cases: Array<[number, Promise<string>]> = [
      [700211, issuer.sign({ aud: EXCHANGE_AUDIENCE }, { iss: 'https://evil.example' })],
      [700212, issuer.sign({ aud: 'voidkey-broker' })],
      [700213, issuer.sign({ aud: EXCHANGE_AUDIENCE, sub: 'Broker-Service' })],
      [700027, issuer.sign({ aud: EXCHANGE_AUDIENCE }, { key: issuer.otherKey })],
      [700024, issuer.sign({ aud: EXCHANGE_AUDIENCE }, { ttl: -120 })],
    ];
    for (const [aadsts, pending] of cases) {
      entraError(await post(form({ client_assertion: await pending })), 401, 'invalid_client', aadsts);
    }
  });

  test('an issuer whose keys cannot be fetched is invalid_client AADSTS50166', async () => {
    const unreachable = await startAzureServer({
      issuer: issuer.issuer,
      jwksUri: 'http://127.0.0.1:1/jwks',
      tenantId: TENANT,
      clientId: CLIENT_ID,
      audience: 'api://AzureADTokenExchangeUSGov',
    });
    try {
      const usGov = await issuer.sign({ aud: 'api://AzureADTokenExchangeUSGov' });
      const answer = await post(form({ client_assertion: usGov }), { server: unreachable });
      entraError(answer, 401, 'invalid_client', 50166);
    } finally {
      await unreachable.close();
    }
  });

  test('failNext answers in Entra error shape, with Retry-After on 429', async () => {
    entra.failNext(429);
    const throttled = await post(form());
    entraError(throttled, 429, 'temporarily_unavailable', 90055);
    assert.equal(throttled.headers.get('retry-after'), '1');
    entra.failNext(500);
    entraError(await post(form()), 500, 'server_error', 90033);
    assert.equal((await post(form())).status, 200);
    assert.deepEqual(
      entra.calls.slice(-3).map((c) => [c.status, c.aadsts]),
      [
        [429, 90055],
        [500, 90033],
        [200, undefined],
      ],
    );
  });

  test('answers other methods and paths with 404', async () => {
    const res = await fetch(`${entra.url}/${TENANT}/oauth2/v2.0/token`);
    assert.equal(res.status, 404);
    const other = await fetch(`${entra.url}/${TENANT}/oauth2/token`, { method: 'POST' });
    assert.equal(other.status, 404);
  });
});
