import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { UpstreamError } from '../../../src/core/errors.ts';
import type { Logger } from '../../../src/core/types.ts';
import { type StsServer, startStsServer } from '../../../src/dev/sts-server.ts';
import { createAwsStsProvider } from '../../../src/providers/aws-sts/index.ts';
import {
  deps,
  mintInput,
  providerConfig,
  STS_AUDIENCE,
  startTestIssuer,
  type TestIssuer,
} from './fixture.ts';

process.env.AWS_PROFILE = 'voidkey-test-profile-that-does-not-exist';

const unavailable = (reason: RegExp) => (err: unknown) => {
  assert.ok(err instanceof UpstreamError, String(err));
  assert.equal(err.kind, 'unavailable');
  assert.match(err.reason, reason);
  return true;
};

describe('aws-sts provider transport failures', () => {
  let issuer: TestIssuer;
  let sts: StsServer;
  let silent: Server;
  let silentUrl: string;
  let silentRequests = 0;
  let onSilentRequest: (() => void) | undefined;
  let token: string;

  before(async () => {
    issuer = await startTestIssuer();
    sts = await startStsServer({ issuer: issuer.issuer, jwksUri: issuer.jwksUri, audience: STS_AUDIENCE });
    // Accepts requests and never answers.
    silent = createServer(() => {
      silentRequests++;
      onSilentRequest?.();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    token = await issuer.sign();
  });
  after(async () => {
    silent.closeAllConnections();
    silent.close();
    await sts.close();
    issuer.close();
  });

  test('an endpoint that refuses connections is unavailable after the retries', async () => {
    const provider = createAwsStsProvider(providerConfig('http://127.0.0.1:1'), deps({ maxRetries: 1 }));
    await assert.rejects(provider.mint(mintInput(token)), unavailable(/^STS unreachable \(network error\)$/));
  });

  test('an endpoint that never answers times out at httpTimeout and is retried', async () => {
    silentRequests = 0;
    const provider = createAwsStsProvider(
      providerConfig(silentUrl),
      deps({ httpTimeout: 150, maxRetries: 1 }),
    );
    const started = Date.now();
    await assert.rejects(provider.mint(mintInput(token)), unavailable(/^STS unreachable \(timed out\)$/));
    assert.equal(silentRequests, 2);
    assert.ok(Date.now() - started < 2000);
  });

  test('a signal that already fired stops the call before it is sent', async () => {
    const requests = sts.stats.requests;
    const provider = createAwsStsProvider(providerConfig(sts.url), deps());
    const signal = AbortSignal.abort();
    await assert.rejects(
      provider.mint(mintInput(token, {}, { signal })),
      unavailable(/^AssumeRoleWithWebIdentity aborted/),
    );
    assert.equal(sts.stats.requests, requests);
  });

  for (const [kind, controllerOf] of [['AbortController', () => new AbortController()]] as const) {
    test(`a signal firing during the call aborts it without retrying (${kind})`, async () => {
      silentRequests = 0;
      const provider = createAwsStsProvider(providerConfig(silentUrl), deps({ httpTimeout: 5000 }));
      // Abort once the request has reached the server (a fixed delay races with a loaded machine).
      const controller = controllerOf();
      let abortedAt = 0;
      onSilentRequest = () =>
        setTimeout(() => {
          abortedAt = Date.now();
          controller.abort();
        }, 20);
      let aborted = 0;
      try {
        await assert.rejects(
          provider.mint(mintInput(token, {}, { signal: controller.signal })),
          unavailable(/^AssumeRoleWithWebIdentity aborted/),
        );
        aborted = Date.now();
      } finally {
        onSilentRequest = undefined;
      }
      assert.ok(
        abortedAt > 0 && aborted - abortedAt < 1000,
        'the abort ends the call well before httpTimeout',
      );
      // No retry is sent after an abort.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(silentRequests, 1);
    });

    test(`an abort reaches only the call it belongs to (${kind})`, async () => {
      // Calls share one cached middleware stack; each call's signal must reach its own request only.
      silentRequests = 0;
      const provider = createAwsStsProvider(
        providerConfig(silentUrl),
        deps({ httpTimeout: 2000, maxRetries: 0 }),
      );
      const controller = controllerOf();
      const started = Date.now();
      const settled = (p: Promise<unknown>) =>
        p.then(
          () => assert.fail('expected a failure'),
          (err: unknown) => ({ err: err as UpstreamError, after: Date.now() - started }),
        );
      // The call with a signal is sent first; the other one only once that request is in flight, so a
      // signal left behind for "the next request" would reach it. The abort comes once both are in flight.
      let other: ReturnType<typeof settled> | undefined;
      onSilentRequest = () => {
        if (silentRequests === 1) other = settled(provider.mint(mintInput(token)));
        if (silentRequests === 2) setTimeout(() => controller.abort(), 20);
      };
      try {
        const aborted = await settled(provider.mint(mintInput(token, {}, { signal: controller.signal })));
        const unaborted = await other;
        assert.ok(unaborted, 'the second call was sent');
        assert.match(aborted.err.reason, /^AssumeRoleWithWebIdentity aborted/);
        assert.ok(aborted.after < 1000, `the aborted call ended after ${aborted.after} ms, not at once`);
        assert.equal(unaborted.err.reason, 'STS unreachable (timed out)');
        assert.ok(
          unaborted.after >= 1900,
          `the other call ended after ${unaborted.after} ms, before its timeout`,
        );
      } finally {
        onSilentRequest = undefined;
      }
    });

    test(`a signal firing between retries ends the wait (${kind})`, async () => {
      const provider = createAwsStsProvider(
        providerConfig(sts.url),
        deps({ retryDelay: 5000, maxRetries: 2 }),
      );
      sts.failNext('Throttling', 3);
      const controller = controllerOf();
      const timer = setTimeout(() => controller.abort(), 150);
      const started = Date.now();
      try {
        await assert.rejects(provider.mint(mintInput(token, {}, { signal: controller.signal })), (err) => {
          return err instanceof UpstreamError && err.kind === 'unavailable';
        });
      } finally {
        clearTimeout(timer);
      }
      assert.ok(Date.now() - started < 1500, 'the abort ends the 5 s wait between retries');
    });
  }

  test('neither the broker token nor minted secrets reach an error or a log line', async () => {
    const lines: string[] = [];
    const push = (obj: object, msg?: string) => lines.push(JSON.stringify({ ...obj, msg }));
    const logger: Logger = { debug: push, info: push, warn: push, error: push };
    const provider = createAwsStsProvider(providerConfig(sts.url), deps({ logger }));
    const wrong = await issuer.sign({ aud: 'elsewhere' });
    const err = await provider.mint(mintInput(wrong)).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e as UpstreamError,
    );
    sts.failNext('Throttling');
    const out = await provider.mint(mintInput(token));
    const text = [err.message, JSON.stringify(err.cause), ...lines].join('\n');
    assert.ok(lines.length >= 2);
    for (const secret of [wrong, token, out.fields.SecretAccessKey, out.fields.SessionToken]) {
      assert.ok(!text.includes(secret ?? '<none>'));
    }
  });
});
