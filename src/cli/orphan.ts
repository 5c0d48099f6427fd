/**
 * Started through npm (`npx voidkey serve`, `npm start`, `npm run …`), the
 * broker's parent is a shell that npm signals: a SIGTERM to npm ends that
 * shell and would leave the broker running as an orphan, still listening and
 * (for the sandbox) with its generated secret config on disk. So under npm
 * the process watches its parent and stops itself, through its own SIGTERM
 * handling, once the parent is gone.
 *
 * The parent is the one the process started under, noted by main.ts before
 * anything slow: read only once the broker listens, it may already be the
 * process that adopted the orphan (a SIGTERM sent while the broker starts, or
 * as soon as it prints that it listens), and the watch would never fire.
 */

/** How often the parent is checked, ms. */
const INTERVAL_MS = 250;

let startParent: number | undefined;

/** Notes the parent this process started under; main.ts calls it first. */
export function rememberParent(): void {
  startParent ??= process.ppid;
}

/**
 * Under npm, sends this process SIGTERM when the parent it started under goes
 * away (at once if it already has). Call it once the command's own SIGTERM
 * handling is in place.
 */
export function stopWhenOrphaned(env: Record<string, string | undefined>): void {
  if (env.npm_command === undefined && env.npm_lifecycle_event === undefined) return;
  const parent = startParent ?? process.ppid;
  const stopIfOrphaned = (): boolean => {
    if (process.ppid === parent) return false;
    process.kill(process.pid, 'SIGTERM');
    return true;
  };
  if (stopIfOrphaned()) return;
  const timer = setInterval(() => {
    if (stopIfOrphaned()) clearInterval(timer);
  }, INTERVAL_MS);
  timer.unref();
}
