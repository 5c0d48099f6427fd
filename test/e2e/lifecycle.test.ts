/**
 * The broker's own identity and its process life through the built binary:
 * each `brokerIdp.clientAuth` method against the real OP (three brokers
 * sharing one set of peers), readiness, and a SIGTERM that lets an in-flight
 * mint finish and exits 0.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { registerCredentials } from './helpers/secrets.ts';
import {
  BROKER_CLIENT,
  type BrokerAuth,
  type Peers,
  STS_AUD,
  SUBJECT,
  startPeers,
  startWorld,
  type World,
} from './helpers/world.ts';

async function mintOnce(w: World): Promise<void> {
  const token = await w.token(w.opA, SUBJECT);
  const res = await w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_READ'] } });
  assert.equal(res.status, 200, res.text);
  registerCredentials(res.body.credentials);
}

describe('the broker process', () => {
  let peers: Peers;
  before(async () => {
    peers = await startPeers();
  });
  after(async () => {
    await peers?.close();
  });

  for (const auth of ['client_secret_post', 'private_key_jwt'] as BrokerAuth[]) {
    describe(`authenticating with ${auth}`, () => {
      let w: World;
      before(async () => {
        w = await startWorld({ brokerAuth: auth, peers });
      });
      after(async () => {
        await w?.close();
      });

      test('is ready once started', async () => {
        const res = await w.api('GET', '/health/ready');
        assert.equal(res.status, 200, res.text);
      });

      test(`obtains its broker token with ${auth} and mints with it`, async () => {
        await mintOnce(w);
        assert.equal(w.opA.issued(BROKER_CLIENT[auth]), 1);
        const claims = decodeJwt(w.proxy.calls.at(-1)?.webIdentityToken ?? '');
        assert.equal(claims.sub, BROKER_CLIENT[auth]);
        assert.equal(claims.aud, STS_AUD);
      });

      test('leaves no token, client secret or credential in the broker output', () => {
        const { leaks, registered, outputBytes } = w.leaks();
        assert.ok(registered > 5 && outputBytes > 0, `${registered} secrets, ${outputBytes} bytes of output`);
        assert.deepEqual(leaks, []);
      });
    });
  }

  describe('stopped with SIGTERM', () => {
    let w: World;
    before(async () => {
      w = await startWorld({ peers });
    });
    after(async () => {
      await w?.close();
    });

    test('finishes an in-flight mint and exits 0 within shutdownGracePeriod', async () => {
      await mintOnce(w);
      const token = await w.token(w.opA, SUBJECT);
      w.proxy.latencyMs = 700;
      const pending = w.api('POST', '/credentials/mint', { token, json: { keys: ['AWS_DEPLOY'] } });
      await new Promise((r) => setTimeout(r, 250));
      // shutdownGracePeriod is 3000 ms in the world config: 6 s is ample before SIGKILL.
      const exit = w.broker.stop('SIGTERM', 6000);
      const res = await pending;
      w.proxy.latencyMs = 0;
      assert.equal(res.status, 200, res.text);
      registerCredentials(res.body.credentials);
      assert.deepEqual(await exit, { code: 0, signal: null });
      await assert.rejects(fetch(`${w.broker.url}/health/live`));
      assert.deepEqual(w.leaks().leaks, []);
    });
  });
});
