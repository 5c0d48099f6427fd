/**
 * Properties of the pre-parser and the verifier over hostile input: whatever
 * a caller sends — arbitrary text, arbitrary bytes, or a valid token mutated
 * at the character, segment or JSON level — the only thing ever thrown is
 * InvalidTokenError with a documented reason (401), and what passes the
 * pre-parser is what it promises: an allowed `alg`, JSON-object header and
 * payload. Runs are bounded; a property that loops forever fails the run's
 * timeout.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { ALLOWED_ALGORITHMS } from '../../../src/core/config/schema.ts';
import { InvalidTokenError, TOKEN_REASONS } from '../../../src/core/errors.ts';
import { type ClientTokenVerifier, preparseToken } from '../../../src/core/token/index.ts';
import {
  b64,
  claims,
  idpConfig,
  type LocalIssuer,
  makeKey,
  makeVerifier,
  sign,
  startIssuer,
} from './helpers.ts';

// Every reason the verifier can give (replay is decided later, by the mint).
const REASONS = new Set<string>(TOKEN_REASONS.filter((reason) => reason !== 'token_replayed'));
const PREPARSE_REASONS = new Set(['malformed', 'token_too_large', 'algorithm_not_allowed']);
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Asserts `err` is the documented refusal; returns its reason. */
function refusal(err: unknown, allowed: ReadonlySet<string>): string {
  assert.ok(err instanceof InvalidTokenError, `threw ${String(err)}`);
  assert.equal(err.status, 401);
  assert.ok(allowed.has(err.reason), `undocumented reason ${err.reason}`);
  return err.reason;
}

/** Pre-parses `token`, asserting the contract either way. */
function checkPreparse(token: string): void {
  let parsed: ReturnType<typeof preparseToken>;
  try {
    parsed = preparseToken(token);
  } catch (err) {
    refusal(err, PREPARSE_REASONS);
    return;
  }
  assert.ok((ALLOWED_ALGORITHMS as readonly string[]).includes(parsed.header.alg));
  for (const part of [parsed.header, parsed.payload]) {
    assert.ok(typeof part === 'object' && part !== null && !Array.isArray(part));
  }
}

/** Mutations of a valid compact token, from one character to whole segments and JSON members. */
function mutatedToken(valid: string): fc.Arbitrary<string> {
  const [h, p, s] = valid.split('.') as [string, string, string];
  const at = fc.nat({ max: valid.length });
  const anyChar = fc.oneof(
    fc.constantFrom(...ALPHABET, '.', '=', ' ', '+', '/', '\n', '\u00e9'),
    fc.string({ maxLength: 1, unit: 'binary' }),
  );
  const segment = fc.constantFrom(h, p, s, '', 'AA', 'e30', b64('null'), b64([]));
  const member = fc.tuple(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }));
  const decoded = (text: string) =>
    JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>;
  return fc.oneof(
    fc.tuple(at, anyChar).map(([i, c]) => valid.slice(0, i) + c + valid.slice(i)),
    at.map((i) => valid.slice(0, i) + valid.slice(i + 1)),
    fc.tuple(at, anyChar).map(([i, c]) => valid.slice(0, i) + c + valid.slice(i + 1)),
    at.map((i) => valid.slice(0, i)),
    fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => parts.join('.')),
    fc.tuple(member, fc.boolean()).map(([[name, value], inHeader]) => {
      const target = decoded(inHeader ? h : p);
      const changed = b64({ ...target, [name]: value });
      return inHeader ? `${changed}.${p}.${s}` : `${h}.${changed}.${s}`;
    }),
    fc.tuple(fc.nat(), fc.nat({ max: 7 }), fc.constantFrom(0, 1)).map(([i, bit, which]) => {
      const bytes = Buffer.from(which === 0 ? h : p, 'base64url');
      const index = i % bytes.length;
      bytes[index] = (bytes[index] as number) ^ (1 << bit);
      const changed = bytes.toString('base64url');
      return which === 0 ? `${changed}.${p}.${s}` : `${h}.${changed}.${s}`;
    }),
    fc
      .constantFrom('alg', 'kid', 'typ', 'cty', 'crit', 'b64')
      .chain((name) =>
        fc.jsonValue({ maxDepth: 2 }).map((value) => `${b64({ ...decoded(h), [name]: value })}.${p}.${s}`),
      ),
  );
}

describe('pre-parser and verifier properties', () => {
  let issuer: LocalIssuer;
  let verifier: ClientTokenVerifier;
  let valid: string;

  before(async () => {
    const key = await makeKey('ES256', 'k1');
    issuer = await startIssuer({ keys: [key.publicJwk] });
    verifier = makeVerifier([idpConfig(issuer.issuer, { jwksUri: issuer.jwksUri })]);
    valid = await sign(key, claims(issuer.issuer));
    await verifier.verify(valid);
  });
  after(() => issuer.close());

  test('arbitrary text, arbitrary bytes read as latin1, and near-misses only ever get the documented refusal', () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300, unit: 'binary' }),
      fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
      fc.array(fc.stringMatching(/^[A-Za-z0-9_-]{0,30}$/), { maxLength: 5 }).map((parts) => parts.join('.')),
      fc
        .tuple(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 4 }))
        .map(([x, y]) => `${b64(x)}.${b64(y)}.AA`),
      fc.nat({ max: 40_000 }).map((n) => 'a'.repeat(n)),
    );
    fc.assert(fc.property(text, checkPreparse), { numRuns: 3000 });
  });

  test('mutations of a valid token only ever get the documented refusal from the pre-parser', () => {
    fc.assert(fc.property(mutatedToken(valid), checkPreparse), { numRuns: 3000 });
  });

  test('mutations of a valid token only ever verify unchanged or get a documented 401', {
    timeout: 20_000,
  }, async () => {
    const before = issuer.count();
    await fc.assert(
      fc.asyncProperty(mutatedToken(valid), async (token) => {
        try {
          const verified = await verifier.verify(token);
          assert.equal(verified.sub, 'repo:org/app:ref:refs/heads/main');
        } catch (err) {
          refusal(err, REASONS);
        }
      }),
      { numRuns: 400 },
    );
    // Unknown kids may refetch at most once per cool-down, and the clock is frozen.
    assert.ok(issuer.count() - before <= 1, `${issuer.count() - before} key fetches`);
  });
});
