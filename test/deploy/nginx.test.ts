import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DEPLOY, PRIVATE_PATHS, PUBLIC_PATHS } from './kit.ts';

const conf = readFileSync(join(DEPLOY, 'nginx', 'voidkey.conf'), 'utf8');
const code = conf
  .split('\n')
  .filter((l) => !l.trim().startsWith('#'))
  .join('\n');
const directives = (name: string) =>
  [...code.matchAll(new RegExp(`^\\s*${name}\\s+([^;]*);`, 'gm'))].map((m) => m[1]);
const logFormats = [...code.matchAll(/^\s*log_format\s+(\S+)([^;]*);/gm)].map((m) => ({
  name: m[1],
  body: m[2],
}));

type Location = { modifier: string; pattern: string; body: string };
const locationsOf = (text: string): Location[] =>
  [...text.matchAll(/^\s*location\s+(=|~\*|~|\^~)?\s*(\S+)\s*\{([^}]*)\}/gm)].map((m) => ({
    modifier: m[1] ?? '',
    pattern: m[2] as string,
    body: m[3] as string,
  }));

/** The location nginx picks for a URI: exact, then longest prefix (^~ stops), then the first regex, then the prefix. */
function pick(locations: Location[], uri: string): Location | undefined {
  const exact = locations.find((l) => l.modifier === '=' && l.pattern === uri);
  if (exact) return exact;
  const prefix = locations
    .filter((l) => (l.modifier === '' || l.modifier === '^~') && uri.startsWith(l.pattern))
    .sort((a, b) => b.pattern.length - a.pattern.length)[0];
  if (prefix?.modifier === '^~') return prefix;
  const regex = locations.find(
    (l) =>
      (l.modifier === '~' || l.modifier === '~*') &&
      new RegExp(l.pattern, l.modifier === '~*' ? 'i' : '').test(uri),
  );
  return regex ?? prefix;
}
const proxied = (locations: Location[], uri: string) =>
  /\bproxy_pass\b/.test(pick(locations, uri)?.body ?? '');

describe('deploy/nginx/voidkey.conf', () => {
  test('proxies only /credentials/ and /health to the broker, never /metrics or /', () => {
    const locations = locationsOf(code);
    assert.ok(locations.length >= 2);
    assert.deepEqual(
      PUBLIC_PATHS.filter((p) => !proxied(locations, p)),
      [],
    );
    assert.deepEqual(
      PRIVATE_PATHS.filter((p) => proxied(locations, p)),
      [],
    );
    // The check itself: a catch-all proxy would expose /metrics.
    const open = locationsOf(
      'location / { proxy_pass http://voidkey_broker; }\nlocation = /metrics { return 404; }',
    );
    assert.ok(proxied(open, '/') && proxied(open, '/metrics/') && !proxied(open, '/metrics'));
  });

  test('logs no query string, no request line and no Authorization header', () => {
    assert.ok(logFormats.length >= 1);
    for (const f of logFormats) {
      assert.doesNotMatch(f.body as string, /\$request(?![_a-z])|\$request_uri|\$args|\$arg_|\$query_string/);
      assert.doesNotMatch(f.body as string, /\$http_authorization|\$http_cookie|\$http_referer/);
      assert.match(f.body as string, /\$uri\b/);
    }
    const safe = new Set(logFormats.map((f) => f.name));
    const logs = directives('access_log');
    assert.ok(logs.length >= 1);
    for (const l of logs)
      assert.ok(l === 'off' || safe.has(l?.split(/\s+/)[1]), `access_log ${l} uses an unsafe format`);
  });

  test('terminates TLS 1.2 and 1.3 only', () => {
    assert.deepEqual(directives('ssl_protocols'), ['TLSv1.2 TLSv1.3']);
    assert.ok(
      directives('listen').every((l) => /\bssl\b/.test(l as string)),
      'every listener is TLS',
    );
  });

  test('forwards the client address as one proxy hop, matching server.trustProxy: 1', () => {
    assert.deepEqual(directives('proxy_set_header X-Forwarded-For'), ['$proxy_add_x_forwarded_for']);
    assert.match(conf, /trustProxy: 1/);
    assert.deepEqual(directives('proxy_pass'), ['http://voidkey_broker']);
  });

  test('caps bodies at 64k like server.bodyLimit and bounds every timeout', () => {
    assert.deepEqual(directives('client_max_body_size'), ['64k']);
    for (const t of [
      'proxy_connect_timeout',
      'proxy_read_timeout',
      'proxy_send_timeout',
      'client_body_timeout',
    ]) {
      assert.equal(directives(t).length, 1, t);
    }
  });

  test('is accepted by nginx -t when nginx and openssl are installed', (t) => {
    const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
    if (!has('nginx') || !has('openssl')) {
      t.skip('nginx or openssl not installed');
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), 'voidkey-nginx-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'rsa:2048',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=t',
          '-keyout',
          join(dir, 'voidkey.key'),
          '-out',
          join(dir, 'voidkey.crt'),
        ],
        { stdio: 'ignore' },
      );
      const version = spawnSync('nginx', ['-v'], { encoding: 'utf8' }).stderr;
      const [maj = 0, min = 0, pat = 0] = (/nginx\/(\d+)\.(\d+)\.(\d+)/.exec(version) ?? [])
        .slice(1)
        .map(Number);
      const modernHttp2 = maj > 1 || min > 25 || (min === 25 && pat >= 1);
      const local = conf
        .replaceAll('/etc/nginx/tls', dir)
        .replaceAll('/var/log/nginx', dir)
        .replace(/^\s*http2 on;$/m, modernHttp2 ? '  http2 on;' : '');
      writeFileSync(join(dir, 'voidkey.conf'), local);
      writeFileSync(
        join(dir, 'nginx.conf'),
        `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp { include ${dir}/voidkey.conf; }\n`,
      );
      const r = spawnSync('nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
