/**
 * Client-token verification as a sequence of steps: pre-parse without keys or
 * network → pick the issuer by exact `iss` (an unknown one is refused before
 * any fetch) → check `alg` against that issuer's list → get its keys → jose's
 * jwtVerify checks the signature and the registered claims (`iss`, `aud`,
 * `iat`, `nbf`, `exp`, clock tolerance) → the broker's own claim rules (`iat`
 * in the future, lifetime, `sub`). Every failure leaves through
 * mapVerificationError as a 401 or a 503.
 */
import { errors, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, jwtVerify } from 'jose';
import { ALLOWED_ALGORITHMS, type ClientIdpConfig } from '../config/schema.ts';
import { InvalidTokenError, ServiceUnavailableError } from '../errors.ts';
import { type Logger, noTelemetry, silentLogger, type Telemetry, type VerifiedToken } from '../types.ts';
import { IssuerKeys, type KeySetHealth } from './issuer-keys.ts';
import { KEYS_UNAVAILABLE, mapVerificationError } from './map-error.ts';
import { preparseToken } from './preparse.ts';
import { withKeyCandidates } from './signature.ts';
import { tokenFingerprint, tokenId } from './token-id.ts';
import type { ClientTokenVerifier, VerifierOptions } from './types.ts';

const MAX_SUBJECT_LENGTH = 255;

/** Builds the client-token verifier; throws TypeError on an unusable configuration. */
export function createTokenVerifier(options: VerifierOptions): ClientTokenVerifier {
  const byIssuer = indexIdps(options.idps);
  const logger = options.logger ?? silentLogger;
  const telemetry = options.telemetry ?? noTelemetry;
  const now = options.now ?? Date.now;
  const keys = keyStore(options, { logger, telemetry, now });

  async function verify(token: string, signal?: AbortSignal): Promise<VerifiedToken> {
    let idpName = 'unknown';
    try {
      const { header, payload } = preparseToken(token);
      const idp = selectIdp(byIssuer, payload);
      idpName = idp.name;
      if (!algorithmsOf(idp).includes(header.alg)) throw new InvalidTokenError('algorithm_not_allowed');
      const nowMs = now();
      await verifyWithIssuerKeys(token, idp, keys.get(idp), nowMs, signal);
      // The pre-parser's strict reading of the claims is the one the broker uses.
      const claims = payload as JWTPayload & { exp: number };
      checkBrokerClaims(claims, idp, Math.floor(nowMs / 1000));
      telemetry.tokenVerification(idp.name, 'success', 'ok');
      return toVerifiedToken(idp, claims);
    } catch (err) {
      const mapped = mapVerificationError(err, { retryAfter: options.jwks.cooldown });
      const reason = mapped instanceof InvalidTokenError ? mapped.reason : KEYS_UNAVAILABLE;
      telemetry.tokenVerification(idpName, 'failure', reason);
      const entry = { idp: idpName, reason, tokenSha256: tokenFingerprint(String(token)) };
      if (mapped instanceof InvalidTokenError) logger.debug(entry, 'client token refused');
      else logger.warn({ ...entry, error: describe(mapped.cause) }, 'client token could not be checked');
      throw mapped;
    }
  }

  return {
    verify,
    keySetHealth() {
      const out: Record<string, KeySetHealth> = {};
      for (const idp of options.idps) {
        out[idp.name] = keys.peek(idp.name)?.health() ?? {
          status: 'degraded',
          error: 'keys not fetched yet',
        };
      }
      return out;
    },
    async refreshKeys(idpName, signal) {
      const idp = options.idps.find((candidate) => candidate.name === idpName);
      if (!idp) throw new TypeError(`no client IdP named ${idpName}`);
      return { keys: await keys.get(idp).refreshNow(signal) };
    },
  };
}

/** One key set per issuer, created on first use; the least recently used is evicted past maxSize. */
function keyStore(
  options: VerifierOptions,
  deps: { logger: Logger; telemetry: Telemetry; now: () => number },
): { get(idp: ClientIdpConfig): IssuerKeys; peek(name: string): IssuerKeys | undefined } {
  const store = new Map<string, IssuerKeys>();
  const limit = Math.max(1, options.jwks.maxSize);
  const create = (idp: ClientIdpConfig) =>
    new IssuerKeys({
      ...deps,
      idp,
      algorithms: algorithmsOf(idp),
      jwks: options.jwks,
      http: options.http,
      httpTimeout: options.httpTimeout,
      allowInsecureIssuers: options.allowInsecureIssuers,
    });
  return {
    peek: (name) => store.get(name),
    get(idp) {
      const keys = store.get(idp.name) ?? create(idp);
      store.delete(idp.name);
      store.set(idp.name, keys);
      // The least recently used come first; an iterator is made only when the store is over its size.
      while (store.size > limit) store.delete(store.keys().next().value as string);
      return keys;
    },
  };
}

