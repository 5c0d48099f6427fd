import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { JSON_SCHEMAS } from '../../scripts/gen-json-schema.ts';

const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const compile = (path: string) => new Ajv({ allErrors: true, strict: false }).compile(JSON.parse(read(path)));
const errorsOf = (validate: ReturnType<typeof compile>, doc: unknown) =>
  validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);

describe('schema/*.schema.json', () => {
  for (const { url, render } of JSON_SCHEMAS) {
    test(`${url.pathname.split('/').pop()} matches what the generator renders (run \`npm run docs:config\`)`, () => {
      assert.equal(readFileSync(url, 'utf8'), render());
    });
  }

  test('ship in the package', () => {
    const pkg = JSON.parse(read('package.json')) as { files: string[] };
    assert.ok(pkg.files.includes('schema'));
  });

  test('docs/configuration.md documents the yaml-language-server header', () => {
    assert.ok(
      read('docs/configuration.md').includes(
        '# yaml-language-server: $schema=./node_modules/voidkey/schema/config.schema.json',
      ),
    );
  });
});

type Fields = Record<string, unknown>;
interface Example extends Fields {
  server: Fields;
  brokerIdp: Fields;
  clientIdps: Fields[];
}

describe('schema/config.schema.json', () => {
  const validate = compile('schema/config.schema.json');
  const example = () => parse(read('config/example.yaml'), { merge: true }) as Example;

  test('accepts config/example.yaml as written, `${…}` in number fields included', () => {
    assert.deepEqual(errorsOf(validate, example()), []);
    assert.equal(example().server.port, '${PORT:-3000}');
  });

  test('accepts a substitution wherever a number, boolean or enum goes', () => {
    const doc = example();
    doc.server.allowQueryToken = '${ALLOW_QUERY:-false}';
    doc.brokerIdp.clientAuth = '${CLIENT_AUTH}';
    doc.rateLimit = { max: '${file:max.txt}' };
    assert.deepEqual(errorsOf(validate, doc), []);
  });

  test('requires no top-level section (includes may bring it) nor any field that has a default', () => {
    const { brokerIdp } = example();
    assert.deepEqual(errorsOf(validate, { brokerIdp }), []);
    assert.deepEqual(errorsOf(validate, { includes: ['base.yaml'] }), []);
    assert.deepEqual(
      errorsOf(validate, { brokerIdp: { name: 'x', issuer: 'https://i', clientId: 'c' } }),
      [],
    );
    assert.deepEqual(errorsOf(validate, { brokerIdp: { name: 'x', issuer: 'https://i' } }), [
      "/brokerIdp must have required property 'clientId'",
    ]);
  });

  test('refuses unknown fields, wrong types and text that is not one substitution', () => {
    const doc = example();
    doc.server.bogus = 1;
    doc.server.port = 'abc';
    doc.clientIdps[0].clockTolerance = '30 ${X}';
    const errors = errorsOf(validate, doc);
    assert.ok(errors.includes('/server must NOT have additional properties'), errors.join('\n'));
    assert.ok(errors.includes('/server/port must match a schema in anyOf'), errors.join('\n'));
    assert.ok(
      errors.includes('/clientIdps/0/clockTolerance must match a schema in anyOf'),
      errors.join('\n'),
    );
  });
});

describe('schema/policy-tests.schema.json', () => {
  const validate = compile('schema/policy-tests.schema.json');

  test('accepts a cases file', () => {
    assert.deepEqual(errorsOf(validate, parse(read('test/fixtures/policy/subjects.cases.yaml'))), []);
  });

  test('refuses an unknown version, a case without expect and an unknown reason code', () => {
    const errors = errorsOf(validate, {
      version: 2,
      cases: [
        { name: 'a', claims: {} },
        { name: 'b', claims: {}, expect: { decision: 'deny', keys: { K: { reason: 'nope' } } } },
      ],
    });
    assert.ok(errors.includes('/version must be equal to constant'), errors.join('\n'));
    assert.ok(errors.includes("/cases/0 must have required property 'expect'"), errors.join('\n'));
    assert.ok(
      errors.includes('/cases/1/expect/keys/K/reason must match a schema in anyOf'),
      errors.join('\n'),
    );
  });
});
