import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEPLOY, REPO } from './kit.ts';

const dockerfile = readFileSync(join(DEPLOY, 'Dockerfile'), 'utf8');
// Instructions with their continuation lines joined, comments dropped.
const instructions = dockerfile
  .replace(/\\\n/g, ' ')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
const stages = instructions.reduce<string[][]>((acc, line) => {
  if (/^FROM /i.test(line)) acc.push([]);
  acc[acc.length - 1]?.push(line);
  return acc;
}, []);
const runtime = stages[stages.length - 1] ?? [];
const dockerignore = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');

describe('deploy/Dockerfile', () => {
  test('builds in separate stages on the slim image of an LTS Node line', () => {
    assert.ok(stages.length >= 2);
    const arg = /^ARG NODE_VERSION=(\d+)$/m.exec(dockerfile);
    assert.ok(arg, 'ARG NODE_VERSION');
    const major = Number(arg[1]);
    assert.ok(major >= 24 && major % 2 === 0, `Node ${major} is not an LTS line`);
    for (const s of stages) assert.match(s[0] as string, /^FROM node:\$\{NODE_VERSION\}-slim AS \w+$/);
  });

  test('compiles with the full dependency set and ships production dependencies only', () => {
    const build = stages.find((s) => s.some((l) => l === 'RUN npm run build'));
    assert.ok(build?.some((l) => /^RUN npm ci\b/.test(l) && !l.includes('--omit=dev')));
    assert.ok(stages.slice(1).some((s) => s.some((l) => /^RUN npm ci --omit=dev\b/.test(l))));
    assert.ok(runtime.some((l) => /^COPY --from=\w+ \/app\/dist \.\/dist$/.test(l)));
    assert.ok(runtime.some((l) => /^COPY --from=\w+ \/app\/node_modules \.\/node_modules$/.test(l)));
    assert.ok(!runtime.some((l) => /^RUN npm (ci|install)/.test(l)), 'no npm install in the final stage');
  });

  test('runs as the numeric non-root user 10001', () => {
    const user = runtime.filter((l) => l.startsWith('USER '));
    assert.deepEqual(user, ['USER 10001:10001']);
    const userIndex = runtime.indexOf('USER 10001:10001');
    assert.ok(
      runtime.slice(userIndex).every((l) => !l.startsWith('RUN ')),
      'nothing runs as root after USER',
    );
  });

  test('checks /health/live with node, exposes 3000 and starts serve with /etc/voidkey/config.yaml', () => {
    assert.ok(runtime.some((l) => /^HEALTHCHECK .*CMD \["node", "\/app\/healthcheck\.mjs"\]$/.test(l)));
    assert.match(readFileSync(join(DEPLOY, 'healthcheck.mjs'), 'utf8'), /\/health\/live/);
    assert.ok(runtime.includes('EXPOSE 3000'));
    assert.ok(runtime.includes('ENTRYPOINT ["node", "dist/cli/main.js"]'));
    assert.ok(runtime.includes('CMD ["serve", "--config", "/etc/voidkey/config.yaml"]'));
  });

  test('copies only files that exist and that .dockerignore lets through', () => {
    const copies = instructions.filter((l) => /^COPY /.test(l) && !l.includes('--from='));
    for (const line of copies) {
      for (const src of line.split(/\s+/).slice(1, -1)) {
        assert.ok(existsSync(join(REPO, src)), `${src} does not exist`);
        const top = src.split('/')[0] as string;
        const excluded = dockerignore.includes(top) || dockerignore.includes(`${top}/*`);
        assert.ok(!excluded || dockerignore.includes(`!${src}`), `${src} is excluded by .dockerignore`);
      }
    }
  });

  test('keeps secrets, history and local state out of the build context', () => {
    for (const entry of ['.git', 'node_modules', 'dist', 'backups', '.env', 'config/*', '**/*.pem']) {
      assert.ok(dockerignore.includes(entry), `.dockerignore lacks ${entry}`);
    }
  });
});

describe('deploy/healthcheck.mjs', () => {
  let server: Server;
  let base = '';
  let status = 200;
  before(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === '/health/live' ? status : 404;
      res.end('{}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const probe = (url: string) =>
    new Promise<number>((resolve) => {
      const env = { ...process.env, VOIDKEY_HEALTHCHECK_URL: url, VOIDKEY_HEALTHCHECK_TIMEOUT_MS: '2000' };
      execFile(process.execPath, [join(DEPLOY, 'healthcheck.mjs')], { env }, (err) =>
        resolve(err ? Number(err.code) : 0),
      );
    });

  test('exits 0 when /health/live answers 200', async () => {
    status = 200;
    assert.equal(await probe(`${base}/health/live`), 0);
  });

  test('exits 1 when /health/live answers 503 or nothing listens', async () => {
    status = 503;
    assert.equal(await probe(`${base}/health/live`), 1);
    assert.equal(await probe('http://127.0.0.1:1/health/live'), 1);
  });
});
