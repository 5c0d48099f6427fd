import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { plainCounter, plainHistogram } from '../../src/server/plain-metrics.ts';

const BUCKETS = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10];
const LABELS = ['provider', 'operation', 'result'] as const;

/** The same instruments twice: prom-client's (the reference) and ours, on registries of their own. */
function pair() {
  const theirs = new Registry();
  const ours = new Registry();
  const counters = {
    theirs: new Counter({ name: 'calls_total', help: 'Calls.', labelNames: LABELS, registers: [theirs] }),
    ours: plainCounter(ours, { name: 'calls_total', help: 'Calls.', labelNames: LABELS }),
  };
  const plain = {
    theirs: new Counter({ name: 'failures_total', help: 'Failures.', registers: [theirs] }),
    ours: plainCounter(ours, { name: 'failures_total', help: 'Failures.', labelNames: [] }),
  };
  const histograms = {
    theirs: new Histogram({
      name: 'call_seconds',
      help: 'Call time.',
      labelNames: LABELS,
      buckets: BUCKETS,
      registers: [theirs],
    }),
    ours: plainHistogram(ours, {
      name: 'call_seconds',
      help: 'Call time.',
      labelNames: LABELS,
      buckets: BUCKETS,
    }),
  };
  return { theirs, ours, counters, plain, histograms };
}

const labelValues = fc.tuple(
  fc.constantFrom('aws', 'gcp', 'a "quoted"\\name'),
  fc.constantFrom('AssumeRole', 'AssumeRoleWithWebIdentity'),
  fc.constantFrom('success', 'failure'),
);
const event = fc.record({
  values: labelValues,
  by: fc.constantFrom(0, 1, 2, 0.5),
  seconds: fc.oneof(fc.constantFrom(...BUCKETS, 0, 11), fc.double({ min: 0, max: 20, noNaN: true })),
});

describe('plain metrics', () => {
  test('expose exactly what prom-client would: labelled and label-less counters, histograms', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 40 }), async (events) => {
        const p = pair();
        p.plain.theirs.inc(0);
        p.plain.ours.inc([], 0);
        for (const { values, by, seconds } of events) {
          const [provider, operation, result] = values;
          p.counters.theirs.inc({ provider, operation, result }, by);
          p.counters.ours.inc(values, by);
          p.histograms.theirs.observe({ provider, operation, result }, seconds);
          p.histograms.ours.observe(values, seconds);
          p.plain.theirs.inc(by);
          p.plain.ours.inc([], by);
        }
        assert.equal(await p.ours.metrics(), await p.theirs.metrics());
      }),
      { numRuns: 150 },
    );
  });

  test('keep series apart whose label values only differ in where they split', async () => {
    const registry = new Registry();
    const counter = plainCounter(registry, { name: 'pairs_total', help: 'Pairs.', labelNames: ['a', 'b'] });
    counter.inc(['x y', 'z']);
    counter.inc(['x', 'y z']);
    counter.inc(['x', 'y z']);
    const text = await registry.metrics();
    assert.match(text, /^pairs_total\{a="x y",b="z"\} 1$/m);
    assert.match(text, /^pairs_total\{a="x",b="y z"\} 2$/m);
  });

  test('are emptied by the registry reset', async () => {
    const p = pair();
    p.counters.ours.inc(['aws', 'AssumeRole', 'success']);
    p.histograms.ours.observe(['aws', 'AssumeRole', 'success'], 0.2);
    p.ours.resetMetrics();
    assert.doesNotMatch(await p.ours.metrics(), /provider=/);
  });
});
