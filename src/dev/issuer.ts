/**
 * The development OpenID issuer of `voidkey dev`: a fresh ES256 key pair per
 * start, discovery, JWKS, a client-credentials token endpoint for the broker,
 * and (when given a secret) a loopback-only endpoint minting client tokens for
 * any subject. Built on jose and node:http only, so it runs from an installed
 * package. Never expose it: it signs whatever its callers ask for.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import {
  HttpProblem,
  hasMediaType,
  invalidClient,
  oauthError,
  parseForm,
  presentedClient,
  readBody,
  secretsEqual,
  sendJson,
} from './issuer/http.ts';
import { detachKeyPair } from './keys.ts';
import { serveLocal } from './peer.ts';

const ALG = 'ES256';
/** Longest client token the issuer mints, seconds (the broker's default `maxTokenLifetime`). */
export const MAX_CLIENT_TOKEN_TTL = 86400;

/** A confidential client allowed to use the token endpoint. */
export interface DevClient {
  clientId: string;
  clientSecret: string;
}

/** Options of {@link startDevIssuer}. */
export interface DevIssuerOptions {
  /** Address to listen on; default `127.0.0.1`. */
  host?: string;
  /** TCP port; default 0 (any free port). */
  port?: number;
  /** Clients of the client-credentials grant; default none. */
  clients?: readonly DevClient[];
  /** Lifetime of access tokens from `/token`, seconds; default 900. */
  accessTokenTtl?: number;
  /** Enables `POST /dev/token`, which requires `Authorization: Bearer <mintSecret>`. */
  mintSecret?: string;
}

/** What {@link DevIssuer.mintClientToken} signs. */
export interface ClientTokenRequest {
  sub: string;
  aud: string;
  /** Lifetime, seconds; default 3600, at most {@link MAX_CLIENT_TOKEN_TTL}. */
  ttlSeconds?: number;
  /** Extra claims; iss, sub, aud, iat, exp and jti always win over them. */
  claims?: Record<string, unknown>;
}

/** A running development issuer. */
export interface DevIssuer {
  /** `http://HOST:PORT`, exactly the `iss` of its tokens. */
  issuer: string;
  jwksUri: string;
  tokenEndpoint: string;
  /** Loopback-only client-token endpoint; present when `mintSecret` was given. */
  devTokenEndpoint: string | undefined;
  /** Signs a client token (a JWT as a client IdP such as GitHub Actions would issue). */
  mintClientToken(request: ClientTokenRequest): Promise<string>;
  /** Counters for tests: access tokens issued at `/token`, client tokens minted. */
  readonly stats: { accessTokens: number; clientTokens: number };
  close(): Promise<void>;
}

interface Signer {
  kid: string;
  publicJwk: JWK;
  sign(claims: Record<string, unknown>, ttlSeconds: number): Promise<string>;
}

async function createSigner(issuer: () => string): Promise<Signer> {
  const { publicKey, privateKey } = detachKeyPair(await generateKeyPair(ALG, { extractable: true }));
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return {
    kid,
    publicJwk: { ...jwk, kid, alg: ALG, use: 'sig' },
    sign(claims, ttlSeconds) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ ...claims, iss: issuer(), iat: now, exp: now + ttlSeconds, jti: randomUUID() })
        .setProtectedHeader({ alg: ALG, kid, typ: 'JWT' })
        .sign(privateKey);
    },
  };
}

function checkClientToken(request: ClientTokenRequest): number {
  const ttl = request.ttlSeconds ?? 3600;
  if (typeof request.sub !== 'string' || request.sub.length < 1 || request.sub.length > 255) {
    throw new RangeError('sub must be a string of 1 to 255 characters');
  }
  if (typeof request.aud !== 'string' || request.aud.length < 1 || request.aud.length > 255) {
    throw new RangeError('aud must be a string of 1 to 255 characters');
  }
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_CLIENT_TOKEN_TTL) {
    throw new RangeError(`ttl must be a whole number of seconds from 1 to ${MAX_CLIENT_TOKEN_TTL}`);
  }
  return ttl;
}

function isLoopback(req: IncomingMessage): boolean {
  const address = req.socket.remoteAddress ?? '';
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** The requested audience: `audience` or `resource` (RFC 8707); one of them is required. */
function requestedAudience(form: Map<string, string>): string {
  const audience = form.get('audience');
  const resource = form.get('resource');
  if (audience !== undefined && resource !== undefined && audience !== resource) {
    throw oauthError(400, 'invalid_target', 'audience and resource differ');
  }
  const value = audience ?? resource;
  if (value === undefined || value === '') {
    throw oauthError(400, 'invalid_request', 'audience (or resource) is required');
  }
  return value;
}

interface Context {
  signer: Signer;
  clients: Map<string, string>;
  accessTokenTtl: number;
  mintSecret: string | undefined;
  urls: () => { issuer: string; jwksUri: string; tokenEndpoint: string };
  mintClientToken: DevIssuer['mintClientToken'];
  stats: DevIssuer['stats'];
}

async function tokenEndpoint(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!hasMediaType(req, 'application/x-www-form-urlencoded')) {
    throw oauthError(400, 'invalid_request', 'expected application/x-www-form-urlencoded');
  }
  const form = parseForm(await readBody(req));
  const client = presentedClient(req, form);
  const expected = ctx.clients.get(client.clientId);
  if (expected === undefined || !secretsEqual(client.clientSecret, expected)) {
    throw invalidClient(client.method === 'client_secret_basic');
  }
  const grant = form.get('grant_type');
  if (grant === undefined) throw oauthError(400, 'invalid_request', 'grant_type is required');
  if (grant !== 'client_credentials') throw oauthError(400, 'unsupported_grant_type');
  const aud = requestedAudience(form);
  const token = await ctx.signer.sign(
    { sub: client.clientId, aud, client_id: client.clientId },
    ctx.accessTokenTtl,
  );
  ctx.stats.accessTokens++;
  sendJson(res, 200, { access_token: token, token_type: 'Bearer', expires_in: ctx.accessTokenTtl });
}

