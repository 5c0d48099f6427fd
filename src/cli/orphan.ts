/**
 * Started through npm (`npx voidkey serve`, `npm start`, `npm run …`), the
 * broker's parent is a shell that npm signals: a SIGTERM to npm ends that
 * shell and would leave the broker running as an orphan, still listening and
 * (for the sandbox) with its generated secret config on disk. So under npm
 * the process watches its parent and stops itself, through its own SIGTERM
 * handling, once the parent is gone.
 */

/** How often the parent is checked, ms. */
const INTERVAL_MS = 250;

/** Under npm, sends this process SIGTERM when its parent process goes away. */
export function stopWhenOrphaned(env: Record<string, string | undefined>): void {
  if (env.npm_command === undefined && env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    process.kill(process.pid, 'SIGTERM');
  }, INTERVAL_MS);
  timer.unref();
}
