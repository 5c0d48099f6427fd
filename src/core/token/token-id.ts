/**
 * Token identity without the token string: ECDSA signatures are malleable, so
 * two spellings of one token must not count as two tokens. Replay records use
 * `jti`, or a hash of the canonical decoded payload.
 */
import { createHash } from 'node:crypto';

/** JSON with object keys sorted at every depth: one text per decoded payload. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** `jti` when it is a non-empty string, else the hex SHA-256 of the canonical decoded payload. */
export function tokenId(payload: Readonly<Record<string, unknown>>): string {
  const { jti } = payload;
  if (typeof jti === 'string' && jti !== '') return jti;
  return createHash('sha256').update(canonicalJson(payload)).digest('hex');
}

/** First 16 hex digits of the token's SHA-256: enough to correlate log lines, useless to replay. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 16);
}
