/**
 * One measurement: autocannon drives `POST /credentials/mint` with a rotating
 * set of distinct tokens for a fixed time, while the CPU time of the server,
 * the peers and the load generator, and the server's memory, are sampled.
 * Latencies are recorded per 2xx response with sub-millisecond resolution
 * (autocannon's own histogram keeps whole milliseconds).
 */
import autocannon, { type Result } from 'autocannon';
import { cpuBusySeconds, cpuSeconds, memoryMiB } from './procs.ts';

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
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  p50: number;
  p90: number;
  p99: number;
  /** CPU used by the server under test, in CPUs (1.0 = one core busy all the time). */
  serverCpu: number;
  /** Server CPU milliseconds per successful answer. */
  cpuMsPerRequest: number;
  peersCpu: number;
  loadgenCpu: number;
  /**
   * CPU used on the server's core by anything but the server (other tenants
   * of a shared machine), in CPUs; NaN when the server is not pinned.
   */
  foreignCpu: number;
  /** Everything running on the load generator's core, in CPUs (near 1.0: the load side may be the limit). */
  loadCoreBusy: number;
  /** Highest VmRSS sampled during the run, MiB. */
  rssMaxMiB: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  /** The first few non-2xx bodies (error codes; the broker never echoes a token), 300 chars each. */
  failureSamples: string[];
}

/**
 * Requests per connection before the load generator reconnects. autocannon
 * does not count the answer on which it reconnects: throughput reads 0.2 %
 * low, for every target alike.
 */
export const RECONNECT_EVERY = 500;

/** Value at quantile `q` (0–1) of sorted `values`, nearest rank. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

async function drive(options: LoadOptions): Promise<{ latencies: Float64Array; result: Result }> {
  const { tokens } = options;
  let next = Math.floor(Math.random() * tokens.length);
  let latencies = new Float64Array(1 << 16);
  let count = 0;
  const instance = autocannon({
    url: `${options.url}/credentials/mint`,
    connections: options.connections,
    duration: options.duration,
    timeout: 10,
    // Like a well-behaved client: autocannon ignores `Connection: close`, and the broker recycles
    // a connection after 1000 requests (Node then answers 503 to whatever is still sent on it).
    reconnectRate: RECONNECT_EVERY,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ keys: options.keys }),
    requests: [
      {
        setupRequest: (request) => {
          const token = tokens[next++ % tokens.length] as string;
          return { ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } };
        },
      },
    ],
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status < 200 || status > 299) return;
    if (count === latencies.length) {
      const grown = new Float64Array(latencies.length * 2);
      grown.set(latencies);
      latencies = grown;
    }
    latencies[count++] = ms;
  });
  const result = await instance;
  return { latencies: latencies.subarray(0, count).sort(), result };
}

/**
 * After a run with failures: what a few fresh requests answer now (bodies are
 * not collected during the run, which would load the load generator's core).
 */
async function probeFailures(options: LoadOptions): Promise<string[]> {
  const samples: string[] = [];
  for (const token of options.tokens.slice(0, 20)) {
    const res = await fetch(`${options.url}/credentials/mint`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ keys: options.keys }),
    });
    const body = await res.text();
    if (res.status !== 200 && samples.length < 3) samples.push(`${res.status} ${body.slice(0, 300)}`);
  }
  return samples;
}

/** PIDs whose CPU time is sampled besides the server's. */
export interface Observed {
  server: number;
  peers: number;
  /** The core the server is pinned to, if any. */
  serverCore?: number | undefined;
  /** The core of the load generator and peers, if pinned. */
  loadCore?: number | undefined;
}

/** Runs one load against `options.url`, sampling the processes in `observed`. */
export async function measure(options: LoadOptions, observed: Observed): Promise<Measurement> {
  const pids = [observed.server, observed.peers, process.pid];
  const before = pids.map(cpuSeconds);
  const coreBefore = cpuBusySeconds(observed.serverCore);
  const loadCoreBefore = cpuBusySeconds(observed.loadCore);
  const started = performance.now();
  let rssMaxMiB = memoryMiB(observed.server, 'VmRSS');
  const sampler = setInterval(() => {
    rssMaxMiB = Math.max(rssMaxMiB, memoryMiB(observed.server, 'VmRSS'));
  }, 250);
  try {
    const { latencies, result } = await drive(options);
    const wall = (performance.now() - started) / 1000;
    const used = pids.map((pid, i) => cpuSeconds(pid) - (before[i] as number));
    const coreBusy = (cpuBusySeconds(observed.serverCore) - coreBefore) / wall;
    const loadCoreBusy = (cpuBusySeconds(observed.loadCore) - loadCoreBefore) / wall;
    const [server, peers, loadgen] = used.map((seconds) => seconds / wall) as [number, number, number];
    const ok = result['2xx'];
    return {
      rps: ok / result.duration,
      ok,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      p50: quantile(latencies, 0.5),
      p90: quantile(latencies, 0.9),
      p99: quantile(latencies, 0.99),
      serverCpu: server,
      cpuMsPerRequest: ok > 0 ? ((used[0] as number) * 1000) / ok : Number.NaN,
      peersCpu: peers,
      loadgenCpu: loadgen,
      foreignCpu: Math.max(0, coreBusy - server),
      loadCoreBusy,
      rssMaxMiB,
      statuses: Object.fromEntries(
        Object.entries(result.statusCodeStats ?? {}).map(([k, v]) => [k, v.count]),
      ),
      failureSamples: result.non2xx > 0 ? await probeFailures(options) : [],
    };
  } finally {
    clearInterval(sampler);
  }
}

/** A short load whose numbers are thrown away: JIT, pools and caches warm up. */
export async function warmUp(options: LoadOptions): Promise<void> {
  await drive(options);
}
