/**
 * Where a client token comes from: `Authorization: Bearer <token>`, the mint
 * body's `oidcToken`, or (when allowed) `?token=` on the key list. Exactly
 * one source: two is a 400, none a 401. A malformed header is a 401
 * INVALID_TOKEN like any other bad token; size and syntax of the token itself
 * are left to the verifier, so they are 401s too, never schema 400s.
 */
import { InvalidRequestError, InvalidTokenError, UnauthorizedError } from '../../core/errors.ts';

const MALFORMED = Symbol('malformed');
type Offered = string | typeof MALFORMED | undefined;

/** The token of a Bearer `Authorization` header; undefined when absent or another scheme. */
function fromHeader(header: string | undefined): Offered {
  if (header === undefined) return undefined;
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'bearer') return undefined;
  const token = space === -1 ? '' : header.slice(space + 1);
  // Exactly one space, then one token with no whitespace in it.
  return /^\S+$/.test(token) ? token : MALFORMED;
}

/** The `token` query parameter; repeated, it is ambiguous (400). */
export function queryToken(query: unknown): string | undefined {
  const value = (query as Record<string, unknown> | undefined)?.token;
  if (value === undefined || typeof value === 'string') return value;
  throw new InvalidRequestError('The token query parameter may appear only once');
}

/** Where a request may carry its token; undefined entries are absent. */
export interface TokenSources {
  authorization?: string | undefined;
  body?: string | undefined;
  query?: string | undefined;
}

/**
 * The one token the request presents. Throws InvalidRequestError (400) for
 * more than one, UnauthorizedError (401) for none, InvalidTokenError
 * ('malformed', 401) for a Bearer header without exactly one token.
 */
export function presentedToken(sources: TokenSources): string {
  const offered = [fromHeader(sources.authorization), sources.body, sources.query].filter(
    (t): t is string | typeof MALFORMED => t !== undefined,
  );
  if (offered.length > 1) {
    throw new InvalidRequestError('Present the token in one place only (Authorization header or body)');
  }
  const [token] = offered;
  if (token === undefined) throw new UnauthorizedError();
  if (token === MALFORMED) throw new InvalidTokenError('malformed');
  return token;
}
