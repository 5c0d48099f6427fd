import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { type LoggingConfig, LoggingSchema } from '../../src/core/config/schema.ts';
import { createLogger } from '../../src/server/logger.ts';
import { appFor, TOKENS, world } from './helpers.ts';

function capture(extra: string[] = []) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logging = Value.Default(LoggingSchema, { level: 'debug', redact: extra }) as LoggingConfig;
  return { lines, logger: createLogger(logging, stream) };
}

describe('createLogger', () => {
  test('censors tokens, secrets and minted values wherever the built-in paths put them', () => {
    const { lines, logger } = capture(['req.headers["x-custom-secret"]']);
    logger.info(
      {
        req: {
          headers: {
            authorization: 'Bearer SECRET_01',
            cookie: 'sid=SECRET_02',
            'x-custom-secret': 'SECRET_03',
          },
        },
        oidcToken: 'SECRET_04',
        body: { oidcToken: 'SECRET_05' },
        query: { token: 'SECRET_06' },
        brokerIdp: { clientSecret: 'SECRET_07' },
        redis: { url: 'redis://:SECRET_08@127.0.0.1:6379' },
        response: { credentials: { AWS: { AWS_SECRET_ACCESS_KEY: 'SECRET_09' } } },
        fields: { SecretAccessKey: 'SECRET_10', SessionToken: 'SECRET_11', AccessKeyId: 'AKIAVISIBLE' },
        call: { detail: { webIdentityToken: 'SECRET_12' } },
      },
      'everything',
    );
    const line = lines.join('');
    assert.equal(line.includes('SECRET_'), false, line);
    assert.match(line, /AKIAVISIBLE/);
    assert.match(line, /\[redacted\]/);
  });

  test('logs one line per request with id, route template, status, duration and user agent, never the query', async () => {
    const { lines, logger } = capture();
    const app = appFor(world(), { logger });
    const res = await app.inject({
      method: 'GET',
      url: `/credentials/keys?token=${TOKENS.main}`,
      headers: { authorization: `Bearer ${TOKENS.main}`, 'user-agent': 'curl/8', 'x-request-id': 'log-1' },
    });
    assert.equal(res.statusCode, 200);
    const done = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'request completed');
    assert.equal(done.length, 1);
    const { requestId, method, route, path, statusCode, responseTime, userAgent } = done[0];
    assert.deepEqual(
      { requestId, method, route, path, statusCode, userAgent },
      {
        requestId: 'log-1',
        method: 'GET',
        route: '/credentials/keys',
        path: '/credentials/keys',
        statusCode: 200,
        userAgent: 'curl/8',
      },
    );
    assert.equal(typeof responseTime, 'number');
    assert.equal(lines.join('').includes(TOKENS.main), false);
    await app.close();
  });
});
