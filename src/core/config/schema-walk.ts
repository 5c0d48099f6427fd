/**
 * Reading the TypeBox schema as data: which schema governs a path (so a
 * substituted scalar takes the type wanted there) and how to describe a
 * schema to a human (for messages and docs/configuration.md).
 */
import type { TSchema } from '@sinclair/typebox';
import type { PathSegment } from './report.ts';
import { ConfigSchema } from './schema.ts';

type Json = Record<string, unknown>;

const asJson = (s: TSchema): Json => s as unknown as Json;

/** The alternatives of a union (nested unions flattened); the schema itself otherwise. */
export function alternatives(schema: TSchema): TSchema[] {
  const anyOf = asJson(schema).anyOf;
  if (!Array.isArray(anyOf)) return [schema];
  return (anyOf as TSchema[]).flatMap(alternatives);
}

/** Value schema of a record (`Type.Record`), if `schema` is one. */
export function recordValueSchema(schema: TSchema): TSchema | undefined {
  const pattern = asJson(schema).patternProperties;
  if (pattern === undefined || typeof pattern !== 'object') return undefined;
  return Object.values(pattern as Record<string, TSchema>)[0];
}

function children(schema: TSchema, seg: PathSegment): TSchema[] {
  return alternatives(schema).flatMap((alt): TSchema[] => {
    const j = asJson(alt);
    if (typeof seg === 'number') return j.type === 'array' && j.items ? [j.items as TSchema] : [];
    const props = j.properties as Record<string, TSchema> | undefined;
    if (props && Object.hasOwn(props, seg)) return [props[seg] as TSchema];
    const record = recordValueSchema(alt);
    return record ? [record] : [];
  });
}

/** Every schema that may govern `path` (several when unions are crossed). */
export function schemasAt(path: readonly PathSegment[], root: TSchema = ConfigSchema): TSchema[] {
  let current: TSchema[] = [root];
  for (const seg of path) current = current.flatMap((s) => children(s, seg));
  return current.flatMap(alternatives);
}

/** JSON-schema `type`s acceptable at `path` (`string`, `integer`, `boolean`, …). */
export function wantedTypes(path: readonly PathSegment[], root: TSchema = ConfigSchema): Set<string> {
  const types = new Set<string>();
  for (const s of schemasAt(path, root)) {
    const t = asJson(s).type;
    if (typeof t === 'string') types.add(t);
  }
  return types;
}

function bounds(j: Json): string {
  const min = typeof j.minimum === 'number' ? j.minimum : undefined;
  const max = typeof j.maximum === 'number' ? j.maximum : undefined;
  if (min !== undefined && max !== undefined) return ` ${min}–${max}`;
  if (min !== undefined) return ` ≥ ${min}`;
  return max === undefined ? '' : ` ≤ ${max}`;
}

function describeOne(schema: TSchema): string {
  const j = asJson(schema);
  if (j.const !== undefined) return `\`${String(j.const)}\``;
  switch (j.type) {
    case 'string':
      return 'string';
    case 'integer':
      return `integer${bounds(j)}`;
    case 'number':
      return `number${bounds(j)}`;
    case 'boolean':
      return 'boolean';
    case 'array':
      return `list of ${describeSchema(j.items as TSchema)}`;
    case 'object': {
      const value = recordValueSchema(schema);
      if (value) return `map of name → ${describeSchema(value)}`;
      return 'map';
    }
    default:
      return 'value';
  }
}

/** A short human description: `integer ≥ 1`, `list of string`, `` one of `a`, `b` ``. */
export function describeSchema(schema: TSchema): string {
  const alts = alternatives(schema);
  if (alts.length > 1 && alts.every((a) => asJson(a).const !== undefined)) {
    return `one of ${alts.map(describeOne).join(', ')}`;
  }
  return alts.map(describeOne).join(' | ');
}
