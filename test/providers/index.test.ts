import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Config } from '../../src/core/config/schema.ts';
import { createProviders, PROVIDER_FACTORIES } from '../../src/providers/index.ts';

function config(accessProviders: Config['accessProviders'], audience?: string): Config {
  return {
    brokerIdp: {
      name: 'idp',
      issuer: 'https://idp.example',
      clientId: 'broker',
      clientAuth: 'client_secret_basic',
      audienceParam: 'audience',
      ...(audience ? { audience } : {}),
    },
    accessProviders,
    broker: { httpTimeout: 1234, maxRetries: 1, retryDelay: 10 },
  } as unknown as Config;
}

describe('provider registry', () => {
  test('builds aws-sts and minio providers keyed by name with their broker-token audience', () => {
    const providers = createProviders(
      config(
        [
          { name: 'aws', type: 'aws-sts', region: 'eu-west-1' },
          { name: 'store', type: 'minio', endpoint: 'http://127.0.0.1:9000', audience: 'minio-aud' },
        ],
        'voidkey-broker',
      ),
    );
    assert.deepEqual([...providers.keys()], ['aws', 'store']);
    assert.equal(providers.get('aws')?.type, 'aws-sts');
    assert.equal(providers.get('aws')?.audience, 'voidkey-broker');
    assert.equal(providers.get('store')?.type, 'minio');
    assert.equal(providers.get('store')?.audience, 'minio-aud');
  });

  test('a type without an implementation in this build is a TypeError at construction', () => {
    assert.equal(PROVIDER_FACTORIES['oracle' as 'gcp'], undefined);
    assert.throws(() => createProviders(config([{ name: 'o', type: 'oracle' }], 'a')), {
      name: 'TypeError',
      message: 'provider o: type oracle is not available in this build',
    });
  });

  test('a provider without any broker-token audience is a TypeError', () => {
    assert.throws(() => createProviders(config([{ name: 'aws', type: 'aws-sts' }])), {
      name: 'TypeError',
      message: 'provider aws: no broker-token audience (set audience or brokerIdp.audience)',
    });
  });
});
