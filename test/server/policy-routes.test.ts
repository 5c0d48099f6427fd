import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { Config } from '../../src/core/config/schema.ts';
import { memoryReplayGuard } from '../../src/server/state/index.ts';
import {
  appFor,
  branchDenyRule,
  callerOf,
  MAIN_SUBJECT,
  mintRefusal,
  TOKENS,
  testConfig,
  world,
} from './helpers.ts';
import { assertError, assertSameAnswer, assertSameError, jsonPost } from './http.ts';

const apps: Array<{ close(): Promise<unknown> }> = [];
after(async () => {
  for (const app of apps) await app.close();
});

/** testConfig with a deny rule on AWS_READ, and explain on or off. */
function policyConfig(options: { explain: boolean; oneTimeUse?: boolean }): Config {
  const config = testConfig({
    server: { explain: options.explain },
    denyRules: [branchDenyRule('no-reads', ['AWS_READ'])],
  });
  if (options.oneTimeUse) {
    config.clientIdps = config.clientIdps.map((i) => (i.name === 'github' ? { ...i, oneTimeUse: true } : i));
  }
  return config;
}

function setup(options: { explain: boolean; oneTimeUse?: boolean }) {
  const w = world({
    config: policyConfig(options),
    ...(options.oneTimeUse ? { replayGuard: memoryReplayGuard() } : {}),
  });
  const app = appFor(w);
  apps.push(app);
  return { w, app };
}

// Reasons and what an explanation holds are test/core's (mint.test.ts, policy/); here, what HTTP adds.
describe('policy reasons and explanations over HTTP', () => {
  test('with server.explain a 403 carries the core’s explanation, and the answer names no subject or pattern', async () => {
    const { app, w } = setup({ explain: true });
    const res = await app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    const body = assertSameError(res, await mintRefusal(w, TOKENS.main, { keys: ['AWS_READ'] }));
    assert.ok((body.details as { explanation?: unknown }).explanation, 'no explanation');
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

  test('POST /credentials/explain answers the core’s explanation without minting and never consumes a one-time token', async () => {
    const { app, w } = setup({ explain: true, oneTimeUse: true });
    const res = await app.inject(jsonPost('/credentials/explain', { keys: ['AWS_DEPLOY'] }, TOKENS.main));
    assertSameAnswer(res, w.broker.explain(await callerOf(w, TOKENS.main), ['AWS_DEPLOY']));
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
});
