/**
 * The RequestObserver of the operations layer: audit events and the mint
 * counter around authentication and minting.
 *
 * - AUTH_SUCCESS / AUTH_FAILURE per authentication; a replay (found while
 *   minting) is an AUTH_FAILURE with `token_replayed`.
 * - MINT_SUCCESS (with the matching identities) / MINT_FAILURE per mint
 *   request; a policy denial is a MINT_FAILURE with every denied key's
 *   reason (`reasons`), the first one as `reason`; a per-subject 429 is a
 *   MINT_FAILURE with `rate_limit_exceeded`.
 * - With an audit file and `failClosed`, a mint is refused with 503
 *   `audit_write_failed` before any upstream call when the file cannot take
 *   a record (it would otherwise mint upstream only to throw the credentials
 *   away). Should the MINT_SUCCESS record still fail, the answer is the same
 *   503 and the credentials are withheld; the log stream then carries a
 *   MINT_FAILURE `audit_write_failed` listing them as discarded.
 *
 * - Events are built whenever auditing is enabled, whatever `logging.level`.
 *
 * `credential_minting_total` counts per key what the provider did: success
 * for every key minted (discarded ones too), failure for every key listed in
 * `details.failures`. Requests refused before any provider call (403, 400,
 * replay) are not mint attempts; their key names may not even be configured,
 * so they never become labels.
 */
import { InvalidTokenError, type MintFailure, ServiceUnavailableError } from '../../core/errors.ts';
import type { MintedKeyAudit } from '../../core/mint/index.ts';
import { authFailure, authSuccess, mintFailure, mintSuccess } from '../audit/events.ts';
import type { AuditLog } from '../audit/log.ts';
import type { BrokerMetrics } from '../metrics.ts';
import type { RequestObserver } from '../routes/credentials.ts';

/** Options of {@link createRequestObserver}. */
export interface ObserverOptions {
  audit: AuditLog;
  metrics: Pick<BrokerMetrics, 'mint'>;
}

function countMints(
  metrics: ObserverOptions['metrics'],
  minted: readonly MintedKeyAudit[],
  failures: readonly MintFailure[],
): void {
  for (const entry of minted) metrics.mint(entry.provider, entry.key, 'success');
  for (const failure of failures) metrics.mint(failure.provider, failure.key, 'failure');
}

function failuresOf(error: unknown): MintFailure[] {
  const failures = (error as { details?: { failures?: unknown } }).details?.failures;
  return Array.isArray(failures) ? (failures as MintFailure[]) : [];
}

/** The 503 of a mint that could not be audited; never one a client should retry at once. */
function auditWriteFailed(message: string, cause?: unknown): ServiceUnavailableError {
  return new ServiceUnavailableError({ message, details: { reason: 'audit_write_failed' }, cause });
}

/** Builds the observer handed to buildApp. */
export function createRequestObserver(options: ObserverOptions): RequestObserver {
  const { audit, metrics } = options;

  return {
    async authenticated(request, verified) {
      if (audit.wanted()) await audit.record(authSuccess(request, verified));
    },

    async authenticationFailed(request, error) {
      if (!audit.wanted()) return;
      await audit.record(authFailure(request, error));
    },

    async mintStarting() {
      if (!audit.failClosed) return;
      try {
        await audit.ready();
      } catch (error) {
        throw auditWriteFailed('The audit log cannot be written; nothing was minted', error);
      }
    },

    async minted(request, { verified, keys, result }) {
      countMints(metrics, result.audit, []);
      // Not wanted means no file, so nothing can fail closed.
      if (!audit.wanted()) return;
      const event = mintSuccess(request, verified, keys, result.audit, result.identities);
      if ((await audit.toFile(event)) || !audit.failClosed) {
        audit.toLog(event);
        return;
      }
      const refusal = auditWriteFailed('The audit record could not be written; no credentials were issued');
      audit.toLog(mintFailure(request, verified, keys, refusal, result.audit));
      throw refusal;
    },

    async mintFailed(request, { verified, keys, error, discarded }) {
      countMints(metrics, discarded, failuresOf(error));
      if (!audit.wanted()) return;
      if (error instanceof InvalidTokenError) {
        await audit.record(authFailure(request, error, verified));
        return;
      }
      await audit.record(mintFailure(request, verified, keys, error, discarded));
    },
  };
}
