/**
 * Real peers for in-process broker tests: the development issuer (client
 * and broker IdP), the STS peer behind a proxy whose latency a test sets,
 * and a config file in a temp dir that a test can rewrite (for SIGHUP).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/core/config/index.ts';
import { type DevIssuer, startDevIssuer } from '../../src/dev/issuer.ts';
import { type StsServer, startStsServer } from '../../src/dev/sts-server.ts';
import { type RunningBroker, type StartOptions, startBroker } from '../../src/server/main.ts';
import { captureLogger } from './http.ts';

export const BROKER_SECRET = 'live-broker-secret-0123456789abcdef';
export const STS_AUDIENCE = 'sts.live.test';
export const CLIENT_AUDIENCE = 'voidkey-live';
export const ALICE = 'alice';
export const READ_ROLE = 'arn:aws:iam::000000000000:role/read';

/** A forwarding proxy in front of `target` that holds each request `latencyMs`. */
export interface SlowProxy {
  url: string;
  latencyMs: number;
  close(): Promise<void>;
}

async function slowProxy(target: string): Promise<SlowProxy> {
  const upstream = new URL(target);
  const proxy: SlowProxy = { url: '', latencyMs: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      setTimeout(() => {
        const out = request(
          upstream,
          { method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
          (answer) => {
            res.writeHead(answer.statusCode ?? 502, answer.headers);
            answer.pipe(res);
          },
        );
        out.on('error', () => res.destroy());
        out.end(Buffer.concat(chunks));
      }, proxy.latencyMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return proxy;
}

/** The peers, the config file and helpers. */
export interface Live {
  issuer: DevIssuer;
  sts: StsServer;
  proxy: SlowProxy;
  dir: string;
  configPath: string;
  env: Record<string, string>;
  /** The standard config, with `patch` applied at the top level (sections replaced). */
  config(patch?: Record<string, unknown>): Record<string, unknown>;
  /** Writes `config` (object or raw YAML) to the config file. */
  write(config: Record<string, unknown> | string): Promise<void>;
  /** A client token for `sub` (default alice). */
  token(sub?: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts the peers and writes the standard config. */
export async function startLive(): Promise<Live> {
  const issuer = await startDevIssuer({ clients: [{ clientId: 'broker', clientSecret: BROKER_SECRET }] });
  const sts = await startStsServer({
    issuer: issuer.issuer,
    jwksUri: issuer.jwksUri,
    audience: STS_AUDIENCE,
  });
  const proxy = await slowProxy(sts.url);
  const dir = await mkdtemp(join(tmpdir(), 'voidkey-live-'));
  const configPath = join(dir, 'config.yaml');
  const config = (patch: Record<string, unknown> = {}) => ({
    server: { host: '127.0.0.1', allowInsecureIssuers: true },
    brokerIdp: {
      name: 'dev',
      issuer: issuer.issuer,
      audience: STS_AUDIENCE,
      clientId: 'broker',
      clientSecret: '${BROKER_SECRET}',
    },
    clientIdps: [{ name: 'dev', issuer: issuer.issuer, audience: CLIENT_AUDIENCE, algorithms: ['ES256'] }],
    accessProviders: [{ name: 'aws-dev', type: 'aws-sts', region: 'us-east-1', endpoint: proxy.url }],
    clientIdentities: [
      {
        subject: ALICE,
        idp: 'dev',
        keys: { AWS_READ: { provider: 'aws-dev', roleArn: READ_ROLE, duration: 900 } },
      },
    ],
    broker: { httpTimeout: 3000, maxRetries: 1, retryDelay: 10 },
    ...patch,
  });
  const write = (c: Record<string, unknown> | string) =>
    writeFile(configPath, typeof c === 'string' ? c : stringify(c), { mode: 0o600 });
  await write(config());
  return {
    issuer,
    sts,
    proxy,
    dir,
    configPath,
    env: { BROKER_SECRET },
    config,
    write,
    token: (sub = ALICE) => issuer.mintClientToken({ sub, aud: CLIENT_AUDIENCE }),
    close: async () => {
      await proxy.close();
      await sts.close();
      await issuer.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Loads the live config file and starts a broker on a free port with a capturing logger. */
export async function startLiveBroker(
  live: Live,
  extra: Partial<StartOptions> = {},
): Promise<{ broker: RunningBroker; lines: string[] }> {
  const { config } = await loadConfig({ path: live.configPath, env: live.env });
  const { lines, logger } = captureLogger();
  const broker = await startBroker({
    config,
    configPath: live.configPath,
    host: '127.0.0.1',
    port: 0,
    logger,
    env: live.env,
    ...extra,
  });
  return { broker, lines };
}

/** POST /credentials/mint over a real socket. */
export async function mint(url: string, token: string, keys: string[] = ['AWS_READ']) {
  const res = await fetch(`${url}/credentials/mint`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ keys }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
