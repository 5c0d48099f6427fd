/**
 * Globs that cannot be turned against the rule's author. Only `*`, `?`, `**`
 * and `\` are special; `*` and `?` never cross `/` or `:`, and `**` (alone
 * between `/`, `:` or the ends) spans whole `/`-segments but never a `:`, so
 * `repo:acme/*:ref:…` cannot match `repo:acme/web/x:…` nor `repo:acme-evil/…`.
 * A glob is compiled to a token list and matched by stepping a set of
 * positions through the value — O(pattern × value), and never a RegExp, whose
 * backtracking a crafted claim could exploit.
 */

/** Longest glob pattern, characters. */
export const MAX_GLOB_LENGTH = 512;

enum T {
  Literal,
  /** `?`: one character, not `/` or `:`. */
  One,
  /** `*`: any run without `/` or `:`. */
  Star,
  /** `**` at the end or before `:`: any run without `:`. */
  Any,
  /** `**` followed by `/` (the `/` folded in): zero or more segments, each ending in `/`. */
  Segments,
}

type Token = { t: T.Literal; c: string } | { t: T.One | T.Star | T.Any | T.Segments };

/** A compiled glob. */
export interface Glob {
  readonly source: string;
  /** Text before the first unescaped `*` or `?`, unescaped. */
  readonly literalPrefix: string;
  /** True when the pattern has no wildcard at all. */
  readonly literal: boolean;
  /** True when `value` matches the whole pattern. */
  matches(value: string): boolean;
}

const separator = (c: string | undefined) => c === undefined || c === '/' || c === ':';

/** Compiles `source`; returns an error text when it is malformed or too long. */
export function compileGlob(source: string): Glob | { error: string } {
  if (source.length > MAX_GLOB_LENGTH)
    return { error: `a glob may be at most ${MAX_GLOB_LENGTH} characters` };
  const chars = Array.from(source);
  const tokens: Token[] = [];
  let prefix = '';
  let wild = false;
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '\\') {
      const next = chars[i + 1];
      if (next === undefined) return { error: 'a glob may not end with a lone \\' };
      tokens.push({ t: T.Literal, c: next });
      if (!wild) prefix += next;
      i++;
    } else if (c === '*' && chars[i + 1] === '*') {
      const last = tokens[tokens.length - 1];
      if (last !== undefined && !(last.t === T.Literal && (last.c === '/' || last.c === ':'))) {
        return { error: '`**` must stand alone between `/`, `:` or the ends' };
      }
      const after = chars[i + 2];
      if (!separator(after)) return { error: '`**` must stand alone between `/`, `:` or the ends' };
      wild = true;
      if (after === '/') {
        tokens.push({ t: T.Segments });
        i += 2;
      } else {
        tokens.push({ t: T.Any });
        i += 1;
      }
    } else if (c === '*' || c === '?') {
      wild = true;
      tokens.push({ t: c === '*' ? T.Star : T.One });
    } else {
      tokens.push({ t: T.Literal, c });
      if (!wild) prefix += c;
    }
  }
  return {
    source,
    literalPrefix: prefix,
    literal: !wild,
    matches: (value: string) => run(tokens, value),
  };
}

/** Steps the set of reachable token positions through `value`, one code point at a time. */
function run(tokens: readonly Token[], value: string): boolean {
  const n = tokens.length;
  let current = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  current[0] = 1;
  close(tokens, current);
  for (const c of value) {
    next.fill(0);
    let any = false;
    for (let i = 0; i < n; i++) {
      if (current[i] === 0) continue;
      const tok = tokens[i] as Token;
      switch (tok.t) {
        case T.Literal:
          if (tok.c === c) next[i + 1] = 1;
          break;
        case T.One:
          if (c !== '/' && c !== ':') next[i + 1] = 1;
          break;
        case T.Star:
          if (c !== '/' && c !== ':') next[i] = 1;
          break;
        case T.Any:
          if (c !== ':') next[i] = 1;
          break;
        case T.Segments:
          if (c !== ':') {
            next[i] = 1;
            if (c === '/') next[i + 1] = 1;
          }
          break;
      }
    }
    for (let i = 0; i <= n; i++) if (next[i]) any = true;
    if (!any) return false;
    close(tokens, next);
    [current, next] = [next, current];
  }
  return current[n] === 1;
}

/** Adds the positions reachable without consuming (wildcards matching nothing). */
function close(tokens: readonly Token[], set: Uint8Array): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = (tokens[i] as Token).t;
    if (set[i] && (t === T.Star || t === T.Any || t === T.Segments)) set[i + 1] = 1;
  }
}
