import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Config } from '../../src/core/config/schema.ts';
import { silentLogger } from '../../src/core/types.ts';
import { openAuditFile } from '../../src/server/audit/file.ts';
import { createAuditLog } from '../../src/server/audit/log.ts';
import { memoryReplayGuard } from '../../src/server/state/index.ts';
import { GITHUB_ISSUER, MAIN_SUBJECT, TOKENS, testConfig, world } from './helpers.ts';
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

describe('whether audit events are built at all', () => {
  const logAt = (level: string) => ({ ...silentLogger, isLevelEnabled: (l: string) => l === level });
  const auditLog = (audit: Record<string, unknown>, level: string) =>
    createAuditLog({
      settings: patchConfig(testConfig(), { logging: { audit } }).logging.audit,
      configDir: dir,
      logger: logAt(level),
      metrics: { auditWriteFailure() {} },
    });

  test('are wanted at info, or with an audit file at any level, and not at warn without a file or when disabled', () => {
    assert.equal(auditLog({}, 'info').wanted(), true);
    assert.equal(auditLog({}, 'warn').wanted(), false);
    assert.equal(auditLog({ file: 'wanted/audit.log' }, 'warn').wanted(), true);
    assert.equal(auditLog({ enabled: false }, 'info').wanted(), false);
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

  test('fails the mint with 503 under failClosed, withholding the credentials; seen in logs, metrics and health', async () => {
    const h = opsApp({ config: unwritable(true) });
    const res = await h.app.inject(jsonPost('/credentials/mint', { keys: ['AWS_READ'] }, TOKENS.main));
    assert.equal(res.statusCode, 503);
    const body = res.json();
    assert.equal(body.error, 'SERVICE_UNAVAILABLE');
    assert.deepEqual(body.details, { reason: 'audit_write_failed' });
    assert.equal(res.body.includes('secret-AWS_READ'), false);
    const last = h.audits().at(-1);
    assert.equal(last?.eventType, 'MINT_FAILURE');
    assert.equal(last?.reason, 'audit_write_failed');
    assert.deepEqual(
      ((last?.minted ?? []) as Array<Record<string, unknown>>).map((m) => [
        m.key,
        m.accessKeyId,
        m.discarded,
      ]),
      [['AWS_READ', 'AKIAAWS_READ', true]],
    );
    assert.ok(h.lines.some((l) => l.includes('audit record could not be written') && l.includes('ENOENT')));
    const text = await h.metrics.registry.metrics();
    assert.deepEqual(samples(text, 'voidkey_audit_write_failures_total'), [{ labels: {}, value: 2 }]);
    const health = (await h.app.inject({ method: 'GET', url: '/health' })).json();
    assert.equal(health.status, 'degraded');
    assert.equal(health.checks.audit, 'unhealthy');
    assert.ok(health.errors.includes('audit: last audit write failed (ENOENT)'));
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
