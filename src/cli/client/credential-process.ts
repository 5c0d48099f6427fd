/**
 * `--output credential-process`: one AWS key printed as the JSON an AWS
 * `credential_process` profile expects, cached until 5 minutes before expiry.
 */
import { cacheFile, type ProcessCredentials, readCached, writeCached } from './cache.ts';
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

/** Where one identity's credentials for `key` are cached; undefined when the token has no decodable iss/sub. */
export function cacheLocation(
  brokerUrl: string,
  key: string,
  identity: { iss: string; sub: string } | undefined,
): string | undefined {
  return identity ? cacheFile(brokerUrl, key, identity.iss, identity.sub) : undefined;
}

/** Fresh cached credentials at `file`, if any. */
export async function fromCache(file: string | undefined): Promise<ProcessCredentials | undefined> {
  return file === undefined ? undefined : readCached(file);
}

/** Stores credentials; a failure only costs a warning, the credentials are still printed. */
export async function toCache(
  file: string | undefined,
  credentials: ProcessCredentials,
  warn: (line: string) => void,
): Promise<void> {
  if (file === undefined) return;
  try {
    await writeCached(file, credentials);
  } catch (err) {
    warn(`warning: could not write the credential cache (${(err as { code?: string }).code ?? 'error'})`);
  }
}
