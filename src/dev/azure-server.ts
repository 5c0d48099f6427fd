/**
 * A local Microsoft Entra token endpoint for tests and the sandbox:
 * `POST /{tenant}/oauth2/v2.0/token` with the client-credentials grant and a
 * JWT client assertion, checked the way Entra checks a federated identity
 * credential — the assertion's issuer, audience and subject must match the
 * credential exactly, then its signature (issuer's JWKS) and validity times.
 * Answers in Entra's JSON, errors with AADSTS codes, trace and correlation
 * ids. Issued access tokens are JWTs signed by a key of this peer. jose and
 * node built-ins only: it ships in the runtime package.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeJwt, errors, generateKeyPair, type JWTVerifyGetKey, jwtVerify, SignJWT } from 'jose';
import { peerKeySet } from './jwks.ts';
import { readCapped, serveLocal } from './peer.ts';

/** Options of {@link startAzureServer}. */
export interface AzureServerOptions {
  /** The federated credential's issuer; the assertion's `iss` must equal it. */
  issuer: string;
  jwksUri: string;
  /** The federated credential's audience; default `api://AzureADTokenExchange`. */
  audience?: string;
  tenantId: string;
  /** The application holding the federated credential. */
  clientId: string;
  /** The federated credential's subject; default: any `sub` (Entra always has one). */
  subject?: string;
  /** `expires_in` of issued tokens, seconds; default 3599. */
  tokenLifetime?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (any free port). */
  port?: number;
}

/** One token request the peer received, as it saw it. */
export interface AzureCall {
  tenant: string;
  /** The `x-ms-request-id` (and `trace_id`) it answered with. */
  requestId: string;
  /** The status it answered, and the AADSTS code of an error. */
  status: number;
  aadsts?: number;
  contentType: string | undefined;
  authorization: string | undefined;
  clientRequestId: string | undefined;
  form: Record<string, string>;
}

/** A running Entra endpoint. */
export interface AzureServer {
  /** `http://HOST:PORT`: the `authorityHost` to configure. */
  url: string;
  close(): Promise<void>;
  stats: { requests: number; tokensIssued: number; jwksFetches: number; tokenVerifications: number };
  /** The last 100 requests, oldest first. */
  calls: AzureCall[];
  /** Answers the next `count` requests (default 1) with `status` in Entra's error shape. */
  failNext(status: number, count?: number): void;
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const TOKEN_PATH = /^\/([^/]+)\/oauth2\/v2\.0\/token$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MAX_BODY = 64 * 1024;
const FIC_HINT =
  'Check your federated identity credential Subject, Audience and Issuer against the presented assertion.';
const INJECTED: Record<number, [string, number, string]> = {
  400: ['invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'."],
  401: ['invalid_client', 700213, `No matching federated identity record found. ${FIC_HINT}`],
  429: ['temporarily_unavailable', 90055, 'There are too many incoming requests.'],
  500: ['server_error', 90033, 'A transient error has occurred. Please try again.'],
  503: ['temporarily_unavailable', 90033, 'A transient error has occurred. Please try again.'],
};

/** An Entra error: status, OAuth error, AADSTS number and Entra's text. */
class EntraFault extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly aadsts: number,
    readonly text: string,
  ) {
    super(`AADSTS${aadsts}`);
  }
}

const badRequest = (error: string, aadsts: number, text: string) => new EntraFault(400, error, aadsts, text);
const invalidClient = (aadsts: number, text: string) => new EntraFault(401, 'invalid_client', aadsts, text);

interface PeerState {
  options: AzureServerOptions;
  audience: string;
  stats: AzureServer['stats'];
  calls: AzureCall[];
  faults: number[];
  jwks: JWTVerifyGetKey;
  signingKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  /** The service principal's object id, stable for the peer's life. */
  objectId: string;
}

