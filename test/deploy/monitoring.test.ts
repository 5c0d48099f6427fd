import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { BROKER_METRICS, DEFAULT_METRICS, DEPLOY, knownMetricNames, metricNamesIn } from './kit.ts';

type Rule = {
  alert: string;
  expr: string;
  for?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
};
const alerts = parse(readFileSync(join(DEPLOY, 'prometheus', 'alerts.yml'), 'utf8')) as {
  groups: Array<{ name: string; rules: Rule[] }>;
};
const rules = alerts.groups.flatMap((g) => g.rules);
type Panel = { title: string; type: string; targets?: Array<{ expr: string }> };
const dashboard = JSON.parse(readFileSync(join(DEPLOY, 'grafana', 'voidkey-dashboard.json'), 'utf8')) as {
  uid: string;
  title: string;
  panels: Panel[];
};
const dashboardExprs = dashboard.panels.flatMap((p) =>
  (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })),
);

const labelsOf = (metric: string): string[] => {
  const base = metric.replace(/_(bucket|sum|count)$/, '');
  const own = (BROKER_METRICS as Record<string, readonly string[]>)[base] ?? [];
  return [...own, 'job', 'instance', ...(metric.endsWith('_bucket') ? ['le'] : [])];
};

/** Label names an expression matches or groups on that none of its metrics carry. */
function unknownLabels(expr: string): string[] {
  const metrics = metricNamesIn(expr);
  const allowed = new Set(metrics.flatMap(labelsOf));
  const used: string[] = [];
  for (const m of expr.matchAll(/\{([^}]*)\}/g)) {
    for (const l of (m[1] as string).matchAll(/([A-Za-z_]\w*)\s*(=~|!~|!=|=)/g)) used.push(l[1] as string);
  }
  for (const m of expr.matchAll(/\b(?:by|without)\s*\(([^)]*)\)/g)) {
    used.push(...(m[1] as string).split(',').map((s) => s.trim()));
  }
  return used.filter((l) => l && !allowed.has(l));
}

const balanced = (expr: string) => {
  let depth = 0;
  for (const ch of expr) {
    depth += ch === '(' ? 1 : ch === ')' ? -1 : 0;
    if (depth < 0) return false;
  }
  return depth === 0;
};

describe('metric name extraction', () => {
  test('finds metric names and ignores functions, labels, ranges and numbers', () => {
    const expr =
      'histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{job="x", route!="a_b"}[5m]))) > 2 and up == 1';
    assert.deepEqual(metricNamesIn(expr), ['http_request_duration_seconds_bucket', 'up']);
    assert.deepEqual(metricNamesIn('sum(rate(made_up_metric_total[$__rate_interval])) / 1e-9'), [
      'made_up_metric_total',
    ]);
  });
});

describe('deploy/prometheus/alerts.yml', () => {
  test('gives every rule an expression, a severity and a summary', () => {
    assert.ok(rules.length >= 7);
    for (const r of rules) {
      assert.ok(r.alert && r.expr, JSON.stringify(r));
      assert.ok(['critical', 'warning', 'info'].includes(r.labels.severity), r.alert);
      assert.ok(r.annotations.summary, r.alert);
      assert.ok(balanced(r.expr), `${r.alert}: unbalanced parentheses`);
    }
    assert.equal(new Set(rules.map((r) => r.alert)).size, rules.length);
  });

  test('uses only metric names the broker exposes, with their own labels', () => {
    const known = knownMetricNames();
    for (const r of rules) {
      const names = metricNamesIn(r.expr);
      assert.ok(names.length > 0, r.alert);
      for (const n of names) assert.ok(known.has(n), `${r.alert}: unknown metric ${n}`);
      assert.deepEqual(unknownLabels(r.expr), [], r.alert);
    }
  });

  test('covers broker down, 5xx rate, p95 latency, mint failures, JWKS, broker token and audit failures', () => {
    const find = (re: RegExp) => rules.filter((r) => re.test(r.expr.replace(/\s+/g, ' ')));
    assert.ok(find(/^up\{job="voidkey"\} == 0$/).length === 1, 'broker down');
    assert.ok(find(/http_requests_total\{[^}]*status_code=~"5\.\."/).length === 1, '5xx error rate');
    assert.ok(
      find(/histogram_quantile\(0\.95, .*http_request_duration_seconds_bucket/).length === 1,
      'p95 latency',
    );
    assert.ok(
      find(/sum by \(provider\) .*credential_minting_total\{[^}]*status="failure"/).length === 1,
      'mints',
    );
    for (const m of [
      'voidkey_jwks_fetches_total',
      'voidkey_broker_token_refreshes_total',
      'voidkey_audit_write_failures_total',
    ]) {
      assert.ok(find(new RegExp(m)).length >= 1, m);
    }
  });
});

describe('deploy/grafana/voidkey-dashboard.json', () => {
  test('is a dashboard with a stable uid and panels with queries', () => {
    assert.equal(dashboard.uid, 'voidkey-broker');
    assert.ok(dashboardExprs.length >= 15);
    for (const { title, expr } of dashboardExprs)
      assert.ok(balanced(expr), `${title}: unbalanced parentheses`);
  });

  test('uses only metric names the broker exposes, with their own labels', () => {
    const known = knownMetricNames();
    for (const { title, expr } of dashboardExprs) {
      for (const n of metricNamesIn(expr)) assert.ok(known.has(n), `${title}: unknown metric ${n}`);
      assert.deepEqual(unknownLabels(expr), [], title);
    }
  });

  test('charts every broker metric and the process metrics', () => {
    const used = new Set(
      dashboardExprs.flatMap(({ expr }) =>
        metricNamesIn(expr).map((n) => n.replace(/_(bucket|sum|count)$/, '')),
      ),
    );
    for (const name of [...Object.keys(BROKER_METRICS), ...DEFAULT_METRICS]) {
      assert.ok(used.has(name), `no panel uses ${name}`);
    }
  });
});
