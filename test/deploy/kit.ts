/**
 * Shared helpers and facts for the deployment-kit tests: where the kit lives,
 * the metric names the broker exposes (the kit's alerts and dashboard may use
 * only these), and loaders for the manifests and the Helm chart.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { GoTemplates } from './gotemplate.ts';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY = join(REPO, 'deploy');
export const CHART = join(DEPLOY, 'helm', 'voidkey');

/**
 * Every series the broker's GET /metrics exposes that the kit relies on,
 * with its labels. Histograms are listed by base name (their `_bucket`,
 * `_sum` and `_count` series follow). Check this list against a real
 * /metrics answer: a name here that the broker does not expose is an alert
 * that can never fire.
 */
export const BROKER_METRICS = {
  http_requests_total: ['method', 'route', 'status_code'],
  http_request_duration_seconds: ['method', 'route'],
  credential_minting_total: ['provider', 'key', 'status'],
  voidkey_token_verifications_total: ['idp', 'result', 'reason'],
  voidkey_jwks_fetches_total: ['issuer', 'result'],
  voidkey_provider_call_duration_seconds: ['provider', 'operation', 'result'],
  voidkey_broker_token_refreshes_total: ['audience', 'result'],
  voidkey_replay_store_errors_total: ['operation'],
  voidkey_rate_limit_store_errors_total: [],
  voidkey_audit_write_failures_total: [],
  voidkey_config_reloads_total: ['result'],
  voidkey_build_info: ['version'],
} as const satisfies Record<string, readonly string[]>;

/** The histograms among BROKER_METRICS. */
export const BROKER_HISTOGRAMS = ['http_request_duration_seconds', 'voidkey_provider_call_duration_seconds'];

/** prom-client default metrics the kit uses, and Prometheus' own `up`. */
export const DEFAULT_METRICS = [
  'process_resident_memory_bytes',
  'process_cpu_seconds_total',
  'nodejs_eventloop_lag_seconds',
  'up',
] as const;

/** Every metric name the kit may reference, histogram series included. */
export function knownMetricNames(): Set<string> {
  const names = new Set<string>([...Object.keys(BROKER_METRICS), ...DEFAULT_METRICS]);
  for (const h of BROKER_HISTOGRAMS) for (const s of ['_bucket', '_sum', '_count']) names.add(h + s);
  return names;
}

const PROMQL_WORDS = new Set(
  (
    'sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring ' +
    'group_left group_right bool and or unless offset rate irate increase delta idelta deriv ' +
    'histogram_quantile absent absent_over_time clamp_min clamp_max abs ceil floor round vector scalar time ' +
    'label_replace label_join sort sort_desc avg_over_time max_over_time min_over_time sum_over_time ' +
    'count_over_time changes resets predict_linear timestamp le inf nan'
  ).split(' '),
);

/** Metric names a PromQL expression selects (label matchers, ranges, grouping and strings removed). */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const words = stripped.match(/[A-Za-z_:][A-Za-z0-9_:]*/g) ?? [];
  return [...new Set(words.filter((w) => !PROMQL_WORDS.has(w.toLowerCase())))];
}

// biome-ignore lint/suspicious/noExplicitAny: manifests are walked structurally in tests
type Loose = any;
/** A Kubernetes object, loosely typed for structural assertions. */
export type K8s = {
  apiVersion: string;
  kind: string;
  metadata: { name: string } & Record<string, Loose>;
} & Record<string, Loose>;

/** Parses a multi-document YAML string; any document error throws. */
export function parseDocs(text: string, origin: string): K8s[] {
  const docs = parseAllDocuments(text);
  const out: K8s[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${origin}: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8s | null;
    if (value !== null) out.push(value);
  }
  return out;
}

/** All objects of deploy/kubernetes/*.yaml except the kustomization. */
export function loadManifests(): Map<string, K8s[]> {
  const dir = join(DEPLOY, 'kubernetes');
  const byFile = new Map<string, K8s[]>();
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.yaml') && n !== 'kustomization.yaml')) {
    byFile.set(f, parseDocs(readFileSync(join(dir, f), 'utf8'), f));
  }
  return byFile;
}