function indexIdps(idps: readonly ClientIdpConfig[]): Map<string, ClientIdpConfig> {
  const byIssuer = new Map<string, ClientIdpConfig>();
  for (const idp of idps) {
    if (byIssuer.has(idp.issuer)) throw new TypeError(`two client IdPs share the issuer ${idp.issuer}`);
    if (idp.audience === undefined && !idp.allowAnyAudience) {
      throw new TypeError(`client IdP ${idp.name} has no audience and does not allow any`);
    }
    byIssuer.set(idp.issuer, idp);
  }
  return byIssuer;
}

function algorithmsOf(idp: ClientIdpConfig): readonly string[] {
  return idp.algorithms ?? ALLOWED_ALGORITHMS;
}

/** Exact match of `iss` against configured issuers; nothing a token names is ever fetched. */
function selectIdp(byIssuer: ReadonlyMap<string, ClientIdpConfig>, payload: Record<string, unknown>) {
  const idp = typeof payload.iss === 'string' ? byIssuer.get(payload.iss) : undefined;
  if (!idp) throw new InvalidTokenError('issuer_not_trusted');
  return idp;
}

/** jose checks the signature with the issuer's keys, then the registered claims at `nowMs`. */
async function verifyWithIssuerKeys(
  token: string,
  idp: ClientIdpConfig,
  keys: IssuerKeys,
  nowMs: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const options: JWTVerifyOptions = { ...verifyOptions(idp), currentDate: new Date(nowMs) };
  const current = async () => keys.freshResolver() ?? (await abortable(keys.resolver(), signal));
  const run = (getKey: JWTVerifyGetKey) => withKeyCandidates(getKey, (key) => jwtVerify(token, key, options));
  const first = await current();
  const generation = keys.generation;
  try {
    await run(first);
  } catch (err) {
    // An unknown kid may mean the issuer rotated its keys: one refetch per cool-down, then one retry.
    if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
    if (!(await abortable(keys.refetchForUnknownKid(generation), signal))) throw err;
    await run(await current());
  }
}

const optionsByIdp = new WeakMap<ClientIdpConfig, Readonly<JWTVerifyOptions>>();

/** jwtVerify's options for `idp` apart from the clock, built once per IdP config. */
function verifyOptions(idp: ClientIdpConfig): Readonly<JWTVerifyOptions> {
  let options = optionsByIdp.get(idp);
  if (!options) {
    const audience = idp.allowAnyAudience ? undefined : idp.audience;
    options = Object.freeze({
      algorithms: [...algorithmsOf(idp)],
      issuer: idp.issuer,
      ...(audience === undefined
        ? {}
        : { audience: typeof audience === 'string' ? audience : [...audience] }),
      clockTolerance: idp.clockTolerance,
      requiredClaims: ['exp'],
    });
    optionsByIdp.set(idp, options);
  }
  return options;
}

/** Rules jose does not have: `iat` in the future, lifetime cap, `sub` shape (after the registered claims). */
function checkBrokerClaims(
  claims: JWTPayload & { exp: number },
  idp: ClientIdpConfig,
  nowSeconds: number,
): void {
  const { iat, exp, sub } = claims;
  if (typeof iat === 'number' && iat > nowSeconds + idp.clockTolerance) {
    throw new InvalidTokenError('issued_in_future');
  }
  const start = typeof iat === 'number' ? iat : nowSeconds;
  if (exp - start > idp.maxTokenLifetime) throw new InvalidTokenError('lifetime_too_long');
  // Counted in code points; a string no longer in UTF-16 units is short enough without counting.
  if (
    typeof sub !== 'string' ||
    sub === '' ||
    (sub.length > MAX_SUBJECT_LENGTH && [...sub].length > MAX_SUBJECT_LENGTH)
  ) {
    throw new InvalidTokenError('claim_invalid');
  }
}

function toVerifiedToken(idp: ClientIdpConfig, claims: JWTPayload): VerifiedToken {
  return {
    iss: idp.issuer,
    sub: claims.sub as string,
    idp: idp.name,
    claims,
    tokenId: tokenId(claims),
    expiresAt: claims.exp as number,
  };
}

/** Rejects when the caller's deadline passes first; the shared fetch itself carries on. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  const deadline = () =>
    new ServiceUnavailableError({ details: { reason: 'deadline_exceeded' }, cause: signal.reason });
  if (signal.aborted) return Promise.reject(deadline());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(deadline());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function describe(cause: unknown): string {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : 'unknown';
}
