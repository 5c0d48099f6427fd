import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { silentLogger } from '../../src/core/types.ts';
import { installSignalHandlers } from '../../src/server/signals.ts';
import { sleep } from './helpers.ts';
import { type Live, mint, startLive, startLiveBroker } from './live.ts';

describe('installSignalHandlers', () => {
  test('runs the graceful stop once on SIGTERM or SIGINT, then exits 0', async () => {
    const source = new EventEmitter();
    const calls: string[] = [];
    const exited = new Promise<number>((resolve) => {
      installSignalHandlers(
        {
          shutdown: async (signal) => {
            calls.push(`shutdown ${signal}`);
            await sleep(20);
          },
          reload: async () => calls.push('reload'),
        },
        { logger: silentLogger, source, flush: () => calls.push('flush'), exit: resolve },
      );
    });
    source.emit('SIGTERM', 'SIGTERM');
    source.emit('SIGINT', 'SIGINT');
    source.emit('SIGHUP', 'SIGHUP');
    assert.equal(await exited, 0);
    assert.deepEqual(calls, ['shutdown SIGTERM', 'flush']);
  });

  test('reloads on SIGHUP', async () => {
    const source = new EventEmitter();
    let reloads = 0;
    const remove = installSignalHandlers(
      { shutdown: async () => {}, reload: async () => reloads++ },
      { logger: silentLogger, source, exit: () => {} },
    );
    source.emit('SIGHUP', 'SIGHUP');
    source.emit('SIGHUP', 'SIGHUP');
    assert.equal(reloads, 2);
    remove();
    source.emit('SIGHUP', 'SIGHUP');
    assert.equal(reloads, 2);
  });

  test('exits 1 when the stop fails', async () => {
    const source = new EventEmitter();
    const code = await new Promise<number>((resolve) => {
      installSignalHandlers(
        {
          shutdown: async () => {
            throw new Error('boom');
          },
          reload: async () => {},
        },
        { logger: silentLogger, source, exit: resolve },
      );
      source.emit('SIGTERM', 'SIGTERM');
    });
    assert.equal(code, 1);
  });
});

describe('the graceful stop of a running broker', () => {
  let live: Live;
  before(async () => {
    live = await startLive();
  });
  after(() => live.close());

  test('turns readiness false, keeps serving for drainDelay, finishes an in-flight mint, then stops accepting', async () => {
    const audit = { file: 'audit.log' };
    await live.write(
      live.config({
        server: { host: '127.0.0.1', allowInsecureIssuers: true, drainDelay: 1000 },
        logging: { audit },
      }),
    );
    const { broker, lines } = await startLiveBroker(live);
    const { url } = broker;
    assert.equal((await fetch(`${url}/health/ready`)).status, 200);
    await mint(url, await live.token());
    // Generous times: the three probes below must fit in the drain delay on a loaded machine.
    live.proxy.latencyMs = 1200;
    const pending = mint(url, await live.token());
    await sleep(100);
    const started = Date.now();
    const stopped = broker.shutdown('SIGTERM');
    await sleep(50);
    assert.equal((await fetch(`${url}/health/ready`)).status, 503, 'not ready while draining');
    assert.equal((await fetch(`${url}/health/live`)).status, 200, 'still alive');
    assert.equal((await fetch(`${url}/credentials/idp-providers`)).status, 200, 'still serving');
    const res = await pending;
    await stopped;
    live.proxy.latencyMs = 0;
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const took = Date.now() - started;
    assert.ok(took >= 1000, 'the drain delay was kept');
    // Regression: the finished mint's kept-alive socket held the close until the 15 s grace period.
    assert.ok(took < 5000, `stopped after ${took} ms`);
    await assert.rejects(fetch(`${url}/health/live`));
    const records = (await readFile(join(live.dir, 'audit.log'), 'utf8')).trim().split('\n');
    assert.equal(records.filter((r) => r.includes('"MINT_SUCCESS"')).length, 2, 'audit flushed before exit');
    const messages = lines.map((l) => JSON.parse(l).msg as string);
    assert.ok(messages.includes('shutting down: not ready any more, still serving during the drain delay'));
    assert.equal(messages.at(-1), 'stopped');
  });

  test('cuts requests still running when shutdownGracePeriod is over', async () => {
    await live.write(
      live.config({ server: { host: '127.0.0.1', allowInsecureIssuers: true, shutdownGracePeriod: 200 } }),
    );
    const { broker, lines } = await startLiveBroker(live);
    await mint(broker.url, await live.token());
    live.proxy.latencyMs = 3000;
    const pending = mint(broker.url, await live.token()).then(
      (r) => r.status,
      () => 'cut',
    );
    await sleep(100);
    const started = Date.now();
    await broker.shutdown('SIGTERM');
    const took = Date.now() - started;
    live.proxy.latencyMs = 0;
    assert.ok(took >= 200 && took < 1500, `stopped after ${took} ms`);
    assert.equal(await pending, 'cut');
    assert.ok(lines.some((l) => l.includes('shutdown grace period over')));
  });
});
