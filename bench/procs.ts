/**
 * Processes of the benchmark: CPU pinning with taskset, starting a server
 * under test and waiting until it answers, and reading a process's CPU time
 * and memory from /proc (Linux; elsewhere the numbers are reported as absent).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Which CPU runs what; undefined when pinning is not possible. */
export interface CpuPlan {
  /** The server under test (broker or floor). */
  server: number | undefined;
  /** Load generator and peers. */
  load: number | undefined;
  taskset: boolean;
}

function hasTaskset(): boolean {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Server on the last CPU, everything else on CPU 0, when taskset exists and there are ≥ 2 CPUs. */
export function planCpus(): CpuPlan {
  const cpus = availableParallelism();
  if (cpus < 2 || !hasTaskset()) return { server: undefined, load: undefined, taskset: false };
  return { server: cpus - 1, load: 0, taskset: true };
}

/** Pins every thread of `pid` to `cpu` (no-op without a CPU). */
export function pinProcess(pid: number, cpu: number | undefined): void {
  if (cpu === undefined) return;
  execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
}

/** `command args` prefixed with `taskset -c cpu` when pinning. */
export function pinnedCommand(cpu: number | undefined, command: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [command, args] : ['taskset', ['-c', String(cpu), command, ...args]];
}

const CLK_TCK = 100;

/** User + system CPU seconds of `pid` (all threads), or NaN when unreadable. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Busy seconds (everything but idle and iowait) of CPU `cpu` since boot, or NaN. */
export function cpuBusySeconds(cpu: number | undefined): number {
  if (cpu === undefined) return Number.NaN;
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    const [user, nice, system, , , irq, softirq, steal] = (line ?? '')
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const busy = [user, nice, system, irq, softirq, steal].reduce<number>(
      (sum, n) => sum + (n ?? Number.NaN),
      0,
    );
    return busy / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** A field of /proc/PID/status in MiB (VmRSS, VmHWM), or NaN. */
export function memoryMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1];
    return kib === undefined ? Number.NaN : Number(kib) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** A started server process. */
export interface ServerProcess {
  name: string;
  pid: number;
  url: string;
  /**
   * Lines written to stdout and stderr so far: counted by pino level and by
   * `msg`, and the last few lines that are not JSON log records (start-up
   * failures, Node warnings). Log records themselves are never kept.
   */
  output(): ServerOutput;
  /** SIGTERM, then waits for exit (SIGKILL after `graceMs`, default 10 s). */
  stop(graceMs?: number): Promise<void>;
}

/** What a server wrote; see {@link ServerProcess.output}. */
export interface ServerOutput {
  lines: number;
  levels: Record<string, number>;
  messages: Record<string, number>;
  tail: string[];
}

/** Options of {@link startServer}. */
export interface ServerOptions {
  name: string;
  command: string;
  args: string[];
  cpu: number | undefined;
  env: NodeJS.ProcessEnv;
  /** The URL comes from a `listening URL` stdout line (floor), or is known up front (broker). */
  url?: string;
  /** Path polled until it answers 200 (default `/health/ready`); ignored when the URL comes from stdout. */
  readyPath?: string;
  timeoutMs?: number;
}

function watchOutput(child: ChildProcess) {
  let lines = 0;
  const tail: string[] = [];
  const levels: Record<string, number> = {};
  const messages: Record<string, number> = {};
  let onListening: (url: string) => void = () => {};
  const onLine = (line: string) => {
    lines++;
    const level = /"level":(\d+)/.exec(line)?.[1];
    if (level) levels[level] = (levels[level] ?? 0) + 1;
    const msg = /"msg":"([^"]{0,60})/.exec(line)?.[1];
    if (msg !== undefined) messages[msg] = (messages[msg] ?? 0) + 1;
    if (!line.startsWith('{')) {
      tail.push(line.slice(0, 300));
      if (tail.length > 20) tail.shift();
    }
    const listening = /^listening (http:\/\/\S+)$/.exec(line)?.[1];
    if (listening) onListening(listening);
  };
  for (const stream of [child.stdout, child.stderr]) {
    let partial = '';
    stream?.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) onLine(line);
    });
  }
  return {
    output: (): ServerOutput => ({
      lines,
      levels: { ...levels },
      messages: { ...messages },
      tail: [...tail],
    }),
    listening: new Promise<string>((resolve) => {
      onListening = resolve;
    }),
  };
}

async function pollReady(url: string, deadline: number, exited: () => boolean): Promise<void> {
  while (Date.now() < deadline && !exited()) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not become ready`);
}

/** Spawns a server (pinned) and resolves once it answers. */
export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  const [command, args] = pinnedCommand(options.cpu, options.command, options.args);
  const child = spawn(command, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const watched = watchOutput(child);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const failed = () => new Error(`${options.name} failed to start:\n${watched.output().tail.join('\n')}`);
  let url: string;
  try {
    if (options.url) {
      url = options.url;
      await pollReady(`${url}${options.readyPath ?? '/health/ready'}`, deadline, () => exited);
    } else {
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(failed()), Math.max(0, deadline - Date.now())).unref(),
      );
      url = await Promise.race([watched.listening, exit.then(() => Promise.reject(failed())), timeout]);
    }
  } catch {
    child.kill('SIGKILL');
    throw failed();
  }
  return {
    name: options.name,
    pid: child.pid as number,
    url,
    output: watched.output,
    async stop(graceMs = 10_000) {
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(timer);
    },
  };
}
