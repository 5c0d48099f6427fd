import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InvalidTokenError } from '../../../src/core/errors.ts';
import {
  MAX_TOKEN_BYTES,
  parseStrictJson,
  preparseJws,
  preparseToken,
} from '../../../src/core/token/index.ts';
import { b64 } from './helpers.ts';

const HEADER = b64({ alg: 'ES256', kid: 'k' });
const PAYLOAD = b64({ iss: 'https://issuer.example', sub: 's' });
const SIG = 'c2lnbmF0dXJl';

function reasonOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    assert.ok(err instanceof InvalidTokenError, `expected InvalidTokenError, got ${String(err)}`);
    return err.reason;
  }
}

describe('strict JSON', () => {
  const refused: Array<[string, string]> = [
    ['a duplicate member', '{"a":1,"a":2}'],
    ['a duplicate member spelled with an escape', '{"a":1,"\\u0061":2}'],
    ['a duplicate member deep inside arrays', '{"x":[[{"y":{"b":1,"b":1}}]]}'],
    ['a number beyond a double', '{"exp":1e400}'],
    ['a leading zero', '{"exp":01}'],
    ['a trailing comma', '{"a":1,}'],
    ['single quotes', "{'a':1}"],
    ['a raw control character in a string', '{"a":"\u0001"}'],
    ['an invalid escape', '{"a":"\\x41"}'],
    ['trailing text', '{} {}'],
    ['a byte-order mark', '\ufeff{}'],
    ['nesting deeper than 32', `${'['.repeat(33)}${']'.repeat(33)}`],
    ['an empty text', ''],
  ];
  for (const [name, text] of refused) {
    test(`refuses ${name}`, () => assert.throws(() => parseStrictJson(text), SyntaxError));
  }

  test('reads what JSON.parse reads when nothing is ambiguous', () => {
    const text = ' {"a":[1,-2.5e3,true,false,null,"\\u00e9\\n"],"b":{"a":{}},"__proto__":1}\n';
    assert.deepEqual(parseStrictJson(text), JSON.parse(text));
    assert.deepEqual(
      parseStrictJson(`${'['.repeat(32)}${']'.repeat(32)}`),
      JSON.parse(`${'['.repeat(32)}${']'.repeat(32)}`),
    );
  });

  test('refuses a text exactly when one of its objects repeats a name (property)', () => {
    // Objects written member by member, names from a small set (some spelled with an escape),
    // nested in objects and arrays: a duplicate anywhere must be found, and only then.
    // Runs of backslashes before a quote: an even run ends the string, an odd one escapes the quote.
    const name = fc.constantFrom('a', 'b', '\\u0061', 'a:b', 'x\\"y', '__proto__', 'x\\\\', '\\\\\\":');
    const decoded = (n: string) => JSON.parse(`"${n}"`) as string;
    type Tree = { text: string; duplicate: boolean };
    const { tree } = fc.letrec<{ tree: Tree; object: Tree; array: Tree; leaf: Tree }>((tie) => ({
      tree: fc.oneof({ depthSize: 'small' }, tie('leaf'), tie('object'), tie('array')),
      leaf: fc
        .constantFrom('1', '"s:t"', 'null', '"\\"{"', '"\\\\"', '"a\\\\\\\\"', '"\\\\\\":"')
        .map((text) => ({ text, duplicate: false })),
      array: fc.array(tie('tree'), { maxLength: 3 }).map((items) => ({
        text: `[${items.map((i) => i.text).join(',')}]`,
        duplicate: items.some((i) => i.duplicate),
      })),
      object: fc.array(fc.tuple(name, tie('tree')), { maxLength: 4 }).map((members) => ({
        text: `{${members.map(([n, v]) => `"${n}":${v.text}`).join(',')}}`,
        duplicate:
          new Set(members.map(([n]) => decoded(n))).size < members.length ||
          members.some(([, v]) => v.duplicate),
      })),
    }));
    fc.assert(
      fc.property(tree, ({ text, duplicate }) => {
        if (duplicate) assert.throws(() => parseStrictJson(text), SyntaxError, text);
        else assert.deepEqual(parseStrictJson(text), JSON.parse(text), text);
      }),
      { numRuns: 500 },
    );
  });

  test('agrees with JSON.parse on any JSON text without duplicate names (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
        const text = JSON.stringify(value);
        assert.deepEqual(parseStrictJson(text), JSON.parse(text));
      }),
    );
  });
});

