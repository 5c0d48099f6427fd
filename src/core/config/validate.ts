/**
 * Schema validation with messages written for operators: one clear message
 * per path (TypeBox unions and required fields yield several raw errors),
 * "did you mean" for unknown fields, allowed values for enums, and never the
 * offending value itself (it may have come from a secret).
 */
import type { TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { ValueErrorType as E, Value, type ValueError } from '@sinclair/typebox/value';
import { isMap } from './merge.ts';
import type { PathSegment, Report } from './report.ts';
import { ConfigSchema } from './schema.ts';
import { alternatives, describeSchema } from './schema-walk.ts';
import { didYouMean } from './suggest.ts';

interface Finding {
  pointer: string;
  text: string;
  /** Lower wins when several errors share a path. */
  rank: number;
}

/** Why `server.trustProxy: true` is refused (docs/configuration.md). */
export const TRUST_PROXY_TRUE =
  '`true` is refused: it would believe the X-Forwarded-For of any client, so anyone could choose ' +
  'their IP address (and rate-limit bucket); use a hop count or a list of proxy CIDRs';

type Json = Record<string, unknown>;
const j = (s: TSchema): Json => s as unknown as Json;

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'number') return Number.isInteger(v) ? 'a number' : 'a fractional number';
  return `a ${typeof v}`;
}

function typeText(e: ValueError): string {
  const got = kindOf(e.value);
  switch (e.type) {
    case E.String:
      return `must be a string (got ${got}${typeof e.value === 'number' || typeof e.value === 'boolean' ? '; quote it' : ''})`;
    case E.Integer:
      return `must be an integer (got ${got})`;
    case E.Number:
      return `must be a number (got ${got})`;
    case E.Boolean:
      return `must be true or false (got ${got})`;
    case E.Array:
      return `must be a list (got ${got})`;
    default:
      return `must be a map (got ${got})`;
  }
}

function constraintText(e: ValueError): string {
  const s = j(e.schema);
  switch (e.type) {
    case E.IntegerMinimum:
    case E.NumberMinimum:
      return `must be ≥ ${s.minimum}`;
    case E.IntegerMaximum:
    case E.NumberMaximum:
      return `must be ≤ ${s.maximum}`;
    case E.StringMinLength:
      return s.minLength === 1 ? 'must not be empty' : `must be at least ${s.minLength} characters`;
    case E.StringMaxLength:
      return `must be at most ${s.maxLength} characters`;
    case E.StringPattern:
      return typeof s.errorMessage === 'string' ? s.errorMessage : `must match ${s.pattern}`;
    case E.ArrayMinItems:
      return `must have at least ${s.minItems} item${s.minItems === 1 ? '' : 's'}`;
    case E.ArrayMaxItems:
      return `must have at most ${s.maxItems} items`;
    case E.Literal:
      return `must be ${JSON.stringify(s.const)}`;
    default:
      return e.message;
  }
}

const TYPE_ERRORS = new Set([E.String, E.Integer, E.Number, E.Boolean, E.Array, E.Object]);

function lastSegment(pointer: string): string {
  return (pointer.split('/').pop() ?? '').replace(/~1/g, '/').replace(/~0/g, '~');
}

function kindMatches(schema: TSchema, value: unknown): boolean {
  const t = j(schema).type;
  if (Array.isArray(value)) return t === 'array';
  if (isMap(value)) return t === 'object';
  if (typeof value === 'number') return t === 'integer' || t === 'number';
  return t === typeof value;
}

/** A union error: follow the one alternative of the value's kind, else list what is accepted. */
function* fromUnion(e: ValueError, pointer: string): Generator<Finding> {
  if (pointer === '/server/trustProxy' && e.value === true) {
    yield { pointer, text: TRUST_PROXY_TRUE, rank: 1 };
    return;
  }
  const alts = alternatives(e.schema);
  const matching = alts.filter((a) => kindMatches(a, e.value));
  const only = matching.length === 1 ? matching[0] : undefined;
  if (only && j(only).const === undefined) {
    for (const inner of Value.Errors(only, e.value)) yield* translate(inner, pointer);
    return;
  }
  const allowed = describeSchema(e.schema);
  const literals = alts.every((a) => j(a).const !== undefined);
  yield {
    pointer,
    text: literals ? `must be ${allowed}` : `must be ${allowed.replaceAll(' | ', ' or ')}`,
    rank: 1,
  };
}

function* translate(e: ValueError, prefix: string): Generator<Finding> {
  const pointer = prefix + e.path;
  if (e.type === E.Union) return yield* fromUnion(e, pointer);
  if (e.type === E.ObjectRequiredProperty)
    return yield { pointer, text: 'required field is missing', rank: 0 };
  if (e.type === E.ObjectAdditionalProperties) {
    const known = Object.keys((j(e.schema).properties as Json | undefined) ?? {});
    const name = lastSegment(pointer);
    return yield { pointer, text: `unknown field${didYouMean(name, known)}`, rank: 0 };
  }
  if (TYPE_ERRORS.has(e.type)) return yield { pointer, text: typeText(e), rank: 1 };
  yield { pointer, text: constraintText(e), rank: 2 };
}

/** A JSON pointer as path segments, list indices as numbers (decided by walking `root`). */
export function pointerToPath(pointer: string, root: unknown): PathSegment[] {
  const out: PathSegment[] = [];
  let node = root;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^\d+$/.test(seg)) {
      out.push(Number(seg));
      node = node[Number(seg)];
    } else {
      out.push(seg);
      node = isMap(node) ? node[seg] : undefined;
    }
  }
  return out;
}

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

/**
 * Reports every schema error of `value` (defaults already applied), one per
 * path, and blocks those paths so cross-checks do not pile on.
 */
export function validateSchema(value: unknown, report: Report, schema: TSchema = ConfigSchema): void {
  // A valid document, the usual case, takes the compiled check (10,000 identities: ~20 ms
  // instead of ~120); the slower walk below runs only to explain a refusal.
  const check = compiled.get(schema) ?? TypeCompiler.Compile(schema);
  compiled.set(schema, check);
  if (check.Check(value)) return;
  const best = new Map<string, Finding>();
  for (const e of Value.Errors(schema, value)) {
    for (const f of translate(e, '')) {
      const prior = best.get(f.pointer);
      if (!prior || f.rank < prior.rank) best.set(f.pointer, f);
    }
  }
  const paths = [...best.values()].map((f) => ({ path: pointerToPath(f.pointer, value), text: f.text }));
  for (const { path, text } of paths) report.error(path, text);
  for (const { path } of paths) report.block(path);
}
