/**
 * A small renderer for the subset of Go templates (and Helm/Sprig functions)
 * that deploy/helm/voidkey uses, so the chart can be rendered and checked
 * without the helm binary. Anything outside the subset throws, so a template
 * that drifts beyond it fails the tests instead of rendering wrongly.
 * Semantics follow text/template: trim markers, truthiness, `$`, `.`
 * rebinding in with/range, and Helm's printing of float64 numbers.
 */
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';

type Tok =
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'field'; path: string[] }
  | { t: 'var'; path: string[] }
  | { t: 'ident'; v: string }
  | { t: 'sub'; pipe: Pipeline };
type Pipeline = Tok[][];
type Node =
  | { k: 'text'; v: string }
  | { k: 'out'; pipe: Pipeline }
  | { k: 'if' | 'with' | 'range'; pipe: Pipeline; body: Node[]; alt: Node[] };
type Scope = { dot: unknown; root: unknown };
type Fn = (args: unknown[], scope: Scope) => unknown;

const ACTION = /\{\{(- )?([\s\S]*?)( -)?\}\}/g;

/** Splits template text into text and action pieces, applying `{{- ` / ` -}}` trimming. */
function lex(src: string): Array<{ text?: string; action?: string }> {
  const out: Array<{ text?: string; action?: string }> = [];
  let last = 0;
  let trimNext = false;
  for (const m of src.matchAll(ACTION)) {
    let text = src.slice(last, m.index);
    if (trimNext) text = text.replace(/^\s+/, '');
    if (m[1]) text = text.replace(/\s+$/, '');
    if (text) out.push({ text });
    const body = (m[2] ?? '').trim();
    if (!body.startsWith('/*')) out.push({ action: body });
    else if (!body.endsWith('*/')) throw new Error(`unterminated comment: ${body.slice(0, 40)}`);
    trimNext = Boolean(m[3]);
    last = (m.index ?? 0) + m[0].length;
  }
  let tail = src.slice(last);
  if (trimNext) tail = tail.replace(/^\s+/, '');
  if (tail) out.push({ text: tail });
  return out;
}

const TOKEN =
  /\s*(?:("(?:[^"\\]|\\.)*")|`([^`]*)`|(-?\d+(?:\.\d+)?)(?![\w.])|(\$[\w]*(?:\.[\w]+)*)|(\.(?:[\w]+(?:\.[\w]+)*)?)|([A-Za-z_]\w*)|(\()|(\))|(\|))/y;

/** Parses one action's expression into a pipeline of commands. */
function parsePipeline(src: string): Pipeline {
  TOKEN.lastIndex = 0;
  const stack: Tok[][][] = [[[]]];
  while (TOKEN.lastIndex < src.length) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(src);
    if (!m) {
      if (/^\s*$/.test(src.slice(start))) break;
      throw new Error(`unsupported template syntax at '${src.slice(start)}' in '${src}'`);
    }
    const pipe = stack[stack.length - 1] as Tok[][];
    const cmd = pipe[pipe.length - 1] as Tok[];
    if (m[1] !== undefined) cmd.push({ t: 'str', v: JSON.parse(m[1]) as string });
    else if (m[2] !== undefined) cmd.push({ t: 'str', v: m[2] });
    else if (m[3] !== undefined) cmd.push({ t: 'num', v: Number(m[3]) });
    else if (m[4] !== undefined) {
      if (/^\$\w/.test(m[4])) throw new Error(`variables other than $ are outside the subset: ${m[4]}`);
      cmd.push({ t: 'var', path: m[4].split('.').slice(1) });
    } else if (m[5] !== undefined)
      cmd.push({ t: 'field', path: m[5] === '.' ? [] : m[5].slice(1).split('.') });
    else if (m[6] !== undefined) cmd.push({ t: 'ident', v: m[6] });
    else if (m[7] !== undefined) stack.push([[]]);
    else if (m[8] !== undefined) {
      const inner = stack.pop();
      const outer = stack[stack.length - 1];
      if (!inner || !outer) throw new Error(`unbalanced ')' in '${src}'`);
      (outer[outer.length - 1] as Tok[]).push({ t: 'sub', pipe: inner });
    } else pipe.push([]);
  }
  if (stack.length !== 1) throw new Error(`unbalanced '(' in '${src}'`);
  const pipe = stack[0] as Pipeline;
  if (pipe.some((c) => c.length === 0)) throw new Error(`empty command in '${src}'`);
  return pipe;
}

