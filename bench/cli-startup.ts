/**
 * Start-up cost of the `voidkey` client as a CI job pays it: wall time from
 * spawn to exit of `voidkey version`, of `voidkey mint` against a running
 * broker, and of a bare `node -e 0` for reference (the part no code change
 * can remove).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pinnedCommand } from './procs.ts';
import { type Spread, spread } from './report.ts';

/** Timings of one command, ms. */
export interface CommandTiming extends Spread {
  n: number;
  /** Exit codes seen (all 0 when every run succeeded). */
  exitCodes: number[];
}

/** What {@link measureCliStartup} reports. */
export interface CliStartup {
  node: CommandTiming;
  version: CommandTiming;
  mint: CommandTiming;
}

function time(command: string, args: string[], env: NodeJS.ProcessEnv, n: number): CommandTiming {
  const samples: number[] = [];
  const exitCodes = new Set<number>();
  // One unmeasured run first: the page cache, not the command, would otherwise decide run 1.
  spawnSync(command, args, { env, stdio: 'ignore', timeout: 30_000 });
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const result = spawnSync(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    samples.push(performance.now() - started);
    exitCodes.add(result.status ?? -1);
  }
  return { ...spread(samples), n, exitCodes: [...exitCodes] };
}

/**
 * Times `node -e 0`, `voidkey version` (`n` runs each) and `voidkey mint`
 * (`mintRuns` runs) of `keys` with `token` against `brokerUrl`, on `cpu`.
 */
export function measureCliStartup(options: {
  bin: string;
  brokerUrl: string;
  token: string;
  keys: readonly string[];
  n: number;
  mintRuns: number;
  cpu: number | undefined;
}): CliStartup {
  const home = mkdtempSync(join(tmpdir(), 'voidkey-bench-cli-'));
  try {
    const tokenFile = join(home, 'token');
    writeFileSync(tokenFile, options.token, { mode: 0o600 });
    // A clean HOME: no ~/.voidkey config or credential cache changes what is measured.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home };
    const run = (args: string[], n: number) => {
      const [command, full] = pinnedCommand(options.cpu, process.execPath, args);
      return time(command, full, env, n);
    };
    const mintArgs = [
      options.bin,
      'mint',
      '--keys',
      options.keys.join(','),
      '--output',
      'json',
      '--broker-url',
      options.brokerUrl,
      '--token-file',
      tokenFile,
    ];
    return {
      node: run(['-e', '0'], options.n),
      version: run([options.bin, 'version'], options.n),
      mint: run(mintArgs, options.mintRuns),
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
