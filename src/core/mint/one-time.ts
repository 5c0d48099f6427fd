/**
 * One-time tokens (docs/security.md): a token of an IdP with `oneTimeUse` is recorded
 * when a mint passes the policy check, for its remaining lifetime plus the
 * clock tolerance, and released again when the mint produced nothing.
 */
import type { ClientIdpConfig } from '../config/schema.ts';
import type { Logger, VerifiedToken } from '../types.ts';

/**
 * Records one-time tokens. `claim` throws InvalidTokenError
 * ('token_replayed') for a token already used, ServiceUnavailableError when
 * the store is down (fail closed); `release` undoes a claim.
 */
export interface ReplayGuard {
  /** `ttlMs`: the token's remaining lifetime plus the IdP's clock tolerance. */
  claim(verified: VerifiedToken, ttlMs: number, signal: AbortSignal): Promise<void>;
  release(verified: VerifiedToken): Promise<void>;
}

/** Claim and release for one config snapshot; both are no-ops for other IdPs. */
export interface OneTimeTokens {
  claim(verified: VerifiedToken, signal: AbortSignal): Promise<void>;
  /** Never throws: a failed release is logged (the token then stays used). */
  release(verified: VerifiedToken): Promise<void>;
}

/** One-time-token handling for `idps`; `now` in ms since the epoch. */
export function oneTimeTokens(
  idps: ReadonlyArray<Pick<ClientIdpConfig, 'name' | 'oneTimeUse' | 'clockTolerance'>>,
  guard: ReplayGuard | undefined,
  now: () => number,
  logger: Logger,
): OneTimeTokens {
  const tolerances = new Map(
    idps.filter((idp) => idp.oneTimeUse).map((idp) => [idp.name, idp.clockTolerance]),
  );
  return {
    async claim(verified, signal) {
      const tolerance = tolerances.get(verified.idp);
      if (tolerance === undefined) return;
      if (!guard) throw new Error('oneTimeUse is configured but no replay guard is wired');
      const ttlMs = verified.expiresAt * 1000 - now() + tolerance * 1000;
      await guard.claim(verified, Math.max(ttlMs, 1), signal);
    },
    async release(verified) {
      if (!tolerances.has(verified.idp) || !guard) return;
      try {
        await guard.release(verified);
      } catch (error) {
        logger.warn(
          { err: error, idp: verified.idp },
          'could not release a one-time token after a failed mint',
        );
      }
    },
  };
}
