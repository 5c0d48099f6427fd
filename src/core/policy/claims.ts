/**
 * Reading claims the way every rule sees them: a top-level claim name, or an
 * RFC 6901 JSON Pointer when the key starts with `/`; own properties only, so
 * a pointer can never reach something inherited. A value is compared by its
 * string form: strings as they are, safe integers in decimal, booleans as
 * `true`/`false`. Anything else — null, objects, floats, unsafe integers,
 * strings over 1 KiB of UTF-8 — is unusable, and so is an array holding one.
 */

/** Largest usable claim string, bytes of UTF-8. */
export const MAX_CLAIM_BYTES = 1024;

/** Claims no rule may name: the issuer is implied by `idp`, the times are the verifier's. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set(['iss', 'exp', 'nbf', 'iat']);

/** A claim as conditions see it. */
export type ClaimValue =
  | { readonly kind: 'scalar'; readonly text: string }
  | { readonly kind: 'array'; readonly items: readonly string[] }
  | { readonly kind: 'unusable' }
  | { readonly kind: 'missing' };

const MISSING: ClaimValue = Object.freeze({ kind: 'missing' });
const UNUSABLE: ClaimValue = Object.freeze({ kind: 'unusable' });

/** Where a condition reads its claim: one top-level name or pointer segments. */
export interface ClaimRef {
  /** As written in the config (`sub`, `/kubernetes.io/namespace`). */
  readonly key: string;
  readonly segments: readonly string[];
}

/**
 * Parses a condition key; a string starting with `/` is a JSON Pointer
 * (`~1` decoded before `~0`). Returns an error text for a malformed pointer
 * or a reserved claim.
 */
export function parseClaimKey(key: string): ClaimRef | { error: string } {
  if (key === '') return { error: 'a claim name must not be empty' };
  let segments: string[];
  if (key.startsWith('/')) {
    if (/~[^01]|~$/.test(key)) return { error: 'a JSON Pointer may use ~ only as ~0 or ~1' };
    segments = key
      .slice(1)
      .split('/')
      .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
  } else {
    segments = [key];
  }
  const top = segments[0] as string;
  if (RESERVED_CLAIMS.has(top) && segments.length === 1) {
    return {
      error:
        top === 'iss' ? '`iss` is implied by `idp` and may not be matched' : `\`${top}\` may not be matched`,
    };
  }
  return { key, segments };
}

/** The raw value at `ref` in `claims`, or undefined when any step is missing. */
export function readRaw(claims: unknown, ref: ClaimRef): unknown {
  let node: unknown = claims;
  for (const seg of ref.segments) {
    if (Array.isArray(node)) {
      if (!/^(0|[1-9][0-9]*)$/.test(seg)) return undefined;
      node = node[Number(seg)];
    } else if (node !== null && typeof node === 'object') {
      if (!Object.hasOwn(node, seg)) return undefined;
      node = (node as Record<string, unknown>)[seg];
    } else {
      return undefined;
    }
  }
  return node;
}

/** The string form of a scalar claim value, or undefined when it is unusable. */
export function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return utf8Length(value) <= MAX_CLAIM_BYTES ? value : undefined;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

/** Reads and classifies the claim at `ref`. */
export function readClaim(claims: unknown, ref: ClaimRef): ClaimValue {
  return classify(readRaw(claims, ref));
}

/** Classifies a raw claim value. */
export function classify(value: unknown): ClaimValue {
  if (value === undefined || value === null) return MISSING;
  if (Array.isArray(value)) {
    const items: string[] = [];
    for (const item of value) {
      const text = scalarText(item);
      if (text === undefined) return UNUSABLE;
      items.push(text);
    }
    return { kind: 'array', items };
  }
  const text = scalarText(value);
  return text === undefined ? UNUSABLE : { kind: 'scalar', text };
}

/** UTF-8 length of `text`, stopping early once past the claim cap. */
function utf8Length(text: string): number {
  if (text.length > MAX_CLAIM_BYTES) return text.length;
  return Buffer.byteLength(text, 'utf8');
}

/** ASCII-only lower case: `K` → `k`, but KELVIN SIGN and every other non-ASCII letter stay as they are. */
export function asciiLower(text: string): string {
  return /[A-Z]/.test(text) ? text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32)) : text;
}

/** ASCII-only upper case. */
export function asciiUpper(text: string): string {
  return /[a-z]/.test(text) ? text.replace(/[a-z]/g, (c) => String.fromCharCode(c.charCodeAt(0) - 32)) : text;
}
