/**
 * The Redis replay guard against the machine's real Redis (a unique key
 * prefix per run, removed afterwards): several guards over separate
 * connections stand for several broker instances.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { InvalidTokenError, ServiceUnavailableError } from '../../../src/core/errors.ts';
import type { ReplayGuard } from '../../../src/core/mint/index.ts';
import type { Logger, VerifiedToken } from '../../../src/core/types.ts';
import { redisReplayGuard, replayKey } from '../../../src/server/state/redis.ts';
import { createSharedRedis, type SharedRedis } from '../../../src/server/state/redis-client.ts';
import {
  deadPort,
  deleteUnder,
  keysUnder,
  rawClient,
  SHARED_REDIS_URL,
  uniquePrefix,
} from '../../e2e/peers/redis.ts';

const ISS = 'https://issuer.example.test';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const signal = () => new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let serial = 0;
function token(overrides: Partial<VerifiedToken> = {}): VerifiedToken {
  serial += 1;
  return {
    iss: ISS,
    sub: 'repo:acme/app',
    idp: 'github',
    claims: {},
    tokenId: `jti-${serial}-${Date.now()}`,
    expiresAt: Math.floor(Date.now() / 1000) + 300,
    ...overrides,
  };
}

/** Logger capturing every line as JSON text. */
function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (obj: object, msg?: string) => lines.push(JSON.stringify({ ...obj, msg }));
  return { lines, debug: push, info: push, warn: push, error: push };
}

const prefix = uniquePrefix();
const raw = rawClient();
const instances: SharedRedis[] = [];
let guards: ReplayGuard[] = [];

before(async () => {
  await raw.connect();
  for (let i = 0; i < 3; i += 1) {
    const shared = createSharedRedis(
      { url: SHARED_REDIS_URL, keyPrefix: prefix, tls: false },
      captureLogger(),
    );
    assert.equal(await shared.connect(), true, 'the machine Redis at 127.0.0.1:6379 must be running');
    instances.push(shared);
  }
  guards = instances.map((shared) => redisReplayGuard(shared.client));
});

after(async () => {
  await deleteUnder(raw, prefix);
  for (const shared of instances) await shared.close();
  raw.disconnect();
});

const [a, b, c] = [0, 1, 2].map((i) => ({
  claim: (t: VerifiedToken, ttl = 60_000) => guards[i]?.claim(t, ttl, signal()),
  release: (t: VerifiedToken) => guards[i]?.release(t),
}));

describe('replay record key names', () => {
  // A rolling upgrade runs old and new instances side by side on one Redis: a
  // new name for the same token would let it mint once on each version.
  test('are those of every release so far, the same in every topology (no hash tag)', () => {
    assert.equal(
      replayKey({ iss: 'https://issuer.example', tokenId: 'jti-1' }),
      'replay:ffb55acfff1cbc1b78adb75565bb3ff6e96ee5b7830905fe7feadc7d97736da8:' +
        '5964da055ae31cf8eb7230e190a504899c6f60f07f9f1cd3cade9fbf226e8c28',
    );
  });
});

describe('Redis replay guard', () => {
  test('refuses a token claimed on another instance with 401 token_replayed', async () => {
    const t = token();
    await a?.claim(t);
    await assert.rejects(
      async () => b?.claim({ ...t }),
      (error: unknown) => error instanceof InvalidTokenError && error.reason === 'token_replayed',
    );
    await assert.rejects(async () => c?.claim({ ...t }), InvalidTokenError);
  });

  test('stores one record at replay:sha256(iss):sha256(tokenId) with the claimed TTL, holding no token data', async () => {
    const t = token({ tokenId: 'jti-visible-only-as-a-hash' });
    await a?.claim(t, 45_000);
    const key = `${prefix}replay:${sha256(ISS)}:${sha256(t.tokenId)}`;
    assert.equal(replayKey(t), key.slice(prefix.length));
    const pttl = await raw.pttl(key);
    assert.ok(pttl > 44_000 && pttl <= 45_000, `PTTL ${pttl}`);
    const value = (await raw.get(key)) ?? '';
    assert.match(value, /^[0-9a-f-]{36}$/);
    assert.ok(!value.includes(t.tokenId) && !value.includes(ISS));
  });

  test('keeps tokens of different issuers or ids apart', async () => {
    const t = token();
    await a?.claim(t);
    await b?.claim({ ...t, iss: 'https://other.example.test' });
    await c?.claim({ ...t, tokenId: `${t.tokenId}-2` });
  });

  test('lets exactly one of many concurrent claims across instances win', async () => {
    const t = token();
    const results = await Promise.allSettled(
      Array.from({ length: 30 }, (_, i) => [a, b, c][i % 3]?.claim({ ...t })),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    for (const r of results.filter((x) => x.status === 'rejected')) {
      assert.ok((r as PromiseRejectedResult).reason instanceof InvalidTokenError);
    }
  });

  test('releases a claim so the same token can be claimed again, on any instance', async () => {
    const t = token();
    await a?.claim(t);
    await a?.release(t);
    assert.deepEqual(await keysUnder(raw, `${prefix}${replayKey(t)}`), []);
    await b?.claim({ ...t });
    await assert.rejects(async () => a?.claim({ ...t }), InvalidTokenError);
  });

  test('a release never deletes a record written by another claim', async () => {
    const t = token();
    await a?.claim(t, 50);
    await sleep(120);
    const again = { ...t };
    await b?.claim(again);
    await a?.release(t);
    await assert.rejects(async () => c?.claim({ ...t }), InvalidTokenError);
    // Releasing a token this guard never claimed is a no-op too.
    await c?.release({ ...t });
    await assert.rejects(async () => c?.claim({ ...t }), InvalidTokenError);
  });

  test('does not write anything for a request whose deadline has passed', async () => {
    const t = token();
    const controller = new AbortController();
    controller.abort(new Error('deadline'));
    await assert.rejects(async () => guards[0]?.claim(t, 60_000, controller.signal), /deadline/);
    await b?.claim({ ...t });
  });
});

describe('Redis replay guard when Redis is unreachable', () => {
  test('fails closed with 503 replay_store_unavailable, counts the error and logs no token data', async () => {
    const logger = captureLogger();
    const port = await deadPort();
    const shared = createSharedRedis(
      { url: `redis://127.0.0.1:${port}`, keyPrefix: prefix, tls: false },
      logger,
      { connectTimeout: 300, commandTimeout: 300 },
    );
    const errors: string[] = [];
    const guard = redisReplayGuard(shared.client, { logger, onStoreError: (op) => errors.push(op) });
    try {
      assert.equal(await shared.connect(), false);
      const t = token({ tokenId: 'jti-must-not-be-logged' });
      const started = Date.now();
      await assert.rejects(
        async () => guard.claim(t, 60_000, signal()),
        (error: unknown) =>
          error instanceof ServiceUnavailableError &&
          error.status === 503 &&
          error.message === 'The replay store is unavailable; retry later' &&
          JSON.stringify(error.details) === '{"reason":"replay_store_unavailable"}',
      );
      assert.ok(Date.now() - started < 500, 'a dead Redis fails fast');
      assert.deepEqual(errors, ['claim']);
      const text = logger.lines.join('\n');
      assert.match(text, /fail closed/);
      assert.ok(!text.includes(t.tokenId));
      await guard.release(t);
      assert.deepEqual(errors, ['claim'], 'a claim that failed leaves nothing to release');
    } finally {
      await shared.close();
    }
  });
});