const BLOCK = /^(if|with|range|define|else|end)\b\s*([\s\S]*)$/;

/** Builds the node tree; `define` bodies go into `defines`. */
function parseNodes(pieces: Array<{ text?: string; action?: string }>, defines: Map<string, Node[]>): Node[] {
  let i = 0;
  const list = (): { nodes: Node[]; stop: string; rest: string } => {
    const nodes: Node[] = [];
    while (i < pieces.length) {
      const p = pieces[i++] as { text?: string; action?: string };
      if (p.text !== undefined) {
        nodes.push({ k: 'text', v: p.text });
        continue;
      }
      const action = p.action as string;
      const m = BLOCK.exec(action);
      if (!m) {
        if (/^\$\w*\s*:?=/.test(action)) throw new Error(`variables are outside the subset: ${action}`);
        nodes.push({ k: 'out', pipe: parsePipeline(action) });
        continue;
      }
      const [, kw, rest = ''] = m;
      if (kw === 'else' || kw === 'end') return { nodes, stop: kw, rest };
      if (kw === 'define') {
        const name = JSON.parse(rest) as string;
        const body = list();
        if (body.stop !== 'end') throw new Error(`define ${name} not closed`);
        defines.set(name, body.nodes);
        continue;
      }
      nodes.push(block(kw as 'if' | 'with' | 'range', rest));
    }
    return { nodes, stop: 'eof', rest: '' };
  };
  const block = (k: 'if' | 'with' | 'range', expr: string): Node => {
    const body = list();
    const node: Node = { k, pipe: parsePipeline(expr), body: body.nodes, alt: [] };
    if (body.stop === 'else') {
      if (body.rest.startsWith('if ') && k === 'if') node.alt = [block('if', body.rest.slice(3))];
      else {
        const alt = list();
        if (alt.stop !== 'end') throw new Error(`${k} not closed after else`);
        node.alt = alt.nodes;
      }
    } else if (body.stop !== 'end') throw new Error(`${k} ${expr} not closed`);
    return node;
  };
  const top = list();
  if (top.stop !== 'eof') throw new Error(`unexpected {{ ${top.stop} }}`);
  return top.nodes;
}

