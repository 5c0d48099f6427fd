import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createStsClient } from '../../src/providers/aws-sts/client.ts';
import { createDispatcher, createHttpClient, proxySettings } from '../../src/providers/http.ts';
import { selfSignedCert } from '../helpers/tls.ts';

process.env.AWS_PROFILE = 'voidkey-test-profile-that-does-not-exist';

const portOf = (server: Server) => (server.address() as AddressInfo).port;
const listen = (server: Server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** A CONNECT proxy that records each tunnel's target and can demand Basic credentials. */
function connectProxy(requiredAuth?: string) {
  const tunnels: Array<{ target: string; auth: string | undefined }> = [];
  const server = createHttpServer();
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const auth = req.headers['proxy-authorization'];
    tunnels.push({ target: req.url ?? '', auth });
    if (requiredAuth && auth !== requiredAuth) {
      client.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host as string, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  return { server, tunnels, url: () => `http://127.0.0.1:${portOf(server)}` };
}

const REFUSAL =
  '<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>' +
  '<Message>no</Message></Error><RequestId>r-1</RequestId></ErrorResponse>';

/** Answers GETs with `ok` and STS calls with a refusal; records what reached it. */
function target(): { server: Server; seen: string[] } {
  const seen: string[] = [];
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      if (req.method === 'GET') {
        seen.push(`GET ${req.url}`);
        res.end('ok');
        return;
      }
      seen.push(new URLSearchParams(body).get('Action') ?? '');
      res.writeHead(400, { 'content-type': 'text/xml' }).end(REFUSAL);
    });
  });
  return { server, seen };
}

/** One AssumeRoleWithWebIdentity through an STS client built from `env`. */
async function stsCall(origin: string, env: Record<string, string | undefined>) {
  const sts = createStsClient({ endpoint: origin, httpTimeout: 2000, env });
  try {
    return await sts.assumeRoleWithWebIdentity({
      RoleArn: 'arn:aws:iam::000000000000:role/r',
      RoleSessionName: 's',
      WebIdentityToken: 'not-a-real-token-but-long-enough',
    });
  } finally {
    sts.client.destroy();
  }
}

/** One GET through the HTTP client and one STS call through the STS client, both built from `env`. */
async function callBoth(origin: string, env: Record<string, string | undefined>) {
  const http = createHttpClient(createDispatcher({ env }));
  const res = await http(`${origin}/jwks`, { timeoutMs: 2000, maxBytes: 1024 });
  assert.equal(res.body.toString(), 'ok');
  await assert.rejects(stsCall(origin, env), { name: 'InvalidIdentityTokenException' });
}

describe('proxy settings: one rule for every outbound client', () => {
  test('is off without a proxy; NO_PROXY alone changes nothing', () => {
    assert.equal(proxySettings({}), undefined);
    assert.equal(proxySettings({ NO_PROXY: 'x', no_proxy: 'y' }), undefined);
  });

  test('each lower-case variable wins over its upper-case one, as in undici', () => {
    assert.deepEqual(
      proxySettings({
        https_proxy: 'http://a:3128',
        HTTPS_PROXY: 'http://b:3128',
        http_proxy: 'http://c:3128',
        HTTP_PROXY: 'http://d:3128',
        no_proxy: 'e',
        NO_PROXY: 'f',
      }),
      { httpsProxy: 'http://a:3128', httpProxy: 'http://c:3128', noProxy: 'e' },
    );
    // An empty lower-case value is still the one read: it turns that proxy off.
    assert.equal(proxySettings({ https_proxy: '', HTTPS_PROXY: 'http://b:3128' }), undefined);
  });

  test('HTTPS falls back to the HTTP proxy; a proxy without a scheme is http://', () => {
    assert.deepEqual(proxySettings({ HTTP_PROXY: 'proxy.internal:8080' }), {
      httpProxy: 'http://proxy.internal:8080',
      httpsProxy: 'http://proxy.internal:8080',
      noProxy: undefined,
    });
  });

  test('names a variable that is not a URL', () => {
    assert.throws(() => proxySettings({ HTTPS_PROXY: 'http://[bad' }), {
      name: 'TypeError',
      message: 'HTTPS_PROXY is not a URL',
    });
  });
});

describe('both clients behind a CONNECT proxy', () => {
  let upstream: ReturnType<typeof target>;
  let origin: string;
  before(async () => {
    upstream = target();
    await listen(upstream.server);
    origin = `http://127.0.0.1:${portOf(upstream.server)}`;
  });
  after(() => close(upstream.server));

  test('HTTP_PROXY: the fetch and the STS call each go through a tunnel, with the proxy’s credentials', async () => {
    const basic = `Basic ${Buffer.from('user:p@ss').toString('base64')}`;
    const proxy = connectProxy(basic);
    await listen(proxy.server);
    upstream.seen.length = 0;
    const withCredentials = proxy.url().replace('http://', 'http://user:p%40ss@');
    await callBoth(origin, { HTTP_PROXY: withCredentials });
    assert.deepEqual(upstream.seen, ['GET /jwks', 'AssumeRoleWithWebIdentity']);
    const hostPort = origin.slice('http://'.length);
    assert.deepEqual(proxy.tunnels, [
      { target: hostPort, auth: basic },
      { target: hostPort, auth: basic },
    ]);
    await close(proxy.server);
  });

  test('the lower-case variable is the one both clients use', async () => {
    const chosen = connectProxy();
    const other = connectProxy();
    await listen(chosen.server);
    await listen(other.server);
    await callBoth(origin, { http_proxy: chosen.url(), HTTP_PROXY: other.url() });
    assert.equal(chosen.tunnels.length, 2);
    assert.equal(other.tunnels.length, 0);
    await close(chosen.server);
    await close(other.server);
  });

  test('NO_PROXY: both clients connect directly', async () => {
    const proxy = connectProxy();
    await listen(proxy.server);
    upstream.seen.length = 0;
    await callBoth(origin, { HTTP_PROXY: proxy.url(), NO_PROXY: 'localhost,127.0.0.1' });
    assert.deepEqual(upstream.seen, ['GET /jwks', 'AssumeRoleWithWebIdentity']);
    assert.equal(proxy.tunnels.length, 0);
    await close(proxy.server);
  });
});

describe('HTTPS through HTTPS_PROXY', () => {
  let dir: string;
  let secure: Server;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voidkey-proxy-'));
    const { cert, key } = selfSignedCert(dir, 'sts.test');
    secure = createHttpsServer({ cert: await readFile(cert), key: await readFile(key) }, (_req, res) =>
      res.end('ok'),
    ) as unknown as Server;
    await listen(secure);
  });
  after(async () => {
    await close(secure);
    await rm(dir, { recursive: true, force: true });
  });

  test('both clients open their TLS connection inside a tunnel (the proxy sees only the target)', async () => {
    const proxy = connectProxy();
    await listen(proxy.server);
    const origin = `https://127.0.0.1:${portOf(secure)}`;
    const env = { HTTPS_PROXY: proxy.url() };
    // The target's certificate is not trusted here: each call fails after its tunnel is open.
    const http = createHttpClient(createDispatcher({ env }));
    await assert.rejects(http(`${origin}/jwks`, { timeoutMs: 2000, maxBytes: 1024 }));
    await assert.rejects(stsCall(origin, env));
    assert.deepEqual(
      proxy.tunnels.map((t) => t.target),
      [`127.0.0.1:${portOf(secure)}`, `127.0.0.1:${portOf(secure)}`],
    );
    await close(proxy.server);
  });
});
