/**
 * One measurement: autocannon drives `POST /credentials/mint` with a rotating
 * set of distinct tokens for a fixed time, while the CPU time of the server
 * and of the cores, and the server's memory, are read from /proc (Linux;
 * elsewhere those numbers are NaN). Latencies are recorded per 2xx answer at
 * sub-millisecond resolution (autocannon's own histogram keeps whole ms).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';

/** Which CPU runs what; undefined when pinning is not possible. */
export interface CpuPlan {
  /** The server under test. */
  server: number | undefined;
  /** Load generator and peers. */
  load: number | undefined;
}

/** Server on the last CPU, everything else on CPU 0, when taskset exists and there are ≥ 2 CPUs. */
export function planCpus(): CpuPlan {
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  } catch {
    return { server: undefined, load: undefined };
  }
  const cpus = availableParallelism();
  return cpus < 2 ? { server: undefined, load: undefined } : { server: cpus - 1, load: 0 };
}

/** Pins every thread of `pid` to `cpu` (no-op without a CPU). */
export function pin(pid: number, cpu: number | undefined): void {
  if (cpu !== undefined)
    execFileSync('taskset', ['-a', '-pc', String(cpu), String(pid)], { stdio: 'ignore' });
}

const CLK_TCK = 100;

/** User + system CPU seconds of `pid` (all threads), or NaN. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return Number.NaN;
  }
}

/** Busy seconds (all but idle and iowait) of CPU `cpu` since boot, or NaN. */
function cpuBusySeconds(cpu: number | undefined): number {
  if (cpu === undefined) return Number.NaN;
  try {
    const row = new RegExp(`^cpu${cpu} (.*)$`, 'm').exec(readFileSync('/proc/stat', 'utf8'))?.[1];
    const [user, nice, system, , , irq, softirq, steal] = (row ?? '').trim().split(/\s+/).map(Number);
    return (
      [user, nice, system, irq, softirq, steal].reduce<number>((a, n) => a + (n ?? Number.NaN), 0) / CLK_TCK
    );
  } catch {
    return Number.NaN;
  }
}

/** A field of /proc/PID/status in MiB (VmRSS now, VmHWM the peak), or NaN. */
export function memoryMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const kib = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    )?.[1];
    return kib === undefined ? Number.NaN : Number(kib) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** What to drive. */
export interface LoadOptions {
  url: string;
  tokens: readonly string[];
  keys: readonly string[];
  connections: number;
  /** Seconds. */
  duration: number;
}

/** One measurement's numbers. Times in ms, throughput in 2xx answers per second. */
export interface Measurement {
  rps: number;
  p50: number;
  p99: number;
  /** Non-2xx answers, errors and timeouts. */
  failures: number;
  /** CPU used by the server, in CPUs (1.0 = one core busy all the time). */
  serverCpu: number;
  /** Server CPU milliseconds per successful answer. */
  cpuMsPerRequest: number;
  /** CPU others (other tenants, steal) used on the server's core, in CPUs; NaN when not pinned. */
  foreignCpu: number;
}

/**
 * Requests per connection before the load generator reconnects, like a
 * well-behaved client: autocannon ignores `Connection: close`, and the broker
 * recycles a connection after 1000 requests. autocannon does not count the
 * answer on which it reconnects, so throughput reads 0.2 % low for every
 * target alike.
 */
const RECONNECT_EVERY = 500;

/** Value at quantile `q` (0–1) of sorted `values`, nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

async function drive(options: LoadOptions) {
  const { tokens } = options;
  let next = Math.floor(Math.random() * tokens.length);
  const latencies: number[] = [];
  const instance = autocannon({
    url: `${options.url}/credentials/mint`,
    connections: options.connections,
    duration: options.duration,
    timeout: 10,
    reconnectRate: RECONNECT_EVERY,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ keys: options.keys }),
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          headers: { ...request.headers, authorization: `Bearer ${tokens[next++ % tokens.length]}` },
        }),
      },
    ],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status <= 299) latencies.push(ms);
  });
  const result = await instance;
  return { latencies: Float64Array.from(latencies).sort(), result };
}

/** Runs one load against `options.url`, reading the server's CPU and its core's. */
export async function measure(
  options: LoadOptions,
  server: number,
  serverCore: number | undefined,
): Promise<Measurement> {
  const cpuBefore = cpuSeconds(server);
  const coreBefore = cpuBusySeconds(serverCore);
  const started = performance.now();
  const { latencies, result } = await drive(options);
  const wall = (performance.now() - started) / 1000;
  const used = cpuSeconds(server) - cpuBefore;
  const ok = result['2xx'];
  return {
    rps: ok / result.duration,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    failures: result.non2xx + result.errors + result.timeouts,
    serverCpu: used / wall,
    cpuMsPerRequest: ok > 0 ? (used * 1000) / ok : Number.NaN,
    foreignCpu: Math.max(0, (cpuBusySeconds(serverCore) - coreBefore - used) / wall),
  };
}

/** A short load whose numbers are thrown away: JIT, pools and caches warm up. */
export async function warmUp(options: LoadOptions): Promise<void> {
  await drive(options);
}
