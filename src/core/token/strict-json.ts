/**
 * A strict JSON reader for token headers, payloads and key sets. JSON.parse
 * silently keeps the last of two members with the same name, so two parsers
 * can read one token differently; this reader refuses duplicates at any depth
 * (comparing decoded names, so `"a"` and `"\u0061"` collide), refuses nesting
 * past a bound, and refuses numbers that overflow a double (`1e400` would read
 * as Infinity).
 *
 * JSON.parse reads the text first (it refuses everything else that is not
 * JSON); then one pass over the text counts its members (a `:` outside a
 * string starts one; strings are skipped from quote to quote), and one walk
 * over the value counts the names it kept and checks depth and numbers.
 * Fewer names than members means two members of one object shared a name.
 * (A scanner written in JavaScript did the same checks at several times the
 * cost; this runs on every request.)
 */

/** Default nesting bound of {@link parseStrictJson}. */
export const DEFAULT_MAX_DEPTH = 32;

/**
 * Members in `text`, which JSON.parse has accepted: the `:` outside strings.
 * Strings are skipped with indexOf (most of a token's text is inside them);
 * only the short stretches between strings are read character by character.
 */
function countMembers(text: string): number {
  let members = 0;
  let i = 0;
  while (i < text.length) {
    const open = text.indexOf('"', i);
    const end = open === -1 ? text.length : open;
    for (; i < end; i++) if (text.charCodeAt(i) === 0x3a) members++;
    if (open === -1) break;
    i = closingQuote(text, open + 1) + 1;
  }
  return members;
}

/** The quote that ends the string whose contents start at `from` (text.length if none). */
function closingQuote(text: string, from: number): number {
  let quote = text.indexOf('"', from);
  while (quote !== -1 && escaped(text, quote)) quote = text.indexOf('"', quote + 1);
  return quote === -1 ? text.length : quote;
}

/** Whether the quote at `at` is escaped: an odd run of backslashes before it. */
function escaped(text: string, at: number): boolean {
  let run = 0;
  while (text.charCodeAt(at - 1 - run) === 0x5c) run++;
  return run % 2 === 1;
}

/** Names kept in `value` at any depth; throws past `maxDepth` or at a non-finite number. */
function countNames(value: unknown, depth: number, maxDepth: number): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new SyntaxError('number out of range');
    return 0;
  }
  if (value === null || typeof value !== 'object') return 0;
  if (depth > maxDepth) throw new SyntaxError('nesting too deep');
  let names = 0;
  if (Array.isArray(value)) {
    for (const item of value) names += countNames(item, depth + 1, maxDepth);
    return names;
  }
  const record = value as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    names += 1 + countNames(record[name], depth + 1, maxDepth);
  }
  return names;
}

/**
 * Parses `text` as JSON, refusing duplicate member names at any depth, nesting
 * deeper than `maxDepth` (default 32) and numbers beyond a double's range.
 * Throws SyntaxError.
 */
export function parseStrictJson(text: string, maxDepth = DEFAULT_MAX_DEPTH): unknown {
  const value: unknown = JSON.parse(text);
  if (countNames(value, 1, maxDepth) !== countMembers(text)) {
    throw new SyntaxError('duplicate member name');
  }
  return value;
}
