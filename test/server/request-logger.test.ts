import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import type { FastifyBaseLogger } from 'fastify';
import { type LoggingConfig, LoggingSchema } from '../../src/core/config/schema.ts';
import { createLogger } from '../../src/server/logger.ts';
import { lazyRequestLogger } from '../../src/server/request-logger.ts';
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
  test('at warn, a request that succeeds makes no child logger and writes nothing', async () => {
    const { lines, logger, counter } = counted('warn');
    const app = appFor(world(), { logger });
    await app.ready();
    const before = counter.children;
    for (let i = 0; i < 3; i++) assert.equal((await app.inject(keysRequest(`quiet-${i}`))).statusCode, 200);
    assert.equal(counter.children, before);
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

  test('answers level questions from its parent and builds the child only to write, nest or change level', () => {
    const { lines, logger, counter } = counted('warn');
    const lazy = lazyRequestLogger(logger as FastifyBaseLogger, { requestId: 'r-1', token: 'SECRET_1' }, {});
    assert.equal(lazy.level, 'warn');
    assert.equal((lazy as unknown as { isLevelEnabled(l: string): boolean }).isLevelEnabled('info'), false);
    lazy.info('dropped');
    lazy.debug({ x: 1 }, 'dropped');
    assert.equal(counter.children, 0);
    assert.equal(lines.length, 0);

    lazy.warn({ step: 'one' }, 'kept');
    assert.equal(counter.children, 1);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.requestId, 'r-1');
    assert.equal(lines[0]?.token, '[redacted]');
    assert.equal(lines[0]?.step, 'one');

    lazy.level = 'debug';
    lazy.debug('now kept');
    assert.equal(lines.at(-1)?.msg, 'now kept');
    assert.equal(logger.level, 'warn');
    assert.equal(counter.children, 1);

    const nested = lazy.child({ part: 'two' });
    nested.warn('nested');
    assert.equal(lines.at(-1)?.requestId, 'r-1');
    assert.equal(lines.at(-1)?.part, 'two');
  });

  test('a child with its own options (a route log level) is built at once', () => {
    const { logger, counter } = counted('warn');
    const eager = lazyRequestLogger(logger as FastifyBaseLogger, { requestId: 'r-2' }, { level: 'debug' });
    assert.equal(counter.children, 1);
    assert.equal(eager.level, 'debug');
  });
});
