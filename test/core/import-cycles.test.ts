import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const root = new URL('../../', import.meta.url).pathname;

/** Relative specifiers of every import and re-export in `text`: static, type-only, side-effect, dynamic. */
function relativeImports(text: string): string[] {
  const patterns = [
    /^\s*(?:import|export)\s[^;]*?\sfrom\s*'(\.[^']+)'/gm,
    /^\s*import\s*'(\.[^']+)'/gm,
    /\bimport\(\s*'(\.[^']+)'\s*\)/g,
  ];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1] as string));
}

/** file → the files it imports, for every .ts file under `dir`. */
function importGraph(dir: string): Map<string, string[]> {
  const files = readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const targets = relativeImports(readFileSync(join(root, file), 'utf8')).map((spec) =>
      relative(root, resolve(root, dirname(file), spec)),
    );
    graph.set(
      file,
      targets.filter((t) => known.has(t)),
    );
  }
  return graph;
}

/** The strongly connected components with more than one member, or a self-import (Tarjan). */
function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(node, Math.min(low.get(node) as number, low.get(target) as number));
      } else if (onStack.has(target)) {
        low.set(node, Math.min(low.get(node) as number, index.get(target) as number));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop() as string;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1 || graph.get(node)?.includes(node)) cycles.push(component.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return cycles;
}

test('the walker sees every kind of import and finds cycles through them', () => {
  const text = [
    "import type {\n  A,\n  B,\n} from './a.ts';",
    "export type * from './b.ts';",
    "export { c } from '../c.ts';",
    "import './d.ts';",
    "const e = await import('./e.ts');",
    "import { f } from 'node:fs';",
    "// a comment that says from './nothing.ts' is not a statement",
  ].join('\n');
  assert.deepEqual(relativeImports(text).sort(), ['../c.ts', './a.ts', './b.ts', './d.ts', './e.ts']);
  const graph = new Map([
    ['a', ['b']],
    ['b', ['c']],
    ['c', ['a']],
    ['d', ['d']],
    ['e', ['a']],
  ]);
  assert.deepEqual(importCycles(graph), [['a', 'b', 'c'], ['d']]);
});

test('no import cycle in src/, type-only imports included', () => {
  assert.deepEqual(importCycles(importGraph('src')), []);
});
