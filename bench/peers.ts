/**
 * The benchmark's peers, the same ones the e2e suite speaks to: client
 * issuers (one dev issuer each, so every IdP has its own issuer URL and key),
 * the broker's IdP, the STS endpoint (which verifies each broker token once
 * and remembers it), and a counting proxy in front of the client issuers'
 * JWKS so the run can tell how often the broker fetched keys.
 *
 * Run as a script it is a child process driven over IPC, so the peers' work
 * never shares an event loop with the load generator.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';
import { type DevIssuer, startDevIssuer } from '../src/dev/issuer.ts';
import { type StsServer, startStsServer } from '../src/dev/sts-server.ts';
import {
  type BenchEndpoints,
  BROKER_CLIENT_ID,
  benchIdentity,
  CLIENT_AUDIENCE,
  STS_AUDIENCE,
} from './config.ts';

/** What the runner learns once the peers listen. */
export interface PeersInfo {
  endpoints: BenchEndpoints;
  /** The issuers' own JWKS URLs (the floor reads these directly, bypassing the counter). */
  directJwks: string[];
  brokerTokenEndpoint: string;
  brokerSecret: string;
  /** Broker-token lifetime the IdP grants, seconds. */
  brokerTokenTtl: number;
}

/** Counters the runner reads between phases. */
export interface PeerStats {
  /** JWKS downloads through the proxy, per client IdP index. */
  jwksFetches: number[];
  /** Access tokens issued by the broker's IdP (client-credentials grants). */
  brokerTokenRequests: number;
  stsRequests: number;
  /** Broker-token signature checks by the STS peer (repeated tokens are remembered). */
  stsTokenVerifications: number;
  /** The STS peer's own JWKS downloads from the broker IdP. */
  stsJwksFetches: number;
}

/** Running peers. */
export interface BenchPeers {
  info: PeersInfo;
  stats(): PeerStats;
  /** `count` client tokens for the first `identities` identities, spread evenly over them. */
  signTokens(identities: number, count: number): Promise<string[]>;
  close(): Promise<void>;
}

const BROKER_TOKEN_TTL = 900;

/** Starts `idps` client issuers, the broker IdP, the STS endpoint and the JWKS counter on 127.0.0.1. */
export async function startBenchPeers(idps: number): Promise<BenchPeers> {
  const clients = await Promise.all(Array.from({ length: idps }, () => startDevIssuer()));
  const brokerSecret = randomBytes(24).toString('base64url');
  const brokerIdp = await startDevIssuer({
    clients: [{ clientId: BROKER_CLIENT_ID, clientSecret: brokerSecret }],
    accessTokenTtl: BROKER_TOKEN_TTL,
  });
  const sts = await startStsServer({
    issuer: brokerIdp.issuer,
    jwksUri: brokerIdp.jwksUri,
    audience: STS_AUDIENCE,
  });
  const proxy = await startJwksCounter(clients);
  const info: PeersInfo = {
    endpoints: {
      clientIdps: clients.map((c, i) => ({ issuer: c.issuer, jwksUri: `${proxy.url}/jwks/${i}` })),
      brokerIssuer: brokerIdp.issuer,
      stsEndpoint: sts.url,
    },
    directJwks: clients.map((c) => c.jwksUri),
    brokerTokenEndpoint: brokerIdp.tokenEndpoint,
    brokerSecret,
    brokerTokenTtl: BROKER_TOKEN_TTL,
  };
  return {
    info,
    stats: () => peerStats(proxy.counts, brokerIdp, sts),
    signTokens: (identities, count) => signTokens(clients, identities, count),
    async close() {
      await new Promise<void>((resolve) => {
        proxy.server.closeAllConnections();
        proxy.server.close(() => resolve());
      });
      await sts.close();
      await brokerIdp.close();
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

function peerStats(counts: number[], brokerIdp: DevIssuer, sts: StsServer): PeerStats {
  return {
    jwksFetches: [...counts],
    brokerTokenRequests: brokerIdp.stats.accessTokens,
    stsRequests: sts.stats.requests,
    stsTokenVerifications: sts.stats.tokenVerifications,
    stsJwksFetches: sts.stats.jwksFetches,
  };
}

async function signTokens(clients: DevIssuer[], identities: number, count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let j = 0; j < count; j++) {
    // More identities than tokens: a prime stride visits distinct identities of every IdP.
    const index = identities <= count ? j % identities : (j * 7919) % identities;
    const identity = benchIdentity(index, clients.length);
    const issuer = clients[identity.idp] as DevIssuer;
    // An hour: longer than any run, well inside the broker's default maxTokenLifetime.
    tokens.push(
      await issuer.mintClientToken({ sub: identity.subject, aud: CLIENT_AUDIENCE, ttlSeconds: 3600 }),
    );
  }
  return tokens;
}

/** Serves `/jwks/<i>` from issuer `i`, counting each download. */
async function startJwksCounter(
  clients: DevIssuer[],
): Promise<{ url: string; server: Server; counts: number[] }> {
  const counts = clients.map(() => 0);
  const server = createServer((req, res) => {
    const match = /^\/jwks\/(\d+)$/.exec(req.url ?? '');
    const client = match ? clients[Number(match[1])] : undefined;
    if (!match || !client || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    counts[Number(match[1])]++;
    fetch(client.jwksUri).then(
      async (upstream) => {
        const body = await upstream.text();
        res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(body);
      },
      () => res.writeHead(502).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server, counts };
}

/** Requests the runner sends over IPC. */
export type PeerRequest =
  | { id: number; type: 'tokens'; identities: number; count: number }
  | { id: number; type: 'stats' }
  | { id: number; type: 'close' };

async function serveOverIpc(): Promise<void> {
  const idps = Number(process.argv[2] ?? '20');
  const peers = await startBenchPeers(idps);
  const send = (message: unknown) => process.send?.(message);
  process.on('message', (message: PeerRequest) => {
    const reply = async () => {
      if (message.type === 'tokens') return peers.signTokens(message.identities, message.count);
      if (message.type === 'stats') return peers.stats();
      await peers.close();
      setImmediate(() => process.exit(0));
      return null;
    };
    reply().then(
      (result) => send({ id: message.id, result }),
      (err: unknown) => send({ id: message.id, error: String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', info: peers.info });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  serveOverIpc().catch((err: unknown) => {
    process.stderr.write(`bench peers: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
