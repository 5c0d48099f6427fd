/**
 * Federated tokens from Google STS, remembered per broker token. The broker
 * token is itself cached per audience and reused across mints, and the
 * federated token it buys stays inside the broker (only the service
 * account's token is handed out), so reusing it halves the calls per mint.
 * Keyed by the SHA-256 of the broker token, never the token; bounded.
 */
import { createHash } from 'node:crypto';

/** A federated token is reused only while it has this much life left, ms. */
export const FEDERATED_MARGIN_MS = 60_000;
const MAX_ENTRIES = 8;

interface Entry {
  token: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** A small cache of federated tokens keyed by broker token. */
export interface FederatedCache {
  get(brokerToken: string): string | undefined;
  /** Remembers `token` for `expiresInSeconds` from `now` (ms). */
  set(brokerToken: string, token: string, expiresInSeconds: number, now?: number): void;
  /** Forgets the entry of `brokerToken` (IAM did not accept its federated token). */
  drop(brokerToken: string): void;
}

/** Creates an empty cache; `now` is the clock in ms (default Date.now). */
export function createFederatedCache(now: () => number = Date.now): FederatedCache {
  const entries = new Map<string, Entry>();
  const keyOf = (brokerToken: string) => createHash('sha256').update(brokerToken).digest('hex');
  return {
    get(brokerToken) {
      const key = keyOf(brokerToken);
      const entry = entries.get(key);
      if (entry && entry.expiresAt - FEDERATED_MARGIN_MS > now()) return entry.token;
      entries.delete(key);
      return undefined;
    },
    set(brokerToken, token, expiresInSeconds, at = now()) {
      const key = keyOf(brokerToken);
      entries.delete(key);
      if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
      entries.set(key, { token, expiresAt: at + expiresInSeconds * 1000 });
    },
    drop(brokerToken) {
      entries.delete(keyOf(brokerToken));
    },
  };
}
