import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ServiceUnavailableError } from '../../../src/core/errors.ts';
import {
  claims,
  frozenClock,
  idpConfig,
  type LocalIssuer,
  makeKey,
  makeVerifier,
  recorder,
  rejectsUnavailable,
  rejectsWith,
  sign,
  startIssuer,
  T0_SECONDS,
  type TestKey,
} from './helpers.ts';

// Cache times of makeVerifier: ttl 600 s, staleIfError 3600 s, cooldown 30 s.
describe('issuer key sets: refetch, cool-down, stale-if-error', () => {
  let key: TestKey;
  let rotated: TestKey;
  let stranger: TestKey;
  let issuer: LocalIssuer;
  let longLived: string;

  before(async () => {
    key = await makeKey('ES256', 'k1');
    rotated = await makeKey('ES256', 'k2');
    stranger = await makeKey('ES256', 'unknown');
    issuer = await startIssuer();
    longLived = await sign(key, claims(issuer.issuer, { iat: T0_SECONDS, exp: T0_SECONDS + 80_000 }));
  });
  after(() => issuer.close());

  /** Fresh issuer state and counters for each test. */
  function reset(): void {
    issuer.jwks = { keys: [key.publicJwk] };
    issuer.requests.length = 0;
    issuer.jwksDelayMs = 0;
    delete issuer.discoveryIssuer;
  }

  test('an unknown kid triggers exactly one refetch per cool-down', async () => {
    reset();
    const clock = frozenClock();
    const verifier = makeVerifier([idpConfig(issuer.issuer)], { now: clock.now });
    await verifier.verify(longLived);
    assert.equal(issuer.count('/jwks'), 1);
    const unknown = await sign(stranger, claims(issuer.issuer, { exp: T0_SECONDS + 80_000 }));
    await rejectsWith(verifier.verify(unknown), 'signature_invalid');
    assert.equal(issuer.count('/jwks'), 1, 'no refetch within the cool-down of the first fetch');
    clock.advance(31);
    await rejectsWith(verifier.verify(unknown), 'signature_invalid');
    await rejectsWith(verifier.verify(unknown), 'signature_invalid');
    await Promise.all([1, 2, 3].map(() => rejectsWith(verifier.verify(unknown), 'signature_invalid')));
    assert.equal(issuer.count('/jwks'), 2);
    clock.advance(31);
    await rejectsWith(verifier.verify(unknown), 'signature_invalid');
    assert.equal(issuer.count('/jwks'), 3);
  });

  test('a rotated key is picked up by the unknown-kid refetch', async () => {
    reset();
    const clock = frozenClock();
    const verifier = makeVerifier([idpConfig(issuer.issuer)], { now: clock.now });
    await verifier.verify(longLived);
    issuer.jwks = { keys: [key.publicJwk, rotated.publicJwk] };
    clock.advance(31);
    const token = await sign(rotated, claims(issuer.issuer, { iat: T0_SECONDS, exp: T0_SECONDS + 600 }));
    assert.equal((await verifier.verify(token)).sub, 'repo:org/app:ref:refs/heads/main');
    assert.equal(issuer.count('/jwks'), 2);
  });

  test('an outage after a good fetch keeps the last good set for staleIfError, then answers 503', async () => {
    reset();
    const clock = frozenClock();
    const rec = recorder();
    const verifier = makeVerifier([idpConfig(issuer.issuer)], { now: clock.now, rec });
    await verifier.verify(longLived);
    assert.deepEqual(verifier.keySetHealth(), { 'test-idp': { status: 'healthy' } });
    issuer.jwks = { status: 500, body: 'down' };
    clock.advance(601);
    await verifier.verify(longLived);
    assert.equal(issuer.count('/jwks'), 2);
    assert.deepEqual(
      rec.fetches.map((f) => f.split(' ')[1]),
      ['success', 'failure', 'stale'],
    );
    assert.equal(verifier.keySetHealth()['test-idp']?.status, 'degraded');
    await verifier.verify(longLived);
    assert.equal(issuer.count('/jwks'), 2, 'failed fetches are cooled down too');
    clock.advance(2900);
    await verifier.verify(longLived);
    assert.equal(issuer.count('/jwks'), 3);
    clock.advance(3600 - 601 - 2900 + 1);
    await rejectsUnavailable(verifier.verify(longLived));
    assert.deepEqual(verifier.keySetHealth()['test-idp'], {
      status: 'unhealthy',
      error: 'JWKS answered HTTP 500',
    });
    assert.ok(!rec.logs.join('\n').includes('down'), 'the upstream body never reaches the logs');
  });

  test('keys come back after an outage once the cool-down has passed', async () => {
    reset();
    const clock = frozenClock();
    const verifier = makeVerifier([idpConfig(issuer.issuer)], { now: clock.now });
    issuer.jwks = { status: 503 };
    await rejectsUnavailable(verifier.verify(longLived));
    issuer.jwks = { keys: [key.publicJwk] };
    await rejectsUnavailable(verifier.verify(longLived));
    assert.equal(issuer.count('/jwks'), 1);
    clock.advance(30);
    await verifier.verify(longLived);
    assert.equal(issuer.count('/jwks'), 2);
    assert.deepEqual(verifier.keySetHealth(), { 'test-idp': { status: 'healthy' } });
  });

  test('a first fetch that fails is a 503 with Retry-After, not a 401', async () => {
    reset();
    issuer.jwks = { status: 404 };
    const verifier = makeVerifier([idpConfig(issuer.issuer)]);
    await assert.rejects(verifier.verify(longLived), (err: unknown) => {
      assert.ok(err instanceof ServiceUnavailableError);
      assert.equal(err.status, 503);
      assert.equal(err.retryAfter, 30);
      assert.deepEqual(err.details, { reason: 'keys_unavailable' });
      return true;
    });
  });

  for (const [name, answer] of [
    ['a body that is not JSON', { status: 200, body: '<html>' }],
    ['JSON without a keys array', { status: 200, body: '{"keys":{}}' }],
    ['duplicate member names', { status: 200, body: '{"keys":[],"keys":[]}' }],
    ['a body over 512 KiB', { status: 200, body: `{"keys":[],"pad":"${'x'.repeat(600 * 1024)}"}` }],
  ] as const) {
    test(`a JWKS answer with ${name} is a failed fetch`, async () => {
      reset();
      issuer.jwks = answer;
      await rejectsUnavailable(makeVerifier([idpConfig(issuer.issuer)]).verify(longLived));
    });
  }

  test('a JWKS fetch slower than httpTimeout fails', async () => {
    reset();
    issuer.jwksDelayMs = 500;
    const verifier = makeVerifier([idpConfig(issuer.issuer)], { httpTimeout: 100 });
    await rejectsUnavailable(verifier.verify(longLived));
  });

  test('concurrent first verifications share one discovery and one JWKS fetch', async () => {
    reset();
    issuer.jwksDelayMs = 150;
    const verifier = makeVerifier([idpConfig(issuer.issuer)]);
    const results = await Promise.all(Array.from({ length: 10 }, () => verifier.verify(longLived)));
    assert.equal(results.length, 10);
    assert.deepEqual(issuer.requests, ['/.well-known/openid-configuration', '/jwks']);
  });

  test('a discovery document naming another issuer is a 503 and no JWKS is fetched', async () => {
    reset();
    issuer.discoveryIssuer = 'https://impostor.example';
    const verifier = makeVerifier([idpConfig(issuer.issuer)]);
    await rejectsUnavailable(verifier.verify(longLived));
    assert.equal(issuer.count('/jwks'), 0);
    await assert.rejects(
      verifier.refreshKeys('test-idp'),
      /discovery document of \S+ names issuer "[^"]+", not the configured/,
    );
  });

  test('an http issuer is refused without allowInsecureIssuers, before any request', async () => {
    reset();
    const verifier = makeVerifier([idpConfig(issuer.issuer)], { allowInsecureIssuers: false });
    await rejectsUnavailable(verifier.verify(longLived));
    const pinned = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })], {
      allowInsecureIssuers: false,
    });
    await rejectsUnavailable(pinned.verify(longLived));
    assert.equal(issuer.count(), 0);
  });

  test('a redirect on the JWKS is not followed', async () => {
    reset();
    const elsewhere = await startIssuer({ keys: [key.publicJwk] });
    try {
      issuer.jwks = { status: 302, headers: { location: elsewhere.jwksUri } };
      await rejectsUnavailable(makeVerifier([idpConfig(issuer.issuer)]).verify(longLived));
      assert.equal(elsewhere.count(), 0);
    } finally {
      await elsewhere.close();
    }
  });

  test('refreshKeys fetches now, counts usable keys, and throws when it cannot without breaking stale keys', async () => {
    reset();
    const verifier = makeVerifier([idpConfig(issuer.issuer)]);
    assert.deepEqual(verifier.keySetHealth(), {
      'test-idp': { status: 'degraded', error: 'keys not fetched yet' },
    });
    assert.deepEqual(await verifier.refreshKeys('test-idp'), { keys: 1 });
    assert.deepEqual(await verifier.refreshKeys('test-idp'), { keys: 1 });
    assert.equal(issuer.count('/jwks'), 2, 'refreshKeys ignores the cool-down');
    await verifier.verify(longLived);
    assert.equal(issuer.count('/jwks'), 2);
    issuer.jwks = { status: 500 };
    await assert.rejects(verifier.refreshKeys('test-idp'), /HTTP 500/);
    await verifier.verify(longLived);
    assert.deepEqual(verifier.keySetHealth()['test-idp'], {
      status: 'degraded',
      error: 'JWKS answered HTTP 500',
    });
    await assert.rejects(verifier.refreshKeys('nope'), TypeError);
  });

  test('keeps at most cache.jwks.maxSize issuers, evicting the least recently used', async () => {
    reset();
    const second = await startIssuer({ keys: [key.publicJwk] });
    try {
      const idps = [idpConfig(issuer.issuer), idpConfig(second.issuer, { name: 'second' })];
      const verifier = makeVerifier(idps, {
        jwks: { ttl: 600, staleIfError: 3600, cooldown: 30, maxSize: 1 },
      });
      const token2 = await sign(key, claims(second.issuer));
      await verifier.verify(longLived);
      await verifier.verify(token2);
      assert.equal(verifier.keySetHealth()['test-idp']?.error, 'keys not fetched yet');
      await verifier.verify(longLived);
      assert.equal(issuer.count('/jwks'), 2);
      assert.equal(second.count('/jwks'), 1);
    } finally {
      await second.close();
    }
  });

  test('a caller whose deadline has passed gets a 503 while keys are being fetched', async () => {
    reset();
    issuer.jwksDelayMs = 200;
    const verifier = makeVerifier([idpConfig(issuer.issuer)]);
    await rejectsUnavailable(verifier.verify(longLived, AbortSignal.timeout(20)));
  });
});
