/**
 * Runs the BUILT `voidkey` binary (dist/cli/main.js) as a child process:
 * writes its YAML config to a temp dir, starts `serve` on a free port with a
 * controlled environment, captures every byte of its output, and stops it
 * with a signal. Also runs one-shot commands (`config validate`).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { cleanEnv, type Exit, freePort, runToEnd, spawnProcess, waitForHttp } from '../../helpers/process.ts';

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
  return cleanEnv({ HOME: home, NODE_ENV: 'test', ...env });
}

/** What a finished command printed and returned. */
export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs `voidkey <args>` to completion (killed after `timeoutMs`, default 15000). */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  const cwd = options.cwd ?? tmpdir();
  return runToEnd({
    command: process.execPath,
    args: [BIN, ...args],
    cwd,
    env: controlledEnv(cwd, options.env ?? {}),
    timeoutMs: options.timeoutMs ?? 15000,
  });
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
  exited: Promise<Exit>;
  /** Sends `signal` without waiting for anything (e.g. SIGHUP to reload the config). */
  kill(signal: NodeJS.Signals): void;
  /** Sends `signal` (default SIGTERM), waits for the exit (SIGKILL after `timeoutMs`, default 10000), removes `dir`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<Exit>;
}

/** Starts `voidkey serve --config <temp>/config.yaml --port <free>` and waits until `/health/live` is 200. */
export async function startBroker(
  config: object | string,
  options: { env?: Record<string, string>; files?: Record<string, string>; startTimeoutMs?: number } = {},
): Promise<BrokerProcess> {
  assertBuilt();
  const { dir, path } = await writeConfig(config, options.files);
  const port = await freePort();
  const child = spawnProcess({
    command: process.execPath,
    args: [BIN, 'serve', '--config', path, '--port', String(port)],
    cwd: dir,
    env: controlledEnv(dir, options.env ?? {}),
  });
  const url = `http://127.0.0.1:${port}`;
  const broker: BrokerProcess = {
    url,
    port,
    configPath: path,
    dir,
    stdout: child.stdout,
    stderr: child.stderr,
    output: child.output,
    exited: child.exited,
    kill: child.kill,
    stop: async (signal = 'SIGTERM', timeoutMs = 10000) => {
      const result = await child.stop(signal, timeoutMs);
      await rm(dir, { recursive: true, force: true });
      return result;
    },
  };
  try {
    await waitForHttp(child, `${url}/health/live`, options.startTimeoutMs ?? 15000);
  } catch (err) {
    await broker.stop('SIGKILL');
    throw new Error(`broker ${(err as Error).message}`);
  }
  return broker;
}
