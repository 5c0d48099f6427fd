/**
 * The upstream half of a mint: one broker token per distinct audience, then
 * every key minted in parallel. All-or-nothing: any failure becomes one error
 * listing every failed key, and no credential is returned.
 */
import {
  BrokerError,
  MintFailedError,
  type MintFailure,
  ServiceUnavailableError,
  UpstreamError,
} from '../errors.ts';
import type { BrokerTokenSource } from '../types.ts';
import { auditEntry, type MintedKey } from './answer.ts';
import { audiencesOf } from './plan.ts';
import type { KeyPlan, MintError, MintedKeyAudit } from './types.ts';

/** The verified caller, as providers see it. */
export interface Caller {
  sub: string;
  iss: string;
}

type Classified = MintFailure & { kind: 'refused' | 'unavailable' };

/** Broker token by audience for `plans`, each audience asked for once. */
export async function fetchBrokerTokens(
  plans: readonly KeyPlan[],
  source: BrokerTokenSource,
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const audiences = audiencesOf(plans);
  // The common case: every token is cached and fresh, nothing to wait for.
  const tokens = new Map<string, string>();
  for (const audience of audiences) {
    const token = source.cachedToken?.(audience);
    if (token === undefined) break;
    tokens.set(audience, token);
  }
  if (tokens.size === audiences.length) return tokens;
  return fetchMissingTokens(plans, audiences, source, signal);
}

async function fetchMissingTokens(
  plans: readonly KeyPlan[],
  audiences: readonly string[],
  source: BrokerTokenSource,
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const settled = await Promise.allSettled(audiences.map((audience) => source.getToken(audience, signal)));
  const tokens = new Map<string, string>();
  const failedAudiences = new Map<string, unknown>();
  settled.forEach((result, i) => {
    const audience = audiences[i] as string;
    if (result.status === 'fulfilled') tokens.set(audience, result.value);
    else failedAudiences.set(audience, result.reason);
  });
  if (failedAudiences.size === 0) return tokens;

  const failures = plans
    .filter((plan) => failedAudiences.has(plan.provider.audience))
    .map((plan) => classify(plan, failedAudiences.get(plan.provider.audience), signal));
  throw failureError(failures, [], signal);
}

/** Mints every plan concurrently; resolves in request order or throws one error for all failures. */
export async function mintAll(
  plans: readonly KeyPlan[],
  tokens: ReadonlyMap<string, string>,
  caller: Caller,
  signal: AbortSignal,
): Promise<MintedKey[]> {
  const mintOne = (plan: KeyPlan) =>
    plan.provider.mint({
      keyName: plan.name,
      key: plan.key,
      durationSeconds: plan.durationSeconds,
      brokerToken: tokens.get(plan.provider.audience) as string,
      subject: caller.sub,
      issuer: caller.iss,
      signal,
    });
  if (plans.length === 1) {
    // One key: the same outcome as below without settling a list.
    const plan = plans[0] as KeyPlan;
    try {
      return [{ plan, output: await mintOne(plan) }];
    } catch (reason) {
      throw failureError([classify(plan, reason, signal)], [], signal);
    }
  }
  const settled = await Promise.allSettled(plans.map(mintOne));
  const minted: MintedKey[] = [];
  const rejected: Array<{ plan: KeyPlan; reason: unknown }> = [];
  settled.forEach((result, i) => {
    const plan = plans[i] as KeyPlan;
    if (result.status === 'fulfilled') minted.push({ plan, output: result.value });
    else rejected.push({ plan, reason: result.reason });
  });
  if (rejected.length === 0) return minted;
  throw failureError(
    rejected.map(({ plan, reason }) => classify(plan, reason, signal)),
    minted.map((entry) => auditEntry(entry)),
    signal,
  );
}

/**
 * How one key failed. Anything that is not an upstream failure (or the
 * deadline) is a bug: it is rethrown as is, to become a 500 with a fixed message.
 */
function classify(plan: KeyPlan, error: unknown, signal: AbortSignal): Classified | Error {
  const base = { key: plan.name, provider: plan.provider.name };
  if (error instanceof UpstreamError) return { ...base, kind: error.kind, reason: error.reason };
  if (signal.aborted) return { ...base, kind: 'unavailable', reason: 'request deadline exceeded' };
  if (error instanceof BrokerError && error.status === 503) {
    return { ...base, kind: 'unavailable', reason: 'service unavailable' };
  }
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * One error for the failed keys. A 503 carries `details.reason` (docs/errors.md)
 * so a client knows it may retry: `deadline_exceeded` once the request's
 * deadline passed, else `unavailable`.
 */
function failureError(
  outcomes: ReadonlyArray<Classified | Error>,
  minted: MintedKeyAudit[],
  signal: AbortSignal,
): MintError {
  const bug = outcomes.find((o): o is Error => o instanceof Error);
  const classified = outcomes.filter((o): o is Classified => !(o instanceof Error));
  const failures = classified.map(({ key, provider, reason }) => ({ key, provider, reason }));
  const reason = signal.aborted ? 'deadline_exceeded' : 'unavailable';
  const error =
    bug ??
    (classified.some((f) => f.kind === 'unavailable')
      ? new ServiceUnavailableError({ details: { reason, failures } })
      : new MintFailedError(failures));
  // A bug keeps its own class (so it stays a 500) and gains the field like the others.
  return Object.assign(error, { discarded: minted });
}
