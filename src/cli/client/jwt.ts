/**
 * Local, unverified decoding of a compact JWT: enough to show a user their
 * claims and to key the credential cache by subject. Never a trust decision.
 */

/** A decoded (not verified) JWT. */
export interface DecodedJwt {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

/** Decodes header and payload of a compact JWT; throws an Error saying what is wrong (never echoing the token). */
export function decodeJwt(token: string): DecodedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) {
    throw new Error(`not a compact JWT (expected 3 dot-separated segments, found ${parts.length})`);
  }
  return {
    header: decodeSegment(parts[0] ?? '', 'header'),
    payload: decodeSegment(parts[1] ?? '', 'payload'),
  };
}

function decodeSegment(segment: string, name: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) throw new Error(`the JWT ${name} is not base64url`);
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw new Error(`the JWT ${name} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`the JWT ${name} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The `sub` and `iss` claims when the token decodes and carries them as strings. */
export function tokenIdentity(token: string): { iss: string; sub: string } | undefined {
  try {
    const { payload } = decodeJwt(token);
    if (typeof payload.sub === 'string' && typeof payload.iss === 'string') {
      return { iss: payload.iss, sub: payload.sub };
    }
  } catch {
    // An undecodable token simply has no identity to cache under; the broker will say why.
  }
  return undefined;
}
