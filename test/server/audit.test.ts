import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Value } from '@sinclair/typebox/value';
import { type Config, type LoggingConfig, LoggingSchema } from '../../src/core/config/schema.ts';
import { silentLogger } from '../../src/core/types.ts';
import { openAuditFile } from '../../src/server/audit/file.ts';
import { createAuditLog } from '../../src/server/audit/log.ts';
import { createLogger } from '../../src/server/logger.ts';
import { memoryReplayGuard } from '../../src/server/state/index.ts';
import {
  defaultOutput,
  GITHUB_ISSUER,
  MAIN_SUBJECT,
  providerOf,
  TOKENS,
  testConfig,
  world,
} from './helpers.ts';
import { jsonPost } from './http.ts';
import { opsApp, patchConfig, samples } from './ops.ts';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'voidkey-audit-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const withAudit = (audit: Record<string, unknown>) => patchConfig(testConfig(), { logging: { audit } });
const readLines = async (path: string) =>
  (await readFile(path, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('audit events on the log stream', () => {
  test('records AUTH_SUCCESS and MINT_SUCCESS with what matches the cloud’s logs, and no secret', async () => {
    const h = opsApp();
    const res = await h.app.inject({
      ...jsonPost('/credentials/mint', { keys: ['AWS_DEPLOY'] }, TOKENS.main),
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TOKENS.main}`,
        'user-agent': 'voidkey-cli/1.0',
        'x-request-id': 'req-audit-1',
      },
    });
    assert.equal(res.statusCode, 200);
    const [auth, mint] = h.audits();
    const identity = {
      iss: GITHUB_ISSUER,
      subject: MAIN_SUBJECT,
      idp: 'github',
      tokenId: `jti-${MAIN_SUBJECT}`,
      keys: ['AWS_DEPLOY'],
      clientIp: '127.0.0.1',
      userAgent: 'voidkey-cli/1.0',
      requestId: 'req-audit-1',
    };
    const strip = (e: Record<string, unknown> | undefined) => {
      const { timestamp, level, time, pid, hostname, msg, ...rest } = e ?? {};
      assert.match(String(timestamp), /^\d{4}-\d\d-\d\dT/);
      assert.equal(msg, 'audit');
      return rest;
    };
    assert.deepEqual(strip(auth), { audit: true, eventType: 'AUTH_SUCCESS', ...identity });
    assert.deepEqual(strip(mint), {
      audit: true,
      eventType: 'MINT_SUCCESS',
      ...identity,
      identities: ['clientIdentities[0]'],
      minted: [
        {
          key: 'AWS_DEPLOY',
          provider: 'aws-prod',
          role: 'arn:aws:iam::123456789012:role/Deploy',
          accessKeyId: 'AKIAAWS_DEPLOY',
          upstreamRequestId: 'req-aws-prod',
          expiresAt: '2030-01-01T00:30:00.000Z',
        },
      ],
    });
    const all = h.lines.join('');
    assert.equal(all.includes('secret-AWS_DEPLOY'), false);
    assert.equal(all.includes('session-AWS_DEPLOY'), false);
    assert.equal(all.includes(TOKENS.main), false);
    await h.app.close();
  });

  test('records AUTH_FAILURE with the reason and the token’s SHA-256, never the token', async () => {
    const h = opsApp();
    const forged = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.forged-signature-value';
    const res = await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, forged));
    assert.equal(res.statusCode, 401);
    const [event] = h.audits();
    assert.equal(event?.eventType, 'AUTH_FAILURE');
    assert.equal(event?.reason, 'signature_invalid');
    assert.equal(event?.error, 'INVALID_TOKEN');
    assert.equal(event?.tokenSha256, createHash('sha256').update(forged).digest('hex'));
    assert.equal(event?.subject, undefined);
    assert.equal(h.lines.join('').includes('forged-signature-value'), false);
    await h.app.close();
  });

  test('records a policy denial as MINT_FAILURE key_not_granted with the denied keys', async () => {
    const h = opsApp();
    const res = await h.app.inject(
      jsonPost('/credentials/mint', { keys: ['AWS_READ', 'NOPE'] }, TOKENS.main),
    );
    assert.equal(res.statusCode, 403);
    const events = h.audits();
    assert.deepEqual(
      events.map((e) => e.eventType),
      ['AUTH_SUCCESS', 'MINT_FAILURE'],
    );
    assert.equal(events[1]?.reason, 'key_not_granted');
    assert.equal(events[1]?.error, 'FORBIDDEN');
    assert.deepEqual(events[1]?.deniedKeys, ['NOPE']);
    assert.deepEqual(events[1]?.reasons, { NOPE: 'key_not_granted' });
    await h.app.close();
  });

  test('records a replayed one-time token as AUTH_FAILURE token_replayed', async () => {
    const config = testConfig();
    config.clientIdps = config.clientIdps.map((i) => (i.name === 'github' ? { ...i, oneTimeUse: true } : i));
    const w = world({ config, replayGuard: memoryReplayGuard() });
    const h = opsApp({ config, world: w });
    const mint = () => h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    assert.equal((await mint()).statusCode, 200);
    assert.equal((await mint()).statusCode, 401);
    const last = h.audits().at(-1);
    assert.equal(last?.eventType, 'AUTH_FAILURE');
    assert.equal(last?.reason, 'token_replayed');
    assert.equal(last?.subject, MAIN_SUBJECT);
    await h.app.close();
  });

  test('emits nothing when logging.audit.enabled is false', async () => {
    const h = opsApp({ config: withAudit({ enabled: false }) });
    await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    assert.equal(h.audits().length, 0);
    await h.app.close();
  });
});

/** A broker logger (createLogger, JSON) at `level`, writing into `lines`. */
function brokerLogger(level: 'warn' | 'error' | 'info') {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, logger: createLogger(Value.Default(LoggingSchema, { level }) as LoggingConfig, stream) };
}

describe('the audit channel, whatever logging.level says', () => {
  test('writes every event at logging.level warn without an audit file, and still after a change to error', async () => {
    const captured = brokerLogger('warn');
    const h = opsApp({ logger: captured });
    assert.equal(
      (await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main))).statusCode,
      200,
    );
    assert.deepEqual(
      h.audits().map((e) => [e.eventType, e.level]),
      [
        ['AUTH_SUCCESS', 30],
        ['MINT_SUCCESS', 30],
      ],
    );
    // The application's own info lines are still filtered by the level.
    assert.equal(
      captured.lines.some((l) => l.includes('request completed')),
      false,
    );
    // As a reload does.
    captured.logger.level = 'error';
    const forged = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.forged';
    assert.equal(
      (await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, forged))).statusCode,
      401,
    );
    assert.equal(h.audits().at(-1)?.eventType, 'AUTH_FAILURE');
    await h.app.close();
  });

  test('builds events whenever auditing is enabled, and never when it is not', () => {
    const auditLog = (audit: Record<string, unknown>) =>
      createAuditLog({
        settings: patchConfig(testConfig(), { logging: { audit } }).logging.audit,
        configDir: dir,
        logger: silentLogger,
        channel: silentLogger,
        metrics: { auditWriteFailure() {} },
      });
    assert.equal(auditLog({}).wanted(), true);
    assert.equal(auditLog({ enabled: false }).wanted(), false);
  });
});

describe('the audit file', () => {
  test('appends one JSON line per event, mode 0600, relative to the config directory', async () => {
    const h = opsApp({ config: withAudit({ file: 'events/audit.log' }), configDir: dir });
    await mkdir(join(dir, 'events'));
    await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    await h.ops.audit.close();
    const path = join(dir, 'events/audit.log');
    const lines = await readLines(path);
    assert.deepEqual(
      lines.map((l) => l.eventType),
      ['AUTH_SUCCESS', 'MINT_SUCCESS'],
    );
    assert.equal(lines[1]?.audit, undefined, 'the file holds the bare event');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await h.app.close();
  });

  test('rotates by maxSize keeping maxFiles (file.1 … file.N)', async () => {
    const path = join(dir, 'rotate.log');
    const file = openAuditFile({ path, maxBytes: 100, maxFiles: 2 });
    for (let i = 0; i < 8; i++) await file.write(JSON.stringify({ n: i, pad: 'x'.repeat(30) }));
    await file.close();
    const read = async (p: string) => (await readLines(p)).map((l) => l.n);
    assert.deepEqual(await read(path), [6, 7]);
    assert.deepEqual(await read(`${path}.1`), [4, 5]);
    assert.deepEqual(await read(`${path}.2`), [2, 3]);
    await assert.rejects(stat(`${path}.3`), { code: 'ENOENT' });
  });

  test('tightens an existing file to 0600 and appends to it', async () => {
    const path = join(dir, 'existing.log');
    await writeFile(path, '{"old":true}\n', { mode: 0o644 });
    const file = openAuditFile({ path, maxBytes: 10_000, maxFiles: 1 });
    await file.write('{"new":true}');
    await file.flush();
    assert.equal(await readFile(path, 'utf8'), '{"old":true}\n{"new":true}\n');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    await file.close();
  });
});

describe('an audit file that cannot be written', () => {
  const unwritable = (failClosed: boolean): Config =>
    withAudit({ file: join('/nonexistent-voidkey-dir', 'audit.log'), failClosed });

  test('refuses the mint with 503 under failClosed before any upstream call; seen in logs, metrics and health', async () => {
    const h = opsApp({ config: unwritable(true) });
    const res = await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    assert.equal(res.statusCode, 503);
    const body = res.json();
    assert.equal(body.error, 'SERVICE_UNAVAILABLE');
    assert.deepEqual(body.details, { reason: 'audit_write_failed' });
    // Nothing was asked upstream: no broker token, no provider call, nothing to throw away.
    assert.deepEqual(h.w.brokerTokens.calls, []);
    assert.equal(providerOf(h.w, 'aws-dev').calls.length, 0);
    const last = h.audits().at(-1);
    assert.equal(last?.eventType, 'MINT_FAILURE');
    assert.equal(last?.reason, 'audit_write_failed');
    assert.equal(last?.minted, undefined);
    assert.ok(h.lines.some((l) => l.includes('audit record could not be written') && l.includes('ENOENT')));
    const text = await h.metrics.registry.metrics();
    assert.deepEqual(samples(text, 'voidkey_audit_write_failures_total'), [{ labels: {}, value: 2 }]);
    const health = (await h.app.inject({ method: 'GET', url: '/health' })).json();
    assert.equal(health.status, 'degraded');
    assert.equal(health.checks.audit, 'unhealthy');
    assert.ok(health.errors.includes('audit: last audit write failed (ENOENT)'));
    await h.app.close();
  });

  test('does not refuse a policy denial first: a 403 stays a 403', async () => {
    const h = opsApp({ config: unwritable(true) });
    const res = await h.app.inject(jsonPost('/credentials/mint', { keys: ['NOPE'] }, TOKENS.main));
    assert.equal(res.statusCode, 403);
    await h.app.close();
  });

  test('withholds minted credentials when the MINT_SUCCESS record fails after the check passed', async () => {
    const events = await mkdtemp(join(dir, 'vanishing-'));
    // A tiny maxSize makes the second record rotate; the directory is gone by then.
    const h = opsApp({ config: withAudit({ file: join(events, 'audit.log'), maxSize: 1 }) });
    providerOf(h.w, 'aws-dev').behaviour = async (input) => {
      await rm(events, { recursive: true, force: true });
      return defaultOutput('aws-dev', input);
    };
    const res = await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json().details, { reason: 'audit_write_failed' });
    assert.equal(res.body.includes('secret-AWS_READ'), false);
    const last = h.audits().at(-1);
    assert.equal(last?.eventType, 'MINT_FAILURE');
    assert.deepEqual(
      ((last?.minted ?? []) as Array<Record<string, unknown>>).map((m) => [
        m.key,
        m.accessKeyId,
        m.discarded,
      ]),
      [['AWS_READ', 'AKIAAWS_READ', true]],
    );
    await h.app.close();
  });

  test('lets the mint through without failClosed, keeping the record on the log stream', async () => {
    const h = opsApp({ config: unwritable(false) });
    const res = await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    assert.equal(res.statusCode, 200);
    assert.equal(h.audits().at(-1)?.eventType, 'MINT_SUCCESS');
    const text = await h.metrics.registry.metrics();
    assert.deepEqual(samples(text, 'voidkey_audit_write_failures_total'), [{ labels: {}, value: 2 }]);
    await h.app.close();
  });
});

describe('control characters from callers and upstreams', () => {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters are what this test looks for.
  const RAW = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
  const strings = (value: unknown): string[] =>
    typeof value === 'string'
      ? [value]
      : typeof value === 'object' && value !== null
        ? Object.values(value).flatMap(strings)
        : [];

  test('are escaped visibly in the request log, the audit events and the audit file', async () => {
    const captured = brokerLogger('info');
    const events = await mkdtemp(join(dir, 'controls-'));
    const path = join(events, 'audit.log');
    const h = opsApp({ config: withAudit({ file: path }), logger: captured });
    providerOf(h.w, 'aws-dev').behaviour = async (input) => {
      const output = defaultOutput('aws-dev', input);
      return { ...output, audit: { ...output.audit, upstreamRequestId: 'req\u001b]0;owned\u0007-1' } };
    };
    const agent = 'curl\u001b[2J\u001b[31m\nfake: line\r\u009b\u202eok';
    const res = await h.app.inject({
      ...jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main),
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${TOKENS.main}`,
        'user-agent': agent,
      },
    });
    assert.equal(res.statusCode, 200);
    await h.ops.audit.close();
    const shown = 'curl\\x1b[2J\\x1b[31m\\x0afake: line\\x0d\\x9b\\u202eok';

    const logged = captured.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(logged.find((l) => l.msg === 'request completed')?.userAgent, shown);
    const inFile = await readLines(path);
    for (const event of [...h.audits(), ...inFile]) assert.equal(event.userAgent, shown);
    const minted = (e: Record<string, unknown> | undefined) =>
      (e?.minted as Array<Record<string, unknown>> | undefined)?.[0]?.upstreamRequestId;
    assert.equal(minted(h.audits().at(-1)), 'req\\x1b]0;owned\\x07-1');
    assert.equal(minted(inFile.at(-1)), 'req\\x1b]0;owned\\x07-1');
    for (const value of [...logged, ...inFile].flatMap(strings)) assert.doesNotMatch(value, RAW);
    await h.app.close();
  });
});
