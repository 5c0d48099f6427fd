import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { brokerFailure } from '../../../src/cli/client/broker-errors.ts';
import { formatMaxDuration, formatSpan } from '../../../src/cli/client/durations.ts';
import { scrub } from '../../../src/cli/client/exit.ts';
import { decodeJwt } from '../../../src/cli/client/jwt.ts';
import { isLoopback, normaliseBrokerUrl } from '../../../src/cli/client/settings.ts';

describe('formatMaxDuration', () => {
  const cases: Array<[number, string]> = [
    [900, '15m'],
    [3600, '1h'],
    [5400, '1h30m'],
    [90, '90s'],
    [43200, '12h'],
    [0, '0s'],
    [61, '61s'],
  ];
  for (const [seconds, shown] of cases) {
    test(`shows ${seconds} s as ${shown}`, () => assert.equal(formatMaxDuration(seconds), shown));
  }
});

describe('formatSpan', () => {
  const cases: Array<[number, string]> = [
    [252_000, '4m 12s'],
    [-10_800_000, '3h'],
    [-11_100_000, '3h 5m'],
    [400, '0s'],
    [90_061_000, '1d 1h'],
    [45_000, '45s'],
  ];
  for (const [ms, shown] of cases) {
    test(`shows ${ms} ms as ${shown}`, () => assert.equal(formatSpan(ms), shown));
  }
});

describe('brokerFailure', () => {
  const call = {
    requestId: 'req-1',
    route: 'POST /credentials/mint',
    attempts: 1,
    retryAfter: undefined,
    timeoutMs: 30_000,
  };
  const cases: Array<[number, string | undefined, number]> = [
    [400, 'INVALID_REQUEST', 2],
    [401, 'UNAUTHORIZED', 3],
    [401, 'INVALID_TOKEN', 3],
    [403, 'FORBIDDEN', 4],
    [404, 'SUBJECT_NOT_FOUND', 4],
    [404, 'NOT_FOUND', 5],
    [405, 'METHOD_NOT_ALLOWED', 5],
    [429, 'RATE_LIMIT_EXCEEDED', 5],
    [500, 'INTERNAL_ERROR', 5],
    [502, 'CREDENTIAL_MINT_FAILED', 5],
    [503, 'SERVICE_UNAVAILABLE', 5],
    [504, undefined, 5],
  ];
  for (const [status, code, exit] of cases) {
    test(`maps ${status} ${code ?? '(no body)'} to exit ${exit} with the request id`, () => {
      const err = brokerFailure({ ...call, status, body: code ? { error: code } : {} });
      assert.equal(err.exitCode, exit);
      assert.ok(err.message.endsWith(' [request id req-1]'));
    });
  }

  test('strips terminal escapes and newlines from broker text', () => {
    const err = brokerFailure({
      ...call,
      status: 500,
      body: { error: 'INTERNAL_ERROR', message: 'a\u001b[2J\nb' },
    });
    assert.equal(err.message, 'the broker failed (500 INTERNAL_ERROR): a [2J b [request id req-1]');
  });
});

describe('scrub', () => {
  test('replaces secrets and keeps one line', () => {
    assert.equal(scrub('bad eyJtoken-value-x\nnext', ['eyJtoken-value-x']), 'bad [redacted] next');
  });
});

describe('decodeJwt', () => {
  test('reports what is wrong without echoing the token', () => {
    assert.throws(
      () => decodeJwt('a.b'),
      /^Error: not a compact JWT \(expected 3 dot-separated segments, found 2\)$/,
    );
    assert.throws(() => decodeJwt('a+b.c.d'), /^Error: the JWT header is not base64url$/);
    assert.throws(
      () => decodeJwt(`${Buffer.from('[1]').toString('base64url')}.e30.x`),
      /header is not a JSON object/,
    );
  });
});

describe('broker URLs', () => {
  test('are normalised without trailing slashes and keep a path prefix', () => {
    assert.equal(
      normaliseBrokerUrl('https://broker.example.com/voidkey/'),
      'https://broker.example.com/voidkey',
    );
    assert.equal(normaliseBrokerUrl('http://127.0.0.1:3000'), 'http://127.0.0.1:3000');
  });

  test('count localhost, 127/8 and ::1 as loopback only', () => {
    assert.deepEqual(
      [
        'localhost',
        'api.localhost',
        '127.0.0.1',
        '127.9.9.9',
        '[::1]',
        '10.0.0.1',
        'example.com',
        '127.example.com',
      ].map(isLoopback),
      [true, true, true, true, true, false, false, false],
    );
  });
});
