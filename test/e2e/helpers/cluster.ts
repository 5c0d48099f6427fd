/**
 * Several built brokers (`voidkey serve` processes) with one config sharing
 * one Redis, in front of the same peers: OP A (its client IdP has
 * `oneTimeUse`, and it is the broker's IdP), OP B (an IdP without
 * `oneTimeUse`), and the STS peer behind the recording proxy. The brokers
 * trust X-Forwarded-For from 127.0.0.1, so each request can come from its
 * own client IP and the per-IP limit is observed one address at a time.
 */
import { randomBytes } from 'node:crypto';
import { startStsServer } from '../../../src/dev/sts-server.ts';
import { type OidcPeer, startOidcProvider } from '../peers/oidc.ts';
import { deleteUnder, rawClient, uniquePrefix } from '../peers/redis.ts';
import { type StsProxy, startStsProxy } from '../peers/sts-faults.ts';
import { assertBuilt, type BrokerProcess, startBroker } from './broker.ts';
import { type ApiOptions, type ApiResponse, api } from './http.ts';
import { findLeaks, registerSecret } from './secrets.ts';
import { AUD, ROLE, STS_AUD } from './world.ts';

/** Workload identities at OP A, one per test so per-subject budgets never mix. */
export const WORKLOADS = {
  replayer: 'repo:acme/replayer:ref:refs/heads/main',
  releaser: 'repo:acme/releaser:ref:refs/heads/main',
  racer: 'repo:acme/racer:ref:refs/heads/main',
  busy: 'repo:acme/busy:ref:refs/heads/main',
} as const;
/** A workload at OP B (no `oneTimeUse`). */
export const B_WORKLOAD = 'ci-b:deployer';
const BROKER_CLIENT = 'voidkey-broker';

/** Limits every cluster runs with (per IP, per subject). */
export const LIMITS = { ipMax: 6, subjectMax: 6, windowMs: 60_000 } as const;

/** The peers and brokers of a cluster. */
export interface Cluster {
  opA: OidcPeer;
  opB: OidcPeer;
  proxy: StsProxy;
  brokers: BrokerProcess[];
  /** The Redis key prefix of this cluster. */
  prefix: string;
  /** A workload token from `op` for `clientId`, registered as a secret. */
  token(op: OidcPeer, clientId: string): Promise<string>;
  /** A request to broker `i` from a client IP of its own (`X-Forwarded-For`), unless `ip` is given. */
  call(i: number, method: string, path: string, options?: ApiOptions & { ip?: string }): Promise<ApiResponse>;
  /** The value of one metric series in broker `i`'s /metrics, 0 when absent. */
  metric(i: number, series: string): Promise<number>;
  /** Labels of registered secrets found in any broker's output. */
  leaks(): string[];
  close(): Promise<void>;
}

let ipSerial = 0;
/** A client address no other request in this process used. */
export function nextIp(): string {
  ipSerial += 1;
  return `10.77.${Math.floor(ipSerial / 250)}.${(ipSerial % 250) + 1}`;
}

const key = (roleArn: string) => ({ provider: 'aws-e2e', roleArn, duration: 900 });

/** How a cluster reaches Redis: a URL, or a whole `redis` block (topology, TLS, ACL); the prefix is added. */
export type RedisTarget = { redisUrl: string } | { redis: Record<string, unknown> };

function clusterConfig(
  opA: OidcPeer,
  opB: OidcPeer,
  stsUrl: string,
  target: RedisTarget,
  prefix: string,
  subjectMax: number,
) {
  const grants = { AWS_READ: key(ROLE.read), AWS_REFUSED: key(ROLE.refused) };
  return {
    server: {
      host: '127.0.0.1',
      allowInsecureIssuers: true,
      shutdownGracePeriod: 3000,
      trustProxy: ['127.0.0.1'],
    },
    brokerIdp: {
      name: 'op-a',
      issuer: opA.issuer,
      clientId: BROKER_CLIENT,
      clientAuth: 'client_secret_basic',
      audienceParam: 'resource',
      clientSecret: '${BROKER_CLIENT_SECRET}',
    },
    clientIdps: [
      { name: 'op-a', issuer: opA.issuer, audience: AUD, oneTimeUse: true },
      { name: 'op-b', issuer: opB.issuer, audience: AUD },
    ],
    accessProviders: [
      { name: 'aws-e2e', type: 'aws-sts', region: 'us-east-1', endpoint: stsUrl, audience: STS_AUD },
    ],
    clientIdentities: [
      ...Object.values(WORKLOADS).map((subject) => ({ subject, idp: 'op-a', keys: grants })),
      { subject: B_WORKLOAD, idp: 'op-b', keys: grants },
    ],
    rateLimit: {
      max: LIMITS.ipMax,
      windowMs: LIMITS.windowMs,
      perSubject: { max: subjectMax, windowMs: LIMITS.windowMs },
    },
    broker: { httpTimeout: 2000, maxRetries: 1, retryDelay: 20 },
    redis: { ...('redis' in target ? target.redis : { url: target.redisUrl }), keyPrefix: prefix },
  };
}

