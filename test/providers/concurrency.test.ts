/**
 * The per-provider concurrency cap. Checked by disabling: with
 * `limitConcurrency` removed from createProviders, the registry test below
 * sees all 100 upstream calls in flight at once and fails.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Config } from '../../src/core/config/schema.ts';
import { UpstreamError } from '../../src/core/errors.ts';
import type { AccessProvider, HttpClient, MintInput, MintOutput } from '../../src/core/types.ts';
import { limitConcurrency, PROVIDER_CONCURRENCY, PROVIDER_QUEUE } from '../../src/providers/concurrency.ts';
import { createProviders } from '../../src/providers/index.ts';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A provider whose mints take `ms` and which records how many ran at once. */
function slowProvider(ms: number, fail = false) {
  const stats = { inFlight: 0, maxInFlight: 0, calls: 0 };
  const provider: AccessProvider = {
    name: 'slow',
    type: 'aws-sts',
    audience: 'aud',
    fields: ['AccessKeyId'],
    defaultOutputs: { AWS_ACCESS_KEY_ID: 'AccessKeyId' },
    durations: { min: 900, default: 3600, max: 43_200 },
    async mint(): Promise<MintOutput> {
      stats.calls++;
      stats.inFlight++;
      stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
      try {
        await sleep(ms);
        if (fail) throw new UpstreamError('refused', 'denied');
        return { fields: { AccessKeyId: 'AKIA' }, expiresAt: new Date(0), audit: {} };
      } finally {
        stats.inFlight--;
      }
    },
  };
  return { provider, stats };
}

function input(signal: AbortSignal = new AbortController().signal): MintInput {
  return {
    keyName: 'K',
    key: { provider: 'slow' } as MintInput['key'],
    durationSeconds: 900,
    brokerToken: 'b',
    subject: 's',
    issuer: 'https://issuer.example',
    signal,
  };
}

/** 'ok', or the reason of an UpstreamError 'unavailable'; anything else fails the test. */
async function outcome(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    assert.ok(err instanceof UpstreamError && err.kind === 'unavailable', String(err));
    return err.reason;
  }
}

describe('provider concurrency cap', () => {
  test('300 concurrent mints against a slow provider never exceed 128 in flight, and all complete', async () => {
    const { provider, stats } = slowProvider(20);
    const limited = limitConcurrency(provider);
    const results = await Promise.all(Array.from({ length: 300 }, () => outcome(limited.mint(input()))));
    assert.equal(PROVIDER_CONCURRENCY, 128);
    assert.equal(stats.maxInFlight, PROVIDER_CONCURRENCY);
    assert.deepEqual(new Set(results), new Set(['ok']));
    assert.equal(stats.calls, 300);
  });

  test('refuses at once, with a 503-kind error, what does not fit in the queue', async () => {
    const { provider, stats } = slowProvider(50);
    const limited = limitConcurrency(provider, { limit: 2, queue: 3 });
    const started = Date.now();
    const pending = Array.from({ length: 10 }, () => outcome(limited.mint(input())));
    const refusedFast = await Promise.race([pending[9], sleep(40).then(() => 'slow')]);
    assert.equal(refusedFast, 'provider concurrency limit reached');
    assert.ok(Date.now() - started < 40);
    const results = await Promise.all(pending);
    assert.deepEqual(results.slice(0, 5), ['ok', 'ok', 'ok', 'ok', 'ok']);
    assert.deepEqual(new Set(results.slice(5)), new Set(['provider concurrency limit reached']));
    assert.equal(stats.maxInFlight, 2);
    assert.equal(stats.calls, 5);
  });

  test('a waiter whose deadline passes leaves the queue, and its place is not lost', async () => {
    const { provider, stats } = slowProvider(60);
    const limited = limitConcurrency(provider, { limit: 1, queue: 5 });
    const deadline = new AbortController();
    const first = outcome(limited.mint(input()));
    const abandoned = outcome(limited.mint(input(deadline.signal)));
    const third = outcome(limited.mint(input()));
    await sleep(10);
    deadline.abort();
    assert.equal(await abandoned, 'request deadline passed while waiting for a provider slot');
    assert.deepEqual(await Promise.all([first, third]), ['ok', 'ok']);
    assert.equal(stats.calls, 2);
    assert.equal(await outcome(limited.mint(input())), 'ok', 'the slot came back after the abort');
  });

  test('a mint whose deadline has already passed never calls the provider', async () => {
    const { provider, stats } = slowProvider(1);
    const expired = AbortSignal.abort();
    assert.equal(
      await outcome(limitConcurrency(provider).mint(input(expired))),
      'request deadline passed before the provider call',
    );
    assert.equal(stats.calls, 0);
  });

  test('a failing mint frees its slot and its error passes through unchanged', async () => {
    const { provider, stats } = slowProvider(5, true);
    const limited = limitConcurrency(provider, { limit: 1, queue: 10 });
    const errors = await Promise.allSettled(Array.from({ length: 5 }, () => limited.mint(input())));
    for (const result of errors) {
      assert.equal(result.status, 'rejected');
      assert.ok(result.reason instanceof UpstreamError && result.reason.kind === 'refused');
    }
    assert.equal(stats.calls, 5);
    assert.equal(stats.inFlight, 0);
  });

  test('keeps the provider’s identity and metadata, and refuses unusable limits', () => {
    const { provider } = slowProvider(1);
    const limited = limitConcurrency(provider);
    for (const field of ['name', 'type', 'audience', 'fields', 'defaultOutputs', 'durations'] as const) {
      assert.equal(limited[field], provider[field]);
    }
    assert.equal(PROVIDER_QUEUE, 256);
    assert.throws(() => limitConcurrency(provider, { limit: 0 }), TypeError);
    assert.throws(() => limitConcurrency(provider, { queue: -1 }), TypeError);
  });

  test('is applied by createProviders: 300 concurrent mints reach the upstream at most 128 at a time', async () => {
    const seen = { inFlight: 0, max: 0 };
    const http: HttpClient = async () => {
      seen.inFlight++;
      seen.max = Math.max(seen.max, seen.inFlight);
      await sleep(20);
      seen.inFlight--;
      const body = JSON.stringify({ access_token: 'at', expires_in: 3600, token_type: 'Bearer' });
      return { status: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(body) };
    };
    const config = {
      brokerIdp: { name: 'idp', issuer: 'https://idp.example', clientId: 'b', audience: 'aud' },
      accessProviders: [{ name: 'az', type: 'azure', tenantId: 't', clientId: 'c' }],
      broker: { httpTimeout: 2000, maxRetries: 0, retryDelay: 1 },
    } as unknown as Config;
    const azure = createProviders(config, { http }).get('az') as AccessProvider;
    const mint = () =>
      azure.mint({
        ...input(),
        key: { provider: 'az', scope: 'https://management.azure.com/.default' } as MintInput['key'],
      });
    const results = await Promise.all(Array.from({ length: 300 }, () => outcome(mint())));
    assert.deepEqual(new Set(results), new Set(['ok']));
    assert.equal(seen.max, PROVIDER_CONCURRENCY);
  });
});
