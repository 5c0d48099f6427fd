/**
 * The floor: the least a server must do to answer `POST /credentials/mint`
 * correctly, on bare node:http — parse the JSON body, pick the issuer by
 * `iss`, verify the token with keys fetched once at start (jose, local key
 * set), look the identity up in a map, make one AssumeRoleWithWebIdentity
 * call per key over a kept-alive connection with a broker token fetched once,
 * and write the JSON answer. No schema, no deadline, no logging, no metrics.
 *
 * Two ways of calling STS:
 * - `sdk` (the reference floor): the broker's own STSClient (same factory,
 *   same keep-alive agents). SPEC §5 requires the official AWS SDK for
 *   aws-sts, so its cost is irreducible for this product.
 * - `raw`: an undici POST of the same Query form with the four fields read
 *   from the XML by pattern — what the wire alone costs, to show the SDK's share.
 *
 * Usage: node --import tsx bench/floor.ts SPEC.json sdk|raw
 * (the broker's client secret in $BENCH_BROKER_CLIENT_SECRET). Prints
 * `listening URL` once ready.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { Agent, request } from 'undici';
import { createStsClient } from '../src/providers/aws-sts/client.ts';
import { benchIdentities, CLIENT_AUDIENCE, SECRET_VARIABLE } from './config.ts';

/** What the runner writes for the floor. */
export interface FloorSpec {
  issuers: Array<{ issuer: string; jwksUri: string }>;
  identities: number;
  stsEndpoint: string;
  brokerTokenEndpoint: string;
  brokerClientId: string;
  stsAudience: string;
}

interface Creds {
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: Date;
}

type AssumeRole = (roleArn: string) => Promise<Creds>;

const MAX_BODY = 64 * 1024;
const SESSION_NAME = 'voidkey-floor';

async function fetchBrokerToken(spec: FloorSpec, secret: string): Promise<string> {
  const basic = Buffer.from(`${spec.brokerClientId}:${secret}`).toString('base64');
  const res = await fetch(spec.brokerTokenEndpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', audience: spec.stsAudience }),
  });
  if (res.status !== 200) throw new Error(`broker token request answered ${res.status}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

function sdkAssumeRole(spec: FloorSpec, brokerToken: string): AssumeRole {
  const sts = createStsClient({ region: 'us-east-1', endpoint: spec.stsEndpoint, httpTimeout: 5000 });
  return async (roleArn) => {
    const answer = await sts.assumeRoleWithWebIdentity({
      RoleArn: roleArn,
      RoleSessionName: SESSION_NAME,
      WebIdentityToken: brokerToken,
      DurationSeconds: 900,
    });
    return answer.Credentials as Creds;
  };
}

function rawAssumeRole(spec: FloorSpec, brokerToken: string): AssumeRole {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 128 });
  const pick = (xml: string, tag: string) => new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1] ?? '';
  return async (roleArn) => {
    const form = new URLSearchParams({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: roleArn,
      RoleSessionName: SESSION_NAME,
      WebIdentityToken: brokerToken,
      DurationSeconds: '900',
    });
    const res = await request(spec.stsEndpoint, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: form.toString(),
    });
    const xml = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`STS answered ${res.statusCode}`);
    return {
      AccessKeyId: pick(xml, 'AccessKeyId'),
      SecretAccessKey: pick(xml, 'SecretAccessKey'),
      SessionToken: pick(xml, 'SessionToken'),
      Expiration: new Date(pick(xml, 'Expiration')),
    };
  };
}

function readJson(req: IncomingMessage): Promise<{ keys?: unknown }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) reject(new Error('body too large'));
      else chunks.push(chunk);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

interface Floor {
  keySets: Map<string, JWTVerifyGetKey>;
  roles: Map<string, Record<string, string>>;
  assumeRole: AssumeRole;
}

async function mint(floor: Floor, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJson(req).catch(() => undefined);
  const keys = body?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return send(res, 400, { error: 'INVALID_REQUEST' });
  const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  let iss: string;
  let sub: string;
  try {
    iss = String(decodeJwt(token).iss);
    const keySet = floor.keySets.get(iss);
    if (!keySet) throw new Error('issuer not trusted');
    const { payload } = await jwtVerify(token, keySet, {
      issuer: iss,
      audience: CLIENT_AUDIENCE,
      algorithms: ['ES256'],
      requiredClaims: ['exp'],
    });
    sub = String(payload.sub);
  } catch {
    return send(res, 401, { error: 'INVALID_TOKEN' });
  }
  const roles = floor.roles.get(`${iss}\n${sub}`);
  const denied = keys.filter((k) => typeof k !== 'string' || !roles?.[k]);
  if (!roles || denied.length > 0) return send(res, 403, { error: 'FORBIDDEN' });
  const minted = await Promise.all(keys.map((k: string) => floor.assumeRole(roles[k] as string)));
  const credentials: Record<string, Record<string, string>> = {};
  const keyExpiresAt: Record<string, string> = {};
  let earliest = Number.POSITIVE_INFINITY;
  keys.forEach((k: string, i) => {
    const c = minted[i] as Creds;
    credentials[k] = {
      AWS_ACCESS_KEY_ID: c.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: c.SecretAccessKey,
      AWS_SESSION_TOKEN: c.SessionToken,
    };
    keyExpiresAt[k] = c.Expiration.toISOString();
    earliest = Math.min(earliest, c.Expiration.getTime());
  });
  const expiresAt = new Date(earliest).toISOString();
  send(res, 200, { credentials, expiresAt, subject: sub, issuedAt: new Date().toISOString(), keyExpiresAt });
}

async function prepare(spec: FloorSpec, mode: string, secret: string): Promise<Floor> {
  const keySets = new Map<string, JWTVerifyGetKey>();
  for (const { issuer, jwksUri } of spec.issuers) {
    const jwks = (await (await fetch(jwksUri)).json()) as JSONWebKeySet;
    keySets.set(issuer, createLocalJWKSet(jwks));
  }
  const roles = new Map<string, Record<string, string>>();
  for (const identity of benchIdentities(spec.identities, spec.issuers.length)) {
    roles.set(`${spec.issuers[identity.idp]?.issuer}\n${identity.subject}`, identity.roles);
  }
  const brokerToken = await fetchBrokerToken(spec, secret);
  const assumeRole = mode === 'raw' ? rawAssumeRole(spec, brokerToken) : sdkAssumeRole(spec, brokerToken);
  return { keySets, roles, assumeRole };
}

async function main(): Promise<void> {
  const [specPath, mode = 'sdk'] = process.argv.slice(2);
  if (!specPath || (mode !== 'sdk' && mode !== 'raw')) throw new Error('usage: floor.ts SPEC.json sdk|raw');
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as FloorSpec;
  const floor = await prepare(spec, mode, process.env[SECRET_VARIABLE] ?? '');
  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/credentials/mint')
      return send(res, 404, { error: 'NOT_FOUND' });
    mint(floor, req, res).catch(() => send(res, 502, { error: 'CREDENTIAL_MINT_FAILED' }));
  });
  server.keepAliveTimeout = 72_000;
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    process.stdout.write(`listening http://127.0.0.1:${port}\n`);
  });
  process.on('SIGTERM', () => {
    server.closeAllConnections();
    server.close(() => process.exit(0));
  });
}

main().catch((err: unknown) => {
  process.stderr.write(`bench floor: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