/** Starts the endpoint (127.0.0.1, any free port by default); resolves once it listens. */
export async function startAzureServer(options: AzureServerOptions): Promise<AzureServer> {
  const stats = { requests: 0, tokensIssued: 0, jwksFetches: 0, tokenVerifications: 0 };
  const jwks = peerKeySet((signal) => {
    stats.jwksFetches++;
    return fetch(options.jwksUri, { signal });
  });
  const { privateKey } = await generateKeyPair('RS256');
  const state: PeerState = {
    options,
    audience: options.audience ?? 'api://AzureADTokenExchange',
    stats,
    calls: [],
    faults: [],
    jwks,
    signingKey: privateKey,
    objectId: randomUUID(),
  };
  const peer = await serveLocal((req, res) => handle(state, req, res), options);
  return {
    url: peer.url,
    stats,
    calls: state.calls,
    failNext(status, count = 1) {
      for (let i = 0; i < count; i++) state.faults.push(status);
    },
    close: peer.close,
  };
}

async function handle(state: PeerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  state.stats.requests++;
  const traceId = randomUUID();
  const requested = req.headers['client-request-id'];
  const clientRequestId = typeof requested === 'string' && GUID.test(requested) ? requested : undefined;
  const headers: Record<string, string> = {
    'x-ms-request-id': traceId,
    ...(clientRequestId ? { 'client-request-id': clientRequestId } : {}),
  };
  const tenant = TOKEN_PATH.exec(new URL(req.url ?? '/', 'http://entra').pathname)?.[1];
  if (req.method !== 'POST' || tenant === undefined) {
    send(res, 404, { error: 'not_found', error_description: 'The endpoint does not exist.' }, headers);
    return;
  }
  const call: AzureCall = {
    tenant: decodeURIComponent(tenant),
    requestId: traceId,
    status: 0,
    contentType: req.headers['content-type'],
    authorization: req.headers.authorization,
    clientRequestId,
    form: {},
  };
  try {
    call.form = await readForm(req);
    const body = await issue(state, call);
    call.status = 200;
    send(res, 200, body, headers);
  } catch (err) {
    const fault =
      err instanceof EntraFault ? err : new EntraFault(500, 'server_error', 90033, 'Internal error.');
    call.status = fault.status;
    call.aadsts = fault.aadsts;
    if (fault.status === 429) headers['retry-after'] = '1';
    send(res, fault.status, errorBody(fault, traceId, clientRequestId ?? randomUUID()), headers);
  }
  if (state.calls.push(call) > 100) state.calls.shift();
}

