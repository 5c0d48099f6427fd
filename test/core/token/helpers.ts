/**
 * Test kit for token verification: a local issuer (discovery + JWKS on
 * 127.0.0.1, counting requests), generated keys, jose-signed tokens, a frozen
 * clock and a verifier wired to the real HttpClient.
 */
import assert from 'node:assert/strict';
import { type KeyObject, sign as nodeSign } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  SignJWT,
} from 'jose';
import type { ClientIdpConfig } from '../../../src/core/config/schema.ts';
import { InvalidTokenError, ServiceUnavailableError } from '../../../src/core/errors.ts';
import { createTokenVerifier } from '../../../src/core/token/index.ts';
import type { ClientTokenVerifier, VerifierOptions } from '../../../src/core/token/types.ts';
import type { Logger, Telemetry } from '../../../src/core/types.ts';
import { detachKeyPair } from '../../../src/dev/keys.ts';
import { createHttpClient } from '../../../src/providers/http.ts';

/** Frozen test time: 2030-01-01T00:00:00Z, ms. */
export const T0 = Date.UTC(2030, 0, 1);
export const T0_SECONDS = T0 / 1000;

/** What the JWKS route answers: a key set, or a raw status/body/headers. */
export type JwksAnswer =
  | { keys: unknown[] }
  | { status: number; body?: string; headers?: Record<string, string> };

/** A local issuer on 127.0.0.1 that serves discovery and a JWKS and counts requests. */
export interface LocalIssuer {
  /** Base URL, also the issuer identifier. */
  issuer: string;
  jwksUri: string;
  jwks: JwksAnswer;
  /** Overrides the discovery document's `issuer` (mismatch tests). */
  discoveryIssuer?: string;
  /** Delay before answering the JWKS, ms. */
  jwksDelayMs: number;
  requests: string[];
  count(path?: string): number;
  close(): Promise<void>;
}

/** Starts a local issuer serving `jwks`. */
export async function startIssuer(jwks: JwksAnswer = { keys: [] }): Promise<LocalIssuer> {
  const state = { requests: [] as string[] } as unknown as LocalIssuer;
  const server: Server = createServer((req, res) => {
    void answer(state, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  Object.assign(state, {
    issuer: `http://127.0.0.1:${port}`,
    jwksUri: `http://127.0.0.1:${port}/jwks`,
    jwks,
    jwksDelayMs: 0,
    count: (path?: string) => state.requests.filter((p) => path === undefined || p === path).length,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
  return state;
}

async function answer(state: LocalIssuer, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = req.url ?? '/';
  state.requests.push(path);
  if (path === '/.well-known/openid-configuration') {
    const doc = { issuer: state.discoveryIssuer ?? state.issuer, jwks_uri: state.jwksUri };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    return;
  }
  if (path === '/jwks') {
    if (state.jwksDelayMs > 0) await new Promise((r) => setTimeout(r, state.jwksDelayMs));
    const a = state.jwks;
    if ('keys' in a) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(a));
    else res.writeHead(a.status, a.headers ?? {}).end(a.body ?? '');
    return;
  }
  res.writeHead(404).end();
}

/** A generated key pair with its public JWK (kid set). */
export interface TestKey {
  alg: string;
  kid: string;
  privateKey: KeyObject;
  publicJwk: JWK;
}

/** Generates an extractable key pair for `alg` with `kid` (default `<alg>-key`). */
export async function makeKey(
  alg: string,
  kid = `${alg}-key`,
  options: { crv?: string } = {},
): Promise<TestKey> {
  const { privateKey, publicKey } = detachKeyPair(
    await generateKeyPair(alg, { extractable: true, ...options }),
  );
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicJwk };
}

/** Standard valid claims for `issuer` at T0. */
export function claims(issuer: string, extra: JWTPayload = {}): JWTPayload {
  return {
    iss: issuer,
    sub: 'repo:org/app:ref:refs/heads/main',
    aud: 'voidkey',
    iat: T0_SECONDS - 10,
    exp: T0_SECONDS + 600,
    ...extra,
  };
}

/** Signs `payload` with `key`; header defaults to `{alg, kid}`. Claims given as undefined are removed. */
export function sign(
  key: TestKey,
  payload: JWTPayload,
  header: Partial<JWTHeaderParameters> = {},
): Promise<string> {
  const clean = Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined));
  return new SignJWT(clean)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header } as JWTHeaderParameters)
    .sign(key.privateKey);
}

