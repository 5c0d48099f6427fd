import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { baseConfig, cleanup, loadObject } from './helpers.ts';

after(cleanup);

describe('schema validation', () => {
  test('an unknown field is refused with "did you mean" when a known one is close', async () => {
    const data = baseConfig();
    data.server = { prot: 3000 };
    data.rateLimit = { widnowMs: 1000 };
    data.brokerIdp.clientsecret = 'x';
    data.clientIdps[0].zzz = true;
    const out = await loadObject(data);
    assert.deepEqual(out.problems, [
      'server.prot: unknown field; did you mean `port`?',
      'brokerIdp.clientsecret: unknown field; did you mean `clientSecret`?',
      'clientIdps[0].zzz: unknown field',
      'rateLimit.widnowMs: unknown field; did you mean `windowMs`?',
    ]);
  });

  test('an unknown top-level section is refused', async () => {
    const out = await loadObject({ ...baseConfig(), loging: { level: 'info' } });
    assert.deepEqual(out.problems, ['loging: unknown field; did you mean `logging`?']);
  });

  test('enums name the allowed values', async () => {
    const data = baseConfig();
    data.logging = { level: 'verbose', format: 'xml' };
    data.brokerIdp.clientAuth = 'private_key';
    const out = await loadObject(data);
    assert.deepEqual(out.problems, [
      'brokerIdp.clientAuth: must be one of `client_secret_basic`, `client_secret_post`, `private_key_jwt`',
      'logging.level: must be one of `debug`, `info`, `warn`, `error`',
      'logging.format: must be one of `json`, `pretty`',
    ]);
  });

  test('wrong types and bounds give one clear message per path', async () => {
    const data = baseConfig();
    data.server = { port: 70000, bodyLimit: 'big', trustProxy: 'yes' };
    data.brokerIdp.clientId = 12345;
    data.clientIdps[0].audience = [];
    data.clientIdps[0].algorithms = ['HS256'];
    data.cache = { jwks: { ttl: 1.5 } };
    const out = await loadObject(data);
    assert.deepEqual(out.problems, [
      'server.port: must be ≤ 65535',
      'server.trustProxy: must be `false` or integer 0–10 or list of string',
      'server.bodyLimit: must be an integer (got a string)',
      'brokerIdp.clientId: must be a string (got a number; quote it)',
      'clientIdps[0].audience: must have at least 1 item',
      'clientIdps[0].algorithms[0]: must be one of `RS256`, `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA`',
      'cache.jwks.ttl: must be an integer (got a fractional number)',
    ]);
  });

  test('missing required fields are reported once each', async () => {
    const data = baseConfig();
    delete data.brokerIdp.clientId;
    delete data.brokerIdp.issuer;
    delete data.clientIdentities[0].keys.AWS_DEPLOY.provider;
    const out = await loadObject(data);
    assert.deepEqual(out.problems, [
      'brokerIdp.issuer: required field is missing',
      'brokerIdp.clientId: required field is missing',
      'clientIdentities[0].keys.AWS_DEPLOY.provider: required field is missing',
    ]);
  });

  test('server.trustProxy: true is refused with the reason', async () => {
    const out = await loadObject({ ...baseConfig(), server: { trustProxy: true } });
    assert.deepEqual(out.problems, [
      'server.trustProxy: `true` is refused: it would believe the X-Forwarded-For of any client, so anyone ' +
        'could choose their IP address (and rate-limit bucket); use a hop count or a list of proxy CIDRs',
    ]);
  });

  test('an output value of the wrong shape is explained through the matching alternative', async () => {
    const data = baseConfig();
    data.clientIdentities[0].keys.AWS_DEPLOY.outputs = { A: { valeu: 'x' }, B: 7 };
    const out = await loadObject(data);
    assert.deepEqual(out.problems, [
      'clientIdentities[0].keys.AWS_DEPLOY.outputs.A.value: required field is missing',
      'clientIdentities[0].keys.AWS_DEPLOY.outputs.A.valeu: unknown field; did you mean `value`?',
      'clientIdentities[0].keys.AWS_DEPLOY.outputs.B: must be string or map',
    ]);
  });

  test('an invalid audit maxSize says what a size looks like', async () => {
    const out = await loadObject({ ...baseConfig(), logging: { audit: { maxSize: '10XB' } } });
    assert.deepEqual(out.problems, [
      'logging.audit.maxSize: must be a size like 100MB (units B, KB, MB, GB, KiB, MiB, GiB; all binary) or a byte count',
    ]);
  });

  test('every problem of every stage is reported at once', async () => {
    const data = baseConfig();
    data.server = { prot: 1 };
    data.brokerIdp.clientSecret = '${UNSET_VAR}';
    data.accessProviders[0].type = 'aws';
    data.clientIdentities[0].idp = 'github';
    const out = await loadObject(data);
    assert.deepEqual(out.problems, [
      'brokerIdp.clientSecret: environment variable UNSET_VAR is not set and has no default',
      'server.prot: unknown field; did you mean `port`?',
      'accessProviders[0].type: unknown provider type "aws" (known types: aws-sts, minio, gcp, azure)',
      'clientIdentities[0].idp: unknown idp "github" (configured: github-actions)',
    ]);
  });
});
