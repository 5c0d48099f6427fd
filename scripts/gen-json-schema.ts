/**
 * Writes schema/config.schema.json and schema/policy-tests.schema.json from
 * the TypeBox schemas the loaders validate with, for editors
 * (`# yaml-language-server: $schema=…`). `npm run docs:config` (or
 * `npm run schema`) regenerates them; a test fails when the committed files
 * drift from what this renders.
 *
 * The config schema is an authoring variant: a file is checked before
 * substitution and before includes are merged, so wherever a number, a
 * boolean, an enum or a patterned string goes, a value that is exactly one
 * `${…}` is accepted as well; a field with a default is not required, and no
 * top-level section is (it may come from an included file).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { PolicyTestsSchema } from '../src/cli/policy/test-file.ts';
import { ConfigSchema } from '../src/core/config/schema.ts';

type Json = Record<string, unknown>;

const DRAFT = 'http://json-schema.org/draft-07/schema#';

/** A YAML value that is exactly one substitution (`${VAR}`, `${VAR:-default}`, `${file:PATH}`). */
const SUBSTITUTION: Json = {
  type: 'string',
  pattern: '^\\$\\{(file:[^}]+|[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?)\\}$',
  description: 'a `${…}` substitution, resolved when the broker loads the file',
};

const isMap = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Scalars a plain `${…}` string would not already satisfy. */
function needsSubstitutionBranch(s: Json): boolean {
  if (s.type === 'integer' || s.type === 'number' || s.type === 'boolean') return true;
  return s.type === 'string' && (s.pattern !== undefined || s.const !== undefined);
}

interface Walk {
  /** Recursive TypeBox schemas (`$id`), hoisted into `definitions`. */
  definitions: Record<string, unknown>;
  authoring: boolean;
}

function transform(node: unknown, walk: Walk, isRoot = false): unknown {
  if (Array.isArray(node)) return node.map((n) => transform(n, walk));
  if (!isMap(node)) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === '$id') continue;
    if (k === '$ref' && typeof v === 'string') out[k] = v.startsWith('#') ? v : `#/definitions/${v}`;
    else if (k === 'properties' || k === 'patternProperties' || k === 'definitions') {
      out[k] = Object.fromEntries(Object.entries(v as Json).map(([name, s]) => [name, transform(s, walk)]));
    } else out[k] = transform(v, walk);
  }
  // Any top-level section may come from `includes`; the merged file is the loader's to check.
  if (walk.authoring && isRoot) delete out.required;
  else if (walk.authoring && Array.isArray(out.required) && isMap(out.properties)) {
    const props = out.properties;
    const required = (out.required as string[]).filter((name) => {
      const p = props[name];
      return !(isMap(p) && p.default !== undefined);
    });
    if (required.length > 0) out.required = required;
    else delete out.required;
  }
  let result: Json = out;
  if (walk.authoring && needsSubstitutionBranch(node)) {
    const { description, default: def, ...rest } = out;
    result = {
      ...(description === undefined ? {} : { description }),
      ...(def === undefined ? {} : { default: def }),
      anyOf: [rest, SUBSTITUTION],
    };
  }
  if (!isRoot && typeof node.$id === 'string') {
    walk.definitions[node.$id] = result;
    return { $ref: `#/definitions/${node.$id}` };
  }
  return result;
}

function render(schema: TSchema, title: string, authoring: boolean): string {
  const walk: Walk = { definitions: {}, authoring };
  const body = transform(schema, walk, true) as Json;
  const names = Object.keys(walk.definitions).sort();
  const definitions = Object.fromEntries(names.map((n) => [n, walk.definitions[n]]));
  const doc = {
    $schema: DRAFT,
    title,
    ...body,
    ...(names.length === 0 ? {} : { definitions }),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** schema/config.schema.json: the broker config as authored (before substitution). */
export function renderConfigJsonSchema(): string {
  return render(ConfigSchema, 'Voidkey broker configuration', true);
}

/** schema/policy-tests.schema.json: the file `voidkey policy test` reads. */
export function renderPolicyTestsJsonSchema(): string {
  return render(PolicyTestsSchema, 'Voidkey policy test cases', false);
}

/** Generated files and their renderers. */
export const JSON_SCHEMAS: ReadonlyArray<{ url: URL; render: () => string }> = [
  { url: new URL('../schema/config.schema.json', import.meta.url), render: renderConfigJsonSchema },
  {
    url: new URL('../schema/policy-tests.schema.json', import.meta.url),
    render: renderPolicyTestsJsonSchema,
  },
];

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  mkdirSync(new URL('../schema/', import.meta.url), { recursive: true });
  for (const { url, render: renderOne } of JSON_SCHEMAS) {
    writeFileSync(url, renderOne());
    process.stdout.write(`wrote ${url.pathname}\n`);
  }
}
