/**
 * `config validate` loads what `serve` loads: the files a config names are
 * read by both before anything starts, with the same message (field, full
 * path, the system's reason), and the warnings a newcomer needs. Drives the
 * built binary, as a user meets it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';

const BIN = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'voidkey-config-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const IDENTITIES = `clientIdentities:
  - subject: "repo:a/b:ref:refs/heads/main"
    idp: gh
    keys: { MINIO: { provider: minio-local } }
`;

function config(broker: string, extra = '', identities = IDENTITIES): string {
  return `server: { allowInsecureIssuers: true, host: 127.0.0.1, port: 0 }
${extra}
brokerIdp:
  name: broker
  issuer: http://127.0.0.1:9/realms/x
  audience: voidkey-broker
  clientId: broker
  tokenEndpoint: http://127.0.0.1:9/token
${broker}
clientIdps:
  - { name: gh, issuer: https://token.actions.githubusercontent.com, audience: voidkey }
accessProviders:
  - { name: minio-local, type: minio, endpoint: "http://127.0.0.1:9", region: us-east-1 }
${identities}`;
}

function voidkey(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Problem lines (not warnings) of a run. */
const problems = (stderr: string) =>
  stderr.split('\n').filter((l) => /^[\w.[\]]+: /.test(l) && !l.startsWith('warning: '));

describe('validate and serve read the same files, and fail the same way', () => {
  test('a TLS certificate and key that do not exist: path and system error, from both commands', () => {
    writeFileSync(
      join(dir, 'tls.yaml'),
      config('  clientSecret: not-a-secret-x', 'logging: { level: error }').replace(
        'server: {',
        'server: { tls: { cert: certs/missing-cert.pem, key: /nonexistent/key.pem },',
      ),
    );
    const expected = [
      `server.tls.cert: cannot read ${join(dir, 'certs/missing-cert.pem')}: no such file or directory (ENOENT)`,
      'server.tls.key: cannot read /nonexistent/key.pem: no such file or directory (ENOENT)',
    ];
    const validate = voidkey(['config', 'validate', '--config', 'tls.yaml']);
    assert.equal(validate.code, 1);
    assert.deepEqual(problems(validate.stderr), expected);
    assert.doesNotMatch(validate.stdout, /config OK/);
    const serve = voidkey(['serve', '--config', 'tls.yaml']);
    assert.equal(serve.code, 1);
    assert.deepEqual(problems(serve.stderr), expected);
    assert.doesNotMatch(serve.stdout, /listening/);
  });

  test('a certificate and key that do not form a pair are refused by validate', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'not-a-cert.pem'), 'not a certificate\n');
    writeFileSync(join(dir, 'tls-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(
      join(dir, 'tls-bad.yaml'),
      config('  clientSecret: not-a-secret-x').replace(
        'server: {',
        'server: { tls: { cert: not-a-cert.pem, key: tls-key.pem },',
      ),
    );
    const r = voidkey(['config', 'validate', '--config', 'tls-bad.yaml']);
    assert.equal(r.code, 1);
    assert.match(
      problems(r.stderr)[0] ?? '',
      /^server\.tls: .*not-a-cert\.pem and .*tls-key\.pem do not load/,
    );
  });

  test('privateKeyFile is read and parsed: missing, and not a key, each name the path', () => {
    writeFileSync(
      join(dir, 'pk-missing.yaml'),
      config('  clientAuth: private_key_jwt\n  privateKeyFile: keys/broker.pem'),
    );
    const missing = voidkey(['config', 'validate', '--config', 'pk-missing.yaml']);
    assert.equal(missing.code, 1);
    assert.deepEqual(problems(missing.stderr), [
      `brokerIdp.privateKeyFile: cannot read ${join(dir, 'keys/broker.pem')}: no such file or directory (ENOENT)`,
    ]);
    const serve = voidkey(['serve', '--config', 'pk-missing.yaml']);
    assert.equal(serve.code, 1);
    assert.deepEqual(problems(serve.stderr), problems(missing.stderr));

    writeFileSync(join(dir, 'not-a-key.pem'), 'hello\n');
    writeFileSync(
      join(dir, 'pk-bad.yaml'),
      config('  clientAuth: private_key_jwt\n  privateKeyFile: not-a-key.pem'),
    );
    const bad = voidkey(['config', 'validate', '--config', 'pk-bad.yaml']);
    assert.equal(bad.code, 1);
    assert.deepEqual(problems(bad.stderr), [
      `brokerIdp.privateKeyFile: ${join(dir, 'not-a-key.pem')} is not a PEM private key`,
    ]);
  });

  test('a usable private key validates', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'broker-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(
      join(dir, 'pk-ok.yaml'),
      config('  clientAuth: private_key_jwt\n  privateKeyFile: broker-key.pem'),
    );
    const r = voidkey(['config', 'validate', '--config', 'pk-ok.yaml']);
    assert.equal(r.stdout, 'config OK: pk-ok.yaml\n');
    assert.equal(r.code, 0);
  });

  test('a ${file:} that cannot be read names the field, the full path and the system error', () => {
    writeFileSync(join(dir, 'file-sub.yaml'), config('  clientSecret: ${file:secrets/broker}'));
    const r = voidkey(['config', 'validate', '--config', 'file-sub.yaml']);
    assert.equal(r.code, 1);
    assert.deepEqual(problems(r.stderr), [
      `brokerIdp.clientSecret: \`\${file:secrets/broker}\`: cannot read ${join(dir, 'secrets/broker')}: no such file or directory (ENOENT)`,
    ]);
  });
});

