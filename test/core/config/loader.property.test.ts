/**
 * Properties of the config loader over hostile input: random `${…}`
 * expressions (defaults, files, `$${`, unterminated ones) with random
 * environments in random fields, random YAML-ish text, anchors, aliases and
 * merge keys (billion laughs included), and include graphs with random
 * cycles. Whatever the input, loadConfig succeeds or throws ConfigError —
 * nothing else — and no substituted secret ever appears in a problem or a
 * warning. Runs are bounded (each load is a few ms); a hang fails the
 * test's timeout.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError, loadConfig } from '../../../src/core/config/index.ts';
import { baseConfig, cleanup, tempDir } from './helpers.ts';

/** Values that must never appear in a message: environment values and a file's contents. */
const SECRETS = { A: 'sekret-alpha: #x', B: 'sekret-\nbeta ${B}', FILE: 'sekret-file-contents' };
const ENV_NAMES = ['A', 'B', 'PORT', 'EMPTY', 'UNSET', '1BAD', 'a-b', ''];

/** Loads `path`; returns the problems (none on success), failing on any other throw. */
async function outcome(path: string, env: Record<string, string>): Promise<readonly string[]> {
  try {
    const { warnings } = await loadConfig({ path, env });
    assertNoSecret(warnings);
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, `threw ${String(err)}`);
    assertNoSecret([...err.problems, ...err.warnings, err.message]);
    assert.ok(err.problems.length > 0);
    return err.problems;
  }
}

function assertNoSecret(lines: readonly string[]): void {
  for (const line of lines) {
    for (const secret of Object.values(SECRETS)) assert.ok(!line.includes(secret), `a secret in: ${line}`);
  }
}

