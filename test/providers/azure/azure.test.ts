import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import type { Config } from '../../../src/core/config/schema.ts';
import { UpstreamError } from '../../../src/core/errors.ts';
import type { AccessProvider } from '../../../src/core/types.ts';
import { type AzureServer, startAzureServer } from '../../../src/dev/azure-server.ts';
import { createAzureProvider } from '../../../src/providers/azure/index.ts';
import { createProviders } from '../../../src/providers/index.ts';
import { captureCalls, startTestIssuer, type TestIssuer } from '../aws-sts/fixture.ts';
import {
  azureConfig,
  azureDeps,
  azureMint,
  CLIENT_ID,
  EXCHANGE_AUDIENCE,
  JWT_BEARER,
  SCOPE,
  scriptedHttp,
  TENANT,
} from './fixture.ts';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const failure = (kind: 'refused' | 'unavailable', reason: string) => (err: unknown) => {
  assert.ok(err instanceof UpstreamError, String(err));
  assert.equal(err.kind, kind);
  assert.equal(err.reason, reason);
  return true;
};

describe('azure provider against the Entra token endpoint', () => {
  let issuer: TestIssuer;
  let entra: AzureServer;
  let provider: AccessProvider;
  let token: string;
  const telemetry = captureCalls();

  before(async () => {
    issuer = await startTestIssuer();
    entra = await startAzureServer({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      tenantId: TENANT,
      clientId: CLIENT_ID,
      subject: 'broker-service',
    });
    provider = createAzureProvider(azureConfig(entra.url), azureDeps({ telemetry }));
    token = await issuer.sign({ aud: EXCHANGE_AUDIENCE });
  });
  beforeEach(() => {
    telemetry.calls.length = 0;
    entra.calls.length = 0;
  });
  after(async () => {
    await entra.close();
    issuer.close();
  });

  test('posts the client-credentials form with the broker token as client assertion', async () => {
    const before = Date.now();
    const out = await provider.mint(azureMint(token));
    assert.deepEqual(Object.keys(out.fields), ['accessToken', 'expiry']);
    const claims = decodeJwt(out.fields.accessToken ?? '');
    assert.equal(claims.aud, 'https://management.azure.com');
    assert.equal(claims.appid, CLIENT_ID);
    assert.equal(claims.tid, TENANT);
    assert.equal(out.fields.expiry, out.expiresAt.toISOString());
    const lifetime = out.expiresAt.getTime() - before;
    assert.ok(lifetime >= 3_598_000 && lifetime <= 3_599_500, `lifetime ${lifetime}`);
    const call = entra.calls.at(-1);
    assert.deepEqual(out.audit, { upstreamRequestId: call?.requestId });
    assert.match(call?.requestId ?? '', GUID);
    assert.equal(call?.tenant, TENANT);
    assert.equal(call?.contentType, 'application/x-www-form-urlencoded');
    assert.equal(call?.authorization, undefined);
    assert.match(call?.clientRequestId ?? '', GUID);
    assert.deepEqual(call?.form, {
      grant_type: 'client_credentials',
      client_id: CLIENT_ID,
      scope: SCOPE,
      client_assertion_type: JWT_BEARER,
      client_assertion: token,
    });
    assert.deepEqual(telemetry.calls, ['EntraTokenRequest:success']);
  });

  test('exposes the azure fields, default outputs and audience, and no durations', () => {
    assert.equal(provider.type, 'azure');
    assert.equal(provider.audience, EXCHANGE_AUDIENCE);
    assert.deepEqual(provider.fields, ['accessToken', 'expiry']);
    assert.deepEqual(provider.defaultOutputs, {
      AZURE_ACCESS_TOKEN: 'accessToken',
      AZURE_TOKEN_EXPIRY: 'expiry',
    });
    assert.equal(provider.durations, undefined);
  });

  test('assertions that match no federated credential are refused with the AADSTS code, not retried', async () => {
    const cases: Array<[string, Promise<string>]> = [
      [
        'invalid_client (AADSTS700212): no federated credential matches the broker token audience',
        issuer.sign({ aud: 'https://iam.googleapis.com/other' }),
      ],
      [
        'invalid_client (AADSTS700213): no federated credential matches the broker token subject',
        issuer.sign({ aud: EXCHANGE_AUDIENCE, sub: 'someone-else' }),
      ],
      [
        'invalid_client (AADSTS700211): no federated credential matches the broker token issuer',
        issuer.sign({ aud: EXCHANGE_AUDIENCE }, { iss: 'https://evil.example' }),
      ],
      [
        'invalid_client (AADSTS700024): the broker token is outside its valid time range',
        issuer.sign({ aud: EXCHANGE_AUDIENCE }, { ttl: -60 }),
      ],
      [
        'invalid_client (AADSTS700027): the broker token signature could not be verified',
        issuer.sign({ aud: EXCHANGE_AUDIENCE }, { key: issuer.otherKey }),
      ],
    ];
    for (const [reason, pending] of cases) {
      const requests = entra.stats.requests;
      await assert.rejects(provider.mint(azureMint(await pending)), (err) => {
        failure('refused', reason)(err);
        assert.equal((err as UpstreamError).upstreamRequestId, entra.calls.at(-1)?.requestId);
        return true;
      });
      assert.equal(entra.stats.requests, requests + 1, reason);
    }
  });

  test('an unknown application or tenant is refused', async () => {
    const stranger = createAzureProvider(azureConfig(entra.url, { clientId: 'not-the-app' }), azureDeps());
    await assert.rejects(
      stranger.mint(azureMint(token)),
      failure(
        'refused',
        'unauthorized_client (AADSTS700016): the application (clientId) was not found in the tenant',
      ),
    );
    const lost = createAzureProvider(
      azureConfig(entra.url, { tenantId: 'contoso.onmicrosoft.com' }),
      azureDeps(),
    );
    await assert.rejects(
      lost.mint(azureMint(token)),
      failure('refused', 'invalid_request (AADSTS90002): the tenant was not found'),
    );
    assert.equal(entra.calls.at(-1)?.tenant, 'contoso.onmicrosoft.com');
  });

  test('a key without a /.default scope is refused before any call', async () => {
    const requests = entra.stats.requests;
    await assert.rejects(
      provider.mint(azureMint(token, { scope: undefined })),
      failure('refused', 'invalid_scope: the key names no scope'),
    );
    for (const scope of ['https://management.azure.com/user_impersonation', 'a/.default b/.default']) {
      await assert.rejects(
        provider.mint(azureMint(token, { scope })),
        failure('refused', 'invalid_scope: the scope must be one resource ending /.default'),
      );
    }
    assert.equal(entra.stats.requests, requests);
  });

  test('throttling and 503 are retried and then succeed', async () => {
    entra.failNext(429);
    entra.failNext(503);
    await provider.mint(azureMint(token));
    assert.deepEqual(
      entra.calls.map((c) => c.status),
      [429, 503, 200],
    );
    assert.deepEqual(telemetry.calls, ['EntraTokenRequest:success']);
  });

  test('throttling beyond the retries is unavailable, with the AADSTS code', async () => {
    entra.failNext(429, 3);
    await assert.rejects(
      provider.mint(azureMint(token)),
      failure('unavailable', 'temporarily_unavailable (AADSTS90055): Entra unavailable after retries'),
    );
    assert.equal(entra.calls.length, 3);
    assert.deepEqual(telemetry.calls, ['EntraTokenRequest:failure']);
  });
});

