/**
 * One template string: literal text and `{{ source | filter | … }}`
 * placeholders. Sources: `claims.NAME`, `claim("/pointer")`, `match.GROUP`,
 * `identity.name`, `idp.name`, or a quoted string (so `{{ "{{" }}` writes a
 * literal `{{`). Filters: `lower`, `upper` (ASCII only), `default("…")`,
 * `sessionName`, `path`, `path(N)`. Parsed at load; rendering never
 * evaluates anything a claim holds — a claim value is only ever data.
 */
import { createHash } from 'node:crypto';
import { asciiLower, asciiUpper, type ClaimRef, parseClaimKey, readRaw, scalarText } from './claims.ts';

/** Where a placeholder's value comes from. */
export type Source =
  | { readonly kind: 'claim'; readonly ref: ClaimRef }
  | { readonly kind: 'match'; readonly group: string }
  | { readonly kind: 'identity' }
  | { readonly kind: 'idp' }
  | { readonly kind: 'literal'; readonly text: string };

/** A filter applied to a placeholder's value. */
export type Filter =
  | { readonly kind: 'lower' | 'upper' | 'sessionName' }
  | { readonly kind: 'default'; readonly text: string }
  | { readonly kind: 'path'; readonly segments: number };

/** One `{{ … }}`. */
export interface Placeholder {
  readonly source: Source;
  readonly filters: readonly Filter[];
  /** Text after the placeholder starts with `*` (a policy wildcard glued to a value). */
  readonly beforeStar: boolean;
}

/** A parsed template: literal text and placeholders, in order. */
export interface Template {
  readonly parts: ReadonlyArray<string | Placeholder>;
  readonly placeholders: readonly Placeholder[];
}

/** What a rendering reads. */
export interface RenderInput {
  readonly claims: unknown;
  readonly captures: Readonly<Record<string, string>>;
  readonly identity: string;
  readonly idp: string;
}

/** Why a rendering refused the key (reason codes of docs/policy.md). */
export type RenderReason = 'template_claim_missing' | 'template_value_invalid' | 'template_value_unsafe';

/** A placeholder's value: its raw source value and the filtered result. */
export type Rendered =
  | { raw: string | undefined; text: string }
  | { reason: 'template_claim_missing' | 'path_refused' };

const CLAIM_NAME = /^[A-Za-z0-9_.-]+$/;
const GROUP = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SESSION_CHAR = /[^\w+=,.@-]/g;

/** True when `text` holds a placeholder (or a malformed one) — i.e. must be parsed as a template. */
export function isTemplate(text: string): boolean {
  return text.includes('{{');
}

/** Parses `text`; an error text when a placeholder is malformed or names an unknown source or filter. */
export function parseTemplate(text: string): Template | { error: string } {
  const parts: Array<string | Placeholder> = [];
  let rest = text;
  let literal = '';
  while (rest.length > 0) {
    const open = rest.indexOf('{{');
    if (open < 0) {
      literal += rest;
      break;
    }
    literal += rest.slice(0, open);
    const close = findClose(rest, open + 2);
    if (close < 0) return { error: 'a `{{` is not closed by `}}` (write {{ "{{" }} for a literal)' };
    const parsed = parseExpression(rest.slice(open + 2, close).trim());
    if ('error' in parsed) return parsed;
    rest = rest.slice(close + 2);
    if (parsed.source.kind === 'literal' && parsed.filters.length === 0) {
      literal += parsed.source.text;
      continue;
    }
    if (literal !== '') parts.push(literal);
    literal = '';
    parts.push({ ...parsed, beforeStar: rest.startsWith('*') });
  }
  if (literal !== '') parts.push(literal);
  return { parts, placeholders: parts.filter((p): p is Placeholder => typeof p !== 'string') };
}

/** Index of the `}}` closing a placeholder opened before `from`, skipping quoted strings. */
function findClose(text: string, from: number): number {
  let quoted = false;
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '}' && text[i + 1] === '}') return i;
  }
  return -1;
}

/** Splits on `|` outside quoted strings. */
function splitPipes(expr: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '|') {
      out.push(expr.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(expr.slice(start).trim());
  return out;
}

/** A quoted string (`"…"` with `\"` and `\\`), or undefined. */
function quoted(text: string): string | undefined {
  const m = /^"((?:[^"\\]|\\.)*)"$/s.exec(text);
  return m ? (m[1] as string).replace(/\\(.)/gs, '$1') : undefined;
}

function parseExpression(expr: string): { source: Source; filters: Filter[] } | { error: string } {
  const [head = '', ...rest] = splitPipes(expr);
  const source = parseSource(head);
  if ('error' in source) return source;
  const filters: Filter[] = [];
  for (const f of rest) {
    const filter = parseFilter(f);
    if ('error' in filter) return filter;
    filters.push(filter);
  }
  return { source, filters };
}