/** Helm's value merge: maps merge deeply, anything else replaces, null deletes. */
export function mergeValues(base: unknown, over: unknown): unknown {
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else out[k] = mergeValues(base[k], v);
  }
  return out;
}
const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Renders the chart like `helm template RELEASE deploy/helm/voidkey -n NS -f overrides`. */
export function renderChart(
  overrides: Record<string, unknown> = {},
  release = { Name: 'voidkey', Namespace: 'voidkey' },
): { docs: K8s[]; byTemplate: Map<string, string>; notes: string } {
  const chartMeta = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Record<string, string>;
  const values = mergeValues(parse(readFileSync(join(CHART, 'values.yaml'), 'utf8')), overrides);
  const templates = new GoTemplates();
  const dir = join(CHART, 'templates');
  const names = readdirSync(dir).sort((a, b) => Number(!a.startsWith('_')) - Number(!b.startsWith('_')));
  for (const n of names) templates.add(n, readFileSync(join(dir, n), 'utf8'));
  const context = {
    Values: values,
    Release: { ...release, Service: 'Helm' },
    Chart: { Name: chartMeta.name, Version: chartMeta.version, AppVersion: chartMeta.appVersion },
    Files: { Get: (path: string) => readFileSync(join(CHART, path), 'utf8') },
  };
  const byTemplate = new Map<string, string>();
  const docs: K8s[] = [];
  for (const n of names.filter((x) => x.endsWith('.yaml'))) {
    const text = templates.render(n, context);
    byTemplate.set(n, text);
    docs.push(...parseDocs(text, `templates/${n}`));
  }
  return { docs, byTemplate, notes: templates.render('NOTES.txt', context) };
}

/** The one object of a kind (and optional name) among docs; throws when not exactly one. */
export function one(docs: K8s[], kind: string, name?: string): K8s {
  const found = docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));
  if (found.length !== 1)
    throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0] as K8s;
}

/** Whether a matchLabels selector selects a set of labels. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/**
 * Whether an Ingress sends a request path to a backend, by the Ingress
 * matching rules: Exact compares whole paths, Prefix compares `/`-separated
 * elements; ImplementationSpecific is taken as a plain string prefix (what
 * ingress-nginx does), the widest reading.
 */
export function ingressRoutes(ingress: K8s, path: string): boolean {
  const elements = (p: string) => p.split('/').filter((e) => e !== '');
  for (const rule of ingress.spec.rules ?? []) {
    for (const p of rule.http?.paths ?? []) {
      const want = String(p.path ?? '/');
      if (p.pathType === 'Exact' && want === path) return true;
      if (p.pathType === 'Prefix') {
        const [w, got] = [elements(want), elements(path)];
        if (w.length <= got.length && w.every((e, i) => e === got[i])) return true;
      }
      if (p.pathType === 'ImplementationSpecific' && path.startsWith(want)) return true;
    }
  }
  if (ingress.spec.defaultBackend) return true;
  return false;
}

/** Paths the public edge must route (the API and the probes) and paths it must not. */
export const PUBLIC_PATHS = [
  '/credentials/mint',
  '/credentials/keys',
  '/credentials/idp-providers',
  '/health',
  '/health/live',
  '/health/ready',
];
export const PRIVATE_PATHS = ['/', '/metrics', '/metrics/', '/index.html', '/healthz', '/credentialsx'];

/** The public paths an Ingress fails to route, and the private ones it routes. */
export function ingressExposure(ingress: K8s): { missing: string[]; exposed: string[] } {
  return {
    missing: PUBLIC_PATHS.filter((p) => !ingressRoutes(ingress, p)),
    exposed: PRIVATE_PATHS.filter((p) => ingressRoutes(ingress, p)),
  };
}
