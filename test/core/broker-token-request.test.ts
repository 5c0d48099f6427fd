import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { decodeProtectedHeader, importSPKI, jwtVerify } from 'jose';
import { createBrokerTokenSource } from '../../src/core/broker-token/index.ts';
import { UpstreamError } from '../../src/core/errors.ts';
import {
  baseOptions,
  idpConfig,
  issue,
  jwt,
  type RecordedRequest,
  startTokenEndpoint,
  type TokenEndpoint,
} from './broker-token-helpers.ts';

const isRefusal = (reason: string) => (err: unknown) =>
  err instanceof UpstreamError && err.kind === 'refused' && err.reason === reason;

describe('broker token request', () => {
  let endpoint: TokenEndpoint;
  before(async () => {
    endpoint = await startTokenEndpoint();
  });
  beforeEach(() => {
    endpoint.requests.length = 0;
    endpoint.handler = (req) => issue(req);
  });
  after(() => endpoint.close());

  const only = (): RecordedRequest => {
    const reqs = endpoint.tokenRequests();
    assert.equal(reqs.length, 1);
    return reqs[0] as RecordedRequest;
  };

  test('client_secret_basic sends form-urlencoded id and secret in HTTP Basic, not in the body', async () => {
    const idp = idpConfig(endpoint, { clientId: 'broker service', clientSecret: 'p@ss:w rd+/é' });
    const source = createBrokerTokenSource(baseOptions(idp));
    await source.getToken('sts.example');
    const req = only();
    const expected = Buffer.from('broker+service:p%40ss%3Aw+rd%2B%2F%C3%A9').toString('base64');
    assert.equal(req.headers.authorization, `Basic ${expected}`);
    assert.equal(req.method, 'POST');
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(req.form), {
      grant_type: 'client_credentials',
      client_id: 'broker service',
      audience: 'sts.example',
    });
  });

  test('client_secret_post sends the secret as a form field and no Authorization header', async () => {
    const source = createBrokerTokenSource(
      baseOptions(idpConfig(endpoint, { clientAuth: 'client_secret_post' })),
    );
    await source.getToken('sts.example');
    const req = only();
    assert.equal(req.headers.authorization, undefined);
    assert.deepEqual(Object.fromEntries(req.form), {
      grant_type: 'client_credentials',
      client_id: 'broker-service',
      audience: 'sts.example',
      client_secret: 'shh-very-secret',
    });
  });

  const keyTypes = [
    { name: 'RSA', alg: 'RS256', pair: () => generateKeyPairSync('rsa', { modulusLength: 2048 }) },
    { name: 'P-256', alg: 'ES256', pair: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }) },
    { name: 'Ed25519', alg: 'EdDSA', pair: () => generateKeyPairSync('ed25519') },
  ];
  for (const { name, alg, pair } of keyTypes) {
    test(`private_key_jwt signs an ${alg} assertion with a ${name} key read relative to the config directory`, async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'voidkey-bt-'));
      // A private key: never leave it behind in the shared temp directory.
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const { privateKey, publicKey } = pair();
      writeFileSync(join(dir, 'broker.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const idp = idpConfig(endpoint, {
        clientAuth: 'private_key_jwt',
        clientSecret: undefined,
        privateKeyFile: 'broker.pem',
      });
      const source = createBrokerTokenSource({ ...baseOptions(idp), configDir: dir });
      await source.getToken('sts.example');
      const req = only();
      assert.equal(req.headers.authorization, undefined);
      assert.equal(req.form.get('client_secret'), null);
      assert.equal(req.form.get('client_id'), 'broker-service');
      assert.equal(
        req.form.get('client_assertion_type'),
        'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      );
      const assertion = req.form.get('client_assertion') ?? '';
      assert.equal(decodeProtectedHeader(assertion).alg, alg);
      const spki = await importSPKI(publicKey.export({ type: 'spki', format: 'pem' }) as string, alg);
      const { payload } = await jwtVerify(assertion, spki, {
        issuer: 'broker-service',
        subject: 'broker-service',
        audience: endpoint.tokenUrl,
        algorithms: [alg],
      });
      assert.equal(typeof payload.jti, 'string');
      assert.ok((payload.exp ?? 0) - (payload.iat ?? 0) <= 60);
    });
  }

  test('private_key_jwt uses a fresh jti for every assertion', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const read: string[] = [];
    const idp = idpConfig(endpoint, { clientAuth: 'private_key_jwt', privateKeyFile: 'k.pem' });
    const source = createBrokerTokenSource({
      ...baseOptions(idp),
      configDir: '/etc/voidkey',
      readFile: async (path) => {
        read.push(path);
        return pem;
      },
    });
    await source.getToken('a');
    await source.getToken('b');
    const jtis = endpoint.tokenRequests().map((r) => jwtPayload(r.form.get('client_assertion')).jti);
    assert.equal(jtis.length, 2);
    assert.notEqual(jtis[0], jtis[1]);
    assert.deepEqual(read, ['/etc/voidkey/k.pem']);
  });

  test('an unreadable private key file is reported as unavailable, with its path, without calling the IdP', async () => {
    const idp = idpConfig(endpoint, { clientAuth: 'private_key_jwt', privateKeyFile: 'missing.pem' });
    const readFile = async () => {
      throw Object.assign(new Error("ENOENT: no such file or directory, open '/nonexistent/missing.pem'"), {
        code: 'ENOENT',
      });
    };
    const source = createBrokerTokenSource({ ...baseOptions(idp), readFile });
    await assert.rejects(source.getToken('sts.example'), (err) => {
      return (
        err instanceof UpstreamError &&
        err.kind === 'unavailable' &&
        err.reason ===
          'brokerIdp.privateKeyFile could not be read: /nonexistent/missing.pem: no such file or directory (ENOENT)'
      );
    });
    assert.equal(endpoint.tokenRequests().length, 0);
  });

  test('audienceParam resource asks with resource= and sends scopes joined by spaces', async () => {
    const idp = idpConfig(endpoint, { audienceParam: 'resource', scopes: ['sts', 'extra'] });
    await createBrokerTokenSource(baseOptions(idp)).getToken('https://sts.example');
    const req = only();
    assert.equal(req.form.get('resource'), 'https://sts.example');
    assert.equal(req.form.get('audience'), null);
    assert.equal(req.form.get('scope'), 'sts extra');
  });

  test('audienceParam scope merges the audience into the scope list', async () => {
    const idp = idpConfig(endpoint, { audienceParam: 'scope', scopes: ['a', 'b'] });
    await createBrokerTokenSource(baseOptions(idp)).getToken('sts.example');
    const req = only();
    assert.equal(req.form.get('scope'), 'sts.example a b');
    assert.equal(req.form.get('audience'), null);
  });

  test('audienceParam audience sends scope only when scopes are set', async () => {
    await createBrokerTokenSource(baseOptions(idpConfig(endpoint))).getToken('sts.example');
    assert.equal(only().form.get('scope'), null);
  });

  test('finds the token endpoint through discovery once for all audiences', async () => {
    const idp = idpConfig(endpoint, { tokenEndpoint: undefined });
    const source = createBrokerTokenSource(baseOptions(idp));
    await source.getToken('one');
    await source.getToken('two');
    const discovery = endpoint.requests.filter((r) => r.url === '/.well-known/openid-configuration');
    assert.equal(discovery.length, 1);
    assert.equal(endpoint.tokenRequests().length, 2);
  });

  test('refuses an opaque access token', async () => {
    endpoint.handler = () => ({ status: 200, body: { access_token: 'opaque-abc', expires_in: 300 } });
    const source = createBrokerTokenSource(baseOptions(idpConfig(endpoint)));
    await assert.rejects(
      source.getToken('sts.example'),
      isRefusal('broker IdP issued an opaque token; a JWT is required'),
    );
  });

  test('refuses a token whose aud does not contain the audience asked for', async () => {
    endpoint.handler = async () => ({
      status: 200,
      body: { access_token: await jwt({ aud: ['other', 'voidkey'], exp: Date.now() / 1000 + 600 }) },
    });
    const source = createBrokerTokenSource(baseOptions(idpConfig(endpoint)));
    await assert.rejects(
      source.getToken('sts.example'),
      isRefusal('broker token audience does not contain the requested audience'),
    );
  });

  test('accepts an aud list that contains the audience and takes the expiry from exp', async () => {
    const exp = Math.floor(Date.now() / 1000) + 1234;
    const token = await jwt({ aud: ['other', 'sts.example'], exp });
    endpoint.handler = () => ({ status: 200, body: { access_token: token, expires_in: 60 } });
    const source = createBrokerTokenSource(baseOptions(idpConfig(endpoint)));
    assert.equal(await source.getToken('sts.example'), token);
    assert.deepEqual(source.status(), { 'sts.example': { status: 'healthy', expiresAt: exp } });
  });

  test('falls back to expires_in when the token has no exp', async () => {
    const now = 1_700_000_000_000;
    endpoint.handler = async () => ({
      status: 200,
      body: { access_token: await jwt({ aud: 'sts.example' }), expires_in: 300 },
    });
    const source = createBrokerTokenSource({ ...baseOptions(idpConfig(endpoint)), now: () => now });
    await source.getToken('sts.example');
    assert.equal(source.status()['sts.example']?.expiresAt, now / 1000 + 300);
  });

  test('refuses a token with neither exp nor expires_in', async () => {
    endpoint.handler = async () => ({
      status: 200,
      body: { access_token: await jwt({ aud: 'sts.example' }) },
    });
    const source = createBrokerTokenSource(baseOptions(idpConfig(endpoint)));
    await assert.rejects(source.getToken('sts.example'), isRefusal('broker token has no expiry'));
  });

  test('rejects a configuration without a client secret or key file at construction', () => {
    const base = baseOptions(idpConfig(endpoint, { clientSecret: undefined }));
    assert.throws(() => createBrokerTokenSource(base), TypeError);
    const pkj = idpConfig(endpoint, { clientAuth: 'private_key_jwt' });
    assert.throws(() => createBrokerTokenSource(baseOptions(pkj)), TypeError);
  });

  test('rejects an http token endpoint unless insecure issuers are allowed', () => {
    const options = { ...baseOptions(idpConfig(endpoint)), allowInsecureIssuers: false };
    assert.throws(() => createBrokerTokenSource(options), /must be an https URL/);
  });
});

function jwtPayload(token: string | null): Record<string, unknown> {
  const part = (token ?? '').split('.')[1] ?? '';
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}
