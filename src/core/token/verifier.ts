/**
 * Client-token verification (SPEC §3) as a sequence of steps: pre-parse
 * without keys or network → pick the issuer by exact `iss` (an unknown one is
 * refused before any fetch) → check `alg` against that issuer's list → get its
 * keys → jose verifies the signature → the registered claims (`iss`, `aud`,
 * `iat`, `nbf`, `exp`, with jose's rules and in its order) → the broker's own
 * claim rules (`iat` in the future, lifetime, `sub`). Every failure leaves
 * through mapVerificationError as a 401 or a 503.
 *
 * The claims are read once, by the pre-parser (strict JSON); jose checks only
 * the signature (compactVerify) over the same bytes. jwtVerify would decode and
 * parse the payload a second time to check the claims this file checks anyway.
 */
import { compactVerify, errors, type JWTPayload, type VerifyOptions } from 'jose';
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
      await verifyWithIssuerKeys(token, idp, keys.get(idp), signal);
      const claims = payload as JWTPayload;
      const nowSeconds = Math.floor(now() / 1000);
      checkRegisteredClaims(claims, idp, nowSeconds);
      checkBrokerClaims(claims, idp, nowSeconds);
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

/** Checks the token's signature with the issuer's keys (jose); resolves once it holds. */
async function verifyWithIssuerKeys(
  token: string,
  idp: ClientIdpConfig,
  keys: IssuerKeys,
  signal: AbortSignal | undefined,
): Promise<void> {
  const options = verifyOptions(idp);
  const getKey = keys.freshResolver() ?? (await abortable(keys.resolver(), signal));
  const generation = keys.generation;
  const run = () => withKeyCandidates(getKey, (key) => compactVerify(token, key, options));
  try {
    await run();
  } catch (err) {
    // An unknown kid may mean the issuer rotated its keys: one refetch per cool-down, then one retry.
    if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
    if (!(await abortable(keys.refetchForUnknownKid(generation), signal))) throw err;
    await run();
  }
}

const optionsByIdp = new WeakMap<ClientIdpConfig, Readonly<VerifyOptions>>();

/** compactVerify's options for `idp`, built once per IdP config. */
function verifyOptions(idp: ClientIdpConfig): VerifyOptions {
  let options = optionsByIdp.get(idp);
  if (!options) {
    options = Object.freeze({ algorithms: [...algorithmsOf(idp)] });
    optionsByIdp.set(idp, options);
  }
  return options;
}

/**
 * The registered claims, as jose's jwtVerify checks them and in the same
 * order (so a token wrong in several ways gets the same reason): presence of
 * `aud` (when an audience is configured) and `exp`; the `aud` value; `iat`,
 * `nbf`, `exp` numeric, `nbf` not in the future and `exp` not past, both with
 * the IdP's clock tolerance. (`iss`, which jose checks first, chose `idp` by
 * exact match in selectIdp, so it is present and equal here.)
 */
function checkRegisteredClaims(
  claims: JWTPayload,
  idp: ClientIdpConfig,
  nowSeconds: number,
): asserts claims is JWTPayload & { exp: number } {
  const audience = idp.allowAnyAudience ? undefined : idp.audience;
  if (audience !== undefined && !Object.hasOwn(claims, 'aud'))
    throw new InvalidTokenError('audience_mismatch');
  if (!Object.hasOwn(claims, 'exp')) throw new InvalidTokenError('claim_invalid');
  if (audience !== undefined && !hasAudience(claims.aud, audience)) {
    throw new InvalidTokenError('audience_mismatch');
  }
  const { iat, nbf, exp } = claims;
  if (iat !== undefined && typeof iat !== 'number') throw new InvalidTokenError('claim_invalid');
  if (nbf !== undefined) {
    if (typeof nbf !== 'number') throw new InvalidTokenError('claim_invalid');
    if (nbf > nowSeconds + idp.clockTolerance) throw new InvalidTokenError('token_not_yet_valid');
  }
  if (typeof exp !== 'number') throw new InvalidTokenError('claim_invalid');
  if (exp <= nowSeconds - idp.clockTolerance) throw new InvalidTokenError('token_expired');
}

/** `aud` (a string or an array) names one of the accepted audiences. */
function hasAudience(aud: unknown, audience: string | readonly string[]): boolean {
  if (typeof audience === 'string') {
    return typeof aud === 'string' ? aud === audience : Array.isArray(aud) && aud.includes(audience);
  }
  if (typeof aud === 'string') return audience.includes(aud);
  return Array.isArray(aud) && audience.some((one) => aud.includes(one));
}

/** Rules jose does not apply: `iat` in the future, lifetime cap, `sub` shape (after the registered claims). */
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
  if (signal.aborted) return Promise.reject(new ServiceUnavailableError({ cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new ServiceUnavailableError({ cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function describe(cause: unknown): string {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : 'unknown';
}
