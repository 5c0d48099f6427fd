import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { baseConfig, cleanup, loadObject, loadText } from './helpers.ts';

after(cleanup);

const SECRET = 'sup3r-s3cret-value';

function withServer(server: Record<string, unknown>): string {
  return stringify({ ...baseConfig(), server });
}

describe('substitution', () => {
  test('a whole-scalar substitution takes the integer type the schema wants', async () => {
    const out = await loadText(withServer({ port: '${PORT:-3000}' }));
    assert.deepEqual(out.problems, []);
    assert.equal(out.config?.server.port, 3000);
    const env = await loadText(withServer({ port: '${PORT:-3000}' }), { PORT: '8443' });
    assert.equal(env.config?.server.port, 8443);
  });

  test('a whole-scalar substitution becomes a boolean where the schema wants one', async () => {
    const out = await loadText(withServer({ allowQueryToken: '${ALLOW:-false}', explain: '${EXPLAIN}' }), {
      EXPLAIN: 'true',
    });
    assert.deepEqual(out.problems, []);
    assert.equal(out.config?.server.allowQueryToken, false);
    assert.equal(out.config?.server.explain, true);
  });

  test('trustProxy (false | hop count | list) takes a number from a substitution', async () => {
    const out = await loadText(withServer({ trustProxy: '${HOPS}' }), { HOPS: '2' });
    assert.equal(out.config?.server.trustProxy, 2);
  });

  test('a scalar the user wrote literally is never converted', async () => {
    const out = await loadText(withServer({ port: '3000' }));
    assert.deepEqual(out.problems, ['server.port: must be an integer (got a string)']);
  });

  test('a substitution inside a longer string stays a string even where a number is wanted', async () => {
    const out = await loadText(withServer({ port: '${PORT}0' }), { PORT: '300' });
    assert.deepEqual(out.problems, ['server.port: must be an integer (got a string)']);
  });

  test('string fields keep numeric-looking substitutions as strings', async () => {
    const data = baseConfig();
    data.brokerIdp.clientId = '${CLIENT_ID}';
    const out = await loadObject(data, { CLIENT_ID: '12345' });
    assert.equal(out.config?.brokerIdp.clientId, '12345');
  });

  test('substitutes several variables and defaults within one string', async () => {
    const data = baseConfig();
    data.clientIdentities[0].keys.AWS_DEPLOY.roleArn = 'arn:aws:iam::${ACCOUNT}:role/${ROLE:-Deploy}';
    const out = await loadObject(data, { ACCOUNT: '123456789012' });
    assert.equal(
      out.config?.clientIdentities[0]?.keys.AWS_DEPLOY?.roleArn,
      'arn:aws:iam::123456789012:role/Deploy',
    );
  });

  test('a default applies when the variable is empty, and an empty variable without default is empty', async () => {
    const data = baseConfig();
    data.brokerIdp.audience = '${AUD:-voidkey-broker}';
    data.clientIdps[0].audience = 'pre-${EMPTY}-post';
    const out = await loadObject(data, { AUD: '', EMPTY: '' });
    assert.equal(out.config?.brokerIdp.audience, 'voidkey-broker');
    assert.equal(out.config?.clientIdps[0]?.audience, 'pre--post');
  });

  test('$${ is a literal ${ and is not substituted', async () => {
    const data = baseConfig();
    data.clientIdentities[0].keys.AWS_DEPLOY.description = 'cost $${HOME} and $5';
    const out = await loadObject(data, { HOME: '/root' });
    assert.equal(out.config?.clientIdentities[0]?.keys.AWS_DEPLOY?.description, 'cost ${HOME} and $5');
  });

  test('${file:PATH} reads a file relative to the config file, trimming one trailing newline', async () => {
    const data = baseConfig();
    data.brokerIdp.clientSecret = '${file:secrets/broker}';
    const out = await loadText(stringify(data), {}, { 'secrets/broker': `${SECRET}\n\n` });
    assert.equal(out.config?.brokerIdp.clientSecret, `${SECRET}\n`);
  });

  test('a secret holding YAML syntax cannot change the document shape', async () => {
    const data = baseConfig();
    data.brokerIdp.clientSecret = '${SECRET}';
    const tricky = 'x\nclientAuth: private_key_jwt\n# : {}';
    const out = await loadObject(data, { SECRET: tricky });
    assert.equal(out.config?.brokerIdp.clientSecret, tricky);
    assert.equal(out.config?.brokerIdp.clientAuth, 'client_secret_basic');
  });

  test('an unset variable without default names the variable and the field', async () => {
    const data = baseConfig();
    data.brokerIdp.clientSecret = '${PROD_BROKER_SECRET}';
    const out = await loadObject(data);
    assert.deepEqual(out.problems, [
      'brokerIdp.clientSecret: environment variable PROD_BROKER_SECRET is not set and has no default',
    ]);
  });

  test('an unset variable in a typed field gives one problem, not a type error too', async () => {
    const out = await loadText(withServer({ port: '${PORT}' }));
    assert.deepEqual(out.problems, ['server.port: environment variable PORT is not set and has no default']);
  });

  test('a missing ${file:…} names the field, the full path and the system error, never contents', async () => {
    const data = baseConfig();
    data.brokerIdp.clientSecret = '${file:missing.txt}';
    const out = await loadObject(data);
    assert.equal(out.problems.length, 1);
    assert.match(
      out.problems[0] ?? '',
      /^brokerIdp\.clientSecret: `\$\{file:missing\.txt\}`: cannot read \/\S+\/missing\.txt: no such file or directory \(ENOENT\)$/,
    );
  });

  test('malformed substitutions are errors that do not quote the scalar', async () => {
    const data = baseConfig();
    data.brokerIdp.clientSecret = 'abc${NOT CLOSED';
    data.brokerIdp.audience = 'x${bad name}';
    const out = await loadObject(data);
    assert.deepEqual(out.problems, [
      'brokerIdp.audience: invalid substitution: expected `${VAR}`, `${VAR:-default}` or `${file:PATH}`',
      'brokerIdp.clientSecret: unterminated `${` (write `$${` for a literal `${`)',
    ]);
  });

  test('substituted values never appear in problems or warnings', async () => {
    const data = baseConfig();
    data.server = { port: '${SECRET}', allowInsecureIssuers: '${INSECURE}' };
    data.accessProviders[0].type = '${SECRET}';
    data.clientIdps[0].issuer = '${SECRET}';
    data.clientIdentities[0].keys.AWS_DEPLOY.provider = '${SECRET}';
    data.clientIdentities[0].keys.AWS_DEPLOY.outputs = { X: '${FIELD}' };
    const out = await loadObject(data, { SECRET, INSECURE: 'true', FIELD: 'SecretAccesKey' });
    assert.ok(out.problems.length >= 4, out.problems.join('\n'));
    for (const line of [...out.problems, ...out.warnings]) {
      assert.ok(!line.includes(SECRET), line);
      assert.ok(!line.includes('SecretAccesKey'), line);
    }
    assert.ok(
      out.problems.includes(
        'accessProviders[0].type: unknown provider type (a substituted value) (known types: aws-sts, minio, gcp, azure)',
      ),
    );
  });

  test('map keys are not substituted', async () => {
    const data = baseConfig();
    data.clientIdentities[0].keys.AWS_DEPLOY.outputs = { '${NAME}': 'AccessKeyId' };
    const out = await loadObject(data, { NAME: 'GOOD' });
    assert.deepEqual(out.problems, [
      'clientIdentities[0].keys.AWS_DEPLOY.outputs["${NAME}"]: variable name must match ^[A-Za-z_][A-Za-z0-9_]*$',
    ]);
  });
});
