import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { type LoggingConfig, LoggingSchema } from '../../src/core/config/schema.ts';
import { createLogger } from '../../src/server/logger.ts';
import { appFor, TOKENS, world } from './helpers.ts';

/** A broker logger at `level` writing into `lines`, counting the child loggers made from it. */
function counted(level: 'warn' | 'info') {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const logger = createLogger(Value.Default(LoggingSchema, { level }) as LoggingConfig, stream);
  const counter = { children: 0 };
  const child = logger.child;
  logger.child = function countedChild(this: unknown, ...args: Parameters<typeof child>) {
    counter.children++;
    return child.apply(this, args);
  } as typeof child;
  return { lines, logger, counter };
}

const keysRequest = (id: string) => ({
  method: 'GET' as const,
  url: '/credentials/keys',
  headers: { authorization: `Bearer ${TOKENS.main}`, 'x-request-id': id },
});

describe('per-request loggers', () => {
  test('at warn, a request that succeeds writes nothing', async () => {
    const { lines, logger } = counted('warn');
    const app = appFor(world(), { logger });
    await app.ready();
    for (let i = 0; i < 3; i++) assert.equal((await app.inject(keysRequest(`quiet-${i}`))).statusCode, 200);
    assert.equal(lines.length, 0);
    await app.close();
  });

  test('at info, each request gets its child, and its lines carry the request id', async () => {
    const { lines, logger, counter } = counted('info');
    const app = appFor(world(), { logger });
    await app.ready();
    const before = counter.children;
    assert.equal((await app.inject(keysRequest('loud-1'))).statusCode, 200);
    assert.equal(
      (await app.inject({ ...keysRequest('loud-2'), headers: { 'x-request-id': 'loud-2' } })).statusCode,
      401,
    );
    assert.equal(counter.children, before + 2);
    const byId = lines.filter((line) => line.requestId === 'loud-1' || line.requestId === 'loud-2');
    assert.deepEqual(
      byId.map((line) => [line.requestId, line.msg]),
      [
        ['loud-1', 'request completed'],
        ['loud-2', 'request refused'],
        ['loud-2', 'request completed'],
      ],
    );
    await app.close();
  });
});
