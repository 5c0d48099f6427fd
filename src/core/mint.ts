/**
 * The broker's use cases over one config snapshot: authenticate a client
 * token, mint keys, list keys, describe the client IdPs. A config reload
 * builds a new CredentialBroker; requests in flight keep the one they began with.
 *
 * A mint reads top to bottom: find the identity → check every key (403,
 * before any upstream call) → resolve durations (400) → claim a one-time
 * token → one broker token per audience → mint all keys in parallel
 * (all-or-nothing) → shape the answer.
 */
import type { Config } from './config/schema.ts';
import { BrokerError, InvalidTokenError, ServiceUnavailableError } from './errors.ts';
import { shapeAnswer } from './mint/answer.ts';
import { discardedMints, fetchBrokerTokens, mintAll } from './mint/execute.ts';
import { describeIdps, listKeys } from './mint/list-keys.ts';
import { type OneTimeTokens, oneTimeTokens, type ReplayGuard } from './mint/one-time.ts';
import { type Providers, planKeys } from './mint/plan.ts';
import type {
  IdpProviderList,
  KeyList,
  KeyPlan,
  MintRequest,
  MintResult,
  ProviderConfigs,
} from './mint/types.ts';
import { compilePolicy, type Policy } from './policy/subjects.ts';
import {
  type BrokerTokenSource,
  type Logger,
  silentLogger,
  type TokenVerifier,
  type VerifiedToken,
} from './types.ts';

export { discardedMints } from './mint/execute.ts';
export type { ReplayGuard } from './mint/one-time.ts';
export type * from './mint/types.ts';

/** What the use cases run on, built once per config snapshot. */
export interface BrokerDeps {
  verifier: TokenVerifier;
  brokerTokens: BrokerTokenSource;
  providers: Providers;
  /** Needed only when some client IdP sets `oneTimeUse`. */
  replayGuard?: ReplayGuard | undefined;
  logger?: Logger | undefined;
  /** Clock (default: system time). */
  now?: (() => Date) | undefined;
}

/** The use cases of one config snapshot. */
export interface CredentialBroker {
  readonly config: Readonly<Config>;
  readonly policy: Policy;
  /** Verifies a client token: InvalidTokenError (401), ServiceUnavailableError (503). */
  authenticate(token: string, signal: AbortSignal): Promise<VerifiedToken>;
  /** Mints `request.keys` for `verified`: 403, 400, 401 (replay), 502, 503 as BrokerErrors. */
  mint(verified: VerifiedToken, request: MintRequest, signal: AbortSignal): Promise<MintResult>;
  /** The keys `verified` may mint; SubjectNotFoundError (404) when it has no identity. */
  listKeys(verified: VerifiedToken): KeyList;
  /** The configured client IdPs. */
  idpProviders(): IdpProviderList;
}

/** Builds the use cases over `config` (validated, defaults filled) and `deps`. */
export function createCredentialBroker(config: Readonly<Config>, deps: BrokerDeps): CredentialBroker {
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? (() => new Date());
  const snapshot: Snapshot = {
    deps,
    now,
    policy: compilePolicy(config.clientIdentities),
    providerConfigs: new Map(config.accessProviders.map((p) => [p.name, p])),
    oneTime: oneTimeTokens(config.clientIdps, deps.replayGuard, () => now().getTime(), logger),
  };
  const idpList = describeIdps(config.clientIdps);
  return Object.freeze({
    config,
    policy: snapshot.policy,
    authenticate: (token: string, signal: AbortSignal) => authenticate(deps.verifier, logger, token, signal),
    mint: (verified: VerifiedToken, request: MintRequest, signal: AbortSignal) =>
      mint(snapshot, verified, request, signal),
    listKeys: (verified: VerifiedToken) =>
      listKeys(verified, snapshot.policy, deps.providers, snapshot.providerConfigs),
    idpProviders: () => idpList,
  });
}

/** What one config snapshot's mints share. */
interface Snapshot {
  deps: BrokerDeps;
  now: () => Date;
  policy: Policy;
  providerConfigs: ProviderConfigs;
  oneTime: OneTimeTokens;
}

async function authenticate(
  verifier: TokenVerifier,
  logger: Logger,
  token: string,
  signal: AbortSignal,
): Promise<VerifiedToken> {
  try {
    return await verifier.verify(token, signal);
  } catch (error) {
    if (error instanceof BrokerError) throw error;
    if (signal.aborted) throw new ServiceUnavailableError({ cause: error });
    // Whatever the verifier's libraries throw, a token that failed is a 401, never a 500.
    logger.error({ err: error }, 'token verifier threw an unexpected error');
    throw new InvalidTokenError('malformed', { cause: error });
  }
}

async function mint(
  snapshot: Snapshot,
  verified: VerifiedToken,
  request: MintRequest,
  signal: AbortSignal,
): Promise<MintResult> {
  const { policy, deps, providerConfigs } = snapshot;
  const identity = policy.findIdentity(verified);
  const grants = policy.checkKeys(identity, request.keys);
  const plans = planKeys(grants, request.duration, deps.providers, providerConfigs);
  await snapshot.oneTime.claim(verified, signal);
  const minted = await mintPlans(snapshot, verified, plans, signal);
  return shapeAnswer(minted, verified.sub, snapshot.now());
}

async function mintPlans(snapshot: Snapshot, verified: VerifiedToken, plans: KeyPlan[], signal: AbortSignal) {
  try {
    const tokens = await fetchBrokerTokens(plans, snapshot.deps.brokerTokens, signal);
    return await mintAll(plans, tokens, verified, signal);
  } catch (error) {
    // A token that minted nothing may be presented again (docs/security.md).
    if (discardedMints(error).length === 0) await snapshot.oneTime.release(verified);
    throw error;
  }
}
