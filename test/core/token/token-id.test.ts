import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { canonicalJson, tokenFingerprint, tokenId } from '../../../src/core/token/index.ts';

describe('token identity', () => {
  test('is the jti when it is a non-empty string', () => {
    assert.equal(tokenId({ jti: 'abc', sub: 's' }), 'abc');
  });

  test('is the SHA-256 of the canonical payload when jti is absent, empty or not a string', () => {
    const payload = { sub: 's', iss: 'i', nested: { z: 1, a: [{ y: 2, b: 3 }] } };
    const expected = createHash('sha256')
      .update('{"iss":"i","nested":{"a":[{"b":3,"y":2}],"z":1},"sub":"s"}')
      .digest('hex');
    assert.equal(tokenId(payload), expected);
    assert.notEqual(tokenId({ ...payload, jti: '' }), tokenId(payload));
    assert.match(tokenId({ ...payload, jti: '' }), /^[0-9a-f]{64}$/);
    assert.match(tokenId({ ...payload, jti: 7 }), /^[0-9a-f]{64}$/);
  });

  test('does not depend on member order', () => {
    assert.equal(tokenId({ a: 1, b: { c: 2, d: 3 } }), tokenId({ b: { d: 3, c: 2 }, a: 1 }));
    assert.equal(canonicalJson({ b: [1, 'x', null, true], a: 1.5 }), '{"a":1.5,"b":[1,"x",null,true]}');
  });

  test('fingerprints a token by the first 16 hex digits of its SHA-256', () => {
    const token = 'header.payload.signature';
    assert.equal(tokenFingerprint(token), createHash('sha256').update(token).digest('hex').slice(0, 16));
  });
});
