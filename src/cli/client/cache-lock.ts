/**
 * The lock around a credential-process cache miss: parallel `aws` commands
 * each start `voidkey`, and without it every one of them would mint (and
 * present the same token, which a `oneTimeUse` broker refuses after the first).
 * The lock is `<cache file>.lock`, created with O_EXCL; its holder touches it
 * while minting, so a lock whose mtime is older than LOCK_STALE_MS belongs to a
 * process that died and is taken over.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, open, rename, unlink, utimes } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureCacheDir, type ProcessCredentials, readCached } from './cache.ts';
import { CliError, EXIT } from './exit.ts';

/** A lock untouched for this long is stale, ms. */
export const LOCK_STALE_MS = 30_000;
/** How often the holder refreshes the lock's mtime, ms (well inside LOCK_STALE_MS). */
const HEARTBEAT_MS = 5_000;
/** How often a waiter looks for the holder's result, ms. */
const POLL_MS = 50;

/** A held lock. */
export interface CacheLock {
  release(): Promise<void>;
}

/** What waiting produced: the lock (mint now), credentials another process cached meanwhile, or no lock possible. */
export type LockOutcome =
  | { kind: 'locked'; lock: CacheLock }
  | { kind: 'cached'; credentials: ProcessCredentials }
  | { kind: 'unlockable'; code: string };

/**
 * Takes the lock beside `file`, or returns the credentials another process
 * cached while this one waited. Waits at most `remainingMs()`; then exit 5.
 * A cache directory that cannot hold a lock (read-only HOME) is `unlockable`:
 * the caller mints without one, as it would without a cache.
 */
export async function lockCacheEntry(file: string, remainingMs: () => number): Promise<LockOutcome> {
  const path = `${file}.lock`;
  for (;;) {
    const created = await create(path);
    if (typeof created === 'number') return { kind: 'locked', lock: hold(path, created) };
    if (created !== 'EEXIST') return { kind: 'unlockable', code: created };
    const credentials = await readCached(file);
    if (credentials !== undefined) return { kind: 'cached', credentials };
    const info = await lstat(path).catch(() => undefined);
    if (info === undefined) continue;
    if (Date.now() - info.mtimeMs > LOCK_STALE_MS) {
      await takeOver(path, info.ino);
      continue;
    }
    const left = remainingMs();
    if (left <= 0) {
      throw new CliError(
        EXIT.BROKER,
        `another voidkey process is still minting these credentials (lock ${path}, taken over once ${LOCK_STALE_MS / 1000}s old); timed out waiting`,
      );
    }
    await sleep(Math.min(POLL_MS, left));
  }
}

/** The new lock's inode, or the error code of a failed O_EXCL create ('EEXIST': someone holds it). */
async function create(path: string): Promise<number | string> {
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(`${process.pid}\n`);
        return (await handle.stat()).ino;
      } catch (writeErr) {
        await unlink(path).catch(() => {});
        throw writeErr;
      } finally {
        await handle.close();
      }
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'error';
      if (code !== 'ENOENT' || attempt > 0) return code;
      // The cache directory does not exist yet.
      try {
        await ensureCacheDir();
      } catch (mkdirErr) {
        return (mkdirErr as { code?: string }).code ?? 'error';
      }
    }
  }
}

/** Keeps the lock fresh until released; release removes it only if it is still ours. */
function hold(path: string, ino: number): CacheLock {
  const timer = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => {});
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    async release() {
      clearInterval(timer);
      const info = await lstat(path).catch(() => undefined);
      if (info?.ino === ino) await unlink(path).catch(() => {});
    },
  };
}

/**
 * Removes the stale lock whose inode is `staleIno`. The lock is first renamed
 * aside (atomic), so of two processes taking over at once only one removes the
 * stale file; if what was moved is a live lock created in between, it is
 * linked back (never over a newer one).
 */
async function takeOver(path: string, staleIno: number): Promise<void> {
  const aside = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.stale`;
  try {
    await rename(path, aside);
  } catch {
    return;
  }
  const info = await lstat(aside).catch(() => undefined);
  if (info !== undefined && info.ino !== staleIno) await link(aside, path).catch(() => {});
  await unlink(aside).catch(() => {});
}
