/**
 * The floor: the least a server must do to answer `POST /credentials/mint`
 * correctly, on bare node:http: parse the JSON body, pick the issuer by
 * `iss`, verify the token against keys fetched once at start (jose, local key
 * set), look the identity up in a map, one AssumeRoleWithWebIdentity per key
 * through the AWS SDK (which the broker must use for aws-sts, so its cost is
 * part of the floor) over kept-alive connections with a broker token fetched
 * once, and write the JSON answer. No schema, deadline, logging or metrics.
 *
 * Usage: node --import tsx bench/floor.ts SPEC.json (the broker's client
 * secret in the environment). Prints `listening URL` once ready.
 */
import { readFileSync } from 'node:fs';
import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AssumeRoleWithWebIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, type JWTVerifyGetKey, jwtVerify } from 'jose';
import { benchSubject, CLIENT_AUDIENCE, KEY_NAMES, roleArn, SECRET_VARIABLE } from './config.ts';

/** What the runner writes for the floor. */
export interface FloorSpec {
  issuers: Array<{ issuer: string; jwksUri: string }>;
  identities: number;
  stsEndpoint: string;
  brokerTokenEndpoint: string;
  brokerClientId: string;
  stsAudience: string;
}

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

async function readJson(req: IncomingMessage): Promise<{ keys?: unknown } | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return undefined;
  }
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

async function main(): Promise<void> {
  const spec = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as FloorSpec;
  const keySets = new Map<string, JWTVerifyGetKey>();
  for (const { issuer, jwksUri } of spec.issuers) {
    keySets.set(issuer, createLocalJWKSet((await (await fetch(jwksUri)).json()) as JSONWebKeySet));
  }
  const roles = new Map<string, Record<string, string>>();
  for (let i = 0; i < spec.identities; i++) {
    const key = `${spec.issuers[i % spec.issuers.length]?.issuer}\n${benchSubject(i)}`;
    roles.set(key, Object.fromEntries(KEY_NAMES.map((k) => [k, roleArn(i, k)])));
  }
  const brokerToken = await fetchBrokerToken(spec, process.env[SECRET_VARIABLE] ?? '');
  // The call is unsigned; documented client options only (a cached middleware stack, no retries,
  // the SDK's own Node handler built from its options over a keep-alive agent).
  const sts = new STSClient({
    region: 'us-east-1',
    endpoint: spec.stsEndpoint,
    maxAttempts: 1,
    cacheMiddleware: true,
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 128 }) },
  });

  async function mint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const keys = (await readJson(req))?.keys;
    if (!Array.isArray(keys) || keys.length === 0) return send(res, 400, { error: 'INVALID_REQUEST' });
    const token = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    let iss: string;
    let sub: string;
    try {
      iss = String(decodeJwt(token).iss);
      const keySet = keySets.get(iss);
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
    const granted = roles.get(`${iss}\n${sub}`);
    if (!granted || keys.some((k) => typeof k !== 'string' || !granted[k])) {
      return send(res, 403, { error: 'FORBIDDEN' });
    }
    const answers = await Promise.all(
      keys.map((k: string) =>
        sts.send(
          new AssumeRoleWithWebIdentityCommand({
            RoleArn: granted[k],
            RoleSessionName: 'voidkey-floor',
            WebIdentityToken: brokerToken,
            DurationSeconds: 900,
          }),
        ),
      ),
    );
    const credentials: Record<string, Record<string, string | undefined>> = {};
    const keyExpiresAt: Record<string, string> = {};
    keys.forEach((k: string, i) => {
      const c = answers[i]?.Credentials;
      credentials[k] = {
        AWS_ACCESS_KEY_ID: c?.AccessKeyId,
        AWS_SECRET_ACCESS_KEY: c?.SecretAccessKey,
        AWS_SESSION_TOKEN: c?.SessionToken,
      };
      keyExpiresAt[k] = c?.Expiration?.toISOString() ?? '';
    });
    const expiresAt = Object.values(keyExpiresAt).sort()[0];
    send(res, 200, {
      credentials,
      expiresAt,
      subject: sub,
      issuedAt: new Date().toISOString(),
      keyExpiresAt,
    });
  }

  const server = createServer((req, res) => {
    if (req.method !== 'POST' || req.url !== '/credentials/mint')
      return send(res, 404, { error: 'NOT_FOUND' });
    mint(req, res).catch(() => send(res, 502, { error: 'CREDENTIAL_MINT_FAILED' }));
  });
  server.keepAliveTimeout = 72_000;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
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