async function startPeers() {
  const opA = await startOidcProvider({
    defaultResource: AUD,
    clients: [
      ...Object.values(WORKLOADS).map((clientId) => ({ clientId })),
      { clientId: BROKER_CLIENT, auth: 'client_secret_basic' as const },
    ],
  });
  const opB = await startOidcProvider({ defaultResource: AUD, clients: [{ clientId: B_WORKLOAD }] });
  const sts = await startStsServer({
    issuer: opA.issuer,
    jwksUri: opA.jwksUriFor('sts'),
    audience: STS_AUD,
    host: '127.0.0.1',
    port: 0,
    allowedRoles: (roleArn) => roleArn !== ROLE.refused,
  });
  const proxy = await startStsProxy(sts.url);
  const stop = async () => {
    await proxy.close();
    await sts.close();
    await opA.close();
    await opB.close();
  };
  return { opA, opB, proxy, stop };
}

/**
 * Starts the peers and `instances` brokers sharing one Redis under a fresh key
 * prefix; `subjectMax` raises the per-subject limit for tests that mint a lot.
 */
export async function startCluster(
  options: { instances: number; subjectMax?: number } & RedisTarget,
): Promise<Cluster> {
  assertBuilt();
  const prefix = uniquePrefix();
  const peers = await startPeers();
  const { opA, opB, proxy } = peers;
  const secret = opA.secretOf(BROKER_CLIENT);
  registerSecret('broker client secret', secret);
  for (const id of Object.values(WORKLOADS)) registerSecret(`client secret ${id}`, opA.secretOf(id));
  const config = clusterConfig(opA, opB, proxy.url, options, prefix, options.subjectMax ?? LIMITS.subjectMax);
  const brokers: BrokerProcess[] = [];
  const stopAll = async () => {
    await Promise.all(brokers.map((b) => b.stop()));
    await peers.stop();
    const raw = rawClient();
    try {
      await raw.connect();
      await deleteUnder(raw, prefix);
    } finally {
      raw.disconnect();
    }
  };
  try {
    for (let i = 0; i < options.instances; i += 1) {
      brokers.push(await startBroker(config, { env: { BROKER_CLIENT_SECRET: secret } }));
    }
  } catch (error) {
    await stopAll();
    throw error;
  }
  const at = (i: number) => {
    const broker = brokers[i];
    if (!broker) throw new RangeError(`no broker ${i}`);
    return broker;
  };
  return {
    opA,
    opB,
    proxy,
    brokers,
    prefix,
    token: async (op, clientId) => {
      const t = await op.clientToken(clientId);
      registerSecret(`token of ${clientId}`, t);
      return t;
    },
    call: (i, method, path, { ip, ...rest } = {}) =>
      api(at(i).url, method, path, {
        ...rest,
        headers: { 'x-forwarded-for': ip ?? nextIp(), ...rest.headers },
      }),
    metric: async (i, series) => {
      const { text } = await api(at(i).url, 'GET', '/metrics');
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? 0 : Number(line.slice(series.length + 1));
    },
    leaks: () => {
      for (const call of proxy.calls) {
        registerSecret('broker token', call.webIdentityToken);
        registerSecret('STS secret access key', call.credentials?.secretAccessKey);
        registerSecret('STS session token', call.credentials?.sessionToken);
      }
      return brokers.flatMap((b) => findLeaks(b.output()));
    },
    close: stopAll,
  };
}

/** A random password with URL-reserved characters (`:`, `/`, `@`), as operators write them. */
export function redisPassword(): string {
  return `pw:${randomBytes(9).toString('base64url')}/@x`;
}