/** The token request: fault injection, request checks, assertion checks, then a signed access token. */
async function issue(state: PeerState, call: AzureCall): Promise<object> {
  const fault = state.faults.shift();
  if (fault !== undefined) {
    const [error, aadsts, text] = INJECTED[fault] ?? ['invalid_request', 900144, 'Injected failure.'];
    throw new EntraFault(fault, error, aadsts, text);
  }
  const { options } = state;
  if (call.tenant !== options.tenantId) {
    throw badRequest('invalid_request', 90002, `Tenant '${call.tenant}' not found.`);
  }
  const form = call.form;
  for (const name of ['grant_type', 'client_id', 'scope', 'client_assertion_type', 'client_assertion']) {
    if (!form[name]) {
      throw badRequest(
        'invalid_request',
        900144,
        `The request body must contain the following parameter: '${name}'.`,
      );
    }
  }
  if (form.grant_type !== 'client_credentials') {
    throw badRequest('unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
  }
  if (form.client_id !== options.clientId) {
    throw badRequest(
      'unauthorized_client',
      700016,
      `Application with identifier '${form.client_id}' was not found.`,
    );
  }
  if (form.client_assertion_type !== JWT_BEARER) {
    throw badRequest('invalid_request', 90014, "The field 'client_assertion_type' is invalid.");
  }
  const scope = form.scope as string;
  if (!scope.endsWith('/.default') || /\s/.test(scope)) {
    throw badRequest(
      'invalid_scope',
      1002012,
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
  }
  const sub = await checkAssertion(state, form.client_assertion as string);
  state.stats.tokensIssued++;
  return accessToken(state, scope.slice(0, -'/.default'.length), sub);
}

/** Finds the federated credential by the assertion's iss, aud and sub, then verifies it; returns `sub`. */
async function checkAssertion(state: PeerState, assertion: string): Promise<string> {
  const { options } = state;
  let claims: ReturnType<typeof decodeJwt>;
  try {
    claims = decodeJwt(assertion);
  } catch {
    throw badRequest('invalid_request', 50027, 'JWT token is invalid or malformed.');
  }
  const aud = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
  if (claims.iss !== options.issuer) {
    throw invalidClient(
      700211,
      `No matching federated identity record found for presented assertion issuer '${String(claims.iss)}'. ${FIC_HINT}`,
    );
  }
  if (!aud.includes(state.audience)) {
    throw invalidClient(
      700212,
      `No matching federated identity record found for presented assertion audience '${aud.join(',')}'. ${FIC_HINT}`,
    );
  }
  if (typeof claims.sub !== 'string' || (options.subject !== undefined && claims.sub !== options.subject)) {
    throw invalidClient(
      700213,
      `No matching federated identity record found for presented assertion subject '${String(claims.sub)}'. ${FIC_HINT}`,
    );
  }
  state.stats.tokenVerifications++;
  try {
    await jwtVerify(assertion, state.jwks, {
      issuer: options.issuer,
      audience: state.audience,
      requiredClaims: ['exp'],
    });
  } catch (err) {
    throw assertionFault(err);
  }
  return claims.sub;
}

function assertionFault(err: unknown): EntraFault {
  const time = err instanceof errors.JWTClaimValidationFailed && ['exp', 'nbf', 'iat'].includes(err.claim);
  if (err instanceof errors.JWTExpired || time) {
    return invalidClient(700024, 'Client assertion is not within its valid time range.');
  }
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey) {
    return invalidClient(700027, 'Client assertion failed signature validation.');
  }
  const keys = err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid;
  if (err instanceof errors.JOSEError && !keys && err.constructor !== errors.JOSEError) {
    return badRequest('invalid_request', 50027, 'JWT token is invalid or malformed.');
  }
  return invalidClient(50166, 'Request to External OIDC endpoint failed.');
}

/** Entra's success body; the access token is an app-only v1 token for `resource`. */
async function accessToken(state: PeerState, resource: string, subject: string): Promise<object> {
  const { options } = state;
  const lifetime = options.tokenLifetime ?? 3599;
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({
    tid: options.tenantId,
    appid: options.clientId,
    oid: state.objectId,
    idtyp: 'app',
    ver: '1.0',
    xms_fic_sub: subject,
  })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .setIssuer(`https://sts.windows.net/${options.tenantId}/`)
    .setAudience(resource)
    .setSubject(state.objectId)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + lifetime)
    .sign(state.signingKey);
  return { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token };
}

function errorBody(fault: EntraFault, traceId: string, correlationId: string): object {
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, 'Z');
  return {
    error: fault.error,
    error_description: `AADSTS${fault.aadsts}: ${fault.text} Trace ID: ${traceId} Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [fault.aadsts],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${fault.aadsts}`,
  };
}

async function readForm(req: IncomingMessage): Promise<Record<string, string>> {
  const body = await readCapped(req, MAX_BODY, () =>
    badRequest('invalid_request', 900144, 'The request body is too large.'),
  );
  // Entra reads only form bodies; anything else looks like a body without parameters.
  if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) return {};
  return Object.fromEntries(new URLSearchParams(body.toString('utf8')));
}

function send(res: ServerResponse, status: number, body: object, headers: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store, no-cache',
    ...headers,
  });
  res.end(text);
}
