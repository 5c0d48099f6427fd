/**
 * Key-set checks, run on every fetched JWKS before jose sees it. Two kinds of
 * problem: the whole set is refused when it is ambiguous (duplicate `kid`) or
 * oversized; a single key is dropped (and reported) when it is one the broker
 * must never verify with — private or symmetric material, weak RSA (short,
 * e ≠ 65537, ROCA), curves outside P-256/P-384/Ed25519, a `use`/`key_ops`/`alg`
 * that is not for these signatures, or bytes that do not form a public key.
 * e = 1 matters most: WebCrypto on Node 20 imports it, and then a "signature"
 * equal to the padded digest verifies, so anyone could forge tokens.
 */
import { createPublicKey, type JsonWebKey as NodeJwk } from 'node:crypto';
import type { JWK } from 'jose';
import { ALLOWED_ALGORITHMS } from '../config/schema.ts';
import { isRocaWeakModulus } from './roca.ts';

/** Most keys a JWKS may hold. */
export const MAX_JWKS_KEYS = 100;
const MIN_RSA_BITS = 2048;
/** Bounds verification cost; larger moduli are not in use by any mainstream IdP. */
const MAX_RSA_BITS = 8192;

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const EC_SIZES: Record<string, number> = { 'P-256': 32, 'P-384': 48 };
const CURVE_ALG: Record<string, string> = { 'P-256': 'ES256', 'P-384': 'ES384', Ed25519: 'EdDSA' };
const RSA_ALGS = new Set(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The whole key set is refused; the message is safe to log. */
export class KeySetRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeySetRefusedError';
  }
}

/** A key left out of the set, and why (never key material). */
export interface DroppedKey {
  index: number;
  kid?: string;
  reason: string;
}

/** A checked key set: public keys the broker may verify with, and what was dropped. */
export interface CheckedKeySet {
  keys: JWK[];
  dropped: DroppedKey[];
}

type Jwk = Record<string, unknown>;

/** A short, safe rendering of a JWK member for a drop reason (JSON.stringify(undefined) is undefined). */
const show = (value: unknown): string => (JSON.stringify(value) ?? String(value)).slice(0, 40);

const isObject = (value: unknown): value is Jwk =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Checks a parsed JWKS against the broker's key policy; `algorithms` defaults
 * to every allowed algorithm. Throws KeySetRefusedError when the whole set
 * must be refused (not a set, over 100 keys, a duplicate `kid`).
 */
export function checkKeySet(
  value: unknown,
  algorithms: readonly string[] = ALLOWED_ALGORITHMS,
): CheckedKeySet {
  if (!isObject(value) || !Array.isArray(value.keys)) {
    throw new KeySetRefusedError('not a JSON Web Key Set (no "keys" array)');
  }
  const entries: unknown[] = value.keys;
  if (entries.length > MAX_JWKS_KEYS) {
    throw new KeySetRefusedError(`${entries.length} keys, more than ${MAX_JWKS_KEYS}`);
  }
  refuseDuplicateKids(entries);
  const keys: JWK[] = [];
  const dropped: DroppedKey[] = [];
  entries.forEach((entry, index) => {
    const reason = whyUnusable(entry, algorithms);
    if (reason === undefined) {
      keys.push(publicPart(entry as Jwk));
      return;
    }
    const kid = isObject(entry) && typeof entry.kid === 'string' ? entry.kid.slice(0, 128) : undefined;
    dropped.push({ index, reason, ...(kid === undefined ? {} : { kid }) });
  });
  return { keys, dropped };
}

function refuseDuplicateKids(entries: readonly unknown[]): void {
  const seen = new Set<string>();
  for (const entry of entries) {
    if (!isObject(entry) || typeof entry.kid !== 'string') continue;
    if (seen.has(entry.kid)) throw new KeySetRefusedError('two keys share one kid');
    seen.add(entry.kid);
  }
}

