import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
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
