/**
 * Credential lifetimes (docs/configuration.md). The effective duration is the request's,
 * else the key's, else the provider's default. A request above the maximum is
 * refused (never silently clamped, so a CI job learns its config is wrong);
 * anything below the provider's minimum is raised to it.
 */
import type { KeyConfig } from './config/schema.ts';
import { InvalidRequestError } from './errors.ts';
import type { AccessProvider } from './types.ts';

/** What the duration rules need to know of one key and its provider. */
export interface DurationSubject {
  keyName: string;
  key: Pick<KeyConfig, 'duration' | 'assumeRole'>;
  provider: Pick<AccessProvider, 'durations'>;
}

/**
 * The longest lifetime `subject` may be minted for, in seconds: the smaller
 * of the key's `duration` and the provider's cap (`chainedMax` for a key
 * with `assumeRole` where the cloud has one, else `max`). `null` when the
 * provider chooses the lifetime itself (azure).
 */
export function maximumDuration(subject: DurationSubject): number | null {
  const rules = subject.provider.durations;
  if (!rules) return null;
  const cap = subject.key.assumeRole ? (rules.chainedMax ?? rules.max) : rules.max;
  return Math.min(cap, subject.key.duration ?? cap);
}

/**
 * The effective lifetime in seconds for one key, or `undefined` for a
 * provider without duration rules. Throws InvalidRequestError (400) when
 * `requested` exceeds the maximum, or is given for a provider that chooses
 * the lifetime itself. Configured defaults above the maximum are lowered to it.
 */
export function resolveDuration(subject: DurationSubject, requested: number | undefined): number | undefined {
  const rules = subject.provider.durations;
  if (!rules) {
    if (requested === undefined) return undefined;
    throw new InvalidRequestError(
      `Key ${subject.keyName} does not accept a duration: its provider chooses the lifetime`,
      { key: subject.keyName },
    );
  }
  const maximum = maximumDuration(subject) ?? rules.max;
  if (requested !== undefined && requested > maximum) {
    throw new InvalidRequestError(
      `Requested duration ${requested} s exceeds the maximum of ${maximum} s for key ${subject.keyName}`,
      { key: subject.keyName, maxDuration: maximum },
    );
  }
  const chosen = requested ?? Math.min(subject.key.duration ?? rules.default, maximum);
  return Math.max(chosen, rules.min);
}
