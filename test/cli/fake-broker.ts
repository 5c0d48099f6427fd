/**
 * A small stand-in for the broker's HTTP API (SPEC §4) on 127.0.0.1, for the
 * CLI's process-level tests: same paths, statuses, error bodies and headers.
 * Tokens are "verified" by membership in `trusted` and their `exp`; it also
 * plays the GitHub Actions runner's token endpoint at /runner/token.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A key granted to an identity, with the outputs its mint returns. */
export interface FakeKey {
  name: string;
  provider: string;
  description?: string;
  maxDuration: number;
  outputs: Record<string, string>;
  /** ISO expiry returned for this key (default: one hour ahead). */
  expiresAt?: string;
}

/** A scripted answer, consumed in order before the normal handling of its path. */
export interface Scripted {
  status: number;
  error?: string;
  message?: string;
  details?: Record<string, unknown>;
  retryAfter?: number;
  headers?: Record<string, string>;
  /** Raw body instead of the SPEC error body. */
  raw?: string;
}

/** One request the fake received. */
export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** Date.now() on arrival. */
  at: number;
}

const STATUS_CODES: Record<number, string> = {
  400: 'INVALID_REQUEST',
  401: 'INVALID_TOKEN',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMIT_EXCEEDED',
  500: 'INTERNAL_ERROR',
  502: 'CREDENTIAL_MINT_FAILED',
  503: 'SERVICE_UNAVAILABLE',
};

const KEY_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The fake broker. */
export class FakeBroker {
  readonly server: Server;
  url = '';
  /** Tokens that pass "verification". */
  readonly trusted = new Set<string>();
  /** Subject → identity (idp name and keys). */
  readonly identities = new Map<string, { idp: string; keys: FakeKey[] }>();
  providers: Array<{ name: string; issuer: string; type: 'oidc'; audience: string }> = [];
  readonly seen: Seen[] = [];
  readonly #script = new Map<string, Array<Scripted | null>>();
  /** Like a broker whose IdP has `oneTimeUse`: a token that minted once is refused as replayed. */
  oneTimeUse = false;
  /** Delay before each mint answer, ms: makes parallel clients overlap. */
  mintDelayMs = 0;
  readonly #used = new Set<string>();
  /** Runner endpoint: the request token it expects and the OIDC token it issues per audience. */
  runner = { requestToken: 'runner-request-token-0123456789', issue: (_audience: string) => '' };

  constructor() {
    this.server = createServer((req, res) => {
      this.#handle(req, res).catch(() => {
        res.statusCode = 500;
        res.end();
      });
    });
  }

  /** Listens on 127.0.0.1, port 0. */
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Closes the server and every connection. */
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Queues answers for `path`, one per request; `null` lets that request through to normal handling. */
  script(path: string, ...answers: Array<Scripted | null>): void {
    this.#script.set(path, [...(this.#script.get(path) ?? []), ...answers]);
  }

  /** Forgets requests, scripts and used tokens (identities stay); one-time use and delay off. */
  reset(): void {
    this.seen.length = 0;
    this.#script.clear();
    this.#used.clear();
    this.oneTimeUse = false;
    this.mintDelayMs = 0;
  }

  /** Requests seen for `path`. */
  requests(path: string): Seen[] {
    return this.seen.filter((s) => s.path === path);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<unknown> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const text = await readBody(req);
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      body = Symbol.for('malformed');
    }
    const at = Date.now();
    this.seen.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body,
      at,
    });
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    const scripted = this.#script.get(url.pathname)?.shift();
    if (scripted) return sendScripted(res, scripted, requestId);
    const reply = new Reply(res, requestId);
    const route = `${req.method} ${url.pathname}`;
    if (route === 'POST /credentials/mint') return this.#mint(req, body, reply);
    if (route === 'GET /credentials/keys') return this.#keys(req, reply);
    if (route === 'GET /credentials/idp-providers') return reply.json(200, { providers: this.providers });
    if (route === 'GET /runner/token') return this.#runnerToken(req, url, reply);
    const known = ['/credentials/mint', '/credentials/keys', '/credentials/idp-providers'].includes(
      url.pathname,
    );
    return known ? reply.error(405, 'METHOD_NOT_ALLOWED') : reply.error(404, 'NOT_FOUND');
  }

  #verify(token: string | undefined, reply: Reply): string | undefined {
    if (token === undefined) {
      reply.error(401, 'UNAUTHORIZED', 'A bearer token is required');
      return undefined;
    }
    const payload = decodePayload(token);
    if (!this.trusted.has(token) || payload === undefined) {
      reply.error(401, 'INVALID_TOKEN', 'The token could not be verified: signature invalid', {
        reason: 'signature_invalid',
      });
      return undefined;
    }
    if (typeof payload.exp === 'number' && payload.exp * 1000 < Date.now()) {
      reply.error(401, 'INVALID_TOKEN', 'The token could not be verified: token expired', {
        reason: 'token_expired',
      });
      return undefined;
    }
    return String(payload.sub);
  }

  #keys(req: IncomingMessage, reply: Reply): Done {
    const subject = this.#verify(bearer(req), reply);
    if (subject === undefined) return true;
    const identity = this.identities.get(subject);
    if (!identity) return reply.error(404, 'SUBJECT_NOT_FOUND', 'No identity is configured for this subject');
    const keys = identity.keys.map(({ name, provider, description, maxDuration }) => ({
      name,
      provider,
      ...(description === undefined ? {} : { description }),
      maxDuration,
    }));
    return reply.json(200, { subject, idp: identity.idp, keys });
  }

  async #mint(req: IncomingMessage, body: unknown, reply: Reply): Promise<Done> {
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return reply.error(415, 'UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json');
    }
    const problem = checkMintBody(body);
    if (problem) return reply.error(400, 'INVALID_REQUEST', problem);
    const { keys, duration, oidcToken } = body as { keys: string[]; duration?: number; oidcToken?: string };
    const header = bearer(req);
    if (header !== undefined && oidcToken !== undefined) {
      return reply.error(400, 'INVALID_REQUEST', 'Send the token in the header or the body, not both');
    }
    const subject = this.#verify(header ?? oidcToken, reply);
    if (subject === undefined) return true;
    const granted = new Map((this.identities.get(subject)?.keys ?? []).map((k) => [k.name, k]));
    const denied = keys.filter((k) => !granted.has(k));
    if (denied.length > 0) {
      const message = 'The identity is not granted the requested keys';
      return reply.error(403, 'FORBIDDEN', message, { deniedKeys: denied });
    }
    const chosen = keys.map((k) => granted.get(k) as FakeKey);
    const tooLong = chosen.find((k) => duration !== undefined && duration > k.maxDuration);
    if (tooLong)
      return reply.error(400, 'INVALID_REQUEST', `duration exceeds the maximum of key ${tooLong.name}`);
    const token = (header ?? oidcToken) as string;
    if (this.oneTimeUse && this.#used.has(token)) {
      return reply.error(401, 'INVALID_TOKEN', 'The token could not be verified: token replayed', {
        reason: 'token_replayed',
      });
    }
    this.#used.add(token);
    if (this.mintDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.mintDelayMs));
    return reply.json(200, mintAnswer(subject, chosen));
  }

  #runnerToken(req: IncomingMessage, url: URL, reply: Reply): Done {
    if (req.headers.authorization !== `Bearer ${this.runner.requestToken}`) {
      return reply.json(401, { message: 'bad runner token' });
    }
    const audience = url.searchParams.get('audience');
    if (audience === null) return reply.json(400, { message: 'audience missing' });
    return reply.json(200, { count: 1, value: this.runner.issue(audience) });
  }
}

