import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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
  test('escapes control characters in every logged value, keeping the lines of an error stack', () => {
    const { lines, logger } = capture();
    const error = new Error('bad \u001b[31minput');
    logger.warn(
      { subject: 'user\u001b[8m\nadmin', nested: [{ upstreamRequestId: 'id\u009b\u2028x' }], err: error },
      'refused',
    );
    const line = JSON.parse(lines[0] as string);
    assert.equal(line.subject, 'user\\x1b[8m\\x0aadmin');
    assert.equal(line.nested[0].upstreamRequestId, 'id\\x9b\\u2028x');
    assert.equal(line.err.message, 'bad \\x1b[31minput');
    assert.ok(line.err.stack.startsWith('Error: bad \\x1b[31minput\n    at '), line.err.stack);
  });

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

  test('censors sensitive fields at any depth, in arrays, errors, causes, class instances and bindings', () => {
    const { lines, logger } = capture();
    class Call {
      provider = 'aws';
      webIdentityToken = 'SECRET_20';
    }
    const cause = Object.assign(new Error('upstream refused'), {
      request: { headers: { Authorization: 'SECRET_21' } },
    });
    const err = Object.assign(new Error('mint failed', { cause }), {
      brokerToken: 'SECRET_22',
      attempts: [{ body: { client_secret: 'SECRET_23' } }],
    });
    const deep = {
      a: { b: { c: { d: { e: { f: { session_token: 'SECRET_24', kept: 'DEEP_VISIBLE' } } } } } },
    };
    const selfJson = {
      token: 'SECRET_29',
      toJSON() {
        return this;
      },
    };
    const cyclic: Record<string, unknown> = { password: 'SECRET_25' };
    cyclic.self = cyclic;
    logger.child({ binding: { 'proxy-authorization': 'SECRET_26' } }).warn(
      {
        err,
        call: new Call(),
        deep,
        cyclic,
        list: [{ AWS_SESSION_TOKEN: 'SECRET_27' }, 'plain'],
        url: new URL('https://idp.example/jwks'),
        when: new Date(0),
        selfJson: Object.setPrototypeOf(selfJson, { kind: 'custom' }),
      },
      'hostile shapes',
    );
    logger.error(Object.assign(new Error('bare error'), { privateKey: 'SECRET_28' }));
    const text = lines.join('');
    assert.equal(text.includes('SECRET_'), false, text);
    const [line, bare] = lines.map((l) => JSON.parse(l));
    assert.equal(line.msg, 'hostile shapes');
    assert.equal(line.err.type, 'Error');
    assert.match(line.err.message, /mint failed/);
    assert.equal(line.err.brokerToken, '[redacted]');
    assert.equal(line.call.provider, 'aws');
    assert.equal(line.deep.a.b.c.d.e.f.kept, 'DEEP_VISIBLE');
    assert.equal(line.cyclic.self, '[Circular]');
    assert.deepEqual(line.list, [{ AWS_SESSION_TOKEN: '[redacted]' }, 'plain']);
    assert.equal(line.url, 'https://idp.example/jwks');
    assert.equal(line.when, '1970-01-01T00:00:00.000Z');
    assert.equal(line.selfJson.token, '[redacted]');
    assert.deepEqual(line.binding, { 'proxy-authorization': '[redacted]' });
    assert.equal(bare.msg, 'bare error');
    assert.equal(bare.err.privateKey, '[redacted]');
    // The logged objects themselves are untouched.
    assert.equal(err.brokerToken, 'SECRET_22');
    assert.equal(deep.a.b.c.d.e.f.session_token, 'SECRET_24');
  });

  test('a field whose getter throws costs the line its fields, never the caller an exception', () => {
    const { lines, logger } = capture();
    const hostile = {
      get token(): string {
        throw new Error('SECRET_30');
      },
    };
    assert.doesNotThrow(() => logger.info({ hostile }, 'still logged'));
    assert.equal(lines.length, 1);
    const line = JSON.parse(lines[0] as string);
    assert.equal(line.msg, 'still logged');
    assert.equal(line.logFieldsUnavailable, true);
    assert.equal(lines.join('').includes('SECRET_'), false);
  });

  test('redis.url is censored, other urls are not', () => {
    const { lines, logger } = capture();
    logger.info(
      { redis: { url: 'redis://:SECRET_40@h:6379' }, jwksUri: { url: 'https://idp/jwks' } },
      'urls',
    );
    const line = JSON.parse(lines[0] as string);
    assert.equal(line.redis.url, '[redacted]');
    assert.equal(line.jwksUri.url, 'https://idp/jwks');
  });

  test('the Redis and Sentinel passwords are censored', () => {
    const { lines, logger } = capture();
    logger.info(
      { redis: { password: 'SECRET_41', sentinelPassword: 'SECRET_42', name: 'mymaster' } },
      'redis',
    );
    const line = JSON.parse(lines[0] as string);
    assert.deepEqual(line.redis, {
      password: '[redacted]',
      sentinelPassword: '[redacted]',
      name: 'mymaster',
    });
  });

  test('stdout lines queued when the process exits are written, not lost', () => {
    const script = `
      import { createLogger } from ${JSON.stringify(new URL('../../src/server/logger.ts', import.meta.url).href)};
      const logger = createLogger({ level: 'info', format: 'json', redact: [] });
      for (let i = 0; i < 5000; i++) logger.info({ i }, 'line');
      process.exit(0);
    `;
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    assert.equal(run.status, 0, run.stderr);
    const lines = run.stdout.trim().split('\n');
    assert.equal(lines.length, 5000);
    assert.equal(JSON.parse(lines[4999] as string).i, 4999);
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