async function devTokenEndpoint(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!isLoopback(req)) throw oauthError(403, 'access_denied', 'loopback callers only');
  const presented = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
  if (ctx.mintSecret === undefined || presented === undefined || !secretsEqual(presented, ctx.mintSecret)) {
    throw oauthError(401, 'invalid_token', 'the sandbox secret is missing or wrong', {
      'www-authenticate': 'Bearer',
    });
  }
  if (!hasMediaType(req, 'application/json')) {
    throw oauthError(400, 'invalid_request', 'expected application/json');
  }
  let body: { sub?: unknown; aud?: unknown; ttl?: unknown; claims?: unknown };
  try {
    body = JSON.parse(await readBody(req)) ?? {};
  } catch (err) {
    if (err instanceof HttpProblem) throw err;
    throw oauthError(400, 'invalid_request', 'body is not JSON');
  }
  const claims = body.claims;
  if (claims !== undefined && (typeof claims !== 'object' || claims === null || Array.isArray(claims))) {
    throw oauthError(400, 'invalid_request', 'claims must be an object');
  }
  const request = {
    sub: body.sub,
    aud: body.aud,
    ...(body.ttl === undefined ? {} : { ttlSeconds: body.ttl }),
    ...(claims === undefined ? {} : { claims }),
  } as ClientTokenRequest;
  let ttl: number;
  try {
    ttl = checkClientToken(request);
  } catch (err) {
    throw oauthError(400, 'invalid_request', (err as Error).message);
  }
  const token = await ctx.mintClientToken(request);
  sendJson(res, 200, { token, expires_in: ttl });
}

function discovery(ctx: Context): Record<string, unknown> {
  const { issuer, jwksUri, tokenEndpoint } = ctx.urls();
  return {
    issuer,
    jwks_uri: jwksUri,
    token_endpoint: tokenEndpoint,
    id_token_signing_alg_values_supported: [ALG],
    grant_types_supported: ['client_credentials'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    response_types_supported: [],
    subject_types_supported: ['public'],
  };
}

type Route = { method: string; handle: (ctx: Context, req: IncomingMessage, res: ServerResponse) => unknown };

const ROUTES: Record<string, Route> = {
  '/.well-known/openid-configuration': {
    method: 'GET',
    handle: (ctx, _req, res) => sendJson(res, 200, discovery(ctx), { 'cache-control': 'max-age=60' }),
  },
  '/jwks': {
    method: 'GET',
    handle: (ctx, _req, res) =>
      sendJson(res, 200, { keys: [ctx.signer.publicJwk] }, { 'cache-control': 'max-age=60' }),
  },
  '/token': { method: 'POST', handle: tokenEndpoint },
  '/dev/token': { method: 'POST', handle: devTokenEndpoint },
};

async function handle(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = ROUTES[path];
    if (route === undefined || (path === '/dev/token' && ctx.mintSecret === undefined)) {
      throw new HttpProblem(404, { error: 'not_found' });
    }
    if (req.method !== route.method) {
      throw new HttpProblem(405, { error: 'method_not_allowed' }, { allow: route.method });
    }
    await route.handle(ctx, req, res);
  } catch (err) {
    if (res.headersSent) return void res.destroy();
    if (err instanceof HttpProblem) return sendJson(res, err.status, err.body, err.headers);
    sendJson(res, 500, { error: 'server_error' });
  }
}

/** Starts a development issuer on `host:port` (defaults 127.0.0.1, any free port) with a fresh key. */
export async function startDevIssuer(options: DevIssuerOptions = {}): Promise<DevIssuer> {
  let base = '';
  const urls = () => ({ issuer: base, jwksUri: `${base}/jwks`, tokenEndpoint: `${base}/token` });
  const signer = await createSigner(() => base);
  const stats = { accessTokens: 0, clientTokens: 0 };
  const mintClientToken: DevIssuer['mintClientToken'] = async (request) => {
    const ttl = checkClientToken(request);
    const token = await signer.sign({ ...request.claims, sub: request.sub, aud: request.aud }, ttl);
    stats.clientTokens++;
    return token;
  };
  const ctx: Context = {
    signer,
    clients: new Map((options.clients ?? []).map((c) => [c.clientId, c.clientSecret])),
    accessTokenTtl: options.accessTokenTtl ?? 900,
    mintSecret: options.mintSecret,
    urls,
    mintClientToken,
    stats,
  };
  const peer = await serveLocal((req, res) => handle(ctx, req, res), options);
  base = peer.url;
  return {
    ...urls(),
    devTokenEndpoint: options.mintSecret === undefined ? undefined : `${base}/dev/token`,
    mintClientToken,
    stats,
    close: peer.close,
  };
}