/** Why `entry` may not be used, or undefined when it may. */
function whyUnusable(entry: unknown, algorithms: readonly string[]): string | undefined {
  if (!isObject(entry)) return 'not a JSON object';
  if (entry.kty === 'oct') return 'symmetric key';
  if (PRIVATE_MEMBERS.some((member) => Object.hasOwn(entry, member))) return 'private key';
  if (entry.kid !== undefined && typeof entry.kid !== 'string') return 'kid is not a string';
  const { alg } = entry;
  if (alg !== undefined && (typeof alg !== 'string' || !algorithms.includes(alg))) {
    return `alg ${show(alg)} is not allowed`;
  }
  if (entry.use !== undefined && entry.use !== 'sig') return 'use is not "sig"';
  const ops = entry.key_ops;
  if (ops !== undefined && (!Array.isArray(ops) || !ops.includes('verify'))) {
    return 'key_ops does not include "verify"';
  }
  return materialProblem(entry) ?? algMismatch(entry) ?? importProblem(entry);
}

function materialProblem(jwk: Jwk): string | undefined {
  switch (jwk.kty) {
    case 'RSA':
      return rsaProblem(jwk);
    case 'EC':
      return curveProblem(jwk, EC_SIZES[String(jwk.crv)], true);
    case 'OKP':
      return curveProblem(jwk, jwk.crv === 'Ed25519' ? 32 : undefined, false);
    default:
      return `kty ${show(jwk.kty)} is not supported`;
  }
}

function rsaProblem(jwk: Jwk): string | undefined {
  const modulus = decodeMember(jwk.n);
  if (modulus === undefined || decodeMember(jwk.e) === undefined) return 'malformed RSA key';
  if (jwk.e !== 'AQAB') return 'RSA public exponent is not 65537';
  const n = modulus.length === 0 ? 0n : BigInt(`0x${modulus.toString('hex')}`);
  const bits = n.toString(2).length;
  if (n === 0n || bits < MIN_RSA_BITS) return `RSA modulus of ${bits} bits is under ${MIN_RSA_BITS}`;
  if (bits > MAX_RSA_BITS) return `RSA modulus of ${bits} bits is over ${MAX_RSA_BITS}`;
  if (isRocaWeakModulus(n)) return 'RSA modulus has the ROCA fingerprint (CVE-2017-15361)';
  return undefined;
}

function curveProblem(jwk: Jwk, size: number | undefined, hasY: boolean): string | undefined {
  if (size === undefined) return `curve ${show(jwk.crv)} is not allowed`;
  if (decodeMember(jwk.x)?.length !== size) return 'malformed curve point';
  if (hasY && decodeMember(jwk.y)?.length !== size) return 'malformed curve point';
  return undefined;
}

function algMismatch(jwk: Jwk): string | undefined {
  if (jwk.alg === undefined) return undefined;
  const fits = jwk.kty === 'RSA' ? RSA_ALGS.has(String(jwk.alg)) : CURVE_ALG[String(jwk.crv)] === jwk.alg;
  return fits ? undefined : 'alg does not match the key type or curve';
}

/** Catches what field checks cannot see, such as an EC point that is not on its curve. */
function importProblem(jwk: Jwk): string | undefined {
  try {
    createPublicKey({ key: publicPart(jwk) as NodeJwk, format: 'jwk' });
    return undefined;
  } catch {
    return 'invalid public key';
  }
}

function decodeMember(value: unknown): Buffer | undefined {
  if (typeof value !== 'string' || !BASE64URL.test(value)) return undefined;
  return Buffer.from(value, 'base64url');
}

/** Copies only the public members jose needs, so nothing else rides along. */
function publicPart(jwk: Jwk): JWK {
  const names = ['kty', 'kid', 'use', 'key_ops', 'alg', 'n', 'e', 'crv', 'x', 'y'];
  const out: Record<string, unknown> = {};
  for (const name of names) if (jwk[name] !== undefined) out[name] = jwk[name];
  return out as JWK;
}
