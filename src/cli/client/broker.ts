/**
 * The broker's HTTP API as the CLI calls it, under one overall deadline: 429,
 * and a 503 whose reason can clear on its own, are retried with backoff
 * honouring Retry-After while the deadline allows; every other answer is final.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MintResponse } from '../../core/mint/index.ts';
import type { HttpClient, HttpResponse } from '../../core/types.ts';
import { brokerFailure, type ErrorBody, isRetryable } from './broker-errors.ts';
import { CliError, EXIT } from './exit.ts';
import type { Deadline } from './transport.ts';
import { transportFailure } from './transport.ts';

/** One key of `GET /credentials/keys`. */
export interface KeyInfo {
  name: string;
  provider: string;
  description?: string;
  maxDuration: number;
}

/** `GET /credentials/keys`, parsed, with the body text as received. */
export interface KeysAnswer {
  subject: string;
  idp: string;
  keys: KeyInfo[];
  raw: string;
}

/** An identity provider the broker trusts, from `GET /credentials/idp-providers`. */
export interface IdpInfo {
  name: string;
  issuer: string;
  type: string;
  audience: string | undefined;
}

const MAX_BYTES = 1024 * 1024;

/** A client of one broker, bound to the command's deadline. */
export class BrokerClient {
  readonly #base: string;
  readonly #http: HttpClient;
  readonly #deadline: Deadline;
  readonly #userAgent: string;
  /** Subject of the presented token (for the 404 message), when known. */
  subject: string | undefined;
  /** Explains a 401 `audience_mismatch` (set when the token came from the GitHub Actions runner). */
  audienceHint: (() => Promise<string>) | undefined;

  constructor(base: string, http: HttpClient, deadline: Deadline, userAgent: string) {
    this.#base = base;
    this.#http = http;
    this.#deadline = deadline;
    this.#userAgent = userAgent;
  }

  /** The broker's base URL, without a trailing slash. */
  get base(): string {
    return this.#base;
  }

  /** `GET /credentials/idp-providers` (no authentication; informational only). */
  async idpProviders(): Promise<IdpInfo[]> {
    const { body } = await this.#call('GET', '/credentials/idp-providers');
    const providers = (body as { providers?: unknown }).providers;
    if (!Array.isArray(providers)) throw malformed('GET /credentials/idp-providers');
    return providers.map((p: Record<string, unknown>) => ({
      name: String(p.name ?? ''),
      issuer: String(p.issuer ?? ''),
      type: String(p.type ?? ''),
      audience: typeof p.audience === 'string' ? p.audience : undefined,
    }));
  }

  /** `GET /credentials/keys` with the bearer token. */
  async listKeys(token: string): Promise<KeysAnswer> {
    const { body, raw } = await this.#call('GET', '/credentials/keys', token);
    const { subject, idp, keys } = body as Record<string, unknown>;
    const valid =
      typeof subject === 'string' && Array.isArray(keys) && keys.every((k) => typeof k?.name === 'string');
    if (!valid) throw malformed('GET /credentials/keys');
    return { subject, idp: typeof idp === 'string' ? idp : '', keys: keys as KeyInfo[], raw };
  }

  /** `POST /credentials/mint` for 1–10 keys; checks every requested key came back. */
  async mint(token: string, keys: string[], duration: number | undefined): Promise<MintResponse> {
    const payload = JSON.stringify(duration === undefined ? { keys } : { keys, duration });
    const { body } = await this.#call('POST', '/credentials/mint', token, payload);
    const answer = body as Partial<MintResponse>;
    const credentials = answer.credentials;
    const valid =
      typeof credentials === 'object' &&
      credentials !== null &&
      typeof answer.expiresAt === 'string' &&
      keys.every((key) => isStringMap(credentials[key]));
    if (!valid) throw malformed('POST /credentials/mint');
    return { keyExpiresAt: {}, subject: '', issuedAt: '', ...answer } as MintResponse;
  }

  async #call(method: 'GET' | 'POST', path: string, token?: string, payload?: string) {
    const route = `${method} ${path}`;
    for (let attempt = 1; ; attempt++) {
      const res = await this.#send(method, path, token, payload);
      if (res.status >= 200 && res.status < 300) return parseSuccess(res, route);
      const body = parseErrorBody(res);
      const retryAfter = retryAfterSeconds(res, body);
      if (isRetryable(res.status, body)) {
        const wait = retryAfter !== undefined ? retryAfter * 1000 : backoff(attempt);
        if (wait < this.#deadline.remaining()) {
          await sleep(wait);
          continue;
        }
      }
      const requestId = typeof body.requestId === 'string' ? body.requestId : res.headers['x-request-id'];
      const timeoutMs = this.#deadline.totalMs;
      const hint =
        res.status === 401 && body.details?.reason === 'audience_mismatch' && this.audienceHint
          ? await this.audienceHint().catch(() => undefined)
          : undefined;
      throw brokerFailure({
        hint,
        status: res.status,
        body,
        requestId,
        route,
        attempts: attempt,
        retryAfter,
        timeoutMs,
        subject: this.subject,
      });
    }
  }

  async #send(method: 'GET' | 'POST', path: string, token?: string, payload?: string): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': this.#userAgent,
      'x-request-id': randomUUID(),
    };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const timeoutMs = this.#deadline.remaining();
    const what = `the broker at ${this.#base}`;
    if (timeoutMs <= 0) throw this.#deadline.expired(what);
    try {
      return await this.#http(`${this.#base}${path}`, {
        method,
        headers,
        body: payload,
        timeoutMs,
        maxBytes: MAX_BYTES,
      });
    } catch (err) {
      throw transportFailure(err, what, this.#deadline, EXIT.BROKER);
    }
  }
}

function parseSuccess(res: HttpResponse, route: string): { body: object; raw: string } {
  const raw = res.body.toString('utf8');
  try {
    const body: unknown = JSON.parse(raw);
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) return { body, raw };
  } catch {
    // Reported below as an answer that is not the API's.
  }
  throw malformed(route);
}

function parseErrorBody(res: HttpResponse): ErrorBody {
  try {
    const body: unknown = JSON.parse(res.body.toString('utf8'));
    if (typeof body === 'object' && body !== null && !Array.isArray(body)) return body as ErrorBody;
  } catch {
    // A proxy's HTML error page: only the status is reported.
  }
  return {};
}

/** Seconds to wait from `Retry-After` (seconds or HTTP date), else the body's `retryAfter`. */
function retryAfterSeconds(res: HttpResponse, body: ErrorBody): number | undefined {
  const header = res.headers['retry-after']?.trim();
  if (header !== undefined && /^\d+$/.test(header)) return Number(header);
  if (header !== undefined && header !== '') {
    const at = Date.parse(header);
    if (!Number.isNaN(at)) return Math.max(0, Math.ceil((at - Date.now()) / 1000));
  }
  const fromBody = body.retryAfter;
  return typeof fromBody === 'number' && Number.isFinite(fromBody) && fromBody >= 0 ? fromBody : undefined;
}

/** Exponential backoff without Retry-After: 0.5 s, 1 s, 2 s … capped at 8 s, with a little jitter. */
function backoff(attempt: number): number {
  return Math.min(500 * 2 ** (attempt - 1), 8000) + Math.floor(Math.random() * 100);
}

function isStringMap(value: unknown): value is Record<string, string> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === 'string')
  );
}

function malformed(route: string): CliError {
  return new CliError(EXIT.BROKER, `the broker's answer to ${route} is not what the Voidkey API returns`);
}