/** Marks a request as answered. */
type Done = true;

function mintAnswer(subject: string, keys: FakeKey[]) {
  const later = new Date(Date.now() + 3600_000).toISOString();
  const keyExpiresAt = Object.fromEntries(keys.map((k) => [k.name, k.expiresAt ?? later]));
  const expiresAt = Object.values(keyExpiresAt).sort()[0];
  return {
    credentials: Object.fromEntries(keys.map((k) => [k.name, k.outputs])),
    expiresAt,
    subject,
    issuedAt: new Date().toISOString(),
    keyExpiresAt,
  };
}

function checkMintBody(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'body must be a JSON object';
  const unknown = Object.keys(body).find((f) => !['keys', 'oidcToken', 'duration'].includes(f));
  if (unknown) return `unknown field ${unknown}`;
  const { keys, duration } = body as { keys?: unknown; duration?: unknown };
  if (!Array.isArray(keys) || keys.length < 1 || keys.length > 10) return 'keys must list 1 to 10 names';
  if (!keys.every((k) => typeof k === 'string' && KEY_NAME.test(k))) return 'invalid key name';
  if (duration !== undefined && !(Number.isInteger(duration) && (duration as number) > 0))
    return 'invalid duration';
  return undefined;
}

class Reply {
  constructor(
    readonly res: ServerResponse,
    readonly requestId: string,
  ) {}

  json(status: number, body: unknown): Done {
    this.res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
    });
    this.res.end(JSON.stringify(body));
    return true;
  }

  error(status: number, code: string, message = code, details?: Record<string, unknown>): Done {
    if (status === 401) this.res.setHeader('www-authenticate', 'Bearer');
    return this.json(status, errorBody(code, message, this.requestId, details));
  }
}

function errorBody(
  code: string,
  message: string,
  requestId: string,
  details?: Record<string, unknown>,
  retryAfter?: number,
) {
  return {
    error: code,
    message,
    ...(details ? { details } : {}),
    requestId,
    timestamp: new Date().toISOString(),
    ...(retryAfter === undefined ? {} : { retryAfter }),
  };
}

function sendScripted(res: ServerResponse, s: Scripted, requestId: string): void {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    ...s.headers,
  };
  if (s.status === 401) headers['www-authenticate'] = 'Bearer';
  if (s.retryAfter !== undefined && !headers['retry-after']) headers['retry-after'] = String(s.retryAfter);
  const code = s.error ?? STATUS_CODES[s.status] ?? 'INTERNAL_ERROR';
  const body =
    s.raw ?? JSON.stringify(errorBody(code, s.message ?? code, requestId, s.details, s.retryAfter));
  res.writeHead(s.status, headers);
  res.end(body);
}

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._:-]{1,128}$/.test(given) ? given : randomUUID();
}

function bearer(req: IncomingMessage): string | undefined {
  const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  return match?.[1];
}

function decodePayload(token: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
