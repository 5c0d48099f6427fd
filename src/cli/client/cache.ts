/**
 * The credential-process cache in `~/.voidkey/cache/`: the AWS CLI runs the
 * process for every call, so credentials are reused until 5 minutes before
 * they expire. Files are 0600 in a 0700 directory, written atomically.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The JSON an AWS `credential_process` prints. */
export interface ProcessCredentials {
  Version: 1;
  AccessKeyId: string;
  SecretAccessKey: string;
  SessionToken: string;
  Expiration: string;
}

/** Credentials closer than this to their expiry are not reused, ms. */
export const REFRESH_MARGIN_MS = 5 * 60 * 1000;

/** `~/.voidkey/cache` under the current HOME. */
export function cacheDir(): string {
  return join(homedir(), '.voidkey', 'cache');
}

/**
 * The cache file for (broker URL, key, issuer, subject, requested duration):
 * the SHA-256 of the five, so neither subject nor key shows in the file name.
 * The issuer is part of it because identities are bound to one IdP: the same
 * `sub` at another issuer is another identity. The duration is, because a
 * profile asking for 12 hours must not be served a 15-minute credential
 * another profile cached (nor the other way round).
 */
export function cacheFile(
  brokerUrl: string,
  key: string,
  iss: string,
  sub: string,
  duration: number | undefined,
): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([brokerUrl, key, iss, sub, duration ?? null]))
    .digest('hex');
  return join(cacheDir(), `${digest}.json`);
}

/** Cached credentials that are still fresh (> 5 min left), else undefined. */
export async function readCached(file: string, now = Date.now()): Promise<ProcessCredentials | undefined> {
  try {
    const info = await lstat(file);
    // A file another user could have written is not trusted.
    const ours = process.getuid === undefined || info.uid === process.getuid();
    if (!info.isFile() || (info.mode & 0o077) !== 0 || !ours) return undefined;
    const value = JSON.parse(await readFile(file, 'utf8')) as Partial<ProcessCredentials>;
    if (!isProcessCredentials(value)) return undefined;
    const expires = Date.parse(value.Expiration);
    return expires - now > REFRESH_MARGIN_MS ? value : undefined;
  } catch {
    return undefined;
  }
}

function isProcessCredentials(value: Partial<ProcessCredentials>): value is ProcessCredentials {
  return (
    value.Version === 1 &&
    typeof value.AccessKeyId === 'string' &&
    typeof value.SecretAccessKey === 'string' &&
    typeof value.SessionToken === 'string' &&
    typeof value.Expiration === 'string'
  );
}

/** Creates the cache directory (0700, also when it existed with a wider mode). */
export async function ensureCacheDir(): Promise<void> {
  const dir = cacheDir();
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

/** Writes credentials to `file` (0600) through a temporary file and a rename. */
export async function writeCached(file: string, credentials: ProcessCredentials): Promise<void> {
  await ensureCacheDir();
  const temp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${JSON.stringify(credentials)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(temp, file);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}
