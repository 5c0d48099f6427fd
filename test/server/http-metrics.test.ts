import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { registerHttpMetrics } from '../../src/server/http-metrics.ts';

const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10];

/** prom-client's own Counter and Histogram, fed the same requests: the reference. */
function reference() {
  const registry = new Registry();
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by route template.',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer HTTP requests, by route template.',
    labelNames: ['method', 'route'],
    buckets: BUCKETS,
    registers: [registry],
  });
  return {
    registry,
    record(method: string, route: string, statusCode: number, seconds: number) {
      requests.inc({ method, route, status_code: String(statusCode) });
      duration.observe({ method, route }, seconds);
    },
  };
}

function ours() {
  const registry = new Registry();
  return { registry, ...registerHttpMetrics(registry, { buckets: BUCKETS }) };
}

function samplesOf(metrics: Awaited<ReturnType<Registry['getMetricsAsJSON']>>) {
  return metrics.map(({ name, help, type, values }) => ({
    name,
    help,
    type,
    values: values.map((v) => ({
      labels: v.labels,
      value: v.value,
      metricName: (v as { metricName?: string }).metricName,
    })),
  }));
}

const request = fc.record({
  method: fc.constantFrom('GET', 'POST', 'OTHER'),
  route: fc.constantFrom('/credentials/mint', '/health', 'unmatched'),
  statusCode: fc.constantFrom(200, 401, 404, 503),
  // Bucket bounds themselves included: a value equal to `le` counts in that bucket.
  seconds: fc.oneof(fc.constantFrom(...BUCKETS, 0, 11), fc.double({ min: 0, max: 20, noNaN: true })),
});

describe('http metrics', () => {
  test('expose exactly what prom-client would, for any sequence of requests', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(request, { maxLength: 60 }), async (requests) => {
        const a = ours();
        const b = reference();
        for (const r of requests) {
          a.record(r.method, r.route, r.statusCode, r.seconds);
          b.record(r.method, r.route, r.statusCode, r.seconds);
        }
        assert.equal(await a.registry.metrics(), await b.registry.metrics());
        // The JSON form too (prom-client adds `exemplar: null` to its histogram samples; nothing else differs).
        assert.deepEqual(
          samplesOf(await a.registry.getMetricsAsJSON()),
          samplesOf(await b.registry.getMetricsAsJSON()),
        );
      }),
      { numRuns: 200 },
    );
  });

  test('count every answer and place it in the right bucket', async () => {
    const a = ours();
    a.record('POST', '/credentials/mint', 200, 0.01);
    a.record('POST', '/credentials/mint', 200, 0.3);
    a.record('POST', '/credentials/mint', 401, 20);
    const text = await a.registry.metrics();
    assert.match(
      text,
      /^http_requests_total\{method="POST",route="\/credentials\/mint",status_code="200"\} 2$/m,
    );
    assert.match(
      text,
      /^http_requests_total\{method="POST",route="\/credentials\/mint",status_code="401"\} 1$/m,
    );
    const bucket = (le: string) =>
      new RegExp(
        `^http_request_duration_seconds_bucket\\{le="${le}",method="POST",route="/credentials/mint"\\} (\\d+)$`,
        'm',
      ).exec(text)?.[1];
    assert.deepEqual(
      [bucket('0.005'), bucket('0.01'), bucket('0.25'), bucket('0.5'), bucket('10'), bucket('\\+Inf')],
      ['0', '1', '1', '2', '2', '3'],
    );
    assert.match(
      text,
      /^http_request_duration_seconds_count\{method="POST",route="\/credentials\/mint"\} 3$/m,
    );
    a.registry.resetMetrics();
    assert.doesNotMatch(await a.registry.metrics(), /route=/);
  });
});
