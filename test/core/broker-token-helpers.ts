/**
 * A scriptable local token endpoint for the broker-token tests: it records
 * every request (headers and form) and answers with whatever the current
 * handler returns.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import type { BrokerIdpConfig } from '../../src/core/config/schema.ts';
import type { Logger, Telemetry } from '../../src/core/types.ts';
import { createHttpClient } from '../../src/providers/http.ts';

export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  form: URLSearchParams;
}

export interface Reply {
  status: number;
  body: unknown;
  /** ms to wait before answering. */
  delay?: number;
}

export type Handler = (req: RecordedRequest) => Reply | Promise<Reply>;

export interface TokenEndpoint {
  url: string;
  tokenUrl: string;
  requests: RecordedRequest[];
  /** Token requests only (discovery excluded). */
  tokenRequests(): RecordedRequest[];
  handler: Handler;
  close(): void;
}

const secret = new TextEncoder().encode('test-signing-secret-of-enough-length');

/** A signed JWT with the given audience and expiry (Unix seconds). */
export function jwt(claims: { aud?: string | string[]; exp?: number; sub?: string }): Promise<string> {
  const token = new SignJWT({ ...claims }).setProtectedHeader({ alg: 'HS256' });
  return token.setIssuedAt().sign(secret);
}

/** A 200 token response whose JWT carries the audience asked for, valid `ttl` seconds from `nowMs`. */
export async function issue(req: RecordedRequest, nowMs = Date.now(), ttl = 900): Promise<Reply> {
  const aud = req.form.get('audience') ?? req.form.get('resource') ?? req.form.get('scope')?.split(' ')[0];
  const exp = Math.floor(nowMs / 1000) + ttl;
  return {
    status: 200,
    body: { access_token: await jwt({ aud, exp }), token_type: 'Bearer', expires_in: ttl },
  };
}

/** Starts the endpoint on 127.0.0.1; `/.well-known/openid-configuration` names `/token`. */
export async function startTokenEndpoint(handler: Handler = (req) => issue(req)): Promise<TokenEndpoint> {
  const requests: RecordedRequest[] = [];
  const state: TokenEndpoint = {
    url: '',
    tokenUrl: '',
    requests,
    tokenRequests: () => requests.filter((r) => r.url === '/token'),
    handler,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const recorded: RecordedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      form: new URLSearchParams(Buffer.concat(chunks).toString('utf8')),
    };
    requests.push(recorded);
    const reply =
      recorded.url === '/.well-known/openid-configuration'
        ? { status: 200, body: { issuer: state.url, token_endpoint: state.tokenUrl } }
        : await state.handler(recorded);
    if (reply.delay) await new Promise((r) => setTimeout(r, reply.delay));
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.tokenUrl = `${state.url}/token`;
  return state;
}

/** A broker IdP config pointing at `endpoint`. */
export function idpConfig(endpoint: TokenEndpoint, extra: Partial<BrokerIdpConfig> = {}): BrokerIdpConfig {
  return {
    name: 'test-idp',
    issuer: endpoint.url,
    clientId: 'broker-service',
    clientSecret: 'shh-very-secret',
    clientAuth: 'client_secret_basic',
    audienceParam: 'audience',
    tokenEndpoint: endpoint.tokenUrl,
    ...extra,
  };
}

/** Common options of createBrokerTokenSource for tests. */
export function baseOptions(idp: BrokerIdpConfig) {
  return {
    idp,
    configDir: '/nonexistent',
    http: createHttpClient(),
    httpTimeout: 2000,
    maxRetries: 2,
    retryDelay: 1,
    allowInsecureIssuers: true,
  };
}

/** A logger that keeps every line as JSON text. */
export function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (obj: object, msg?: string) => {
    lines.push(JSON.stringify({ ...obj, msg }, (_k, v) => (v instanceof Error ? { message: v.message } : v)));
  };
  return { lines, debug: push, info: push, warn: push, error: push };
}

/** Telemetry that records broker-token refreshes. */
export function captureTelemetry(): Telemetry & { refreshes: string[] } {
  const refreshes: string[] = [];
  return {
    refreshes,
    tokenVerification() {},
    jwksFetch() {},
    brokerTokenRefresh: (audience, result) => {
      refreshes.push(`${audience}:${result}`);
    },
    providerCall() {},
  };
}
