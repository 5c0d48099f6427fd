/**
 * `--output credential-process`: one AWS key printed as the JSON an AWS
 * `credential_process` profile expects, cached until 5 minutes before expiry
 * (one mint for parallel runs: see cache-lock.ts).
 */
import { cacheFile, type ProcessCredentials, readCached, writeCached } from './cache.ts';
import { lockCacheEntry } from './cache-lock.ts';
import { CliError, EXIT } from './exit.ts';

const REQUIRED = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;

/** Builds the credential_process JSON from one key's outputs and its expiry (ISO). */
export function toProcessCredentials(
  key: string,
  outputs: Readonly<Record<string, string>>,
  expiration: string | undefined,
): ProcessCredentials {
  const missing = REQUIRED.filter((name) => typeof outputs[name] !== 'string');
  if (missing.length > 0) {
    throw new CliError(
      EXIT.OUTPUT,
      `key ${key} has no ${missing.join(', ')} output; --output credential-process needs a key with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN`,
    );
  }
  if (expiration === undefined || Number.isNaN(Date.parse(expiration))) {
    throw new CliError(EXIT.BROKER, `the broker gave no valid expiry for key ${key}`);
  }
  return {
    Version: 1,
    AccessKeyId: outputs.AWS_ACCESS_KEY_ID as string,
    SecretAccessKey: outputs.AWS_SECRET_ACCESS_KEY as string,
    SessionToken: outputs.AWS_SESSION_TOKEN as string,
    Expiration: expiration,
  };
}

/** The stdout text for credential_process: one JSON object and a newline. */
export function formatProcessCredentials(credentials: ProcessCredentials): string {
  return `${JSON.stringify(credentials)}\n`;
}

/** Where one identity's credentials for `key` and `duration` are cached; undefined when the token has no decodable iss/sub. */
export function cacheLocation(
  brokerUrl: string,
  key: string,
  identity: { iss: string; sub: string } | undefined,
  duration: number | undefined,
): string | undefined {
  return identity ? cacheFile(brokerUrl, key, identity.iss, identity.sub, duration) : undefined;
}

/**
 * Fresh cached credentials at `file`, else what `mint` returns, cached. A miss
 * is minted under the entry's lock, so of several processes started at once
 * one mints and the others print what it cached.
 */
export async function cachedOrMinted(
  file: string | undefined,
  remainingMs: () => number,
  mint: () => Promise<ProcessCredentials>,
  warn: (line: string) => void,
): Promise<ProcessCredentials> {
  if (file === undefined) return mint();
  const cached = await readCached(file);
  if (cached !== undefined) return cached;
  const outcome = await lockCacheEntry(file, remainingMs);
  if (outcome.kind === 'cached') return outcome.credentials;
  if (outcome.kind === 'unlockable') {
    warn(`warning: could not use the credential cache (${outcome.code}); minting without it`);
    return mint();
  }
  try {
    // Another process may have cached them between the miss above and the lock.
    const raced = await readCached(file);
    if (raced !== undefined) return raced;
    const credentials = await mint();
    await toCache(file, credentials, warn);
    return credentials;
  } finally {
    await outcome.lock.release();
  }
}

/** Stores credentials; a failure only costs a warning, the credentials are still printed. */
async function toCache(
  file: string,
  credentials: ProcessCredentials,
  warn: (line: string) => void,
): Promise<void> {
  try {
    await writeCached(file, credentials);
  } catch (err) {
    warn(`warning: could not write the credential cache (${(err as { code?: string }).code ?? 'error'})`);
  }
}
