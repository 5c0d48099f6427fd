/**
 * The one way the e2e suite and the benchmark start child processes: spawn
 * with a controlled environment, keep what the process prints, wait until it
 * is ready (an HTTP answer or a line of output), and stop it with a signal,
 * escalating to SIGKILL after a grace period.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** How a process ended. */
export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A started child process. */
export interface Spawned {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Everything it printed, stdout then stderr. */
  output(): string;
  /** Resolves once the process has exited and its streams are closed. */
  exited: Promise<Exit>;
  running(): boolean;
  /** Sends `signal` if the process still runs, without waiting. */
  kill(signal: NodeJS.Signals): void;
  /** Sends `signal` (default SIGTERM) and waits for the exit, with SIGKILL after `graceMs` (default 10 s). */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<Exit>;
}

/** Options of {@link spawnProcess}. */
export interface SpawnOptions {
  command: string;
  args: readonly string[];
  /** The whole environment: nothing is inherited that is not passed (see {@link cleanEnv}). */
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Opens an IPC channel (`child.send`, `message` events). */
  ipc?: boolean;
}

/** PATH and the given variables only: no proxy or AWS variables leak in from the host. */
export function cleanEnv(vars: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', ...vars };
}

/** Spawns `command args`, collecting both output streams. */
export function spawnProcess(options: SpawnOptions): Spawned {
  const child = spawn(options.command, [...options.args], {
    env: options.env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => err.push(chunk));
  const exited = new Promise<Exit>((resolve) => {
    child.once('error', () => resolve({ code: null, signal: null }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const running = () => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString();
  return {
    child,
    pid: child.pid ?? -1,
    stdout: () => text(out),
    stderr: () => text(err),
    output: () => text(out) + text(err),
    exited,
    running,
    kill: (signal) => {
      if (running()) child.kill(signal);
    },
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (running()) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}

/** Runs `command args` to completion (SIGKILL after `timeoutMs`, default 15 s). */
export async function runToEnd(
  options: SpawnOptions & { timeoutMs?: number },
): Promise<Exit & { stdout: string; stderr: string }> {
  const p = spawnProcess(options);
  const timer = setTimeout(() => p.kill('SIGKILL'), options.timeoutMs ?? 15_000);
  const exit = await p.exited;
  clearTimeout(timer);
  return { ...exit, stdout: p.stdout(), stderr: p.stderr() };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls `url` until it answers 200. Throws when `p` exits first or after
 * `timeoutMs`, with the process's output in the message.
 */
export async function waitForHttp(p: Spawned, url: string, timeoutMs: number, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && p.running()) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await pause(everyMs);
  }
  const why = p.running() ? `did not answer ${url} within ${timeoutMs} ms` : `exited before answering ${url}`;
  throw new Error(`${why}\n--- output ---\n${p.output()}`);
}

/**
 * Waits until the process's stdout matches `pattern`; returns the match.
 * Throws when it exits first or after `timeoutMs`.
 */
export async function waitForOutput(
  p: Spawned,
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = pattern.exec(p.stdout());
    if (match) return match;
    if (!p.running()) break;
    await pause(20);
  }
  const why = p.running()
    ? `printed no ${pattern} within ${timeoutMs} ms`
    : `exited before printing ${pattern}`;
  throw new Error(`${why}\n--- output ---\n${p.output()}`);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