describe('validate warns about what a newcomer gets wrong', () => {
  const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('warning: '));

  test('$VAR without braces, a placeholder default for a secret, a trailing slash, pretty without pino-pretty, nothing granted', () => {
    const text = config(
      '  clientSecret: ${BROKER_SECRET:-changeme}\n  scopes: [$SCOPE]',
      'logging: { format: pretty }',
      'clientIdentities: []\n',
    ).replace('issuer: http://127.0.0.1:9/realms/x', 'issuer: http://127.0.0.1:9/realms/x/');
    writeFileSync(join(dir, 'warn.yaml'), text);
    const r = voidkey(['config', 'validate', '--config', 'warn.yaml']);
    assert.equal(r.code, 0, r.stderr);
    const lines = warnings(r.stderr);
    const has = (pattern: RegExp) =>
      assert.ok(
        lines.some((l) => pattern.test(l)),
        `${pattern} in\n${lines.join('\n')}`,
      );
    has(
      /^warning: brokerIdp\.scopes\[0\]: holds "\$" followed by a name, which is not substituted: write `\$\{NAME\}`/,
    );
    has(
      /^warning: brokerIdp\.clientSecret: BROKER_SECRET is not set, so the default written in the config is used/,
    );
    has(/^warning: brokerIdp\.issuer: ends with "\/": issuers are compared exactly/);
    has(/^warning: logging\.format: pretty needs the optional package pino-pretty, which is not installed/);
    has(/^warning: clientIdentities: no identity is granted any key, so every mint will be refused$/);
    assert.ok(!r.stderr.includes('changeme'), 'the placeholder itself is never shown');
  });

  test('a secret from the environment is no placeholder: no warning', () => {
    writeFileSync(join(dir, 'env.yaml'), config('  clientSecret: ${BROKER_SECRET:-changeme}'));
    const r = voidkey(['config', 'validate', '--config', 'env.yaml'], { BROKER_SECRET: 'real-secret-value' });
    assert.equal(r.code, 0);
    assert.equal(r.stderr.includes('warning: brokerIdp.clientSecret'), false);
  });
});

describe('validate and serve agree on trustProxy', () => {
  test('a list trusting every address is one problem line from both, never a crash at start', () => {
    writeFileSync(
      join(dir, 'trust-all.yaml'),
      config('  clientSecret: not-a-secret-x').replace('server: {', 'server: { trustProxy: ["0.0.0.0/0"],'),
    );
    const expected = [
      "server.trustProxy: this list trusts every address, which is refused like `true`: anyone could choose their IP address (and rate-limit bucket) through X-Forwarded-For; list only your proxies' CIDRs",
    ];
    const validate = voidkey(['config', 'validate', '--config', 'trust-all.yaml']);
    assert.equal(validate.code, 1);
    assert.deepEqual(problems(validate.stderr), expected);
    const serve = voidkey(['serve', '--config', 'trust-all.yaml']);
    assert.equal(serve.code, 1);
    assert.deepEqual(problems(serve.stderr), expected);
    assert.doesNotMatch(serve.stderr, /invalid range|TypeError|at /);
  });
});
