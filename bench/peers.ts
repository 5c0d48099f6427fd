/**
 * The benchmark's peers, the ones the e2e suite speaks to: client issuers
 * (one dev issuer each, each with its own URL and key), the broker's IdP, the
 * STS endpoint, and a counting proxy in front of the client issuers' JWKS so
 * the run can tell how often the broker fetched keys.
 *
 * It runs as a child process driven over IPC (servers.ts), so the peers'
 * work never shares an event loop with the load generator.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DevIssuer, startDevIssuer } from '../src/dev/issuer.ts';
import { startStsServer } from '../src/dev/sts-server.ts';
import {
  type BenchEndpoints,
  BROKER_CLIENT_ID,
  CLIENT_AUDIENCE,
  POPULATIONS,
  type PopulationName,
  STS_AUDIENCE,
  tokenIdentity,
} from './config.ts';

/** What the runner learns once the peers listen. */
export interface PeersInfo {
  endpoints: BenchEndpoints;
  /** The issuers' own JWKS URLs (the floor reads these, bypassing the counter). */
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
  /** Access tokens issued by the broker's IdP. */
  brokerTokenRequests: number;
  stsRequests: number;
}

/** Requests the runner sends over IPC. */
export type PeerRequest =
  | { id: number; type: 'tokens'; population: PopulationName; identities: number; count: number }
  | { id: number; type: 'stats' };

const BROKER_TOKEN_TTL = 900;

/** Serves `/jwks/<i>` from issuer `i`, counting each download. */
async function startJwksCounter(clients: DevIssuer[]) {
  const counts = clients.map(() => 0);
  const server = createServer((req, res) => {
    const i = Number(/^\/jwks\/(\d+)$/.exec(req.url ?? '')?.[1] ?? Number.NaN);
    const client = clients[i];
    if (!client) return res.writeHead(404).end();
    counts[i] = (counts[i] ?? 0) + 1;
    fetch(client.jwksUri).then(
      async (upstream) =>
        res.writeHead(upstream.status, { 'content-type': 'application/json' }).end(await upstream.text()),
      () => res.writeHead(502).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, counts };
}

async function main(idps: number): Promise<void> {
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
  const answer = async (message: PeerRequest): Promise<unknown> => {
    if (message.type === 'stats') {
      const stats: PeerStats = {
        jwksFetches: [...proxy.counts],
        brokerTokenRequests: brokerIdp.stats.accessTokens,
        stsRequests: sts.stats.requests,
      };
      return stats;
    }
    const population = POPULATIONS[message.population];
    const tokens: string[] = [];
    for (let j = 0; j < message.count; j++) {
      const i = tokenIdentity(j, message.identities, message.count);
      const issuer = clients[i % clients.length] as DevIssuer;
      // An hour: longer than any run, inside the broker's default maxTokenLifetime.
      const { sub, ...claims } = population.claims(i);
      tokens.push(
        await issuer.mintClientToken({ sub: String(sub), aud: CLIENT_AUDIENCE, ttlSeconds: 3600, claims }),
      );
    }
    return tokens;
  };
  process.on('message', (message: PeerRequest) => {
    answer(message).then(
      (result) => process.send?.({ id: message.id, result }),
      (err: unknown) => process.send?.({ id: message.id, error: String(err) }),
    );
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready', info });
}

main(Number(process.argv[2] ?? '20')).catch((err: unknown) => {
  process.stderr.write(`bench peers: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