function parseSource(text: string): Source | { error: string } {
  const literal = quoted(text);
  if (literal !== undefined) return { kind: 'literal', text: literal };
  if (text === 'identity.name') return { kind: 'identity' };
  if (text === 'idp.name') return { kind: 'idp' };
  if (text.startsWith('claims.')) {
    const name = text.slice('claims.'.length);
    if (!CLAIM_NAME.test(name)) {
      return {
        error: `\`${text}\`: a claim name here is letters, digits, _, - and . (use claim("/pointer"))`,
      };
    }
    const ref = parseClaimKey(name);
    return 'error' in ref ? ref : { kind: 'claim', ref };
  }
  const pointer = /^claim\(\s*("(?:[^"\\]|\\.)*")\s*\)$/s.exec(text);
  if (pointer) {
    const path = quoted(pointer[1] as string) as string;
    if (!path.startsWith('/')) return { error: 'claim("…") takes a JSON Pointer starting with /' };
    const ref = parseClaimKey(path);
    return 'error' in ref ? ref : { kind: 'claim', ref };
  }
  if (text.startsWith('match.') && GROUP.test(text.slice('match.'.length))) {
    return { kind: 'match', group: text.slice('match.'.length) };
  }
  return {
    error: `unknown template source \`${text}\` (claims.NAME, claim("/pointer"), match.GROUP, identity.name, idp.name)`,
  };
}

function parseFilter(text: string): Filter | { error: string } {
  if (text === 'lower' || text === 'upper' || text === 'sessionName') return { kind: text };
  if (text === 'path') return { kind: 'path', segments: 1 };
  const path = /^path\(\s*([1-9][0-9]?)\s*\)$/.exec(text);
  if (path) return { kind: 'path', segments: Number(path[1]) };
  const def = /^default\(\s*("(?:[^"\\]|\\.)*")\s*\)$/s.exec(text);
  if (def) return { kind: 'default', text: quoted(def[1] as string) as string };
  return {
    error: `unknown template filter \`${text}\` (lower, upper, default("…"), sessionName, path, path(N))`,
  };
}

/** The raw value of a source: undefined when a claim is unusable, null or empty. */
export function sourceValue(source: Source, input: RenderInput): string | undefined {
  switch (source.kind) {
    case 'literal':
      return source.text;
    case 'identity':
      return input.identity;
    case 'idp':
      return input.idp;
    case 'match':
      return input.captures[source.group] ?? '';
    case 'claim': {
      const text = scalarText(readRaw(input.claims, source.ref));
      return text === '' ? undefined : text;
    }
  }
}

/** Renders one placeholder: its raw value and the filtered text, or why it cannot be rendered. */
export function renderPlaceholder(p: Placeholder, input: RenderInput): Rendered {
  const raw = sourceValue(p.source, input);
  let value = raw;
  for (const f of p.filters) {
    if (f.kind === 'default') {
      if (value === undefined || value === '') value = f.text;
      continue;
    }
    if (value === undefined) continue;
    if (f.kind === 'lower') value = asciiLower(value);
    else if (f.kind === 'upper') value = asciiUpper(value);
    else if (f.kind === 'sessionName') value = sessionName(value);
    else if (f.kind === 'path') {
      const path = checkPath(value, f.segments);
      if (path === undefined) return { reason: 'path_refused' };
      value = path;
    }
  }
  if (value === undefined) return { reason: 'template_claim_missing' };
  return { raw, text: value };
}

/**
 * `sessionName`: the value in the session-name charset, truncated, with 8 hex
 * of its SHA-256 appended so distinct values stay distinct (≤ 64 in all).
 */
export function sessionName(value: string): string {
  const hash = createHash('sha256').update(value).digest('hex').slice(0, 8);
  return `${value.replace(SESSION_CHAR, '-').slice(0, 55)}-${hash}`;
}

/** `path(N)`: exactly N non-empty `/`-segments, none `.` or `..`, printable ASCII; undefined otherwise. */
export function checkPath(value: string, segments: number): string | undefined {
  if (!/^[\x20-\x7e]+$/.test(value)) return undefined;
  const parts = value.split('/');
  if (parts.length !== segments) return undefined;
  return parts.every((s) => s !== '' && s !== '.' && s !== '..') ? value : undefined;
}

/** True when a placeholder ends in a `path` filter (so `/` is expected in a policy value). */
export function hasPathFilter(p: Placeholder): boolean {
  return p.filters.some((f) => f.kind === 'path');
}
