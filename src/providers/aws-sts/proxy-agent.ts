/**
 * `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` for the AWS SDK, which brings its
 * own transport (node:https agents) instead of our undici client. The agents
 * here open a CONNECT tunnel through the proxy and run TLS to the real host
 * inside it, so the proxy never sees the request (nor the broker token in
 * it). Hosts matching `NO_PROXY` are connected to directly. Keep-alive
 * pooling is the agent's own: a tunnel is reused like any socket.
 */
import { Agent as HttpAgent, type AgentOptions as HttpAgentOptions } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import { isIP, type NetConnectOpts, connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';

/** The proxy variables that matter, lowercase names winning as curl does. */
export interface ProxyEnv {
  https?: URL;
  http?: URL;
  noProxy: string;
}

/** Proxy settings from `env`; undefined when no proxy is set. Throws TypeError for an unparseable proxy URL. */
export function proxyEnv(env: Record<string, string | undefined>): ProxyEnv | undefined {
  const pick = (name: string) => env[name.toLowerCase()] || env[name] || undefined;
  const parse = (name: string) => {
    const value = pick(name);
    if (!value) return undefined;
    try {
      return new URL(value.includes('://') ? value : `http://${value}`);
    } catch {
      throw new TypeError(`${name} is not a URL`);
    }
  };
  const https = parse('HTTPS_PROXY');
  const http = parse('HTTP_PROXY');
  if (!https && !http) return undefined;
  return { ...(https ? { https } : {}), ...(http ? { http } : {}), noProxy: pick('NO_PROXY') ?? '' };
}

/**
 * True when `NO_PROXY` exempts host:port: `*` exempts all; an entry matches
 * the host itself and its subdomains (`example.com`, `.example.com` and
 * `*.example.com` alike); an entry with `:port` matches that port only.
 * Addresses match exactly (no CIDR ranges).
 */
export function bypassesProxy(host: string, port: number, noProxy: string): boolean {
  const target = host.replace(/^\[|\]$/g, '').toLowerCase();
  for (const raw of noProxy.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (!entry) continue;
    if (entry === '*') return true;
    const portMatch = /^(.*):(\d+)$/.exec(entry);
    const name = (portMatch && !isIP(entry) ? (portMatch[1] as string) : entry).replace(/^\[|\]$/g, '');
    if (portMatch && !isIP(entry) && Number(portMatch[2]) !== port) continue;
    const suffix = name.replace(/^\*?\./, '');
    if (target === suffix || target.endsWith(`.${suffix}`)) return true;
  }
  return false;
}

/** Options of a tunnel: the proxy and how long the CONNECT may take, ms. */
interface TunnelOptions {
  proxy: URL;
  timeoutMs: number;
}

function connectRequest(proxy: URL, host: string, port: number): string {
  const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const lines = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`];
  if (proxy.username) {
    const user = decodeURIComponent(proxy.username);
    const pass = decodeURIComponent(proxy.password);
    lines.push(`Proxy-Authorization: Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** A socket to `host:port` through the proxy's CONNECT; rejects with a message naming the status only. */
export function openTunnel(options: TunnelOptions, host: string, port: number): Promise<Socket> {
  const { proxy } = options;
  const proxyPort = Number(proxy.port || (proxy.protocol === 'https:' ? 443 : 80));
  const proxyHost = proxy.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket: Socket =
      proxy.protocol === 'https:'
        ? tlsConnect({ host: proxyHost, port: proxyPort, servername: isIP(proxyHost) ? '' : proxyHost })
        : netConnect(proxyPort, proxyHost);
    let head = Buffer.alloc(0);
    const fail = (error: Error) => {
      socket.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) {
        if (head.length > 16 * 1024) fail(new Error('proxy answered CONNECT with an oversized head'));
        return;
      }
      socket.off('data', onData);
      socket.off('error', fail);
      socket.setTimeout(0);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head.toString('latin1'))?.[1]);
      if (status !== 200) return fail(new Error(`proxy refused CONNECT (HTTP ${status || 'unknown'})`));
      const rest = head.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    socket.setTimeout(options.timeoutMs, () => fail(new Error('proxy CONNECT timed out')));
    socket.once('error', fail);
    socket.on('data', onData);
    socket.write(connectRequest(proxy, host, port));
  });
}

type Callback = (error: Error | null, socket: Duplex) => void;
type ConnectOptions = NetConnectOpts & { host?: string; port?: number; servername?: string };

/** An https.Agent that reaches hosts through `proxy` (CONNECT, then TLS end to end). */
export class TunnelingHttpsAgent extends HttpsAgent {
  readonly #tunnel: TunnelOptions;
  readonly #noProxy: string;

  constructor(tunnel: TunnelOptions & { noProxy: string }, options: HttpsAgentOptions = {}) {
    super(options);
    this.#tunnel = tunnel;
    this.#noProxy = tunnel.noProxy;
  }

  override createConnection(options: ConnectOptions, callback: Callback): Duplex {
    const host = options.host ?? 'localhost';
    const port = Number(options.port ?? 443);
    if (bypassesProxy(host, port, this.#noProxy)) return tlsConnect(options as never);
    openTunnel(this.#tunnel, host, port).then(
      // TLS to the real host inside the tunnel: its certificate is checked as without a proxy.
      (socket) => callback(null, tlsConnect({ ...(options as object), socket } as never)),
      (error: Error) => callback(error, undefined as never),
    );
    // Node's agent accepts the socket through the callback when nothing is returned.
    return undefined as never;
  }
}

/** An http.Agent that reaches plain-HTTP hosts through `proxy` (a CONNECT tunnel). */
export class TunnelingHttpAgent extends HttpAgent {
  readonly #tunnel: TunnelOptions;
  readonly #noProxy: string;

  constructor(tunnel: TunnelOptions & { noProxy: string }, options: HttpAgentOptions = {}) {
    super(options);
    this.#tunnel = tunnel;
    this.#noProxy = tunnel.noProxy;
  }

  override createConnection(options: ConnectOptions, callback: Callback): Duplex {
    const host = options.host ?? 'localhost';
    const port = Number(options.port ?? 80);
    if (bypassesProxy(host, port, this.#noProxy)) return netConnect(options);
    openTunnel(this.#tunnel, host, port).then(
      (socket) => callback(null, socket),
      (error: Error) => callback(error, undefined as never),
    );
    return undefined as never;
  }
}

/**
 * The agents the STS client uses: tunneling ones for the scheme whose proxy
 * variable is set, plain keep-alive ones otherwise.
 */
export function stsAgents(
  env: Record<string, string | undefined>,
  options: { keepAlive: true; maxSockets: number; connectTimeout: number },
): { httpAgent: HttpAgent; httpsAgent: HttpsAgent } {
  const proxies = proxyEnv(env);
  const pool = { keepAlive: options.keepAlive, maxSockets: options.maxSockets };
  const tunnel = (proxy: URL) => ({
    proxy,
    timeoutMs: options.connectTimeout,
    noProxy: proxies?.noProxy ?? '',
  });
  return {
    httpAgent: proxies?.http ? new TunnelingHttpAgent(tunnel(proxies.http), pool) : new HttpAgent(pool),
    httpsAgent: proxies?.https ? new TunnelingHttpsAgent(tunnel(proxies.https), pool) : new HttpsAgent(pool),
  };
}