/** text/template truthiness. */
export function truthy(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

/** Prints a value as Helm would; float64 values Go would print in exponent form are refused. */
function show(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') {
    if (Math.abs(v) >= 1e6 || (v !== 0 && Math.abs(v) < 1e-4)) {
      throw new Error(`${v} would print in exponent form under Helm (float64); use toYaml or int`);
    }
    return String(v);
  }
  if (typeof v === 'string' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  throw new Error(`cannot print ${JSON.stringify(v)} directly; use toYaml`);
}

const int64 = (v: unknown): bigint => {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new Error(`not a number: ${JSON.stringify(v)}`);
};
const indent = (n: unknown, s: unknown): string => {
  const pad = ' '.repeat(Number(n));
  return pad + String(s).replaceAll('\n', `\n${pad}`);
};

/** Sprig/Helm functions of the subset (include is bound per render). */
const FUNCS: Record<string, Fn> = {
  toYaml: ([v]) =>
    v === undefined || v === null ? 'null' : stringify(v, { lineWidth: 0 }).replace(/\n$/, ''),
  indent: ([n, s]) => indent(n, s),
  nindent: ([n, s]) => `\n${indent(n, s)}`,
  quote: (args) =>
    args
      .filter((a) => a !== undefined && a !== null)
      .map((a) => JSON.stringify(show(a)))
      .join(' '),
  default: ([d, ...given]) => (given.length > 0 && truthy(given[0]) ? given[0] : d),
  required: ([msg, v]) => {
    if (v === undefined || v === null || v === '') throw new Error(`required: ${String(msg)}`);
    return v;
  },
  fail: ([msg]) => {
    throw new Error(`fail: ${String(msg)}`);
  },
  printf: ([fmt, ...args]) => {
    let i = 0;
    return String(fmt).replace(/%[sdv%]/g, (spec) => (spec === '%%' ? '%' : show(args[i++])));
  },
  print: (args) => args.map(show).join(''),
  trunc: ([n, s]) => String(s).slice(0, Number(n)),
  trimSuffix: ([suffix, s]) =>
    String(s).endsWith(String(suffix)) && suffix !== '' ? String(s).slice(0, -String(suffix).length) : s,
  sha256sum: ([s]) => createHash('sha256').update(String(s)).digest('hex'),
  add: (args) => args.reduce<bigint>((a, b) => a + int64(b), 0n),
  div: ([a, b]) => int64(a) / int64(b),
  int: ([v]) => int64(v),
  eq: ([a, ...rest]) => rest.some((b) => a === b),
  ne: ([a, b]) => a !== b,
  not: ([v]) => !truthy(v),
  and: (args) => args.find((a) => !truthy(a)) ?? args[args.length - 1],
  or: (args) => args.find((a) => truthy(a)) ?? args[args.length - 1],
};

function resolvePath(base: unknown, path: string[], label: string): unknown {
  let v = base;
  for (const key of path) {
    if (v === undefined || v === null) throw new Error(`nil pointer evaluating ${label}: no '${key}'`);
    if (typeof v !== 'object') throw new Error(`can't evaluate field ${key} of ${typeof v} in ${label}`);
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** A parsed chart's templates and defines, rendered against a context. */
export class GoTemplates {
  private readonly defines = new Map<string, Node[]>();
  private readonly files = new Map<string, Node[]>();

  /** Adds a template file (its defines become available to every file). */
  add(name: string, source: string): void {
    this.files.set(name, parseNodes(lex(source), this.defines));
  }

  /** Renders one added file with `data` as both `.` and `$`. */
  render(name: string, data: unknown): string {
    const nodes = this.files.get(name);
    if (!nodes) throw new Error(`no template ${name}`);
    return this.exec(nodes, { dot: data, root: data });
  }

  private exec(nodes: Node[], scope: Scope): string {
    let out = '';
    for (const n of nodes) {
      if (n.k === 'text') out += n.v;
      else if (n.k === 'out') out += show(this.pipe(n.pipe, scope));
      else out += this.block(n, scope);
    }
    return out;
  }

  private block(n: Extract<Node, { k: 'if' | 'with' | 'range' }>, scope: Scope): string {
    const v = this.pipe(n.pipe, scope);
    if (!truthy(v)) return this.exec(n.alt, scope);
    if (n.k === 'if') return this.exec(n.body, scope);
    if (n.k === 'with') return this.exec(n.body, { dot: v, root: scope.root });
    const items = Array.isArray(v)
      ? v
      : Object.keys(v as object)
          .sort()
          .map((k) => (v as Record<string, unknown>)[k]);
    return items.map((item) => this.exec(n.body, { dot: item, root: scope.root })).join('');
  }

  private pipe(pipe: Pipeline, scope: Scope): unknown {
    let piped: unknown[] = [];
    for (const cmd of pipe) piped = [this.command(cmd, scope, piped)];
    return piped[0];
  }

  private command(cmd: Tok[], scope: Scope, piped: unknown[]): unknown {
    const [head, ...rest] = cmd as [Tok, ...Tok[]];
    const args = () => [...rest.map((t) => this.operand(t, scope)), ...piped];
    if (head.t === 'ident' && !['true', 'false', 'nil'].includes(head.v)) {
      if (head.v === 'include') {
        const [name, data] = args();
        const body = this.defines.get(String(name));
        if (!body) throw new Error(`include: no template "${String(name)}"`);
        return this.exec(body, { dot: data, root: data });
      }
      const fn = FUNCS[head.v];
      if (!fn) throw new Error(`function ${head.v} is outside the subset`);
      return fn(args(), scope);
    }
    const value = this.operand(head, scope);
    if (typeof value === 'function') return (value as (...a: unknown[]) => unknown)(...args());
    if (rest.length > 0 || piped.length > 0) throw new Error('a value cannot take arguments');
    return value;
  }

  private operand(t: Tok, scope: Scope): unknown {
    switch (t.t) {
      case 'str':
      case 'num':
        return t.v;
      case 'field':
        return resolvePath(scope.dot, t.path, `.${t.path.join('.')}`);
      case 'var':
        return resolvePath(scope.root, t.path, `$.${t.path.join('.')}`);
      case 'sub':
        return this.pipe(t.pipe, scope);
      case 'ident':
        return t.v === 'true' ? true : t.v === 'false' ? false : null;
    }
  }
}
