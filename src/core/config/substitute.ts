/**
 * `${VAR}`, `${VAR:-default}` and `${file:PATH}` inside string scalars, after
 * YAML parsing (a secret holding `: ` or a newline cannot reshape the
 * document). `$${` is a literal `${`. A scalar that is exactly one
 * substitution takes the type the schema wants at its path.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type PathSegment, type Report, systemError, UNRESOLVED } from './report.ts';
import { wantedTypes } from './schema-walk.ts';

/** Where a file's substitutions come from and where their problems go. */
export interface SubstitutionContext {
  env: Record<string, string | undefined>;
  /** Directory of the config file being substituted: `${file:…}` paths are relative to it. */
  baseDir: string;
  /** Appended to messages about a file other than the root one, e.g. ` (in base.yaml)`. */
  where: string;
  report: Report;
}

type Piece =
  | { kind: 'text'; text: string }
  | { kind: 'var'; name: string; fallback: string | undefined }
  | { kind: 'file'; path: string };

const VAR_BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;
/** Fields holding a secret: a default written next to `${VAR:-…}` there is a placeholder, not a secret. */
const SECRET_FIELDS: ReadonlySet<string> = new Set(['clientSecret', 'password', 'sentinelPassword']);
/** `$NAME` outside `${…}`: a shell habit this loader does not substitute. */
const BARE_VARIABLE = /\$[A-Za-z_]/;
/** `${file:…}` reads at most this much (bytes): a secret, not a data set. */
const MAX_FILE_BYTES = 1024 * 1024;

/** Splits a scalar into text and substitutions; a string is an error (which never quotes the scalar). */
function tokenize(s: string): Piece[] | string {
  const pieces: Piece[] = [];
  let text = '';
  let i = 0;
  while (i < s.length) {
    if (s.startsWith('$${', i)) {
      text += '${';
      i += 3;
    } else if (s.startsWith('${', i)) {
      const end = s.indexOf('}', i + 2);
      if (end < 0) return 'unterminated `${` (write `$${` for a literal `${`)';
      const body = s.slice(i + 2, end);
      const piece = parseBody(body);
      if (typeof piece === 'string') return piece;
      if (text !== '') pieces.push({ kind: 'text', text });
      text = '';
      pieces.push(piece);
      i = end + 1;
    } else {
      text += s[i];
      i += 1;
    }
  }
  if (text !== '') pieces.push({ kind: 'text', text });
  return pieces;
}

function parseBody(body: string): Piece | string {
  if (body.startsWith('file:')) {
    const path = body.slice('file:'.length).trim();
    return path === '' ? '`${file:}` needs a path' : { kind: 'file', path };
  }
  const m = VAR_BODY.exec(body);
  if (!m) return 'invalid substitution: expected `${VAR}`, `${VAR:-default}` or `${file:PATH}`';
  return { kind: 'var', name: m[1] as string, fallback: m[2] };
}

function readSecretFile(file: string): string | { error: string } {
  try {
    const info = statSync(file);
    if (!info.isFile()) return { error: `${file} is not a regular file` };
    if (info.size > MAX_FILE_BYTES) return { error: `${file} is larger than 1 MiB` };
    const text = readFileSync(file, 'utf8');
    return text.endsWith('\r\n') ? text.slice(0, -2) : text.endsWith('\n') ? text.slice(0, -1) : text;
  } catch (err) {
    return { error: `cannot read ${systemError(err, file)}` };
  }
}

/** The value of one substitution, or undefined after reporting why there is none. */
function resolvePiece(
  piece: Exclude<Piece, { kind: 'text' }>,
  path: readonly PathSegment[],
  ctx: SubstitutionContext,
): string | undefined {
  if (piece.kind === 'file') {
    const result = readSecretFile(resolve(ctx.baseDir, piece.path));
    if (typeof result !== 'string') {
      ctx.report.error(path, `\`\${file:${piece.path}}\`: ${result.error}${ctx.where}`);
      return undefined;
    }
    ctx.report.secrets.add(result);
    return result;
  }
  const value = ctx.env[piece.name];
  if (value !== undefined && value !== '') {
    ctx.report.secrets.add(value);
    return value;
  }
  if (piece.fallback !== undefined) {
    if (piece.fallback !== '' && SECRET_FIELDS.has(String(path[path.length - 1]))) {
      ctx.report.warn(
        path,
        `${piece.name} is not set, so the default written in the config is used: a secret needs a real ` +
          `value from the environment or a file (\`\${file:PATH}\`), not a placeholder${ctx.where}`,
      );
    }
    return piece.fallback;
  }
  if (value === '') return value;
  ctx.report.error(path, `environment variable ${piece.name} is not set and has no default${ctx.where}`);
  return undefined;
}

