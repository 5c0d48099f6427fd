/** Client-token verification (docs/security.md): the public surface of src/core/token. */
export type { KeySetHealth } from './issuer-keys.ts';
export {
  type CheckedKeySet,
  checkKeySet,
  type DroppedKey,
  KeySetRefusedError,
  MAX_JWKS_KEYS,
} from './keyset.ts';
export { KEYS_UNAVAILABLE, KeySetUnavailableError, mapVerificationError } from './map-error.ts';
export {
  MAX_TOKEN_BYTES,
  type PreparsedJws,
  type PreparsedToken,
  preparseJws,
  preparseToken,
} from './preparse.ts';
export { isRocaWeakModulus } from './roca.ts';
export { parseStrictJson } from './strict-json.ts';
export { canonicalJson, tokenFingerprint, tokenId } from './token-id.ts';
export type { ClientTokenVerifier, VerifierOptions } from './types.ts';
export { createTokenVerifier } from './verifier.ts';
