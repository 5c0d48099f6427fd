import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { CONFIG_DOCS_URL, renderConfigDocs } from '../../../scripts/gen-config-docs.ts';
import { ConfigSchema } from '../../../src/core/config/schema.ts';

describe('docs/configuration.md', () => {
  const rendered = renderConfigDocs();

  test('matches what the generator renders from the schema (run `npm run docs:config` after a schema change)', () => {
    assert.equal(readFileSync(CONFIG_DOCS_URL, 'utf8'), rendered);
  });

  test('documents every top-level section and the nested fields', () => {
    for (const section of Object.keys(ConfigSchema.properties)) {
      assert.ok(rendered.includes(`| \`${section}\` |`), section);
    }
    for (const path of [
      'server.tls.cert',
      'clientIdps[].audience',
      'clientIdentities[].keys.<NAME>.assumeRole.roleArn',
      'clientIdentities[].keys.<NAME>.outputs.<NAME>.value',
      'rateLimit.perSubject.max',
      'logging.audit.maxSize',
      'cache.jwks.staleIfError',
    ]) {
      assert.ok(rendered.includes(`| \`${path}\` |`), path);
    }
  });

  test('has the sections on substitution, includes, outputs and cross-checks', () => {
    for (const heading of [
      '## Substitution',
      '## Anchors, merge keys and includes',
      '## Outputs',
      '## Cross-checks',
      '### Durations (seconds)',
    ]) {
      assert.ok(rendered.includes(`\n${heading}\n`), heading);
    }
  });
});
