/**
 * Runs the BUILT `voidkey` binary (dist/cli/main.js) as a child process:
 * writes its YAML config to a temp dir, starts `serve` on a free port with a
 * controlled environment, captures every byte of its output, and stops it
 * with a signal. Also runs one-shot commands (`config validate`).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** Absolute path of the built executable. */
export const BIN = join(ROOT, 'dist/cli/main.js');

/** Throws (so every e2e file fails loudly, never skips) when dist/ has not been built. */
export function assertBuilt(): void {
  if (!existsSync(BIN)) {
    throw new Error(
      `e2e: ${BIN} is missing; run \`npm run build\` first (\`npm test\` builds before testing)`,
    );
  }
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** A temp dir holding `config.yaml` (from an object or raw YAML) and any extra files. */
export async function writeConfig(
  config: object | string,
  files: Record<string, string> = {},
): Promise<{ dir: string; path: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'voidkey-e2e-'));
  const path = join(dir, 'config.yaml');
  await writeFile(path, typeof config === 'string' ? config : stringify(config), { mode: 0o600 });
  for (const [name, content] of Object.entries(files)) {
    await writeFile(join(dir, name), content, { mode: 0o600 });
  }
  return { dir, path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Only PATH plus what the test passes: no proxy or AWS variables leak in from the host. */
function controlledEnv(home: string, env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, NODE_ENV: 'test', ...env };
}

/** What a finished command printed and returned. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function collect(child: ChildProcess): { out: Buffer[]; err: Buffer[] } {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout?.on('data', (c: Buffer) => out.push(c));
  child.stderr?.on('data', (c: Buffer) => err.push(c));
  return { out, err };
}

/** Runs `voidkey <args>` to completion (killed after `timeoutMs`, default 15000). */
export async function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const cwd = options.cwd ?? tmpdir();
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: controlledEnv(cwd, options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const bufs = collect(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15000);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((done) =>
    child.on('close', (c, s) => done([c, s])),
  );
  clearTimeout(timer);
  return {
    code,
    signal,
    stdout: Buffer.concat(bufs.out).toString(),
    stderr: Buffer.concat(bufs.err).toString(),
  };
}

/** A running `voidkey serve`. */
export interface BrokerProcess {
  url: string;
  port: number;
  configPath: string;
  dir: string;
  stdout(): string;
  stderr(): string;
  /** Everything it printed on both streams. */
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` without waiting for anything (e.g. SIGHUP to reload the config). */
  kill(signal: NodeJS.Signals): void;
  /** Sends `signal` (default SIGTERM), waits for the exit (SIGKILL after `timeoutMs`, default 10000), removes `dir`. */
  stop(
    signal?: NodeJS.Signals,
    timeoutMs?: number,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

async function waitLive(url: string, exited: Promise<unknown>, timeoutMs: number): Promise<void> {
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !gone) {
    try {
      const res = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    gone ? 'broker exited before answering /health/live' : 'broker did not answer /health/live',
  );
}

/** Starts `voidkey serve --config <temp>/config.yaml --port <free>` and waits until `/health/live` is 200. */
export async function startBroker(
  config: object | string,
  options: { env?: Record<string, string>; files?: Record<string, string>; startTimeoutMs?: number } = {},
): Promise<BrokerProcess> {
  assertBuilt();
  const { dir, path } = await writeConfig(config, options.files);
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'serve', '--config', path, '--port', String(port)], {
    cwd: dir,
    env: controlledEnv(dir, options.env ?? {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const bufs = collect(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on('close', (code, signal) => done({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  const text = (b: Buffer[]) => Buffer.concat(b).toString();
  const broker: BrokerProcess = {
    url,
    port,
    configPath: path,
    dir,
    stdout: () => text(bufs.out),
    stderr: () => text(bufs.err),
    output: () => text(bufs.out) + text(bufs.err),
    exited,
    kill: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    stop: async (signal = 'SIGTERM', timeoutMs = 10000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      await rm(dir, { recursive: true, force: true });
      return result;
    },
  };
  try {
    await waitLive(url, exited, options.startTimeoutMs ?? 15000);
  } catch (err) {
    await broker.stop('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- broker output ---\n${broker.output()}`);
  }
  return broker;
}