describe('azure provider authority and construction', () => {
  const ok = { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 'eyJ.x.y' };

  test('the environment decides the authority host; an explicit authorityHost overrides it', async () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{}, 'https://login.microsoftonline.com'],
      [{ environment: 'AzurePublicCloud' }, 'https://login.microsoftonline.com'],
      [{ environment: 'AzureUSGovernment' }, 'https://login.microsoftonline.us'],
      [{ environment: 'AzureChina' }, 'https://login.chinacloudapi.cn'],
      [
        { environment: 'AzureChina', authorityHost: 'https://login.example.test/' },
        'https://login.example.test',
      ],
    ];
    for (const [extra, host] of cases) {
      const http = scriptedHttp(200, ok);
      const config = { name: 'az', type: 'azure', tenantId: TENANT, clientId: CLIENT_ID, ...extra };
      await createAzureProvider(config, azureDeps({ http })).mint(azureMint('broker'));
      assert.equal(http.seen[0]?.url, `${host}/${TENANT}/oauth2/v2.0/token`);
      assert.equal(http.seen[0]?.request.method, 'POST');
    }
  });

  test('createProviders gives azure providers the environment exchange audience unless one is set', () => {
    const config = {
      brokerIdp: { name: 'idp', issuer: 'https://idp.example', clientId: 'b', audience: 'voidkey-broker' },
      broker: { httpTimeout: 1000, maxRetries: 1, retryDelay: 10 },
      accessProviders: [
        { name: 'pub', type: 'azure', tenantId: TENANT, clientId: CLIENT_ID },
        {
          name: 'gov',
          type: 'azure',
          tenantId: TENANT,
          clientId: CLIENT_ID,
          environment: 'AzureUSGovernment',
        },
        { name: 'cn', type: 'azure', tenantId: TENANT, clientId: CLIENT_ID, environment: 'AzureChina' },
        { name: 'own', type: 'azure', tenantId: TENANT, clientId: CLIENT_ID, audience: 'api://custom' },
      ],
    } as unknown as Config;
    const providers = createProviders(config);
    assert.deepEqual(
      [...providers.values()].map((p) => [p.name, p.type, p.audience]),
      [
        ['pub', 'azure', 'api://AzureADTokenExchange'],
        ['gov', 'azure', 'api://AzureADTokenExchangeUSGov'],
        ['cn', 'azure', 'api://AzureADTokenExchangeChina'],
        ['own', 'azure', 'api://custom'],
      ],
    );
  });

  test('a provider of another type or without tenantId and clientId is a TypeError', () => {
    assert.throws(() => createAzureProvider({ name: 'x', type: 'gcp' }, azureDeps()), {
      name: 'TypeError',
      message: 'provider x is not of type azure',
    });
    assert.throws(() => createAzureProvider({ name: 'a', type: 'azure', tenantId: TENANT }, azureDeps()), {
      name: 'TypeError',
      message: 'provider a (azure) needs a tenantId and a clientId',
    });
  });
});
