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

/**
 * A token is a number, one per pattern position: a literal its code point
 * (≥ 0), a wildcard one of these. As numbers a 45-character glob costs about
 * 0.65 KB of heap, as objects it cost 2.9 KB (a config may hold hundreds).
 */
enum T {
  /** `?`: one character, not `/` or `:`. */
  One = -1,
  /** `*`: any run without `/` or `:`. */
  Star = -2,
  /** `**` at the end or before `:`: any run without `:`. */
  Any = -3,
  /** `**` followed by `/` (the `/` folded in): zero or more segments, each ending in `/`. */
  Segments = -4,
}

const SLASH = 0x2f;
const COLON = 0x3a;

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
  const tokens: number[] = [];
  const literal = (c: string) => tokens.push(c.codePointAt(0) as number);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string;
    if (c === '\\') {
      const next = chars[i + 1];
      if (next === undefined) return { error: 'a glob may not end with a lone \\' };
      literal(next);
      i++;
    } else if (c === '*' && chars[i + 1] === '*') {
      const last = tokens[tokens.length - 1];
      if (last !== undefined && last !== SLASH && last !== COLON) {
        return { error: '`**` must stand alone between `/`, `:` or the ends' };
      }
      const after = chars[i + 2];
      if (!separator(after)) return { error: '`**` must stand alone between `/`, `:` or the ends' };
      if (after === '/') {
        tokens.push(T.Segments);
        i += 2;
      } else {
        tokens.push(T.Any);
        i += 1;
      }
    } else if (c === '*' || c === '?') {
      tokens.push(c === '*' ? T.Star : T.One);
    } else {
      literal(c);
    }
  }
  const wild = tokens.findIndex((t) => t < 0);
  return {
    source,
    literalPrefix: String.fromCodePoint(...(wild === -1 ? tokens : tokens.slice(0, wild))),
    literal: wild === -1,
    matches: matcher(tokens),
  };
}

/** Its own function, so the closure keeps an exact-size copy of the tokens and none of the compiler's locals. */
function matcher(tokens: readonly number[]): (value: string) => boolean {
  const exact = tokens.slice();
  return (value) => run(exact, value);
}

/** Steps the set of reachable token positions through `value`, one code point at a time. */
function run(tokens: readonly number[], value: string): boolean {
  const n = tokens.length;
  let current = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  current[0] = 1;
  close(tokens, current);
  for (const ch of value) {
    const c = ch.codePointAt(0) as number;
    next.fill(0);
    let any = false;
    for (let i = 0; i < n; i++) {
      if (current[i] === 0) continue;
      const tok = tokens[i] as number;
      switch (tok) {
        case T.One:
          if (c !== SLASH && c !== COLON) next[i + 1] = 1;
          break;
        case T.Star:
          if (c !== SLASH && c !== COLON) next[i] = 1;
          break;
        case T.Any:
          if (c !== COLON) next[i] = 1;
          break;
        case T.Segments:
          if (c !== COLON) {
            next[i] = 1;
            if (c === SLASH) next[i + 1] = 1;
          }
          break;
        default:
          if (tok === c) next[i + 1] = 1;
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
function close(tokens: readonly number[], set: Uint8Array): void {
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as number;
    if (set[i] && (t === T.Star || t === T.Any || t === T.Segments)) set[i + 1] = 1;
  }
}
