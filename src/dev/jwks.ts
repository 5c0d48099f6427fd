/**
 * How the emulated clouds hold the broker's JWKS, as the real ones do: fetched
 * on first use and after ten minutes, refetched on an unknown `kid` at most
 * every 30 seconds, one fetch at a time. jose gets the set as
 * `createLocalJWKSet`; failures are jose's errors (timeout, bad set, bad
 * answer) so each peer maps them to its cloud's fault as before.
 */
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';

const MAX_AGE_MS = 10 * 60_000;
const COOLDOWN_MS = 30_000;
const TIMEOUT_MS = 5_000;

/** A key resolver over the JWKS `get` answers; `get` is called once per fetch. */
export function peerKeySet(get: (signal: AbortSignal) => Promise<Response>): JWTVerifyGetKey {
  let local: JWTVerifyGetKey | undefined;
  let fetchedAt = 0;
  let inFlight: Promise<JWTVerifyGetKey> | undefined;
  const reload = (): Promise<JWTVerifyGetKey> => {
    inFlight ??= download(get).then(
      (set) => {
        inFlight = undefined;
        local = set;
        fetchedAt = Date.now();
        return set;
      },
      (err: unknown) => {
        inFlight = undefined;
        throw err;
      },
    );
    return inFlight;
  };
  return async (header, token) => {
    const keys = local && Date.now() - fetchedAt < MAX_AGE_MS ? local : await reload();
    try {
      return await keys(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || Date.now() - fetchedAt < COOLDOWN_MS) throw err;
      return (await reload())(header, token);
    }
  };
}

async function download(get: (signal: AbortSignal) => Promise<Response>): Promise<JWTVerifyGetKey> {
  let res: Response;
  try {
    res = await get(AbortSignal.timeout(TIMEOUT_MS));
  } catch (err) {
    if (err instanceof Error && err.name === 'TimeoutError') throw new errors.JWKSTimeout();
    throw err;
  }
  if (res.status !== 200) {
    throw new errors.JOSEError('Expected 200 OK from the JSON Web Key Set HTTP response');
  }
  let json: unknown;
  try {
    json = await res.json();
  } catch {
    throw new errors.JOSEError('Failed to parse the JSON Web Key Set HTTP response as JSON');
  }
  return createLocalJWKSet(json as JSONWebKeySet);
}
