/**
 * A strict JSON reader for token headers, payloads and key sets. JSON.parse
 * silently keeps the last of two members with the same name, so two parsers
 * can read one token differently; this scanner refuses duplicates at any depth
 * (comparing decoded names, so `"a"` and `"\u0061"` collide), refuses nesting
 * past a bound, and refuses numbers that overflow a double (`1e400` would read
 * as Infinity). Only after the scan succeeds does JSON.parse build the value.
 */

/** Default nesting bound of {@link parseStrictJson}. */
export const DEFAULT_MAX_DEPTH = 32;

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const SIMPLE_ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class Scanner {
  pos = 0;
  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  fail(what: string): never {
    throw new SyntaxError(`${what} at offset ${this.pos}`);
  }

  skipWhitespace(): void {
    const { text } = this;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      this.pos++;
    }
  }

  value(depth: number): void {
    this.skipWhitespace();
    const c = this.text[this.pos];
    if (c === '{') this.object(depth + 1);
    else if (c === '[') this.array(depth + 1);
    else if (c === '"') this.string();
    else if (c === 't') this.literal('true');
    else if (c === 'f') this.literal('false');
    else if (c === 'n') this.literal('null');
    else this.number();
  }

  object(depth: number): void {
    if (depth > this.maxDepth) this.fail('nesting too deep');
    this.pos++;
    const names = new Set<string>();
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') this.fail('expected a member name');
      const name = this.string();
      if (names.has(name)) this.fail('duplicate member name');
      names.add(name);
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') this.fail('expected ":"');
      this.pos++;
      this.value(depth);
      if (this.endOfList('}')) return;
    }
  }

  array(depth: number): void {
    if (depth > this.maxDepth) this.fail('nesting too deep');
    this.pos++;
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (;;) {
      this.value(depth);
      if (this.endOfList(']')) return;
    }
  }

  /** After a member or element: true at the closing bracket, false after a comma. */
  endOfList(close: string): boolean {
    this.skipWhitespace();
    const c = this.text[this.pos];
    this.pos++;
    if (c === close) return true;
    if (c === ',') return false;
    return this.fail(`expected "," or "${close}"`);
  }

  /** Reads a string literal and returns its decoded value. */
  string(): string {
    const { text } = this;
    this.pos++;
    let out = '';
    let start = this.pos;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c === 0x22) {
        out += text.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail('control character in string');
      if (c === 0x5c) {
        out += text.slice(start, this.pos);
        out += this.escape();
        start = this.pos;
        continue;
      }
      this.pos++;
    }
    return this.fail('unterminated string');
  }

  escape(): string {
    const kind = this.text[this.pos + 1] ?? '';
    const simple = SIMPLE_ESCAPES[kind];
    if (simple !== undefined) {
      this.pos += 2;
      return simple;
    }
    const hex = this.text.slice(this.pos + 2, this.pos + 6);
    if (kind !== 'u' || !HEX4.test(hex)) this.fail('invalid escape');
    this.pos += 6;
    return String.fromCharCode(Number.parseInt(hex, 16));
  }

  literal(word: string): void {
    if (!this.text.startsWith(word, this.pos)) this.fail('invalid literal');
    this.pos += word.length;
  }

  number(): void {
    NUMBER.lastIndex = this.pos;
    const match = NUMBER.exec(this.text);
    if (!match) this.fail('unexpected character');
    if (!Number.isFinite(Number(match[0]))) this.fail('number out of range');
    this.pos += match[0].length;
  }
}

/**
 * Parses `text` as JSON, refusing duplicate member names at any depth, nesting
 * deeper than `maxDepth` (default 32) and numbers beyond a double's range.
 * Throws SyntaxError.
 */
export function parseStrictJson(text: string, maxDepth = DEFAULT_MAX_DEPTH): unknown {
  const scanner = new Scanner(text, maxDepth);
  scanner.value(0);
  scanner.skipWhitespace();
  if (scanner.pos !== text.length) scanner.fail('trailing characters');
  return JSON.parse(text);
}