/** A whole-scalar substitution becomes a number or boolean where the schema wants one (and not a string). */
function coerce(value: string, path: readonly PathSegment[]): unknown {
  const types = wantedTypes(path);
  if (types.size === 0 || types.has('string')) return value;
  if ((types.has('integer') || types.has('number')) && /^-?\d+(\.\d+)?$/.test(value.trim())) {
    return Number(value.trim());
  }
  if (types.has('boolean') && (value === 'true' || value === 'false')) return value === 'true';
  return value;
}

function substituteScalar(s: string, path: readonly PathSegment[], ctx: SubstitutionContext): unknown {
  const pieces = tokenize(s);
  if (typeof pieces === 'string') {
    ctx.report.error(path, `${pieces}${ctx.where}`);
    return UNRESOLVED;
  }
  let out = '';
  let failed = false;
  for (const piece of pieces) {
    if (piece.kind === 'text') {
      // The text is the config's own (never a substituted value), but a literal secret may hold `$x`: not quoted.
      if (BARE_VARIABLE.test(piece.text.replaceAll('${', ''))) {
        ctx.report.warn(
          path,
          `holds "$" followed by a name, which is not substituted: write \`\${NAME}\` to read an environment variable${ctx.where}`,
        );
      }
      out += piece.text;
      continue;
    }
    const value = resolvePiece(piece, path, ctx);
    if (value === undefined) failed = true;
    else out += value;
  }
  if (failed) return UNRESOLVED;
  const substituted = pieces.some((p) => p.kind !== 'text');
  if (!substituted) return out;
  ctx.report.substituted.add(out);
  const only = pieces.length === 1 ? pieces[0] : undefined;
  return only && only.kind !== 'text' ? coerce(out, path) : out;
}

/** Thrown when a document expands (through aliases) beyond {@link EXPANSION_LIMITS}. */
export class ExpansionError extends Error {
  constructor() {
    super(
      `the document expands to more than ${EXPANSION_LIMITS.nodes} values or ` +
        `${EXPANSION_LIMITS.chars / 1024 / 1024} MiB of text through aliases`,
    );
    this.name = 'ExpansionError';
  }
}

/**
 * Most values, and characters of text, one file may expand to. Aliases share
 * one parsed node, so a small document can stand for a huge tree; this bounds
 * the work of every later step whatever the alias count.
 */
export const EXPANSION_LIMITS = { nodes: 1_000_000, chars: 64 * 1024 * 1024 } as const;

/** What one file has expanded to so far. */
export interface ExpansionBudget {
  nodes: number;
  chars: number;
}

function spend(budget: ExpansionBudget, chars: number): void {
  budget.nodes += 1;
  budget.chars += chars;
  if (budget.nodes > EXPANSION_LIMITS.nodes || budget.chars > EXPANSION_LIMITS.chars)
    throw new ExpansionError();
}

/**
 * A copy of `node` with substitutions made in every string scalar. It copies
 * rather than mutates: an aliased node appears several times in the tree, and
 * substituting it in place twice would substitute the result again.
 * Throws {@link ExpansionError} past the budget.
 */
export function substituteTree(
  node: unknown,
  path: PathSegment[],
  ctx: SubstitutionContext,
  budget: ExpansionBudget = { nodes: 0, chars: 0 },
): unknown {
  spend(budget, typeof node === 'string' ? node.length : 0);
  if (typeof node === 'string') return node.includes('$') ? substituteScalar(node, path, ctx) : node;
  if (Array.isArray(node)) {
    const out: unknown[] = [];
    for (const [i, item] of node.entries()) out.push(substituteTree(item, [...path, i], ctx, budget));
    return out;
  }
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    const copy = substituteTree(value, [...path, key], ctx, budget);
    Object.defineProperty(out, key, { value: copy, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
