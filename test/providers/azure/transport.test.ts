import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { UpstreamError } from '../../../src/core/errors.ts';
import { type HttpClient, HttpError } from '../../../src/core/types.ts';
import { type AzureServer, startAzureServer } from '../../../src/dev/azure-server.ts';
import { createAzureProvider } from '../../../src/providers/azure/index.ts';
import { startTestIssuer, type TestIssuer } from '../aws-sts/fixture.ts';
import { captureLogs } from '../gcp/fixture.ts';
import {
  azureConfig,
  azureDeps,
  azureMint,
  CLIENT_ID,
  EXCHANGE_AUDIENCE,
  scriptedHttp,
  TENANT,
} from './fixture.ts';

const failure = (kind: 'refused' | 'unavailable', reason: string) => (err: unknown) => {
  assert.ok(err instanceof UpstreamError, String(err));
  assert.equal(err.kind, kind);
  assert.equal(err.reason, reason);
  return true;
};

const viaHttp = (http: HttpClient, extra = {}) =>
  createAzureProvider(azureConfig('https://login.example.test'), azureDeps({ http, ...extra }));

describe('azure provider transport and answers', () => {
  let issuer: TestIssuer;
  let entra: AzureServer;
  let silent: Server;
  let silentUrl: string;
  let silentRequests = 0;
  let token: string;

  before(async () => {
    issuer = await startTestIssuer();
    entra = await startAzureServer({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      tenantId: TENANT,
      clientId: CLIENT_ID,
    });
    silent = createServer(() => {
      silentRequests++;
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    token = await issuer.sign({ aud: EXCHANGE_AUDIENCE });
  });
  after(async () => {
    silent.closeAllConnections();
    silent.close();
    await entra.close();
    issuer.close();
  });

  test('an endpoint that refuses connections is unavailable after the retries', async () => {
    const azure = createAzureProvider(azureConfig('http://127.0.0.1:1'), azureDeps({ maxRetries: 1 }));
    await assert.rejects(
      azure.mint(azureMint(token)),
      failure('unavailable', 'Entra unreachable (network error)'),
    );
  });

  test('an endpoint that never answers times out at httpTimeout and is retried', async () => {
    silentRequests = 0;
    const azure = createAzureProvider(azureConfig(silentUrl), azureDeps({ httpTimeout: 150, maxRetries: 1 }));
    await assert.rejects(
      azure.mint(azureMint(token)),
      failure('unavailable', 'Entra unreachable (timed out)'),
    );
    assert.equal(silentRequests, 2);
  });

  test('a signal that already fired stops the mint before anything is sent', async () => {
    const requests = entra.stats.requests;
    const azure = createAzureProvider(azureConfig(entra.url), azureDeps());
    await assert.rejects(
      azure.mint(azureMint(token, {}, { signal: AbortSignal.abort() })),
      failure('unavailable', 'EntraTokenRequest aborted at the request deadline'),
    );
    assert.equal(entra.stats.requests, requests);
  });

  test('a signal firing during the call aborts it without retrying', async () => {
    silentRequests = 0;
    const azure = createAzureProvider(azureConfig(silentUrl), azureDeps({ httpTimeout: 5000 }));
    const started = Date.now();
    await assert.rejects(
      azure.mint(azureMint(token, {}, { signal: AbortSignal.timeout(100) })),
      failure('unavailable', 'EntraTokenRequest aborted at the request deadline'),
    );
    assert.ok(Date.now() - started < 1000);
    assert.equal(silentRequests, 1);
  });

  test('accepts expires_in as a string and counts it from when the request was sent', async () => {
    const http = scriptedHttp(200, { token_type: 'Bearer', expires_in: '600', access_token: 'eyJ.a.b' });
    const before = Date.now();
    const out = await viaHttp(http).mint(azureMint(token));
    const lifetime = out.expiresAt.getTime() - before;
    assert.ok(lifetime >= 600_000 && lifetime < 601_000, `lifetime ${lifetime}`);
    assert.deepEqual(out.fields, { accessToken: 'eyJ.a.b', expiry: out.expiresAt.toISOString() });
    assert.deepEqual(out.audit, {});
  });

  test('answers without a token, a positive expires_in or a Bearer type are refused as malformed', async () => {
    const bodies: unknown[] = [
      'not json',
      { token_type: 'Bearer', expires_in: 3599 },
      { token_type: 'Bearer', expires_in: 0, access_token: 'x' },
      { token_type: 'Bearer', expires_in: 'soon', access_token: 'x' },
      { token_type: 'pop', expires_in: 3599, access_token: 'x' },
    ];
    for (const body of bodies) {
      await assert.rejects(
        viaHttp(scriptedHttp(200, body)).mint(azureMint(token)),
        failure('refused', 'malformed_response: Entra answered without an access token and expiry'),
      );
    }
  });

  test('errors are named by the OAuth error, else the status; the correlation id stands in for a request id', async () => {
    const body = {
      error: 'invalid_grant',
      error_codes: [12345],
      correlation_id: 'c0ffee00-0000-4000-8000-000000000000',
    };
    await assert.rejects(viaHttp(scriptedHttp(400, body)).mint(azureMint(token)), (err) => {
      failure('refused', 'invalid_grant (AADSTS12345): Entra rejected the grant')(err);
      assert.equal((err as UpstreamError).upstreamRequestId, body.correlation_id);
      return true;
    });
    await assert.rejects(
      viaHttp(scriptedHttp(400, '<html/>')).mint(azureMint(token)),
      failure('refused', 'HTTP 400: Entra refused the token request'),
    );
    const tooLarge: HttpClient = async () => {
      throw new HttpError('too_large', 'response exceeds the 65536-byte cap');
    };
    await assert.rejects(
      viaHttp(tooLarge).mint(azureMint(token)),
      failure('refused', 'Entra answer exceeds the size cap'),
    );
  });

  test('neither the broker token, Entra text nor the minted token reach errors or logs', async () => {
    const logger = captureLogs();
    const echo = `AADSTS700213: No matching federated identity record found for presented assertion '${token}'`;
    const http = scriptedHttp(401, {
      error: 'invalid_client',
      error_description: echo,
      error_codes: [700213],
    });
    const refused = await viaHttp(http, { logger })
      .mint(azureMint(token))
      .then(
        () => assert.fail('expected a refusal'),
        (e: unknown) => e as UpstreamError,
      );
    assert.equal(
      refused.reason,
      'invalid_client (AADSTS700213): no federated credential matches the broker token subject',
    );
    entra.failNext(503);
    const out = await createAzureProvider(azureConfig(entra.url), azureDeps({ logger })).mint(
      azureMint(token),
    );
    const text = [refused.message, JSON.stringify(refused.cause), ...logger.lines].join('\n');
    assert.ok(logger.lines.length >= 2);
    for (const secret of [token, out.fields.accessToken, 'No matching']) {
      assert.ok(!text.includes(secret ?? '<none>'), `leaked ${secret?.slice(0, 12)}`);
    }
  });
});
