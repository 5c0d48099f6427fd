import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Config } from '../../src/core/config/schema.ts';
import { memoryReplayGuard } from '../../src/server/state/index.ts';
import { appFor, MAIN_SUBJECT, TOKENS, testConfig, world } from './helpers.ts';
import { assertError, jsonPost } from './http.ts';

const apps: Array<{ close(): Promise<unknown> }> = [];
after(async () => {
  for (const app of apps) await app.close();
});

/** testConfig with deny rules, and explain on or off. */
function policyConfig(options: { explain: boolean; denyAll?: boolean; oneTimeUse?: boolean }): Config {
  const config = testConfig({ server: { explain: options.explain } }) as Config & Record<string, unknown>;
  config.denyRules = [
    {
      name: options.denyAll ? 'freeze' : 'no-reads',
      idp: 'github',
      match: { sub: { glob: 'repo:acme/app:ref:refs/heads/*' } },
      keys: options.denyAll ? ['*'] : ['AWS_READ'],
      message: 'Reads are frozen.',
      onMissingClaim: 'deny',
    },
  ];
  if (options.oneTimeUse) {
    config.clientIdps = config.clientIdps.map((i) => (i.name === 'github' ? { ...i, oneTimeUse: true } : i));
  }
  return config;
}

function setup(options: { explain: boolean; denyAll?: boolean; oneTimeUse?: boolean }) {
  const w = world({
    config: policyConfig(options),
    ...(options.oneTimeUse ? { replayGuard: memoryReplayGuard() } : {}),
  });
  const app = appFor(w);
  apps.push(app);
  return { w, app };
}

describe('policy reasons and explanations over HTTP', () => {
  test('a 403 carries one reason per denied key, and no explanation while explain is off', async () => {
    const { app } = setup({ explain: false });
    const res = await app.inject(
      jsonPost('/credentials/mint', { keys: ['AWS_READ', 'NOPE', 'AWS_DEPLOY'] }, TOKENS.main),
    );
    assertError(res, 'FORBIDDEN', {
      details: {
        deniedKeys: ['AWS_READ', 'NOPE'],
        reasons: { AWS_READ: 'denied_by_rule', NOPE: 'key_not_granted' },
      },
    });
  });

  test('with server.explain a 403 explains, naming rules and identities but never a subject or pattern', async () => {
    const { app } = setup({ explain: true });
    const res = await app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    assert.equal(res.statusCode, 403);
    const details = res.json().details as {
      reasons: unknown;
      explanation: { keys: Record<string, unknown> };
    };
    assert.deepEqual(details.reasons, { AWS_READ: 'denied_by_rule' });
    assert.deepEqual(details.explanation.keys.AWS_READ, {
      decision: 'deny',
      reason: 'denied_by_rule',
      identities: [
        { identity: 'clientIdentities[0]', matched: true, branches: [[{ claim: 'sub', result: 'pass' }]] },
      ],
      unpinnedIdentities: 0,
      moreIdentities: 0,
      denyRules: [{ name: 'no-reads', message: 'Reads are frozen.' }],
    });
    assert.equal(res.body.includes(MAIN_SUBJECT), false);
    assert.equal(res.body.includes('refs/heads/*'), false);
  });

  test('POST /credentials/explain is 404 NOT_FOUND while explain is off, whatever the body', async () => {
    const { app } = setup({ explain: false });
    assertError(
      await app.inject(jsonPost('/credentials/explain', { keys: ['AWS_READ'] }, TOKENS.main)),
      'NOT_FOUND',
    );
    assertError(await app.inject(jsonPost('/credentials/explain', { nope: 1 })), 'NOT_FOUND');
  });

  test('POST /credentials/explain answers without minting and never consumes a one-time token', async () => {
    const { app, w } = setup({ explain: true, oneTimeUse: true });
    const res = await app.inject(jsonPost('/credentials/explain', { keys: ['AWS_DEPLOY'] }, TOKENS.main));
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['cache-control'], 'no-store');
    const { explanation } = res.json() as { explanation: { keys: Record<string, { decision: string }> } };
    assert.equal(explanation.keys.AWS_DEPLOY?.decision, 'allow');
    assert.equal(w.brokerTokens.calls.length, 0);
    const minted = await app.inject(jsonPost('/credentials/mint', { keys: ['AWS_DEPLOY'] }, TOKENS.main));
    assert.equal(minted.statusCode, 200, minted.body);
    const replayed = await app.inject(jsonPost('/credentials/mint', { keys: ['AWS_DEPLOY'] }, TOKENS.main));
    assertError(replayed, 'INVALID_TOKEN', { details: { reason: 'token_replayed' }, message: /replayed/ });
  });

  test('POST /credentials/explain needs a valid token', async () => {
    const { app } = setup({ explain: true });
    assertError(await app.inject(jsonPost('/credentials/explain', { keys: ['AWS_READ'] })), 'UNAUTHORIZED');
  });

  test('GET /credentials/keys is 200 with no keys when identities match but every key is denied', async () => {
    const { app } = setup({ explain: false, denyAll: true });
    const res = await app.inject({
      url: '/credentials/keys',
      headers: { authorization: `Bearer ${TOKENS.main}` },
    });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { subject: MAIN_SUBJECT, idp: 'github', keys: [] });
  });

  test('GET /credentials/keys leaves out a denied key', async () => {
    const { app } = setup({ explain: false });
    const res = await app.inject({
      url: '/credentials/keys',
      headers: { authorization: `Bearer ${TOKENS.main}` },
    });
    const names = (res.json() as { keys: Array<{ name: string }> }).keys.map((k) => k.name);
    assert.deepEqual(names, ['AWS_DEPLOY', 'AWS_CHAINED', 'MINIO_STORAGE', 'GCP_DEPLOY', 'AZURE_DEPLOY']);
  });
});
