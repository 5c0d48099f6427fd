import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1] as string);
}

/** Modules core may not use: other layers, web frameworks, cloud SDKs. */
const FORBIDDEN_PACKAGES = [
  /^fastify/,
  /^@fastify\//,
  /^@aws-sdk\//,
  /^@smithy\//,
  /^ioredis/,
  /^prom-client/,
  /^pino/,
  /^undici/,
];

describe('layering', () => {
  test('core imports no other layer and no framework or cloud SDK', () => {
    const offenders: string[] = [];
    for (const file of sources('src/core')) {
      for (const spec of imports(file)) {
        const rel = relative(root, file);
        if (spec.startsWith('.')) {
          const target = relative(root, join(file, '..', spec));
          if (!target.startsWith('src/core/')) offenders.push(`${rel} → ${spec}`);
        } else if (FORBIDDEN_PACKAGES.some((re) => re.test(spec))) {
          offenders.push(`${rel} → ${spec}`);
        }
      }
    }
    assert.deepEqual(offenders, []);
  });

  test('core never reads process.env', () => {
    const readers = sources('src/core').filter((f) => /process\.env/.test(readFileSync(f, 'utf8')));
    assert.deepEqual(
      readers.map((f) => relative(root, f)),
      [],
    );
  });
});

/** Rows `| \`path\` | what | may import |` of the table under `heading` in docs/architecture.md. */
function tableRows(heading: string): Array<{ path: string; allowed: string[] }> {
  const doc = readFileSync(join(root, 'docs/architecture.md'), 'utf8');
  const start = doc.indexOf(`${heading}\n`);
  assert.ok(start >= 0, `docs/architecture.md has no "${heading}"`);
  const rows: Array<{ path: string; allowed: string[] }> = [];
  for (const line of doc.slice(start).split('\n').slice(1)) {
    if (line.startsWith('#')) break;
    const m = /^\| `([^`]+)` \|.*\| ([^|]*) \|$/.exec(line);
    if (m) rows.push({ path: m[1] as string, allowed: (m[2] as string).split(',').map((a) => a.trim()) });
  }
  return rows;
}

/** The path prefixes an entry of a "may import" column stands for (packages and built-ins: none). */
function prefixesOf(entry: string): string[] {
  if (entry === 'everything') return ['src/'];
  if (['core', 'providers', 'server', 'cli', 'dev'].includes(entry)) return [`src/${entry}/`];
  const local = /^`([^`]+)`$/.exec(entry);
  return local ? [`src/server/${local[1]}`] : [];
}

/** Imports of files under `path` that land outside it and outside every prefix in `allowed`. */
function forbiddenImports(path: string, allowed: string[]): string[] {
  const files = path.endsWith('/') ? sources(path) : [join(root, path)];
  const prefixes = allowed.flatMap(prefixesOf);
  const offenders: string[] = [];
  for (const file of files) {
    for (const spec of imports(file)) {
      if (!spec.startsWith('.')) continue;
      const target = relative(root, join(dirname(file), spec));
      const inside = path.endsWith('/') ? target.startsWith(path) : target === path;
      if (!inside && !prefixes.some((p) => target.startsWith(p))) {
        offenders.push(`${relative(root, file)} → ${spec}`);
      }
    }
  }
  return offenders;
}

describe('docs/architecture.md', () => {
  const layers = tableRows('## Layers');
  const modules = tableRows('### Server modules');

  test('the layer table has one row per folder of src/, dev included', () => {
    const folders = readdirSync(join(root, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `src/${e.name}/`)
      .sort();
    assert.deepEqual(layers.map((r) => r.path).sort(), folders);
  });

  test('each layer imports only the layers its row allows', () => {
    assert.deepEqual(
      layers.flatMap((row) => forbiddenImports(row.path, row.allowed)),
      [],
    );
  });

  test('the server module table has one row per module of src/server/', () => {
    const entries = readdirSync(join(root, 'src/server'), { withFileTypes: true })
      .filter((e) => e.isDirectory() || e.name.endsWith('.ts'))
      .map((e) => `src/server/${e.name}${e.isDirectory() ? '/' : ''}`)
      .sort();
    assert.deepEqual(modules.map((r) => r.path).sort(), entries);
  });

  test('each server module imports only what its row allows; state/ imports nothing above it', () => {
    assert.deepEqual(
      modules.flatMap((row) => forbiddenImports(row.path, row.allowed)),
      [],
    );
    assert.deepEqual(modules.find((r) => r.path === 'src/server/state/')?.allowed, ['core']);
  });
});
