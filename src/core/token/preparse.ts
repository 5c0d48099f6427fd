/**
 * The pre-parser: every check that needs neither a key nor the network, run
 * before both and cheapest first. One token has one spelling: three segments
 * of canonical, unpadded base64url, a header and payload that are JSON objects
 * without duplicate members, and no header feature the broker does not
 * implement (`crit`, `b64`, nested JWTs), nor a JWT explicitly typed as
 * something other than an identity assertion. Header keys (`jwk`, `jku`, `x5u`,
 * `x5c`) are not refused here; they are simply never used to find a key.
 */
import { ALLOWED_ALGORITHMS } from '../config/schema.ts';
import { InvalidTokenError } from '../errors.ts';
import { parseStrictJson } from './strict-json.ts';

/** Largest accepted token, bytes (docs/security.md); larger ones are refused before decoding. */
export const MAX_TOKEN_BYTES = 16_384;

/** A JOSE header that passed the pre-parser; `alg` is in the allow-list. */
export interface CheckedHeader extends Record<string, unknown> {
  alg: string;
  kid?: string;
}

/** A compact JWS that passed the pre-parser; the payload is still opaque bytes. */
export interface PreparsedJws {
  header: CheckedHeader;
  payloadBytes: Buffer;
}

/** A compact JWT that passed the pre-parser: the payload is a JSON object too. */
export interface PreparsedToken extends PreparsedJws {
  payload: Record<string, unknown>;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const NESTED_JWT_TYPES = new Set(['jwt', 'application/jwt']);
/**
 * Explicit types (RFC 8725 §3.11) of JWTs that are never identity assertions:
 * a back-channel logout token, a security event or a DPoP proof signed with a
 * trusted issuer's keys must not pass as a client token. Compared without the
 * optional `application/` prefix, case-insensitively (RFC 7515 §4.1.9).
 */
const FOREIGN_TYPES = new Set(['logout+jwt', 'secevent+jwt', 'dpop+jwt']);

/**
 * Checks a compact JWS without trusting anything in it: size, shape, canonical
 * base64url, strict header JSON, `alg` in `algorithms` (default: every allowed
 * algorithm), no `crit`/`b64`/nested JWT/foreign `typ`. Throws InvalidTokenError.
 */
export function preparseJws(
  token: unknown,
  algorithms: readonly string[] = ALLOWED_ALGORITHMS,
): PreparsedJws {
  if (typeof token !== 'string') throw new InvalidTokenError('malformed');
  if (token.length > MAX_TOKEN_BYTES || Buffer.byteLength(token, 'utf8') > MAX_TOKEN_BYTES) {
    throw new InvalidTokenError('token_too_large');
  }
  const segments = token.split('.');
  if (segments.length !== 3) throw new InvalidTokenError('malformed');
  const [headerSegment, payloadSegment, signatureSegment] = segments as [string, string, string];
  const headerBytes = decodeSegment(headerSegment);
  const payloadBytes = decodeSegment(payloadSegment);
  decodeSegment(signatureSegment);
  const header = checkHeader(decodeJsonObject(headerBytes), algorithms);
  // Checked after the header so that `alg: none` with its empty signature reads as what it is.
  if (signatureSegment === '') throw new InvalidTokenError('malformed');
  return { header, payloadBytes };
}

/**
 * Pre-parses a compact JWT: {@link preparseJws} plus a payload that is a
 * strict JSON object. Throws InvalidTokenError (`token_too_large`,
 * `malformed`, `algorithm_not_allowed`).
 */
export function preparseToken(
  token: string,
  algorithms: readonly string[] = ALLOWED_ALGORITHMS,
): PreparsedToken {
  const { header, payloadBytes } = preparseJws(token, algorithms);
  return { header, payloadBytes, payload: decodeJsonObject(payloadBytes) };
}

/** Decodes one segment, refusing padding, whitespace, foreign characters and non-canonical spellings. */
function decodeSegment(segment: string): Buffer {
  const rest = segment.length % 4;
  if (!BASE64URL.test(segment) || rest === 1) throw new InvalidTokenError('malformed');
  // The last character of a partial group carries unused low bits (4 after two characters, 2 after
  // three); set, they decode to the same bytes, so a second spelling of the token would pass.
  if (rest !== 0 && (sextet(segment.charCodeAt(segment.length - 1)) & (rest === 2 ? 0x0f : 0x03)) !== 0) {
    throw new InvalidTokenError('malformed');
  }
  return Buffer.from(segment, 'base64url');
}

/** The 6-bit value of a base64url character (already checked to be one). */
function sextet(code: number): number {
  if (code >= 0x61) return code - 0x61 + 26; // a-z
  if (code >= 0x41) return code === 0x5f ? 63 : code - 0x41; // A-Z, _
  if (code >= 0x30) return code - 0x30 + 52; // 0-9
  return 62; // -
}

function decodeJsonObject(bytes: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = parseStrictJson(UTF8.decode(bytes));
  } catch (cause) {
    throw new InvalidTokenError('malformed', { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidTokenError('malformed');
  }
  return value as Record<string, unknown>;
}

function checkHeader(header: Record<string, unknown>, algorithms: readonly string[]): CheckedHeader {
  const { alg, kid, cty, typ } = header;
  if (typeof alg !== 'string') throw new InvalidTokenError('malformed');
  if (!algorithms.includes(alg)) throw new InvalidTokenError('algorithm_not_allowed');
  // The broker understands no critical extension, and unencoded payloads (b64) change what is signed.
  if (Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'b64')) throw new InvalidTokenError('malformed');
  if (typeof cty === 'string' && NESTED_JWT_TYPES.has(cty.toLowerCase())) {
    throw new InvalidTokenError('malformed');
  }
  if (kid !== undefined && typeof kid !== 'string') throw new InvalidTokenError('malformed');
  if (typeof typ === 'string' && FOREIGN_TYPES.has(mediaType(typ))) throw new InvalidTokenError('malformed');
  return header as CheckedHeader;
}

/** `typ` as a bare, lower-case media subtype: `application/` and parameters dropped. */
function mediaType(typ: string): string {
  const bare = (typ.split(';', 1)[0] ?? '').trim().toLowerCase();
  return bare.startsWith('application/') ? bare.slice('application/'.length) : bare;
}
