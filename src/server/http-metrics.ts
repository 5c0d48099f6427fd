/**
 * The two per-request series of SPEC §7 — `http_requests_total{method,
 * route,status_code}` and `http_request_duration_seconds{method,route}` —
 * kept in plain counters and exposed through prom-client's registry as
 * metrics of their own (prom-client's `registerMetric` contract: `get()`
 * returns name, help, type, values, aggregator).
 *
 * Why not prom-client's Counter and Histogram: every `inc`/`observe` there
 * validates the labels and rebuilds a label hash, several microseconds on
 * every request; here a request costs two map lookups by a string key and a
 * few additions. The text on `/metrics` is the same as prom-client's (a test
 * compares them sample for sample).
 */
import type { Registry } from 'prom-client';

/** What prom-client's registry reads from a metric. */
interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface RegistryMetric {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  get(): Promise<{ name: string; help: string; type: string; values: MetricValue[]; aggregator: 'sum' }>;
  reset(): void;
}

interface RequestSeries {
  labels: { method: string; route: string; status_code: string };
  count: number;
}

interface DurationSeries {
  labels: { method: string; route: string };
  /** Observations per bucket (not cumulative); the last slot is +Inf only. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

/** Records answered requests; see the module comment. */
export interface HttpMetrics {
  record(method: string, route: string, statusCode: number, seconds: number): void;
}

/** Registers both series on `registry` and returns the recorder. */
export function registerHttpMetrics(
  registry: Registry,
  options: { buckets: readonly number[] },
): HttpMetrics {
  const bounds = [...options.buckets].sort((a, b) => a - b);
  const requests = new Map<string, RequestSeries>();
  const durations = new Map<string, DurationSeries>();

  const requestsMetric: RegistryMetric = {
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template.',
    type: 'counter',
    aggregator: 'sum',
    async get() {
      const values = [...requests.values()].map((s) => ({ labels: { ...s.labels }, value: s.count }));
      return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    },
    reset: () => requests.clear(),
  };

  const durationMetric: RegistryMetric = {
    name: 'http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by route template.',
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: MetricValue[] = [];
      for (const s of durations.values()) {
        let cumulative = 0;
        bounds.forEach((le, i) => {
          cumulative += s.buckets[i] as number;
          values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: `${this.name}_bucket` });
        });
        values.push({
          labels: { le: '+Inf', ...s.labels },
          value: s.count,
          metricName: `${this.name}_bucket`,
        });
        values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
        values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
      }
      return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    },
    reset: () => durations.clear(),
  };

  registry.registerMetric(requestsMetric as never);
  registry.registerMetric(durationMetric as never);

  return {
    record(method, route, statusCode, seconds) {
      const series = `${method} ${route}`;
      const status = `${series} ${statusCode}`;
      let counted = requests.get(status);
      if (!counted) {
        counted = { labels: { method, route, status_code: String(statusCode) }, count: 0 };
        requests.set(status, counted);
      }
      counted.count++;
      let timed = durations.get(series);
      if (!timed) {
        timed = { labels: { method, route }, buckets: new Float64Array(bounds.length + 1), sum: 0, count: 0 };
        durations.set(series, timed);
      }
      let bucket = 0;
      while (bucket < bounds.length && seconds > (bounds[bucket] as number)) bucket++;
      (timed.buckets as Float64Array)[bucket] = (timed.buckets[bucket] as number) + 1;
      timed.sum += seconds;
      timed.count++;
    },
  };
}
