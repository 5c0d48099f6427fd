import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../../src/core/config/index.ts';

const BASE = `
brokerIdp: { name: b, issuer: https://idp.example.com, audience: sts, clientId: c, clientSecret: s }
clientIdps: [{ name: gh, issuer: https://token.actions.githubusercontent.com, audience: voidkey }]
`;

async function load(yaml: string) {
  const dir = await mkdtemp(join(tmpdir(), 'voidkey-gcp-'));
  const path = join(dir, 'config.yaml');
  await writeFile(path, BASE + yaml);
  try {
    return { ...(await loadConfig({ path, env: {} })), problems: [] as readonly string[] };
  } catch (err) {
    if (err instanceof ConfigError) return { problems: err.problems, warnings: err.warnings };
    throw err;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const WIP = '//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/p/providers/b';

describe('gcp and endpoint cross-checks', () => {
  test('refuses a workloadIdentityProvider that is not the full resource name', async () => {
    const { problems } = await load(`
accessProviders: [{ name: g, type: gcp, workloadIdentityProvider: "projects/123/locations/global/workloadIdentityPools/p/providers/b" }]
`);
    assert.deepEqual(problems, [
      'accessProviders[0].workloadIdentityProvider: must be //iam.googleapis.com/projects/NUMBER/locations/LOCATION/workloadIdentityPools/POOL/providers/PROVIDER',
    ]);
  });

  test('refuses a delegate that is neither an email nor its resource name', async () => {
    const { problems } = await load(`
accessProviders: [{ name: g, type: gcp, workloadIdentityProvider: "${WIP}" }]
clientIdentities:
  - subject: s
    idp: gh
    keys:
      K: { provider: g, serviceAccount: a@p.iam.gserviceaccount.com, delegates: [b@p.iam.gserviceaccount.com, "projects/-/serviceAccounts/c@p.iam.gserviceaccount.com", "not an email"] }
`);
    assert.deepEqual(problems, [
      'clientIdentities[0].keys.K.delegates[2]: must be a service account email or projects/-/serviceAccounts/EMAIL',
    ]);
  });

  test('warns when a gcp key asks for more than an hour', async () => {
    const { problems, warnings } = await load(`
accessProviders: [{ name: g, type: gcp, workloadIdentityProvider: "${WIP}" }]
clientIdentities:
  - { subject: "repo:acme/app:ref:refs/heads/main", idp: gh, keys: { K: { provider: g, serviceAccount: a@p.iam.gserviceaccount.com, duration: 7200 } } }
`);
    assert.deepEqual(problems, []);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /^clientIdentities\[0\]\.keys\.K\.duration: over 3600 seconds/);
  });

  test('refuses a provider endpoint with a query string', async () => {
    const { problems } = await load(`
accessProviders: [{ name: a, type: aws-sts, endpoint: "https://sts.example.com/?x=1" }]
`);
    assert.deepEqual(problems, ['accessProviders[0].endpoint: must not have a query or fragment']);
  });
});
