/**
 * Checks an AWS Signature Version 4 request the way STS would for AssumeRole:
 * the access key must be one this endpoint issued and not expired, the
 * session token must match it, and the signature must verify with its secret.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { StsFault } from './xml.ts';

/** What the verifier needs to know of an issued key. */
export interface SigningKey {
  secretAccessKey: string;
  sessionToken: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** The request as received. */
export interface SignedRequest {
  method: string;
  /** Path and query as sent. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/;

/** Verifies the signature; returns the access key id. Throws StsFault as STS answers. */
export function verifySigV4(
  req: SignedRequest,
  lookup: (accessKeyId: string) => SigningKey | undefined,
  now: number,
): string {
  const header = req.headers.authorization;
  if (!header)
    throw new StsFault('MissingAuthenticationToken', 'Request is missing Authentication Token', 403);
  const match = AUTH.exec(header);
  if (!match)
    throw new StsFault('IncompleteSignature', 'Authorization header is not a valid SigV4 header', 400);
  const [, accessKeyId = '', date = '', region = '', service = '', signedHeaders = '', signature = ''] =
    match;
  const key = lookup(accessKeyId);
  const invalid = () =>
    new StsFault('InvalidClientTokenId', 'The security token included in the request is invalid.', 403);
  if (!key) throw invalid();
  if (key.expiresAt <= now) {
    throw new StsFault('ExpiredToken', 'The security token included in the request is expired', 400);
  }
  if (req.headers['x-amz-security-token'] !== key.sessionToken) throw invalid();
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const canonical = canonicalRequest(req, signedHeaders);
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonical)].join('\n');
  const kDate = hmac(`AWS4${key.secretAccessKey}`, date);
  const kSigning = hmac(hmac(hmac(kDate, region), service), 'aws4_request');
  const expected = createHmac('sha256', kSigning).update(toSign).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    throw new StsFault(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided.',
      403,
    );
  }
  return accessKeyId;
}

function canonicalRequest(req: SignedRequest, signedHeaders: string): string {
  const [path = '/', query = ''] = req.url.split('?', 2);
  const names = signedHeaders.split(';');
  const headers = names.map((name) => `${name}:${headerValue(req.headers[name])}\n`).join('');
  const payload = String(req.headers['x-amz-content-sha256'] ?? sha256Hex(req.body));
  return [req.method, path, canonicalQuery(query), headers, signedHeaders, payload].join('\n');
}

function headerValue(value: string | string[] | undefined): string {
  const text = Array.isArray(value) ? value.join(',') : (value ?? '');
  return text.trim().replace(/\s+/g, ' ');
}

function canonicalQuery(query: string): string {
  if (!query) return '';
  const encode = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return query
    .split('&')
    .map((pair) => pair.split('=', 2).map((part) => encode(decodeURIComponent(part ?? ''))))
    .map(([k = '', v = '']) => `${k}=${v}`)
    .sort()
    .join('&');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
