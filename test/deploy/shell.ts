/**
 * Helpers to run the kit's shell scripts in tests: a PATH made of chosen
 * tools only (to take kubectl, helm or curl away), and a runner that
 * captures exit code and output.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './kit.ts';

/** Where a command lives on this machine's PATH, or undefined. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A fresh directory whose bin/ holds symlinks to exactly `tools` (missing ones skipped). */
export function toolDir(tools: string[]): { dir: string; bin: string } {
  const dir = mkdtempSync(join(tmpdir(), 'voidkey-deploy-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const t of tools) {
    const path = which(t);
    if (path) symlinkSync(path, join(bin, t));
  }
  return { dir, bin };
}

/** Tools the scripts use besides curl, node, kubectl and helm. */
export const BASE_TOOLS = [
  'bash',
  'sh',
  'mktemp',
  'rm',
  'tr',
  'grep',
  'head',
  'tail',
  'wc',
  'sed',
  'sleep',
  'cat',
  'date',
  'mkdir',
  'cp',
  'mv',
  'dirname',
  'basename',
  'cmp',
  'chmod',
  'ls',
  'base64',
];

export type RunResult = { code: number; stdout: string; stderr: string };

/** Runs scripts/NAME with args, asynchronously (a test server may be answering it). */
export function runScript(
  name: string,
  args: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(which('bash') ?? '/bin/bash', [join(REPO, 'scripts', name), ...args], {
      cwd: opts.cwd ?? REPO,
      env: { ...process.env, ...opts.env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
