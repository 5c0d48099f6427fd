/**
 * A local Google endpoint for tests and the sandbox: Google STS `/v1/token`
 * (token exchange, JSON or form body) and IAM Credentials
 * `generateAccessToken` on one server, answering in Google's JSON shapes —
 * OAuth-style `{error, error_description}` from STS, `{error: {code, message,
 * status}}` from IAM. It verifies the broker token as a workload identity
 * pool's OIDC provider does (issuer, JWKS signature, allowed audiences,
 * expiry), issues opaque federated tokens and accepts only those in step 2.
 * jose and node built-ins only: it ships in the runtime package. A test
 * peer, not a security boundary.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt, errors, type JWTPayload, jwtVerify } from 'jose';
import { peerKeySet } from './jwks.ts';
import { readCapped, serveLocal } from './peer.ts';

/** Options of {@link startGcpServer}. */
export interface GcpServerOptions {
  /** The OIDC issuer the pool provider trusts; tokens must carry it as `iss`, exactly. */
  issuer: string;
  jwksUri: string;
  /** `//iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/providers/X`. */
  workloadIdentityProvider: string;
  /**
   * The provider's allowed audiences. Default, as Google's: its full resource
   * name with or without the `https:` prefix.
   */
  allowedAudiences?: string[];
  /** Emails the federated identity may impersonate or name as delegates; default any. */
  serviceAccounts?: string[];
  /** Longest access-token lifetime, seconds; default 3600 (43200 where the org constraint allows). */
  maxLifetime?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

/** One request the peer received, as it saw it. */
export interface GcpCall {
  route: 'token' | 'generateAccessToken';
  /** The status it answered. */
  status: number;
  contentType: string | undefined;
  authorization: string | undefined;
  /** generateAccessToken: the decoded email of the path. */
  serviceAccount?: string;
  /** generateAccessToken: the `sub` of the broker token behind the federated token, once accepted. */
  subject?: string;
  /** The parsed body (JSON, or form fields). */
  body: Record<string, unknown>;
}

/** A running Google endpoint. */
export interface GcpServer {
  /** `http://HOST:PORT`: both the `stsEndpoint` and the `endpoint` to configure. */
  url: string;
  close(): Promise<void>;
  stats: { requests: number; exchanges: number; jwksFetches: number; tokenVerifications: number };
  /** The last 100 requests, oldest first. */
  calls: GcpCall[];
  /** Answers the next `count` requests (default 1; of `route` only, when given) with `status`. */
  failNext(status: number, count?: number, route?: GcpCall['route']): void;
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const SUBJECT_TYPES = ['urn:ietf:params:oauth:token-type:jwt', 'urn:ietf:params:oauth:token-type:id_token'];
const PROVIDER_NAME =
  /^\/\/iam\.googleapis\.com\/projects\/[^/]+\/locations\/[^/]+\/workloadIdentityPools\/[^/]+\/providers\/[^/]+$/;
const GENERATE = /^\/v1\/projects\/([^/]+)\/serviceAccounts\/([^/:]+):generateAccessToken$/;
const DELEGATE = /^projects\/-\/serviceAccounts\/([^/@\s]+@[^/@\s]+)$/;
const EMAIL = /^[^/@\s]+@[^/@\s]+$/;
const MAX_BODY = 64 * 1024;
const MAX_FEDERATED = 10_000;
const RPC_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  413: 'OUT_OF_RANGE',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};
const UNAUTHENTICATED =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.';

type Answer = [status: number, body: object];

/** A Google error answer; `body` is already in the service's shape. */
class GoogleFault extends Error {
  constructor(
    readonly status: number,
    readonly body: object,
  ) {
    super(`Google fault ${status}`);
  }
}

/** STS's OAuth-style error. */
const oauth = (error: string, description: string) =>
  new GoogleFault(error === 'unauthorized_client' ? 401 : 400, { error, error_description: description });

/** IAM's (and Google's front end's) RPC-style error. */
function rpc(code: number, message: string, details?: object[]): GoogleFault {
  const status = RPC_STATUS[code] ?? 'UNKNOWN';
  return new GoogleFault(code, { error: { code, message, status, ...(details ? { details } : {}) } });
}

interface PeerState {
  options: GcpServerOptions;
  stats: GcpServer['stats'];
  calls: GcpCall[];
  faults: Array<{ status: number; route: GcpCall['route'] | undefined }>;
  verify: (token: string) => Promise<JWTPayload>;
  /** Issued federated tokens: the broker `sub` and expiry (ms since the epoch). */
  federated: Map<string, { sub: string; expiresAt: number }>;
}

/** Starts the endpoint (127.0.0.1, any free port by default); resolves once it listens. */
export async function startGcpServer(options: GcpServerOptions): Promise<GcpServer> {
  const stats = { requests: 0, exchanges: 0, jwksFetches: 0, tokenVerifications: 0 };
  const state: PeerState = {
    options,
    stats,
    calls: [],
    faults: [],
    verify: createVerifier(options, stats),
    federated: new Map(),
  };
  const peer = await serveLocal((req, res) => handle(state, req, res), options);
  return {
    url: peer.url,
    stats,
    calls: state.calls,
    failNext(status, count = 1, route) {
      for (let i = 0; i < count; i++) state.faults.push({ status, route });
    },
    close: peer.close,
  };
}

async function handle(state: PeerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  state.stats.requests++;
  const path = new URL(req.url ?? '/', 'http://google').pathname;
  const generateMatch = GENERATE.exec(path);
  if (req.method !== 'POST' || (path !== '/v1/token' && !generateMatch)) {
    send(res, 404, rpc(404, 'The requested URL was not found on this server.').body);
    return;
  }
  const call: GcpCall = {
    route: generateMatch ? 'generateAccessToken' : 'token',
    status: 0,
    contentType: req.headers['content-type'],
    authorization: req.headers.authorization,
    ...(generateMatch ? { serviceAccount: decodeURIComponent(generateMatch[2] as string) } : {}),
    body: {},
  };
  let answer: Answer;
  try {
    call.body = await readBody(req);
    answer = await route(state, call, generateMatch?.[1] ?? '');
  } catch (err) {
    const fault = err instanceof GoogleFault ? err : rpc(500, 'Internal error encountered.');
    answer = [fault.status, fault.body];
  }
  call.status = answer[0];
  if (state.calls.push(call) > 100) state.calls.shift();
  send(res, answer[0], answer[1]);
}

async function route(state: PeerState, call: GcpCall, project: string): Promise<Answer> {
  const index = state.faults.findIndex((f) => f.route === undefined || f.route === call.route);
  const fault = index < 0 ? undefined : state.faults.splice(index, 1)[0];
  if (fault) throw injected(fault.status, call.route);
  if (call.route === 'token') return exchange(state, call);
  return generate(state, call, project);
}

/** Google STS `/v1/token`: the broker token for an opaque federated token. */
async function exchange(state: PeerState, call: GcpCall): Promise<Answer> {
  if (call.authorization) throw rpc(401, UNAUTHENTICATED);
  const p = exchangeParams(call.body);
  checkExchange(p, state.options.workloadIdentityProvider);
  const claims = await state.verify(p.subjectToken as string);
  const now = Date.now();
  const expiresIn = Math.max(1, Math.min(3600, (claims.exp as number) - Math.floor(now / 1000)));
  const token = `ya29.d.${randomBytes(48).toString('base64url')}`;
  const { federated } = state;
  if (federated.size >= MAX_FEDERATED) federated.delete(federated.keys().next().value as string);
  federated.set(token, { sub: claims.sub as string, expiresAt: now + expiresIn * 1000 });
  state.stats.exchanges++;
  const answer = { access_token: token, issued_token_type: ACCESS_TOKEN, token_type: 'Bearer' };
  return [200, { ...answer, expires_in: expiresIn }];
}

/** IAM Credentials generateAccessToken, authorised by a federated token this peer issued. */
function generate(state: PeerState, call: GcpCall, project: string): Answer {
  const bearer = /^Bearer (\S+)$/.exec(call.authorization ?? '')?.[1];
  const identity = bearer === undefined ? undefined : state.federated.get(bearer);
  if (!identity || identity.expiresAt <= Date.now()) throw rpc(401, UNAUTHENTICATED);
  call.subject = identity.sub;
  const email = call.serviceAccount as string;
  if (project !== '-' || !EMAIL.test(email)) {
    throw rpc(400, 'The resource name must be projects/-/serviceAccounts/{ACCOUNT_EMAIL_OR_UNIQUEID}.');
  }
  const lifetime = checkGenerate(call.body, email, state.options.maxLifetime ?? 3600);
  const delegates = (call.body.delegates as string[] | undefined) ?? [];
  const allowed = state.options.serviceAccounts;
  const names = [email, ...delegates.map((d) => DELEGATE.exec(d)?.[1] as string)];
  if (allowed && !names.every((name) => allowed.includes(name))) throw permissionDenied(email);
  const expireTime = new Date(Date.now() + lifetime * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  return [200, { accessToken: `ya29.c.${randomBytes(96).toString('base64url')}`, expireTime }];
}

/** STS parameters from a JSON (camelCase) or form (snake_case) body. */
function exchangeParams(body: Record<string, unknown>): Record<string, unknown> {
  const pick = (camel: string, snake: string) => body[camel] ?? body[snake];
  return {
    grantType: pick('grantType', 'grant_type'),
    audience: pick('audience', 'audience'),
    scope: pick('scope', 'scope'),
    requestedTokenType: pick('requestedTokenType', 'requested_token_type'),
    subjectTokenType: pick('subjectTokenType', 'subject_token_type'),
    subjectToken: pick('subjectToken', 'subject_token'),
  };
}

function checkExchange(p: Record<string, unknown>, provider: string): void {
  if (p.grantType !== TOKEN_EXCHANGE) throw oauth('unsupported_grant_type', 'Unsupported grant type.');
  if (p.requestedTokenType !== ACCESS_TOKEN) {
    throw oauth('invalid_request', 'Invalid value for "requested_token_type".');
  }
  if (!SUBJECT_TYPES.includes(p.subjectTokenType as string)) {
    throw oauth('invalid_request', 'Invalid value for "subject_token_type".');
  }
  if (typeof p.audience !== 'string' || !PROVIDER_NAME.test(p.audience)) {
    throw oauth(
      'invalid_request',
      'Invalid value for "audience". This value should be the full resource name of the Identity Provider.',
    );
  }
  if (p.audience !== provider) {
    throw oauth(
      'invalid_target',
      'The target service indicated by the "audience" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn\'t exist.',
    );
  }
  if (typeof p.scope !== 'string' || p.scope.trim() === '') {
    throw oauth('invalid_scope', 'A scope is required to exchange a token for an access token.');
  }
  if (typeof p.subjectToken !== 'string' || p.subjectToken === '') {
    throw oauth('invalid_request', 'Missing required field "subject_token".');
  }
}

/** Checks scope, lifetime and delegates of a generateAccessToken body; returns the lifetime in seconds. */
function checkGenerate(body: Record<string, unknown>, email: string, maxLifetime: number): number {
  const scope = body.scope;
  if (!Array.isArray(scope) || scope.length === 0 || !scope.every((s) => typeof s === 'string' && s)) {
    throw rpc(400, 'Scope required.');
  }
  const raw = body.lifetime ?? '3600s';
  const match = typeof raw === 'string' ? /^(\d{1,6})(?:\.\d{1,9})?s$/.exec(raw) : null;
  if (!match) throw rpc(400, `Invalid value at 'lifetime' (type.googleapis.com/google.protobuf.Duration)`);
  const lifetime = Number(match[1]);
  if (lifetime < 1 || lifetime > maxLifetime) {
    throw rpc(
      400,
      `Access tokens for service account ${email} can not have lifetimes of more than ${maxLifetime} seconds. Use the Org Policy Constraint constraints/iam.allowServiceAccountCredentialLifetimeExtension to allow up to 12 hours.`,
    );
  }
  const delegates = body.delegates ?? [];
  if (!Array.isArray(delegates) || !delegates.every((d) => typeof d === 'string' && DELEGATE.test(d))) {
    throw rpc(400, 'Invalid form of delegates: each must be projects/-/serviceAccounts/{ACCOUNT_EMAIL}.');
  }
  return lifetime;
}

function permissionDenied(email: string): GoogleFault {
  const info = { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'IAM_PERMISSION_DENIED' };
  const message = "Permission 'iam.serviceAccounts.getAccessToken' denied on resource (or it may not exist).";
  return rpc(403, message, [{ ...info, domain: 'iam.googleapis.com', metadata: { resource: email } }]);
}

/** An injected failure in the shape the route would use for it. */
function injected(status: number, route: GcpCall['route']): GoogleFault {
  if (route === 'token' && status >= 400 && status < 429) {
    const error =
      { 401: 'unauthorized_client', 403: 'access_denied' }[status as 401 | 403] ?? 'invalid_grant';
    return new GoogleFault(status, { error, error_description: 'Injected failure.' });
  }
  if (status === 429) return rpc(429, 'Quota exceeded for quota metric requests per minute.');
  return rpc(status, status >= 500 ? 'The service is currently unavailable.' : 'Injected failure.');
}

/** The broker-token verifier of the pool provider. */
function createVerifier(
  options: GcpServerOptions,
  stats: { jwksFetches: number; tokenVerifications: number },
): (token: string) => Promise<JWTPayload> {
  const name = options.workloadIdentityProvider;
  const audiences = options.allowedAudiences ?? [name, `https:${name}`];
  const jwks = peerKeySet((signal) => {
    stats.jwksFetches++;
    return fetch(options.jwksUri, { signal });
  });
  return async (token) => {
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw oauth('invalid_grant', 'Unable to parse the ID Token.');
    }
    if (iss !== options.issuer) {
      throw oauth('invalid_grant', `The issuer in ID Token ${String(iss)} does not match the expected ones.`);
    }
    stats.tokenVerifications++;
    try {
      const verified = await jwtVerify(token, jwks, {
        issuer: options.issuer,
        audience: audiences,
        requiredClaims: ['exp', 'sub'],
      });
      return verified.payload;
    } catch (err) {
      throw verificationFault(err, audiences);
    }
  };
}

function verificationFault(err: unknown, audiences: string[]): GoogleFault {
  if (err instanceof errors.JWTExpired) return oauth('invalid_grant', 'The ID Token has expired.');
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'aud') {
    return oauth('invalid_grant', `The audience in ID Token does not match ${audiences.join(', ')}.`);
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return oauth('invalid_grant', 'Invalid JWT signature.');
  }
  const keys = err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid;
  if (err instanceof errors.JOSEError && !keys && err.constructor !== errors.JOSEError) {
    return oauth('invalid_grant', 'The ID Token is invalid.');
  }
  // A key set that cannot be fetched or read: the issuer, not the token, is at fault.
  return oauth('invalid_grant', 'Unable to retrieve the signing keys of the issuer.');
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await readCapped(req, MAX_BODY, () => rpc(413, 'Request payload too large.'))).toString(
    'utf8',
  );
  if ((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // fall through: Google answers a non-object body the same way
  }
  throw rpc(400, 'Invalid JSON payload received.');
}

function send(res: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
