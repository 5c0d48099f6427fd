/**
 * The standard e2e world: two OpenID Providers (A is also the broker's IdP),
 * the STS peer verifying broker tokens against A's JWKS, the fault proxy in
 * front of it, and one `voidkey serve` configured for all of them.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { detachKeyPair } from '../../../src/dev/keys.ts';
import { startStsServer } from '../../../src/dev/sts-server.ts';
import { type OidcPeer, startOidcProvider, type TokenTweaks } from '../peers/oidc.ts';
import { type StsProxy, startStsProxy } from '../peers/sts-faults.ts';
import { assertBuilt, type BrokerProcess, startBroker } from './broker.ts';
import { type ApiOptions, type ApiResponse, api } from './http.ts';
import { findLeaks, registeredCount, registerSecret } from './secrets.ts';

export const AUD = 'https://voidkey.test';
export const STS_AUD = 'https://sts.voidkey.test';
/** Has AWS_DEPLOY, AWS_READ, AWS_AUDIT, AWS_REFUSED (whose role the STS peer refuses) under OP A. */
export const SUBJECT = 'repo:acme/app:ref:refs/heads/main';
/** Has only AWS_READ under OP A. */
export const LIMITED = 'repo:acme/limited:ref:refs/heads/main';
/** Known to OP A but has no identity in the broker. */
export const STRANGER = 'repo:acme/stranger:ref:refs/heads/main';
/** Has AWS_DEPLOY under OP B. */
export const B_SUBJECT = 'ci-b:deployer';
export const ROLE = {
  deploy: 'arn:aws:iam::123456789012:role/Deploy',
  read: 'arn:aws:iam::123456789012:role/Read',
  audit: 'arn:aws:iam::123456789012:role/Audit',
  refused: 'arn:aws:iam::123456789012:role/Refused',
} as const;
/** Broker clients at OP A, one per `brokerIdp.clientAuth`. */
export const BROKER_CLIENT = {
  client_secret_basic: 'voidkey-broker',
  client_secret_post: 'voidkey-broker-post',
  private_key_jwt: 'voidkey-broker-pkjwt',
} as const;
export type BrokerAuth = keyof typeof BROKER_CLIENT;

type StsServer = Awaited<ReturnType<typeof startStsServer>>;

