import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { baseConfig, cleanup, loadObject, loadPath, tempDir, writeFiles } from './helpers.ts';

after(cleanup);

const PIN = { repository_owner_id: '49812345' };
// biome-ignore lint/suspicious/noExplicitAny: tests reshape this freely
const withRules = (): Record<string, any> => ({
  ...baseConfig(),
  keys: {
    DEPLOY_PROD: {
      provider: 'aws-prod',
      roleArn: 'arn:aws:iam::222222222222:role/deploy',
      roleSessionName: 'gha-{{ claims.run_id }}',
    },
  },
  clientIdentities: [
    ...baseConfig().clientIdentities,
    {
      name: 'prod',
      idp: 'github-actions',
      match: { ...PIN, environment: 'production' },
      grants: ['DEPLOY_PROD'],
    },
  ],
  denyRules: [
    {
      name: 'no-prs',
      idp: 'github-actions',
      match: { event_name: ['pull_request', 'pull_request_target'] },
      keys: ['*'],
    },
  ],
});

describe('policy in the config loader', () => {
  test('loads claim rules, the catalog and deny rules with defaults filled', async () => {
    const out = await loadObject(withRules());
    assert.deepEqual(out.problems, []);
    assert.equal(out.config?.denyRules[0]?.onMissingClaim, 'deny');
    assert.deepEqual(out.config?.clientIdentities[1]?.grants, ['DEPLOY_PROD']);
  });

  test('reports a bad rule with its exact path, beside other problems', async () => {
    const config = withRules();
    config.clientIdentities[1].match = { environment: 'production' };
    config.accessProviders[0].region = 7;
    const out = await loadObject(config);
    assert.ok(
      out.problems.some((p) => p.startsWith('accessProviders[0].region: must be a string')),
      out.problems.join('\n'),
    );
    const pinned = await loadObject({ ...withRules(), clientIdentities: [config.clientIdentities[1]] });
    assert.deepEqual(
      pinned.problems.map((p) => p.split(':')[0]),
      ['clientIdentities[0].match'],
    );
  });

  test('a key template whose session-name text is a placeholder is not held to the literal charset', async () => {
    const out = await loadObject(withRules());
    assert.deepEqual(out.problems, []);
  });

  test('unknown fields of a rule are refused', async () => {
    const config = withRules();
    config.denyRules[0].mesage = 'x';
    const out = await loadObject(config);
    assert.ok(
      out.problems.some((p) => p.startsWith('denyRules[0].mesage: unknown field; did you mean `message`?')),
      out.problems.join('\n'),
    );
  });

  test('includes merge named identities and deny rules by name, replacing match, grants and keys whole', async () => {
    const dir = await tempDir();
    const base = withRules();
    base.clientIdentities[1].match = { ...PIN, environment: 'production', ref: 'refs/heads/main' };
    await writeFiles(dir, {
      'base.yaml': stringify(base),
      'config.yaml': stringify({
        includes: ['base.yaml'],
        clientIdentities: [{ name: 'prod', match: { ...PIN, environment: 'prod' } }],
        denyRules: [{ name: 'no-prs', match: { event_name: 'pull_request' } }],
      }),
    });
    const out = await loadPath(join(dir, 'config.yaml'));
    assert.deepEqual(out.problems, []);
    assert.equal(out.config?.clientIdentities.length, 2);
    assert.deepEqual(out.config?.clientIdentities[1]?.match, { ...PIN, environment: 'prod' });
    assert.deepEqual(out.config?.clientIdentities[1]?.grants, ['DEPLOY_PROD']);
    assert.equal(out.config?.denyRules.length, 1);
    assert.deepEqual(out.config?.denyRules[0]?.match, { event_name: 'pull_request' });
    assert.deepEqual(out.config?.denyRules[0]?.keys, ['*']);
  });
});
