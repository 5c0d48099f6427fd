/**
 * Counters and histograms kept in plain maps and exposed through
 * prom-client's registry as metrics of their own (prom-client's
 * `registerMetric` contract: `get()` returns name, help, type, values,
 * aggregator; `reset()` clears).
 *
 * Why not prom-client's Counter and Histogram for the series a request
 * touches: every `inc`/`observe` there validates the labels and rebuilds a
 * label hash, several microseconds each, and a mint makes one call per
 * request plus two per key. Here a call is one Map lookup per label value.
 * The text on `/metrics` is prom-client's (tests compare them sample for
 * sample).
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

/** Name, help and label names of a metric. */
export interface PlainMetricOptions {
  name: string;
  help: string;
  labelNames: readonly string[];
}

/** A counter; `values` are the label values in `labelNames` order. */
export interface PlainCounter {
  inc(values: readonly string[], by?: number): void;
}

/** A histogram; `values` are the label values in `labelNames` order. */
export interface PlainHistogram {
  observe(values: readonly string[], value: number): void;
}

/** Series by label values (a Map per label), and all of them in the order they were created. */
function seriesIndex<S>(labelNames: readonly string[], make: (labels: Record<string, string>) => S) {
  const root = new Map<string, unknown>();
  let all: S[] = [];
  const last = labelNames.length - 1;
  return {
    get(values: readonly string[]): S {
      let level = root;
      for (let i = 0; i < last; i++) {
        const value = values[i] as string;
        let next = level.get(value) as Map<string, unknown> | undefined;
        if (!next) {
          next = new Map();
          level.set(value, next);
        }
        level = next;
      }
      const leaf = last < 0 ? '' : (values[last] as string);
      let series = level.get(leaf) as S | undefined;
      if (series === undefined) {
        const labels: Record<string, string> = {};
        labelNames.forEach((name, i) => {
          labels[name] = values[i] as string;
        });
        series = make(labels);
        level.set(leaf, series);
        all.push(series);
      }
      return series;
    },
    all: (): readonly S[] => all,
    clear() {
      root.clear();
      all = [];
    },
  };
}

/** Registers a counter on `registry`. */
export function plainCounter(registry: Registry, options: PlainMetricOptions): PlainCounter {
  const series = seriesIndex(options.labelNames, (labels) => ({ labels, value: 0 }));
  const metric: RegistryMetric = {
    name: options.name,
    help: options.help,
    type: 'counter',
    aggregator: 'sum',
    async get() {
      const values = series.all().map((s) => ({ labels: { ...s.labels }, value: s.value }));
      return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    },
    reset: () => series.clear(),
  };
  registry.registerMetric(metric as never);
  return {
    inc(values, by = 1) {
      series.get(values).value += by;
    },
  };
}

/** Registers a histogram with upper bounds `buckets` (the `+Inf` bucket is added) on `registry`. */
export function plainHistogram(
  registry: Registry,
  options: PlainMetricOptions & { buckets: readonly number[] },
): PlainHistogram {
  const bounds = [...options.buckets].sort((a, b) => a - b);
  // Observations per bucket (not cumulative); the last slot is +Inf only.
  const series = seriesIndex(options.labelNames, (labels) => ({
    labels,
    buckets: new Float64Array(bounds.length + 1),
    sum: 0,
    count: 0,
  }));
  const metric: RegistryMetric = {
    name: options.name,
    help: options.help,
    type: 'histogram',
    aggregator: 'sum',
    async get() {
      const values: MetricValue[] = [];
      const bucket = `${this.name}_bucket`;
      for (const s of series.all()) {
        let cumulative = 0;
        bounds.forEach((le, i) => {
          cumulative += s.buckets[i] as number;
          values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: bucket });
        });
        values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
        values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
        values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
      }
      return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
    },
    reset: () => series.clear(),
  };
  registry.registerMetric(metric as never);
  return {
    observe(values, value) {
      const s = series.get(values);
      let i = 0;
      while (i < bounds.length && value > (bounds[i] as number)) i++;
      s.buckets[i] = (s.buckets[i] as number) + 1;
      s.sum += value;
      s.count++;
    },
  };
}
