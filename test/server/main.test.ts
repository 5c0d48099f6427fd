import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { type RunningBroker, startBroker } from '../../src/server/main.ts';
import { securityHeaders } from '../../src/server/security-headers.ts';
import { appFor, defaultOutput, providerOf, sleep, TOKENS, testConfig, world } from './helpers.ts';
import { captureLogger } from './http.ts';

describe('startBroker', () => {
  let broker: RunningBroker;
  const { lines, logger } = captureLogger();

  before(async () => {
    const config = testConfig();
    // Only aws-sts and minio are built into providers/ so far; keep to those.
    config.accessProviders = config.accessProviders.filter((p) => p.type === 'aws-sts' || p.type === 'minio');
    config.clientIdentities = [];
    config.brokerIdp.tokenEndpoint = 'https://127.0.0.1:9/token';
    broker = await startBroker({ config, host: '127.0.0.1', port: 0, logger });
  });

  after(async () => {
    broker.app.server.closeAllConnections();
    await broker.close();
  });

  test('listens on the given host and a free port and logs the URL once', async () => {
    assert.match(broker.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(lines.some((line) => line.includes(`"url":"${broker.url}"`)));
  });

  // The broker IdP here is unreachable: no broker token for any audience is "unhealthy" (SPEC §7).
  test('answers health over a real socket with a request id', async () => {
    const res = await fetch(`${broker.url}/health`);
    assert.equal(res.status, 503);
    assert.ok(res.headers.get('x-request-id'));
    const body = (await res.json()) as { status: string; checks: Record<string, string> };
    assert.equal(body.status, 'unhealthy');
    assert.equal(body.checks['broker_token:sts.aws'], 'unhealthy');
  });

  // Regression: fastify's request.signal aborts once a POST body is read,
  // which turned every real mint into an immediate 503.
  test('verifies a POSTed token instead of timing out when its body has been read', async () => {
    const res = await fetch(`${broker.url}/credentials/mint`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ keys: ['AWS_READ'], oidcToken: 'not-a-token' }),
    });
    assert.equal(res.status, 401);
    const body = (await res.json()) as { error: string; details: { reason: string } };
    assert.equal(body.error, 'INVALID_TOKEN');
    assert.equal(body.details.reason, 'malformed');
  });

  test('closes idempotently', async () => {
    const again = broker.close();
    assert.equal(again, broker.close());
  });
});

describe('closing', () => {
  test('answers a request that arrives while closing with a 503 in the error format', async () => {
    const w = world();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    providerOf(w, 'aws-dev').behaviour = async (input) => {
      await held;
      return defaultOutput('aws-dev', input);
    };
    const app = appFor(w, { headers: securityHeaders({ tls: false }) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk) => {
      received += chunk;
    });
    const body = JSON.stringify({ keys: ['AWS_READ'] });
    socket.write(
      `POST /credentials/mint HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKENS.main}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await sleep(100);
    const closed = app.close();
    await sleep(50);
    // A second request on the still-open socket, while the mint is in flight and the app is closing.
    socket.write('GET /health/live HTTP/1.1\r\nHost: x\r\nX-Request-ID: late-1\r\n\r\n');
    await sleep(50);
    release();
    await closed;
    await Promise.race([new Promise((resolve) => socket.once('close', resolve)), sleep(2000)]);
    socket.destroy();
    const [first, second] = received.split(/(?=HTTP\/1\.1 )/);
    assert.match(first ?? '', /^HTTP\/1\.1 200/);
    assert.match(second ?? '', /^HTTP\/1\.1 503/);
    assert.match(second ?? '', /x-request-id: late-1/i);
    assert.match(
      second ?? '',
      /x-content-type-options: nosniff/i,
      'the security headers, as on every answer',
    );
    assert.match(second ?? '', /cache-control: no-store/i);
    const errorBody = JSON.parse((second ?? '').split('\r\n\r\n')[1] ?? '{}');
    assert.equal(errorBody.error, 'SERVICE_UNAVAILABLE');
    assert.equal(errorBody.requestId, 'late-1');
  });
});

describe('startBroker with an audit file it cannot open', () => {
  const auditConfig = (failClosed: boolean) => {
    const config = testConfig();
    config.accessProviders = config.accessProviders.filter((p) => p.type === 'aws-sts' || p.type === 'minio');
    config.clientIdentities = [];
    config.brokerIdp.tokenEndpoint = 'https://127.0.0.1:9/token';
    config.logging = {
      ...config.logging,
      audit: { ...config.logging.audit, file: '/nonexistent-voidkey-dir/audit.log', failClosed },
    };
    return config;
  };

  test('refuses to start under failClosed, naming the path and the system error', async () => {
    const { lines, logger } = captureLogger();
    await assert.rejects(startBroker({ config: auditConfig(true), host: '127.0.0.1', port: 0, logger }), {
      message:
        'logging.audit.file: cannot open /nonexistent-voidkey-dir/audit.log for append: ENOENT: no such file or directory',
    });
    assert.equal(
      lines.some((l) => l.includes('listening')),
      false,
    );
  });

  test('starts without failClosed, saying the file cannot be opened', async () => {
    const { lines, logger } = captureLogger();
    const broker = await startBroker({ config: auditConfig(false), host: '127.0.0.1', port: 0, logger });
    await broker.close();
    const line = lines.map((l) => JSON.parse(l)).find((l) => l.file === '/nonexistent-voidkey-dir/audit.log');
    assert.equal(line?.level, 50);
    assert.equal(line?.code, 'ENOENT');
  });
});