describe('pre-parser', () => {
  test('accepts a canonical token and returns its header and payload', () => {
    const parsed = preparseToken(`${HEADER}.${PAYLOAD}.${SIG}`);
    assert.deepEqual(parsed.header, { alg: 'ES256', kid: 'k' });
    assert.deepEqual(parsed.payload, { iss: 'https://issuer.example', sub: 's' });
  });

  test('checks size first: an oversized token of garbage is token_too_large', () => {
    assert.equal(
      reasonOf(() => preparseToken('!'.repeat(MAX_TOKEN_BYTES + 1))),
      'token_too_large',
    );
    assert.equal(
      reasonOf(() => preparseToken('!'.repeat(MAX_TOKEN_BYTES))),
      'malformed',
    );
  });

  const malformed: Array<[string, string]> = [
    ['an empty string', ''],
    ['an empty header', `.${PAYLOAD}.${SIG}`],
    ['an empty signature', `${HEADER}.${PAYLOAD}.`],
    ['a header that is not JSON', `${b64('alg')}.${PAYLOAD}.${SIG}`],
    ['a header that is a JSON array', `${b64(['ES256'])}.${PAYLOAD}.${SIG}`],
    ['a header without alg', `${b64({ kid: 'k' })}.${PAYLOAD}.${SIG}`],
    ['a header whose alg is not a string', `${b64({ alg: ['ES256'] })}.${PAYLOAD}.${SIG}`],
    ['a payload that is a JSON string', `${HEADER}.${b64('"sub"')}.${SIG}`],
    [
      'a payload that is not UTF-8',
      `${HEADER}.${Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')}.${SIG}`,
    ],
    ['a segment of length 1 mod 4', `${HEADER}.${PAYLOAD}.${SIG}A`],
    ['a crit header', `${b64({ alg: 'ES256', crit: [] })}.${PAYLOAD}.${SIG}`],
    ['a b64 header', `${b64({ alg: 'ES256', b64: true })}.${PAYLOAD}.${SIG}`],
    ['a nested JWT', `${b64({ alg: 'ES256', cty: 'jwt' })}.${PAYLOAD}.${SIG}`],
  ];
  for (const [name, token] of malformed) {
    test(`refuses ${name} as malformed`, () =>
      assert.equal(
        reasonOf(() => preparseToken(token)),
        'malformed',
      ));
  }

  test('refuses algorithms outside the given list as algorithm_not_allowed', () => {
    for (const alg of ['none', 'HS256', 'ES512', 'RS1', 'es256', 'EdDSA ']) {
      assert.equal(
        reasonOf(() => preparseToken(`${b64({ alg })}.${PAYLOAD}.${SIG}`)),
        'algorithm_not_allowed',
      );
    }
    assert.equal(
      reasonOf(() => preparseToken(`${HEADER}.${PAYLOAD}.${SIG}`, ['RS256'])),
      'algorithm_not_allowed',
    );
  });

  test('lets the signature layer see an opaque, even empty, payload', () => {
    assert.equal(preparseJws(`${HEADER}..${SIG}`).payloadBytes.length, 0);
    assert.equal(preparseJws(`${HEADER}.${b64('foo')}.${SIG}`).payloadBytes.toString(), 'foo');
  });

  test('only ever throws InvalidTokenError, whatever the input (property)', () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9_=+/ .-]{0,40}$/);
    const arbitraryToken = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.tuple(segment, segment, segment).map((parts) => parts.join('.')),
      fc.tuple(fc.jsonValue(), fc.jsonValue()).map(([h, p]) => `${b64(h)}.${b64(p)}.${SIG}`),
    );
    fc.assert(
      fc.property(arbitraryToken, (token) => {
        reasonOf(() => preparseToken(token));
      }),
      { numRuns: 2000 },
    );
  });

  test('accepts only the one canonical spelling of any byte string (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (bytes, bit) => {
        const canonical = Buffer.from(bytes).toString('base64url');
        const token = `${HEADER}.${PAYLOAD}.${canonical || 'AA'}`;
        assert.doesNotThrow(() => preparseJws(token));
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const unused = canonical.length % 4 === 2 ? 4 : canonical.length % 4 === 3 ? 2 : 0;
        if (unused === 0 || bit > unused) return;
        const last = alphabet.indexOf(canonical.at(-1) as string) ^ (1 << (bit - 1));
        const respelled = `${canonical.slice(0, -1)}${alphabet[last]}`;
        assert.equal(Buffer.from(respelled, 'base64url').equals(Buffer.from(bytes)), true);
        assert.equal(
          reasonOf(() => preparseJws(`${HEADER}.${PAYLOAD}.${respelled}`)),
          'malformed',
        );
      }),
    );
  });
});