/** Everything a test file drives. */
export interface World {
  opA: OidcPeer;
  opB: OidcPeer;
  sts: StsServer;
  proxy: StsProxy;
  broker: BrokerProcess;
  config: Record<string, unknown>;
  /** A workload token from `op` for `clientId`, registered as a secret. */
  token(op: OidcPeer, clientId: string, tweaks?: TokenTweaks): Promise<string>;
  api(method: string, path: string, options?: ApiOptions): Promise<ApiResponse>;
  /**
   * Registers every broker token and credential that went through the STS
   * proxy, then returns the labels of registered secrets found in the
   * broker's captured output (the leak check every file ends with).
   */
  leaks(): { leaks: string[]; registered: number; outputBytes: number };
  /** Stops the broker (returning its exit) and the peers it started. */
  close(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Options of `startWorld`. */
export interface WorldOptions {
  brokerAuth?: BrokerAuth;
  /** Edits the generated broker config before it is written. */
  configure?: (config: Record<string, unknown>) => void;
  /** Peers shared with other brokers (not stopped by `close()`); default: new ones. */
  peers?: Peers;
  /** Runs once the peers are up, before the broker starts (e.g. to start with an outage). */
  beforeBroker?: (peers: { opA: OidcPeer; opB: OidcPeer; proxy: StsProxy }) => void;
}

const key = (provider: string, roleArn: string, description?: string) => ({
  provider,
  roleArn,
  duration: 900,
  ...(description ? { description } : {}),
});

/** The broker config for these peers (plain object; YAML is written by the broker helper). */
export function worldConfig(opA: OidcPeer, opB: OidcPeer, stsUrl: string, auth: BrokerAuth) {
  return {
    server: { host: '127.0.0.1', allowInsecureIssuers: true, shutdownGracePeriod: 3000 },
    brokerIdp: {
      name: 'op-a',
      issuer: opA.issuer,
      clientId: BROKER_CLIENT[auth],
      clientAuth: auth,
      audienceParam: 'resource',
      ...(auth === 'private_key_jwt'
        ? { privateKeyFile: 'broker-key.pem' }
        : { clientSecret: '${BROKER_CLIENT_SECRET}' }),
    },
    clientIdps: [
      { name: 'op-a', issuer: opA.issuer, audience: AUD },
      { name: 'op-b', issuer: opB.issuer, audience: [AUD, 'https://alt.voidkey.test'] },
    ],
    accessProviders: [
      { name: 'aws-e2e', type: 'aws-sts', region: 'us-east-1', endpoint: stsUrl, audience: STS_AUD },
    ],
    clientIdentities: [
      {
        subject: SUBJECT,
        idp: 'op-a',
        keys: {
          AWS_DEPLOY: key('aws-e2e', ROLE.deploy, 'Deploy to production'),
          AWS_READ: key('aws-e2e', ROLE.read),
          AWS_AUDIT: key('aws-e2e', ROLE.audit),
          AWS_REFUSED: key('aws-e2e', ROLE.refused),
        },
      },
      { subject: LIMITED, idp: 'op-a', keys: { AWS_READ: key('aws-e2e', ROLE.read) } },
      { subject: B_SUBJECT, idp: 'op-b', keys: { AWS_DEPLOY: key('aws-e2e', ROLE.deploy) } },
    ],
    broker: { httpTimeout: 2000, maxRetries: 2, retryDelay: 20 },
    // Debug logs give the leak check the most output to search.
    logging: { level: 'debug' },
  };
}

function brokerKeyPair(): { pem: string; jwk: Record<string, unknown> } {
  const { privateKey, publicKey } = detachKeyPair(generateKeyPairSync('rsa', { modulusLength: 2048 }));
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const jwk = {
    ...(publicKey.export({ format: 'jwk' }) as Record<string, unknown>),
    kid: 'broker-1',
    use: 'sig',
  };
  return { pem, jwk };
}

/** The peers of a world, shareable by several brokers. */
export interface Peers {
  opA: OidcPeer;
  opB: OidcPeer;
  sts: StsServer;
  proxy: StsProxy;
  /** The private_key_jwt broker client's key (PEM) at OP A. */
  brokerKeyPem: string;
  close(): Promise<void>;
}

/** Starts OP A (client and broker IdP), OP B, the STS peer (trusting A) and the proxy in front of it. */
export async function startPeers(): Promise<Peers> {
  const brokerKey = brokerKeyPair();
  const opA = await startOidcProvider({
    defaultResource: AUD,
    kid: 'op-a-1',
    clients: [
      { clientId: SUBJECT },
      { clientId: LIMITED },
      { clientId: STRANGER },
      {
        clientId: BROKER_CLIENT.client_secret_basic,
        auth: 'client_secret_basic',
        // Reserved characters prove the broker form-encodes the secret in Basic auth (RFC 6749 §2.3.1).
        clientSecret: `e2e:sec/ret+%&=${randomBytes(12).toString('base64url')}`,
      },
      { clientId: BROKER_CLIENT.client_secret_post, auth: 'client_secret_post' },
      { clientId: BROKER_CLIENT.private_key_jwt, auth: 'private_key_jwt', jwks: { keys: [brokerKey.jwk] } },
    ],
  });
  const opB = await startOidcProvider({
    defaultResource: AUD,
    kid: 'op-b-1',
    clients: [{ clientId: B_SUBJECT }, { clientId: SUBJECT }],
  });
  const sts = await startStsServer({
    issuer: opA.issuer,
    jwksUri: opA.jwksUriFor('sts'),
    audience: STS_AUD,
    host: '127.0.0.1',
    port: 0,
    allowedRoles: (roleArn) => roleArn !== ROLE.refused,
  });
  const proxy = await startStsProxy(sts.url);
  registerSecret('broker private key', brokerKey.pem.split('\n')[1]);
  for (const id of [SUBJECT, LIMITED, STRANGER]) registerSecret(`client secret ${id} at A`, opA.secretOf(id));
  for (const id of [SUBJECT, B_SUBJECT]) registerSecret(`client secret ${id} at B`, opB.secretOf(id));
  return {
    opA,
    opB,
    sts,
    proxy,
    brokerKeyPem: brokerKey.pem,
    close: async () => {
      await proxy.close();
      await sts.close();
      await opA.close();
      await opB.close();
    },
  };
}

/**
 * Starts a broker (`brokerAuth` default client_secret_basic) against `options.peers`,
 * or against peers of its own, which `close()` then stops too.
 */
export async function startWorld(options: WorldOptions = {}): Promise<World> {
  assertBuilt();
  const auth = options.brokerAuth ?? 'client_secret_basic';
  const peers = options.peers ?? (await startPeers());
  const ownPeers = options.peers === undefined;
  const { opA, opB, sts, proxy } = peers;
  const config = worldConfig(opA, opB, proxy.url, auth) as Record<string, unknown>;
  options.configure?.(config);
  options.beforeBroker?.({ opA, opB, proxy });
  const env: Record<string, string> = {};
  if (auth !== 'private_key_jwt') {
    env.BROKER_CLIENT_SECRET = opA.secretOf(BROKER_CLIENT[auth]);
    registerSecret('broker client secret', env.BROKER_CLIENT_SECRET);
  }
  let broker: BrokerProcess;
  try {
    broker = await startBroker(config, { env, files: { 'broker-key.pem': peers.brokerKeyPem } });
  } catch (err) {
    if (ownPeers) await peers.close();
    throw err;
  }
  return {
    opA,
    opB,
    sts,
    proxy,
    broker,
    config,
    token: async (op, clientId, tweaks) => {
      const t = await op.clientToken(clientId, tweaks);
      registerSecret(`token of ${clientId}`, t);
      return t;
    },
    api: (method, path, opts) => api(broker.url, method, path, opts),
    leaks: () => {
      for (const call of proxy.calls) {
        registerSecret('broker token', call.webIdentityToken);
        registerSecret('STS secret access key', call.credentials?.secretAccessKey);
        registerSecret('STS session token', call.credentials?.sessionToken);
      }
      const output = broker.output();
      return { leaks: findLeaks(output), registered: registeredCount(), outputBytes: output.length };
    },
    close: async () => {
      const exit = await broker.stop();
      if (ownPeers) await peers.close();
      return exit;
    },
  };
}
