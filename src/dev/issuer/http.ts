/**
 * Small HTTP helpers of the development issuer: capped body reading, JSON
 * answers, OAuth error answers (RFC 6749 §5.2) and client authentication
 * (client_secret_basic and client_secret_post, RFC 6749 §2.3.1).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readCapped } from '../peer.ts';

/** Largest request body the issuer reads, bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

/** An answer the request handler turns into an HTTP response. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly body: Record<string, string>;
  readonly headers: Record<string, string>;
  constructor(status: number, body: Record<string, string>, headers: Record<string, string> = {}) {
    super(body.error_description ?? body.error);
    this.name = 'HttpProblem';
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

/** An OAuth error answer: `{"error": code, "error_description"?: text}`. */
export function oauthError(
  status: number,
  error: string,
  description?: string,
  headers: Record<string, string> = {},
): HttpProblem {
  return new HttpProblem(
    status,
    description === undefined ? { error } : { error, error_description: description },
    headers,
  );
}

/** Writes `body` as JSON; token-bearing and error answers are never cached. */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    pragma: 'no-cache',
    ...headers,
  });
  res.end(text);
}

/** Reads the whole body, refusing more than {@link MAX_BODY_BYTES} with 413. */
export async function readBody(req: IncomingMessage): Promise<string> {
  const tooLarge = () => oauthError(413, 'invalid_request', 'request body too large');
  return (await readCapped(req, MAX_BODY_BYTES, tooLarge)).toString('utf8');
}

/** True when the request's media type (parameters ignored) is `type`. */
export function hasMediaType(req: IncomingMessage, type: string): boolean {
  const value = req.headers['content-type'] ?? '';
  return value.split(';')[0]?.trim().toLowerCase() === type;
}

/**
 * Parses an `application/x-www-form-urlencoded` body; a parameter sent more
 * than once is refused (RFC 6749 §3.2).
 */
export function parseForm(body: string): Map<string, string> {
  const form = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(body)) {
    if (form.has(name)) throw oauthError(400, 'invalid_request', `parameter ${name} repeated`);
    form.set(name, value);
  }
  return form;
}

/** Compares two secrets in time independent of where they differ. */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Client credentials as presented, with how they were presented. */
export interface PresentedClient {
  clientId: string;
  clientSecret: string;
  method: 'client_secret_basic' | 'client_secret_post';
}

function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

function parseBasic(header: string): { clientId: string; clientSecret: string } {
  const match = /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header.trim());
  const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon < 1) throw invalidClient(true);
  try {
    return {
      clientId: formDecode(decoded.slice(0, colon)),
      clientSecret: formDecode(decoded.slice(colon + 1)),
    };
  } catch {
    throw invalidClient(true);
  }
}

/** 401 `invalid_client`; with the Basic challenge when the client tried Basic (RFC 6749 §5.2). */
export function invalidClient(triedBasic: boolean): HttpProblem {
  return oauthError(
    401,
    'invalid_client',
    'client authentication failed',
    triedBasic ? { 'www-authenticate': 'Basic realm="voidkey-dev"' } : {},
  );
}

/**
 * The client credentials of a token request: from `Authorization: Basic` or
 * from the form, never both (RFC 6749 §2.3: one method per request).
 */
export function presentedClient(req: IncomingMessage, form: Map<string, string>): PresentedClient {
  const header = req.headers.authorization;
  const postId = form.get('client_id');
  const postSecret = form.get('client_secret');
  if (header !== undefined) {
    if (postSecret !== undefined) {
      throw oauthError(400, 'invalid_request', 'more than one client authentication method');
    }
    const basic = parseBasic(header);
    if (postId !== undefined && postId !== basic.clientId) {
      throw oauthError(400, 'invalid_request', 'client_id does not match the Authorization header');
    }
    return { ...basic, method: 'client_secret_basic' };
  }
  if (postId === undefined || postSecret === undefined) throw invalidClient(false);
  return { clientId: postId, clientSecret: postSecret, method: 'client_secret_post' };
}