/**
 * Signs exactly the given payload and header (objects or JSON texts) with an RSA key as RS256,
 * to build tokens jose would refuse to produce (duplicate members, short keys).
 */
export function signRaw(
  key: TestKey,
  payload: unknown,
  header: unknown = { alg: 'RS256', kid: key.kid },
): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const { privateKey } = key;
  return `${input}.${nodeSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

/** Base64url of a JSON text or object. */
export const b64 = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A client IdP config entry with the schema's defaults. */
export function idpConfig(issuer: string, extra: Partial<ClientIdpConfig> = {}): ClientIdpConfig {
  return {
    name: 'test-idp',
    issuer,
    audience: 'voidkey',
    allowAnyAudience: false,
    clockTolerance: 30,
    maxTokenLifetime: 86_400,
    oneTimeUse: false,
    ...extra,
  } as ClientIdpConfig;
}

/** Records what the verifier reports. */
export interface Recorder {
  telemetry: Telemetry;
  verifications: string[];
  fetches: string[];
  logger: Logger;
  logs: string[];
}

/** A telemetry and logger pair that keep every call as text. */
export function recorder(): Recorder {
  const verifications: string[] = [];
  const fetches: string[] = [];
  const logs: string[] = [];
  const log = (level: string) => (obj: object, msg?: string) =>
    logs.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  return {
    verifications,
    fetches,
    logs,
    logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    telemetry: {
      tokenVerification: (idp, result, reason) => verifications.push(`${idp} ${result} ${reason}`),
      jwksFetch: (issuer, result) => fetches.push(`${issuer} ${result}`),
      brokerTokenRefresh() {},
      providerCall() {},
    },
  };
}

/** A mutable frozen clock. */
export interface Clock {
  now: () => number;
  advance(seconds: number): void;
}

export function frozenClock(start = T0): Clock {
  let t = start;
  return {
    now: () => t,
    advance: (seconds) => {
      t += seconds * 1000;
    },
  };
}

/** A verifier over the real HttpClient with test-friendly cache times (seconds). */
export function makeVerifier(
  idps: ClientIdpConfig[],
  extra: Partial<VerifierOptions> & { rec?: Recorder } = {},
): ClientTokenVerifier {
  const { rec, ...rest } = extra;
  return createTokenVerifier({
    idps,
    jwks: { ttl: 600, staleIfError: 3600, cooldown: 30, maxSize: 100 },
    http: createHttpClient(),
    httpTimeout: 2000,
    allowInsecureIssuers: true,
    now: () => T0,
    ...(rec ? { logger: rec.logger, telemetry: rec.telemetry } : {}),
    ...rest,
  });
}

/** Asserts that `promise` rejects with InvalidTokenError(`reason`) — a 401 INVALID_TOKEN. */
export async function rejectsWith(promise: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof InvalidTokenError, `expected InvalidTokenError, got ${String(err)}`);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'INVALID_TOKEN');
    assert.deepEqual(err.details, { reason });
    return true;
  });
}

/** Asserts that `promise` rejects with a 503 SERVICE_UNAVAILABLE. */
export async function rejectsUnavailable(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ServiceUnavailableError, `expected ServiceUnavailableError, got ${String(err)}`);
    assert.equal(err.status, 503);
    assert.equal(err.code, 'SERVICE_UNAVAILABLE');
    return true;
  });
}
