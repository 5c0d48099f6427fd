/**
 * Output formats of `voidkey mint` that only print (env, dotenv, json, yaml).
 * Each returns the exact stdout text or throws a CliError (exit 1) naming the
 * variable at fault — never its value.
 */
import { CliError, EXIT } from './exit.ts';

/** Minted outputs in print order: requested key order, then the broker's output order. */
export type Minted = ReadonlyArray<readonly [key: string, outputs: Readonly<Record<string, string>>]>;

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Every `[NAME, value]` across keys, after checking names are shell-safe and do not collide. */
export function flattenVariables(minted: Minted, format: string): Array<[string, string]> {
  const seen = new Map<string, string>();
  const out: Array<[string, string]> = [];
  for (const [key, outputs] of minted) {
    for (const [name, value] of Object.entries(outputs)) {
      if (!VAR_NAME.test(name)) {
        throw new CliError(
          EXIT.OUTPUT,
          `key ${key}: '${name.slice(0, 64)}' is not a valid variable name for --output ${format}`,
        );
      }
      const first = seen.get(name);
      if (first !== undefined) {
        throw new CliError(
          EXIT.OUTPUT,
          `variable ${name} is set by both ${first} and ${key}; --output ${format} cannot hold both (use json or yaml)`,
        );
      }
      seen.set(name, key);
      out.push([name, value]);
    }
  }
  return out;
}

/** `export NAME='value'` lines for POSIX shells; `'` becomes `'\''`; NUL cannot be represented. */
export function formatEnv(minted: Minted): string {
  const lines = flattenVariables(minted, 'env').map(([name, value]) => {
    if (value.includes('\0'))
      throw new CliError(
        EXIT.OUTPUT,
        `variable ${name} holds a NUL byte, which --output env cannot represent`,
      );
    return `export ${name}='${value.replaceAll("'", "'\\''")}'\n`;
  });
  return lines.join('');
}

/** `NAME=value` lines in Docker's `--env-file` dialect, which has no quoting or escapes. */
export function formatDotenv(minted: Minted): string {
  const lines = flattenVariables(minted, 'dotenv').map(([name, value]) => {
    if (/[\n\r\0]/.test(value)) {
      throw new CliError(
        EXIT.OUTPUT,
        `variable ${name} holds a newline, carriage return or NUL, which --output dotenv cannot represent`,
      );
    }
    return `${name}=${value}\n`;
  });
  return lines.join('');
}

/** `{KEY: {ENV: value}}`, indented, with a trailing newline. */
export function formatJson(minted: Minted): string {
  return `${JSON.stringify(Object.fromEntries(minted), null, 2)}\n`;
}

/** Nested `KEY:` / `  ENV: "value"` with every value double-quoted and escaped. */
export function formatYaml(minted: Minted): string {
  if (minted.length === 0) return '{}\n';
  const lines: string[] = [];
  for (const [key, outputs] of minted) {
    const entries = Object.entries(outputs);
    lines.push(entries.length === 0 ? `${yamlKey(key)}: {}` : `${yamlKey(key)}:`);
    for (const [name, value] of entries) lines.push(`  ${yamlKey(name)}: ${yamlQuote(value)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Words YAML 1.1 or 1.2 would read as something other than a string. */
const YAML_WORDS = new Set(['true', 'false', 'yes', 'no', 'on', 'off', 'y', 'n', 'null', '~']);

/** A bare exponent, e.g. `e0` or `E-5`: the `yaml` package's YAML 1.1 schema reads it as a float (NaN). */
const YAML_EXPONENT = /^[eE][-+]?[0-9]+$/;

function yamlKey(name: string): string {
  const plain =
    /^[A-Za-z_][A-Za-z0-9_-]*$/.test(name) &&
    !YAML_WORDS.has(name.toLowerCase()) &&
    !YAML_EXPONENT.test(name);
  return plain ? name : yamlQuote(name);
}

const YAML_ESCAPES: Record<number, string> = {
  0: '\\0',
  7: '\\a',
  8: '\\b',
  9: '\\t',
  10: '\\n',
  11: '\\v',
  12: '\\f',
  13: '\\r',
  27: '\\e',
  34: '\\"',
  92: '\\\\',
  133: '\\N',
  160: '\\_',
  8232: '\\L',
  8233: '\\P',
};

/**
 * A YAML double-quoted scalar. Escapes every character outside YAML's printable
 * set, plus NEL, NBSP and the Unicode line/paragraph separators, so YAML 1.1
 * parsers (which fold them as line breaks) read the same value as 1.2 ones.
 */
export function yamlQuote(value: string): string {
  let out = '"';
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    const named = YAML_ESCAPES[code];
    if (named !== undefined) out += named;
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) out += `\\x${hex(code, 2)}`;
    else if ((code >= 0xd800 && code <= 0xdfff) || code === 0xfeff || code === 0xfffe || code === 0xffff) {
      out += `\\u${hex(code, 4)}`;
    } else out += char;
  }
  return `${out}"`;
}

function hex(code: number, width: number): string {
  return code.toString(16).toUpperCase().padStart(width, '0');
}
