/**
 * What `npm pack` ships: the licence, where the project lives, and nothing
 * that points at a file left out of the package (source maps to src/ would).
 * Runs on the built dist/ (npm test builds first).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { CHART, REPO } from './kit.ts';

const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));

/** Every `//# sourceMappingURL` in shipped code and every map `sources` entry that the package does not hold. */
export function danglingMaps(shipped: Set<string>, read: (path: string) => string): string[] {
  const problems: string[] = [];
  for (const file of shipped) {
    if (/\.(c|m)?js$/.test(file)) {
      for (const m of read(file).matchAll(/^\/\/# sourceMappingURL=(\S+)\s*$/gm)) {
        const url = m[1] as string;
        if (url.startsWith('data:')) continue;
        const target = posix.normalize(posix.join(posix.dirname(file), url));
        if (!shipped.has(target)) problems.push(`${file} maps to ${target}, not in the package`);
      }
    }
    if (file.endsWith('.map')) {
      const map = JSON.parse(read(file)) as { sources?: string[]; sourceRoot?: string };
      for (const source of map.sources ?? []) {
        const target = posix.normalize(posix.join(posix.dirname(file), map.sourceRoot ?? '', source));
        if (!shipped.has(target)) problems.push(`${file} names the source ${target}, not in the package`);
      }
    }
  }
  return problems;
}

describe('the npm package', () => {
  let shipped = new Set<string>();
  before(() => {
    const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: REPO,
      encoding: 'utf8',
      env: { ...process.env, npm_config_loglevel: 'error' },
    });
    assert.equal(r.status, 0, r.stderr);
    const [info] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>;
    shipped = new Set(info?.files.map((f) => f.path));
  });

  test('holds the built CLI its bin names (run npm run build first)', () => {
    for (const bin of Object.values(pkg.bin) as string[]) assert.ok(shipped.has(posix.normalize(bin)), bin);
  });

  test('ships no source map or map reference that points at a file it does not ship', () => {
    assert.deepEqual(
      danglingMaps(shipped, (f) => readFileSync(join(REPO, f), 'utf8')),
      [],
    );
  });

  test('finds a map that names src/ and a sourceMappingURL to a missing map', () => {
    const files: Record<string, string> = {
      'dist/a.js': 'x;\n//# sourceMappingURL=a.js.map\n',
      'dist/a.js.map': JSON.stringify({ version: 3, sources: ['../src/a.ts'] }),
      'dist/b.js': 'y;\n//# sourceMappingURL=b.js.map\n',
    };
    const problems = danglingMaps(new Set(Object.keys(files)), (f) => files[f] as string);
    assert.deepEqual(problems, [
      'dist/a.js.map names the source src/a.ts, not in the package',
      'dist/b.js maps to dist/b.js.map, not in the package',
    ]);
  });

  test('ships the Apache License 2.0 text that package.json names', () => {
    assert.equal(pkg.license, 'Apache-2.0');
    assert.ok(shipped.has('LICENSE'));
    const text = readFileSync(join(REPO, 'LICENSE'), 'utf8');
    assert.match(
      text,
      /^\s*Apache License\s+Version 2\.0, January 2004\s+http:\/\/www\.apache\.org\/licenses\/\s/,
    );
    for (const part of [
      'TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION',
      '9. Accepting Warranty or Additional Liability.',
      'END OF TERMS AND CONDITIONS',
    ])
      assert.ok(text.includes(part), part);
  });

  test('names one repository in package.json, the chart, the image and the Action references', () => {
    const repo = 'voidkey/voidkey';
    assert.deepEqual(pkg.repository, { type: 'git', url: `git+https://github.com/${repo}.git` });
    assert.equal(pkg.homepage, `https://github.com/${repo}#readme`);
    assert.deepEqual(pkg.bugs, { url: `https://github.com/${repo}/issues` });
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
    assert.equal(chart.home, `https://github.com/${repo}`);
    const named = new Set<string>();
    for (const f of [
      'README.md',
      'docs/cli.md',
      'docs/deployment.md',
      'action.yml',
      'deploy/helm/voidkey/values.yaml',
    ]) {
      const text = readFileSync(join(REPO, f), 'utf8');
      for (const m of text.matchAll(
        /(?<![\w.])github\.com\/([\w.-]+\/[\w.-]+?)(?:\.git)?(?=[/#\s)"'`]|$)/gm,
      )) {
        if (!(m[1] as string).startsWith('actions/')) named.add(`${f}: ${m[1]}`);
      }
      for (const m of text.matchAll(/uses:\s*([\w.-]+\/[\w.-]+)@/g)) {
        if (!(m[1] as string).startsWith('actions/')) named.add(`${f}: ${m[1]}`);
      }
      for (const m of text.matchAll(/ghcr\.io\/([\w.-]+\/[\w.-]+)/g)) named.add(`${f}: ${m[1]}`);
    }
    assert.ok(named.size > 0);
    for (const n of named) assert.equal(n.split(': ')[1], repo, n);
  });
});