const text = fc.stringMatching(/^[a-z0-9 ${}:#'"\\\n.-]{0,12}$/);
const name = fc.constantFrom(...ENV_NAMES);
const piece = fc.oneof(
  { arbitrary: text, weight: 4 },
  name.map((n) => `\${${n}}`),
  fc.tuple(name, text).map(([n, d]) => `\${${n}:-${d}}`),
  fc
    .constantFrom('secret.txt', 'a-dir', 'missing.txt', '', ' secret.txt ', '../secret.txt')
    .map((f) => `\${file:${f}}`),
  fc.constantFrom('$${', '${', '}', '$$', '$', '${A', '${A:-', '${:-x}', '$${A}'),
);
const scalar = fc.array(piece, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(''));

/** Where a random scalar may land: typed fields, named references, free text. */
const FIELDS: ReadonlyArray<(data: ReturnType<typeof baseConfig>, value: string) => void> = [
  (d, v) => {
    d.server = { ...d.server, port: v };
  },
  (d, v) => {
    d.server = { ...d.server, trustProxy: v };
  },
  (d, v) => {
    d.server = { ...d.server, allowQueryToken: v };
  },
  (d, v) => {
    d.brokerIdp.clientSecret = v;
  },
  (d, v) => {
    d.clientIdentities[0].keys.AWS_DEPLOY.description = v;
  },
  (d, v) => {
    d.rateLimit = { message: v };
  },
  (d, v) => {
    d.brokerIdp.issuer = v;
  },
  (d, v) => {
    d.clientIdps[0].audience = v;
  },
  (d, v) => {
    d.clientIdps[0].name = v;
  },
  (d, v) => {
    d.accessProviders[0].type = v;
  },
  (d, v) => {
    d.clientIdentities[0].keys.AWS_DEPLOY.provider = v;
  },
  (d, v) => {
    d.clientIdentities[0].keys.AWS_DEPLOY.outputs = { X: v };
  },
  (d, v) => {
    d.rateLimit = { max: v, message: v };
  },
  (d, v) => {
    d.includes = [v];
  },
];

describe('config loader properties', () => {
  let dir: string;
  const env = { A: SECRETS.A, B: SECRETS.B, PORT: '8080', EMPTY: '' };

  before(async () => {
    dir = await tempDir();
    await writeFile(join(dir, 'secret.txt'), `${SECRETS.FILE}\n`);
    await mkdir(join(dir, 'a-dir'));
  });
  after(cleanup);

  test('random substitutions in random fields: a config or a ConfigError, never a secret in it', {
    timeout: 20_000,
  }, async () => {
    const edits = fc.array(fc.tuple(fc.nat({ max: FIELDS.length - 1 }), scalar), {
      minLength: 1,
      maxLength: 3,
    });
    let run = 0;
    const seen = { loaded: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(edits, async (changes) => {
        const data = baseConfig();
        for (const [field, value] of changes) (FIELDS[field] as (typeof FIELDS)[number])(data, value);
        const file = join(dir, `sub-${run++}.yaml`);
        await writeFile(file, stringify(data));
        seen[(await outcome(file, env)).length === 0 ? 'loaded' : 'refused']++;
      }),
      // About 8 % of these configs load: 500 runs keep both outcomes well above 10 (250 once gave 6).
      { numRuns: 500 },
    );
    assert.ok(seen.loaded > 10 && seen.refused > 10, JSON.stringify(seen));
  });

  test('random YAML-ish text: a config or a ConfigError', { timeout: 20_000 }, async () => {
    const fragment = fc.constantFrom(
      'server:',
      'port: 3000',
      'host: ${A}',
      'brokerIdp: &b',
      '<<: *b',
      '<<: [*b, *c]',
      '&c {a: 1}',
      '*c',
      '- ',
      '- *b',
      '{',
      '}',
      '[',
      ']',
      '"',
      "'",
      '!!binary AAAA',
      '!!js/function x',
      '!<tag:yaml.org,2002:str> x',
      '%YAML 1.1',
      '%TAG ! tag:x,2000:',
      '---',
      '...',
      '? ',
      ': ',
      '|',
      '>-',
      '\t',
      '# c',
      'includes: [secret.txt]',
      'includes: [a-dir]',
      'includes: ${A}',
      'a: &a [*a]',
      '? [a, b]\n: c',
      'yes',
      '0x1F',
      '.inf',
      '~',
      '\u0000',
      '\ufeff',
    );
    const line = fc.tuple(fc.nat({ max: 6 }), fc.array(fc.oneof(fragment, text), { maxLength: 3 }));
    const doc = fc
      .array(line, { maxLength: 12 })
      .map((lines) => lines.map(([indent, parts]) => `${' '.repeat(indent)}${parts.join(' ')}`).join('\n'));
    let run = 0;
    await fc.assert(
      fc.asyncProperty(doc, async (textDoc) => {
        const file = join(dir, `yaml-${run++}.yaml`);
        await writeFile(file, textDoc);
        await outcome(file, env);
      }),
      { numRuns: 300, examples: [['a: &a [*a]']] },
    );
  });

  test('anchors, aliases and merge keys, alias bombs included: a config or a ConfigError', {
    timeout: 20_000,
  }, async () => {
    const bomb = fc
      .tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }))
      .map(([depth, width]) => {
        const levels = [`l0: &l0 "${'x'.repeat(width)}"`];
        for (let i = 1; i <= depth; i++)
          levels.push(
            `l${i}: &l${i} [${Array(width)
              .fill(`*l${i - 1}`)
              .join(', ')}]`,
          );
        return `${levels.join('\n')}\nserver:\n  host: *l${depth}\n`;
      });
    const base = fc.record(
      { port: fc.oneof(fc.nat({ max: 70_000 }), scalar), host: scalar, explain: fc.boolean() },
      { requiredKeys: [] },
    );
    const merged = fc.tuple(base, base, fc.boolean()).map(([first, second, list]) => {
      const flow = (value: object) => JSON.stringify(value);
      const merge = list ? `[&a ${flow(first)}, &b ${flow(second)}]` : `&a ${flow(first)}`;
      const { server: _server, ...rest } = baseConfig();
      return `server:\n  <<: ${merge}\n  bodyLimit: 1024\nrateLimit:\n  <<: {max: 5}\n${stringify(rest)}`;
    });
    let run = 0;
    const seen = { loaded: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.oneof(bomb, merged), async (textDoc) => {
        const file = join(dir, `alias-${run++}.yaml`);
        await writeFile(file, textDoc);
        seen[(await outcome(file, env)).length === 0 ? 'loaded' : 'refused']++;
      }),
      { numRuns: 150 },
    );
    assert.ok(seen.loaded > 5 && seen.refused > 5, JSON.stringify(seen));
  });

  test('include graphs with random cycles: a cycle reachable from the root is always reported', {
    timeout: 20_000,
  }, async () => {
    const graph = fc
      .integer({ min: 1, max: 5 })
      .chain((n) => fc.array(fc.array(fc.nat({ max: n }), { maxLength: 3 }), { minLength: n, maxLength: n }));
    let run = 0;
    const seen = { cyclic: 0, acyclic: 0 };
    await fc.assert(
      fc.asyncProperty(graph, async (edges) => {
        const root = join(dir, `graph-${run++}`);
        await mkdir(join(root, 'sub'), { recursive: true });
        const nameOf = (i: number) =>
          i === edges.length ? 'missing.yaml' : i % 2 ? `sub/../f${i}.yaml` : `f${i}.yaml`;
        for (const [i, targets] of edges.entries()) {
          const data: Record<string, unknown> =
            i === edges.length - 1 ? baseConfig() : { server: { port: 3000 + i } };
          if (targets.length > 0) data.includes = targets.map(nameOf);
          await writeFile(join(root, `f${i}.yaml`), stringify(data));
        }
        const problems = await outcome(join(root, 'f0.yaml'), env);
        const cyclic = reachesCycle(edges);
        seen[cyclic ? 'cyclic' : 'acyclic']++;
        if (cyclic)
          assert.ok(
            problems.some((p) => p.includes('include cycle')),
            problems.join('\n'),
          );
      }),
      { numRuns: 150 },
    );
    assert.ok(seen.cyclic > 10 && seen.acyclic > 10, JSON.stringify(seen));
  });

  // Regression: `a: &a [*a]` parsed into a structure containing itself, and
  // substitution recursed until the stack overflowed (a RangeError, not a ConfigError).
  test('refuses a document that contains itself through an alias', async () => {
    const file = join(dir, 'recursive.yaml');
    for (const textDoc of ['a: &a [*a]\n', 'server: &s\n  tls: *s\n', 'x: &x {y: [1, {z: *x}]}\n']) {
      await writeFile(file, textDoc);
      assert.deepEqual(await outcome(file, env), [
        'recursive.yaml: an alias refers to a node that contains it (the document would be infinite)',
      ]);
    }
  });
});

/** True when a cycle is reachable from node 0 (node `edges.length` is a missing file). */
function reachesCycle(edges: readonly (readonly number[])[]): boolean {
  const state = new Map<number, 'open' | 'done'>();
  const visit = (node: number): boolean => {
    if (node >= edges.length) return false;
    if (state.get(node) === 'open') return true;
    if (state.get(node) === 'done') return false;
    state.set(node, 'open');
    const found = (edges[node] ?? []).some(visit);
    state.set(node, 'done');
    return found;
  };
  return visit(0);
}
