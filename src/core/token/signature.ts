/**
 * The signature layer, shared by the verifier and by the Wycheproof suite:
 * the jose call with a key resolver (trying each key when several match a
 * token without `kid`), and two entry points for vectors that carry no JWT
 * claims — a compact JWS checked by the same pre-parser, key-set checks and
 * jose call, and a raw signature checked with the same key checks and the
 * same WebCrypto operation jose performs.
 */

import { webcrypto } from 'node:crypto';
import {
  type CompactVerifyGetKey,
  compactVerify,
  createLocalJWKSet,
  errors,
  importJWK,
  type JWK,
  type JWTVerifyGetKey,
  type KeyInput,
} from 'jose';
import { ALLOWED_ALGORITHMS } from '../config/schema.ts';
import { checkKeySet } from './keyset.ts';
import { mapVerificationError } from './map-error.ts';
import { type CheckedHeader, preparseJws } from './preparse.ts';

/**
 * Calls `attempt` with `getKey`; when jose reports several matching keys (a
 * token without `kid`), tries each in turn. Signature failures move on to the
 * next key; any other error (a claim check) ends the search.
 */
export async function withKeyCandidates<T>(
  getKey: JWTVerifyGetKey,
  attempt: (key: KeyInput | JWTVerifyGetKey) => Promise<T>,
): Promise<T> {
  try {
    return await attempt(getKey);
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err) {
      try {
        return await attempt(key);
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

/** Result of {@link verifySignatureOnly}. */
export interface SignatureResult {
  header: CheckedHeader;
  payload: Uint8Array;
}

/**
 * Verifies a compact JWS's format and signature, not its claims, against the
 * key set `jwks` after the key-set checks (`algorithms` default: every allowed
 * one). For vectors without JWT claims; throws what the verifier would throw.
 */
export async function verifySignatureOnly(
  token: string,
  jwks: unknown,
  algorithms: readonly string[] = ALLOWED_ALGORITHMS,
): Promise<SignatureResult> {
  try {
    const { header } = preparseJws(token, algorithms);
    const getKey = createLocalJWKSet({ keys: checkKeySet(jwks, algorithms).keys });
    const result = await withKeyCandidates(getKey, (key) =>
      compactVerify(token, key as CompactVerifyGetKey, { algorithms: [...algorithms] }),
    );
    return { header, payload: result.payload };
  } catch (err) {
    throw mapVerificationError(err);
  }
}

/** WebCrypto parameters jose uses for each allowed algorithm (RFC 7518 §3). */
const SIGNING: Record<string, webcrypto.Algorithm | webcrypto.RsaPssParams | webcrypto.EcdsaParams> = {
  RS256: { name: 'RSASSA-PKCS1-v1_5' },
  RS384: { name: 'RSASSA-PKCS1-v1_5' },
  RS512: { name: 'RSASSA-PKCS1-v1_5' },
  PS256: { name: 'RSA-PSS', saltLength: 32 },
  PS384: { name: 'RSA-PSS', saltLength: 48 },
  PS512: { name: 'RSA-PSS', saltLength: 64 },
  ES256: { name: 'ECDSA', hash: 'SHA-256' },
  ES384: { name: 'ECDSA', hash: 'SHA-384' },
  EdDSA: { name: 'Ed25519' },
};

/** Result of {@link verifyRawSignature}: `refusedBy` names the key policy that dropped the key. */
export interface RawSignatureResult {
  accepted: boolean;
  refusedBy?: string;
}

/**
 * Verifies `signature` over `data` with `jwk` under `alg`, after the same
 * key-set checks the verifier applies — for signature vectors whose message
 * is not a JWS signing input. Never throws for a bad signature or key.
 */
export async function verifyRawSignature(
  alg: string,
  jwk: JWK,
  data: Uint8Array,
  signature: Uint8Array,
): Promise<RawSignatureResult> {
  const params = SIGNING[alg];
  if (!params) return { accepted: false, refusedBy: `alg ${alg} is not allowed` };
  const { keys, dropped } = checkKeySet({ keys: [jwk] }, [alg]);
  const key = keys[0];
  if (!key) return { accepted: false, refusedBy: dropped[0]?.reason ?? 'key dropped' };
  try {
    const cryptoKey = await importJWK(key, alg);
    if (cryptoKey instanceof Uint8Array) return { accepted: false, refusedBy: 'symmetric key' };
    return {
      accepted: await webcrypto.subtle.verify(params, cryptoKey as webcrypto.CryptoKey, signature, data),
    };
  } catch {
    return { accepted: false };
  }
}
