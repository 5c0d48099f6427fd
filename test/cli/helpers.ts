/**
 * Runs the real `voidkey` entry point as a child process with a controlled
 * environment (HOME in a temp dir), and builds unsigned test JWTs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');

/** What a CLI run produced. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Options of one run. */
export interface RunOptions {
  /** Variables on top of PATH and HOME (nothing else is inherited). */
  env?: Record<string, string>;
  home: string;
  /** Strings that must appear neither on stdout nor on stderr (tokens). */
  secrets?: string[];
  /** Strings that may appear on stdout only (minted credentials), never on stderr. */
  stdoutOnly?: string[];
}

/** Runs `voidkey <args>`, asserting that no secret leaked into its output. */
export async function runCli(args: string[], options: RunOptions): Promise<CliResult> {
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: options.home, ...options.env };
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  for (const secret of options.secrets ?? []) {
    assert.ok(!stdout.includes(secret), 'a token appeared on stdout');
    assert.ok(!stderr.includes(secret), 'a token appeared on stderr');
  }
  for (const value of options.stdoutOnly ?? [])
    assert.ok(!stderr.includes(value), 'a credential appeared on stderr');
  assert.ok(!stderr.includes('    at '), 'a stack trace appeared on stderr');
  return { code, stdout, stderr };
}

/** A fresh temporary HOME; remove it with `removeHome`. */
export function makeHome(): string {
  return mkdtempSync(join(tmpdir(), 'voidkey-cli-'));
}

/** Deletes a temporary HOME. */
export function removeHome(home: string): void {
  rmSync(home, { recursive: true, force: true });
}

/** An unsigned compact JWT (the fake broker trusts by membership, not signature). */
export function makeToken(claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const fullHeader = { alg: 'RS256', kid: 'test-key-1', typ: 'JWT', ...header };
  const payload = { iss: 'https://idp.example.test', aud: 'voidkey', iat: now, exp: now + 600, ...claims };
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${encode(fullHeader)}.${encode(payload)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
}

/** Runs `bash -c script` with `input` on stdin; returns its stdout. */
export async function bash(script: string, input: string, env: Record<string, string> = {}): Promise<string> {
  const child = spawn('bash', ['-c', script], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
  });
  child.stdin.end(input);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0, 'bash failed');
  return out;
}
