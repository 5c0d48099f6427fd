/**
 * The broker's use cases over one config snapshot: authenticate a client
 * token, mint keys, list keys, describe the client IdPs. A config reload
 * builds a new CredentialBroker; requests in flight keep the one they began with.
 *
 * A mint reads top to bottom: decide every key by the policy (403, before
 * any upstream call) → resolve durations (400) → the caller's last check
 * (the server's audit sink) → claim a one-time token → one broker token per
 * audience → mint all keys in parallel (all-or-nothing) → shape the answer.
 */
import type { Config } from '../config/schema.ts';
import { BrokerError, ForbiddenError, InvalidTokenError, ServiceUnavailableError } from '../errors.ts';
import { compilePolicy, type Grant, type Policy } from '../policy/index.ts';
import {
  type BrokerTokenSource,
  type Logger,
  silentLogger,
  type TokenVerifier,
  type VerifiedToken,
} from '../types.ts';
import { shapeAnswer } from './answer.ts';
import { fetchBrokerTokens, mintAll } from './execute.ts';
import { describeIdps, listKeys } from './list-keys.ts';
import { type OneTimeTokens, oneTimeTokens, type ReplayGuard } from './one-time.ts';
import { type Providers, planKeys } from './plan.ts';
import type {
  ExplainAnswer,
  IdpProviderList,
  KeyList,
  KeyPlan,
  MintError,
  MintRequest,
  MintResult,
} from './types.ts';

export type { ReplayGuard } from './one-time.ts';
export type * from './types.ts';

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
  /**
   * Mints `request.keys` for `verified`: 403, 400, 401 (replay) as BrokerErrors; a failure
   * upstream throws a MintError (502, 503, or a bug's own error) listing what it discarded.
   */
  mint(verified: VerifiedToken, request: MintRequest, signal: AbortSignal): Promise<MintResult>;
  /** The keys `verified` may mint now; SubjectNotFoundError (404) when no identity matches. */
  listKeys(verified: VerifiedToken): KeyList;
  /** Why each of `keys` would be granted or refused, as a caller may see it; mints and consumes nothing. */
  explain(verified: VerifiedToken, keys: readonly string[]): ExplainAnswer;
  /** The configured client IdPs. */
  idpProviders(): IdpProviderList;
}

/**
 * Builds the use cases over `config` (validated, defaults filled) and `deps`;
 * `policy` is the config's compiled policy when the caller has it (loadConfig returns it).
 */
export function createCredentialBroker(
  config: Readonly<Config>,
  deps: BrokerDeps,
  policy: Policy = compilePolicy(config),
): CredentialBroker {
  const logger = deps.logger ?? silentLogger;
  const now = deps.now ?? (() => new Date());
  const snapshot: Snapshot = {
    deps,
    now,
    policy,
    explain: config.server.explain,
    oneTime: oneTimeTokens(config.clientIdps, deps.replayGuard, () => now().getTime(), logger),
  };
  const idpList = describeIdps(config.clientIdps);
  return Object.freeze({
    config,
    policy: snapshot.policy,
    authenticate: (token: string, signal: AbortSignal) => authenticate(deps.verifier, logger, token, signal),
    mint: (verified: VerifiedToken, request: MintRequest, signal: AbortSignal) =>
      mint(snapshot, verified, request, signal),
    listKeys: (verified: VerifiedToken) => listKeys(verified, snapshot.policy, deps.providers),
    explain: (verified: VerifiedToken, keys: readonly string[]) => ({
      explanation: snapshot.policy.explain(verified, keys, 'caller'),
    }),
    idpProviders: () => idpList,
  });
}

/** What one config snapshot's mints share. */
interface Snapshot {
  deps: BrokerDeps;
  now: () => Date;
  policy: Policy;
  /** `server.explain`: 403s carry the caller's explanation. */
  explain: boolean;
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
    if (signal.aborted) {
      throw new ServiceUnavailableError({ details: { reason: 'deadline_exceeded' }, cause: error });
    }
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
  const { grants, identities } = authorize(snapshot, verified, request.keys);
  const plans = planKeys(grants, request.duration, snapshot.deps.providers);
  await request.beforeUpstream?.();
  await snapshot.oneTime.claim(verified, signal);
  const minted = await mintPlans(snapshot, verified, plans, signal);
  const result = shapeAnswer(minted, verified.sub, snapshot.now());
  result.identities = identities;
  return result;
}

/** Every requested key must be granted (with its recipe rendered for this caller); else 403 with reasons. */
function authorize(
  snapshot: Snapshot,
  verified: VerifiedToken,
  keys: readonly string[],
): { grants: readonly Grant[]; identities: readonly string[] } {
  const decision = snapshot.policy.authorize(verified, keys);
  if (decision.allowed) return { grants: decision.granted, identities: decision.matched };
  const explanation = snapshot.explain ? snapshot.policy.explain(verified, keys, 'caller') : undefined;
  throw new ForbiddenError([...decision.denied], decision.reasons, explanation);
}

async function mintPlans(snapshot: Snapshot, verified: VerifiedToken, plans: KeyPlan[], signal: AbortSignal) {
  try {
    const tokens = await fetchBrokerTokens(plans, snapshot.deps.brokerTokens, signal);
    return await mintAll(plans, tokens, verified, signal);
  } catch (error) {
    // A token that minted nothing may be presented again (docs/security.md).
    if (((error as Partial<MintError>).discarded ?? []).length === 0)
      await snapshot.oneTime.release(verified);
    throw error;
  }
}
