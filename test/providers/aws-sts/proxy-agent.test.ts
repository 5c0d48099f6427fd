import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createHttpsServer, request } from 'node:https';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import { createStsClient } from '../../../src/providers/aws-sts/client.ts';
import { bypassesProxy, proxyEnv, TunnelingHttpsAgent } from '../../../src/providers/aws-sts/proxy-agent.ts';
import { selfSignedCert } from '../../helpers/tls.ts';

const portOf = (server: Server) => (server.address() as AddressInfo).port;
const listen = (server: Server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/** A CONNECT proxy that records each tunnel and can demand Basic credentials. */
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
  return { server, tunnels };
}

describe('NO_PROXY matching', () => {
  const cases: Array<[string, number, string, boolean]> = [
    ['sts.amazonaws.com', 443, '', false],
    ['sts.amazonaws.com', 443, '*', true],
    ['sts.amazonaws.com', 443, 'amazonaws.com', true],
    ['sts.amazonaws.com', 443, '.amazonaws.com', true],
    ['sts.amazonaws.com', 443, '*.amazonaws.com', true],
    ['amazonaws.com', 443, '.amazonaws.com', true],
    ['notamazonaws.com', 443, 'amazonaws.com', false],
    ['sts.amazonaws.com', 443, 'example.com, sts.amazonaws.com:443', true],
    ['sts.amazonaws.com', 443, 'sts.amazonaws.com:8443', false],
    ['127.0.0.1', 8080, '127.0.0.1', true],
    ['::1', 443, '::1', true],
    ['[::1]', 443, '[::1]:443', true],
    ['10.1.2.3', 443, '10.0.0.0/8', false],
  ];
  for (const [host, port, noProxy, expected] of cases) {
    test(`${expected ? 'bypasses' : 'proxies'} ${host}:${port} with NO_PROXY=${JSON.stringify(noProxy)}`, () => {
      assert.equal(bypassesProxy(host, port, noProxy), expected);
    });
  }

  test('reads the lowercase variables first and is off without any proxy', () => {
    assert.equal(proxyEnv({ NO_PROXY: 'x' }), undefined);
    const env = proxyEnv({ https_proxy: 'http://a:3128', HTTPS_PROXY: 'http://b:3128', no_proxy: 'c' });
    assert.equal(env?.https?.host, 'a:3128');
    assert.equal(env?.noProxy, 'c');
    assert.equal(proxyEnv({ HTTP_PROXY: 'proxy.internal:8080' })?.http?.href, 'http://proxy.internal:8080/');
    assert.throws(() => proxyEnv({ HTTPS_PROXY: 'http://[bad' }), { message: 'HTTPS_PROXY is not a URL' });
  });
});

describe('TunnelingHttpsAgent', () => {
  let dir: string;
  let ca: Buffer;
  let target: Server;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voidkey-proxy-'));
    const { cert, key } = selfSignedCert(dir, 'sts.test');
    ca = await readFile(cert);
    target = createHttpsServer({ cert: ca, key: await readFile(key) }, (_req, res) => res.end('through'));
    await listen(target as unknown as Server);
  });
  after(async () => {
    await close(target as unknown as Server);
    await rm(dir, { recursive: true, force: true });
  });

  const fetchVia = (agent: TunnelingHttpsAgent) =>
    new Promise<string>((resolve, reject) => {
      const port = portOf(target as unknown as Server);
      const req = request({ host: '127.0.0.1', port, path: '/', agent, ca }, (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });

  test('tunnels TLS through CONNECT with the proxy’s credentials and reuses the tunnel', async () => {
    const basic = `Basic ${Buffer.from('user:p@ss').toString('base64')}`;
    const proxy = connectProxy(basic);
    await listen(proxy.server);
    const agent = new TunnelingHttpsAgent(
      {
        proxy: new URL(`http://user:p%40ss@127.0.0.1:${portOf(proxy.server)}`),
        timeoutMs: 2000,
        noProxy: '',
      },
      { keepAlive: true },
    );
    assert.equal(await fetchVia(agent), 'through');
    assert.equal(await fetchVia(agent), 'through');
    assert.deepEqual(proxy.tunnels, [
      { target: `127.0.0.1:${portOf(target as unknown as Server)}`, auth: basic },
    ]);
    agent.destroy();
    await close(proxy.server);
  });

  test('connects directly to a NO_PROXY host', async () => {
    const proxy = connectProxy();
    await listen(proxy.server);
    const agent = new TunnelingHttpsAgent({
      proxy: new URL(`http://127.0.0.1:${portOf(proxy.server)}`),
      timeoutMs: 2000,
      noProxy: 'localhost,127.0.0.1',
    });
    assert.equal(await fetchVia(agent), 'through');
    assert.equal(proxy.tunnels.length, 0);
    agent.destroy();
    await close(proxy.server);
  });

  test('fails with the proxy’s status when it refuses the tunnel', async () => {
    const proxy = connectProxy('Basic nope');
    await listen(proxy.server);
    const agent = new TunnelingHttpsAgent({
      proxy: new URL(`http://127.0.0.1:${portOf(proxy.server)}`),
      timeoutMs: 2000,
      noProxy: '',
    });
    await assert.rejects(fetchVia(agent), { message: 'proxy refused CONNECT (HTTP 407)' });
    agent.destroy();
    await close(proxy.server);
  });
});

describe('the STS client behind a proxy', () => {
  test('sends AssumeRoleWithWebIdentity through HTTP_PROXY when the endpoint is plain HTTP', async () => {
    const seen: string[] = [];
    const sts = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        seen.push(new URLSearchParams(body).get('Action') ?? '');
        res.writeHead(400, { 'content-type': 'text/xml' });
        res.end(
          '<ErrorResponse><Error><Type>Sender</Type><Code>InvalidIdentityToken</Code>' +
            '<Message>no</Message></Error><RequestId>r-1</RequestId></ErrorResponse>',
        );
      });
    });
    await listen(sts);
    const proxy = connectProxy();
    await listen(proxy.server);
    const { client } = createStsClient({
      endpoint: `http://127.0.0.1:${portOf(sts)}`,
      httpTimeout: 2000,
      env: { HTTP_PROXY: `http://127.0.0.1:${portOf(proxy.server)}` },
    });
    const command = new AssumeRoleWithWebIdentityCommand({
      RoleArn: 'arn:aws:iam::000000000000:role/r',
      RoleSessionName: 's',
      WebIdentityToken: 'not-a-real-token-but-long-enough',
    });
    await assert.rejects(client.send(command), { name: 'InvalidIdentityTokenException' });
    assert.deepEqual(seen, ['AssumeRoleWithWebIdentity']);
    assert.deepEqual(
      proxy.tunnels.map((t) => t.target),
      [`127.0.0.1:${portOf(sts)}`],
    );
    client.destroy();
    await close(proxy.server);
    await close(sts);
  });
});
