/**
 * The running sandbox's state file (default `~/.voidkey/dev-sandbox-PORT.json`,
 * mode 0600): how `voidkey dev token`, a separate process, finds the sandbox's
 * loopback minting endpoint and the per-start secret that guards it. The
 * signing key itself never leaves the sandbox process.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';

/** What the sandbox writes for `voidkey dev token`. */
export interface SandboxState {
  version: 1;
  pid: number;
  brokerUrl: string;
  issuer: string;
  /** The issuer's loopback `POST /dev/token` URL. */
  devTokenEndpoint: string;
  /** Bearer secret of `devTokenEndpoint`, random per start. */
  mintSecret: string;
  /** Default `aud` of client tokens (the dev client IdP's audience). */
  audience: string;
  configPath: string;
  startedAt: string;
}

/** Why the sandbox could not be started or reached; the message is one line for the terminal. */
export class SandboxError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options);
    this.name = 'SandboxError';
  }
}

/** The directory holding the state files: `$HOME/.voidkey`. */
export function stateDir(): string {
  return join(homedir(), '.voidkey');
}

/** The state file of the sandbox whose broker listens on `port`: `$HOME/.voidkey/dev-sandbox-PORT.json`. */
export function defaultStateFile(port: number): string {
  return join(stateDir(), `dev-sandbox-${port}.json`);
}

/** Every sandbox state file present (running or not). */
export async function listStateFiles(): Promise<string[]> {
  const names = await readdir(stateDir()).catch(() => [] as string[]);
  return names.filter((name) => /^dev-sandbox-\d+\.json$/.test(name)).map((name) => join(stateDir(), name));
}

/** Writes `state` atomically with mode 0600, creating its directory with mode 0700. */
export async function writeState(path: string, state: SandboxState): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  await chmod(temp, 0o600);
  await rename(temp, path);
}

/** The state at `path`, or undefined when there is none; throws SandboxError when unreadable. */
export async function readState(path: string): Promise<SandboxState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new SandboxError(`cannot read the sandbox state file ${path}`, { cause: err });
  }
  try {
    const state = JSON.parse(text) as SandboxState;
    if (state.version !== 1 || typeof state.devTokenEndpoint !== 'string') throw new Error('shape');
    return state;
  } catch (err) {
    throw new SandboxError(`the sandbox state file ${path} is not valid; restart 'voidkey dev'`, {
      cause: err,
    });
  }
}

/** Removes the state file if it still describes this sandbox (a newer one may have replaced it). */
export async function removeState(path: string, mintSecret: string): Promise<void> {
  const current = await readState(path).catch(() => undefined);
  if (current?.pid === process.pid && current.mintSecret === mintSecret) await rm(path, { force: true });
}

/** True when a process with this id exists (possibly another user's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
