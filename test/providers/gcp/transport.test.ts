import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { UpstreamError } from '../../../src/core/errors.ts';
import { type GcpServer, startGcpServer } from '../../../src/dev/gcp-server.ts';
import { createGcpProvider } from '../../../src/providers/gcp/index.ts';
import { startTestIssuer, type TestIssuer } from '../aws-sts/fixture.ts';
import { captureLogs, GCP_AUDIENCE, gcpConfig, gcpDeps, gcpMint, WIP } from './fixture.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A server whose answer each test sets; `silent` never answers. */
async function startStub(): Promise<{ url: string; requests: number; set(h: Handler): void; close(): void }> {
  let handler: Handler = () => {};
  const state = { requests: 0 };
  const server: Server = createServer((req, res) => {
    state.requests++;
    req.resume();
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    get requests() {
      return state.requests;
    },
    set(h) {
      handler = h;
    },
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}): Handler => {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
  };
};

const failure = (kind: 'refused' | 'unavailable', reason: string | RegExp) => (err: unknown) => {
  assert.ok(err instanceof UpstreamError, String(err));
  assert.equal(err.kind, kind);
  if (typeof reason === 'string') assert.equal(err.reason, reason);
  else assert.match(err.reason, reason);
  return true;
};

describe('gcp provider transport and answers', () => {
  let issuer: TestIssuer;
  let google: GcpServer;
  let stub: Awaited<ReturnType<typeof startStub>>;
  let token: string;

  before(async () => {
    issuer = await startTestIssuer();
    google = await startGcpServer({
      issuer: issuer.issuer,
      jwksUri: issuer.jwksUri,
      workloadIdentityProvider: WIP,
    });
    stub = await startStub();
    token = await issuer.sign({ aud: GCP_AUDIENCE });
  });
  after(async () => {
    stub.close();
    await google.close();
    issuer.close();
  });

  const viaStub = (extra = {}) => createGcpProvider(gcpConfig(stub.url), gcpDeps(extra));

  test('an endpoint that refuses connections is unavailable after the retries', async () => {
    const gcp = createGcpProvider(gcpConfig('http://127.0.0.1:1'), gcpDeps({ maxRetries: 1 }));
    await assert.rejects(
      gcp.mint(gcpMint(token)),
      failure('unavailable', 'Google STS unreachable (network error)'),
    );
  });

  test('an endpoint that never answers times out at httpTimeout and is retried', async () => {
    stub.set(() => {});
    const requests = stub.requests;
    const started = Date.now();
    await assert.rejects(
      viaStub({ httpTimeout: 150, maxRetries: 1 }).mint(gcpMint(token)),
      failure('unavailable', 'Google STS unreachable (timed out)'),
    );
    assert.equal(stub.requests, requests + 2);
    assert.ok(Date.now() - started < 2000);
  });

  test('a signal that already fired stops the mint before anything is sent', async () => {
    const requests = google.stats.requests;
    const gcp = createGcpProvider(gcpConfig(google.url), gcpDeps());
    await assert.rejects(
      gcp.mint(gcpMint(token, {}, { signal: AbortSignal.abort() })),
      failure('unavailable', 'StsTokenExchange aborted at the request deadline'),
    );
    assert.equal(google.stats.requests, requests);
  });

  test('a signal firing during the call aborts it without retrying', async () => {
    stub.set(() => {});
    const requests = stub.requests;
    const started = Date.now();
    await assert.rejects(
      viaStub({ httpTimeout: 5000 }).mint(gcpMint(token, {}, { signal: AbortSignal.timeout(100) })),
      failure('unavailable', 'StsTokenExchange aborted at the request deadline'),
    );
    assert.ok(Date.now() - started < 1000);
    assert.equal(stub.requests, requests + 1);
  });

  test('a signal firing between retries ends the wait', async () => {
    stub.set(json(503, { error: { code: 503, message: 'down', status: 'UNAVAILABLE' } }));
    const requests = stub.requests;
    const started = Date.now();
    await assert.rejects(
      viaStub({ retryDelay: 5000 }).mint(gcpMint(token, {}, { signal: AbortSignal.timeout(150) })),
      failure('unavailable', 'StsTokenExchange aborted at the request deadline'),
    );
    assert.ok(Date.now() - started < 1500);
    assert.equal(stub.requests, requests + 1);
  });

  test('an STS answer that is not JSON, or lacks a token, is refused as malformed', async () => {
    stub.set((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>proxy</html>'));
    await assert.rejects(
      viaStub().mint(gcpMint(token)),
      failure('refused', 'MALFORMED_RESPONSE: Google STS answered without JSON'),
    );
    stub.set(json(200, { token_type: 'Bearer', expires_in: 3600 }));
    await assert.rejects(
      viaStub().mint(gcpMint(token)),
      failure('refused', 'MALFORMED_RESPONSE: Google STS answered without a federated token'),
    );
  });

  test('an IAM answer without a parseable expireTime is refused as malformed', async () => {
    stub.set((req, res) => {
      const body =
        req.url === '/v1/token'
          ? { access_token: 'fed', token_type: 'Bearer', expires_in: 3600 }
          : { accessToken: 'ya29.x', expireTime: 'soon' };
      json(200, body)(req, res);
    });
    await assert.rejects(
      viaStub().mint(gcpMint(token)),
      failure('refused', 'MALFORMED_RESPONSE: IAM Credentials answered without an access token and expiry'),
    );
  });

  test('the service account is percent-encoded into the path and a request id header is audited', async () => {
    const paths: string[] = [];
    stub.set((req, res) => {
      paths.push(req.url ?? '');
      const body =
        req.url === '/v1/token'
          ? { access_token: 'fed', token_type: 'Bearer', expires_in: 3600 }
          : { accessToken: 'ya29.x', expireTime: '2030-01-01T00:00:00Z' };
      json(200, body, { 'x-goog-request-id': 'req-123' })(req, res);
    });
    const out = await viaStub().mint(
      gcpMint(token, { serviceAccount: 'odd/../name?@p.iam.gserviceaccount.com' }),
    );
    assert.deepEqual(paths, [
      '/v1/token',
      '/v1/projects/-/serviceAccounts/odd%2F..%2Fname%3F%40p.iam.gserviceaccount.com:generateAccessToken',
    ]);
    assert.deepEqual(out.fields, { accessToken: 'ya29.x', expireTime: '2030-01-01T00:00:00Z' });
    assert.deepEqual(out.audit, {
      serviceAccount: 'odd/../name?@p.iam.gserviceaccount.com',
      upstreamRequestId: 'req-123',
    });
  });

  test('an error without a Google body is named by its status; oversize answers are refused', async () => {
    stub.set((_req, res) => res.writeHead(418).end('teapot'));
    await assert.rejects(
      viaStub().mint(gcpMint(token)),
      failure('refused', 'HTTP 418: Google STS refused the request'),
    );
    stub.set((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(' '.repeat(70_000)),
    );
    await assert.rejects(
      viaStub().mint(gcpMint(token)),
      failure('refused', 'Google STS answer exceeds the size cap'),
    );
  });

  test('neither the broker token, the federated token, Google text nor minted tokens reach errors or logs', async () => {
    const logger = captureLogs();
    const echo = `The audience in ID Token [${token}] does not match`;
    stub.set(json(400, { error: 'invalid_grant', error_description: echo }));
    const refused = await viaStub({ logger })
      .mint(gcpMint(token))
      .then(
        () => assert.fail('expected a refusal'),
        (e: unknown) => e as UpstreamError,
      );
    assert.equal(refused.reason, 'invalid_grant: Google STS rejected the broker token');
    google.failNext(429, 1, 'generateAccessToken');
    const gcp = createGcpProvider(gcpConfig(google.url), gcpDeps({ logger }));
    const out = await gcp.mint(gcpMint(token));
    const federated = (google.calls.at(-1)?.authorization ?? '').slice('Bearer '.length);
    const text = [refused.message, JSON.stringify(refused.cause), ...logger.lines].join('\n');
    assert.ok(logger.lines.length >= 2);
    assert.ok(federated.length > 20);
    for (const secret of [token, federated, out.fields.accessToken, 'does not match']) {
      assert.ok(!text.includes(secret ?? '<none>'), `leaked ${secret?.slice(0, 12)}`);
    }
  });
});
