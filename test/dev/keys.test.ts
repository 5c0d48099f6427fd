import assert from 'node:assert/strict';
import { generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';
import { describe, test } from 'node:test';
import { generateKeyPair } from 'jose';
import { detachKeyPair } from '../../src/dev/keys.ts';

describe('detachKeyPair', () => {
  test('gives new key objects holding the same key as a node:crypto pair', () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const detached = detachKeyPair(pair);
    assert.notEqual(detached.privateKey, pair.privateKey);
    assert.equal(detached.privateKey.type, 'private');
    assert.equal(detached.publicKey.type, 'public');
    assert.ok(detached.publicKey.equals(pair.publicKey));
    assert.ok(detached.privateKey.equals(pair.privateKey));
    const signature = sign('sha256', Buffer.from('data'), detached.privateKey);
    assert.ok(verify('sha256', Buffer.from('data'), pair.publicKey, signature));
  });

  test('accepts a WebCrypto pair from jose, extractable or not, and returns KeyObjects', async () => {
    for (const extractable of [true, false]) {
      const pair = await generateKeyPair('ES256', { extractable });
      const detached = detachKeyPair(pair);
      assert.ok(detached.privateKey instanceof KeyObject);
      assert.ok(detached.publicKey.equals(KeyObject.from(pair.publicKey)));
      const jwk = detached.publicKey.export({ format: 'jwk' });
      assert.equal(jwk.crv, 'P-256');
      assert.equal('d' in jwk, false);
    }
  });
});
