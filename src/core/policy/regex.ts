/**
 * Regexes in RE2 syntax, run by re2js (a pure-JavaScript port of RE2: linear
 * time, no backtracking), never by V8's RegExp on a claim value. Always a full
 * match: the pattern is compiled alone first, so `a)|(b` cannot close the
 * wrapping group, and then runs as `^(?:p)$`. Refused at load: lookaround and
 * backreferences (RE2 has neither), `(?i)` (re2js folds Unicode, so KELVIN
 * SIGN would match `k`; `ignoreCase` folds ASCII instead), programs over a
 * size cap or slower than 10 ms on a 1 KiB probe, and patterns that match
 * every probe of a fixed set — `present: true` says that honestly.
 */
import { RE2JS } from 're2js';

/** Longest regex pattern, characters. */
export const MAX_REGEX_LENGTH = 512;
/** Largest compiled program (re2js instructions). */
export const MAX_PROGRAM_SIZE = 4000;
/** Longest time a pattern may take on the probe at load, ms. */
export const MAX_PROBE_MS = 10;

const PROBE = `${'ab:/'.repeat(255)}abc!`;
const EVERYTHING_PROBES = ['', 'x', ':', '/', 'a:b/c', 'a'.repeat(1024)];
const GROUP_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** A compiled, full-match regex. */
export interface Regex {
  readonly source: string;
  /** Named groups, in pattern order. */
  readonly groups: readonly string[];
  test(value: string): boolean;
  /** Captures of the named groups when `value` matches; undefined otherwise (an unset group is ''). */
  captures(value: string): Record<string, string> | undefined;
}

/** Compiles `source`; `lowerOnly` refuses upper-case letters (the pattern of an `ignoreCase` condition). */
export function compileRegex(source: string, lowerOnly = false): Regex | { error: string } {
  if (source.length > MAX_REGEX_LENGTH)
    return { error: `a regex may be at most ${MAX_REGEX_LENGTH} characters` };
  const shape = refusedShape(source, lowerOnly);
  if (shape) return { error: shape };
  const alone = compile(source);
  if ('error' in alone) return alone;
  const wrapped = compile(`^(?:${source})$`);
  if ('error' in wrapped) return wrapped;
  const re = wrapped.re;
  if (re.programSize() > MAX_PROGRAM_SIZE) {
    return {
      error: `the regex is too costly (program size ${re.programSize()}, at most ${MAX_PROGRAM_SIZE})`,
    };
  }
  const groups = Object.keys(re.namedGroups());
  const badGroup = groups.find((g) => !GROUP_NAME.test(g));
  if (badGroup !== undefined)
    return { error: 'a group name must be letters, digits and _ (not starting with a digit)' };
  if (EVERYTHING_PROBES.every((p) => re.testExact(p))) {
    return { error: 'the regex matches everything; write `present: true` if that is meant' };
  }
  if (!withinProbeTime(re)) {
    return { error: `the regex is too costly (over ${MAX_PROBE_MS} ms on a 1 KiB probe)` };
  }
  return {
    source,
    groups,
    test: (value) => re.testExact(value),
    captures: (value) => {
      if (groups.length === 0) return re.testExact(value) ? {} : undefined;
      const m = re.matcher(value);
      if (!m.matches()) return undefined;
      const out: Record<string, string> = Object.create(null);
      for (const g of groups) out[g] = m.group(g) ?? '';
      return out;
    },
  };
}

function compile(pattern: string): { re: RE2JS } | { error: string } {
  try {
    return { re: RE2JS.compile(pattern) };
  } catch (error) {
    // re2js quotes the pattern after a colon; keep only its explanation.
    const text = error instanceof Error ? error.message.replace(/^error parsing regexp: /, '') : '';
    const why = text.split(': `')[0] || 'invalid syntax';
    return { error: `not a valid RE2 regex: ${why}` };
  }
}

/** Constructs refused before compiling, with a message naming what to write instead. */
function refusedShape(source: string, lowerOnly: boolean): string | undefined {
  if (/\(\?<?[=!]/.test(source)) return 'lookaround is not supported (RE2 syntax)';
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(source)) return 'backreferences are not supported (RE2 syntax)';
  if (/\(\?[a-zA-Z-]*i/.test(source)) {
    return '`(?i)` folds Unicode case; use `ignoreCase: true` (ASCII only) with a lower-case pattern';
  }
  if (lowerOnly && /[A-Z]/.test(stripEscapes(source))) {
    return 'with `ignoreCase: true` the pattern must be written in lower case';
  }
  return undefined;
}

/** The pattern with each `\X` escape removed, so `\S` or `\P{L}` are not taken for upper-case letters. */
function stripEscapes(source: string): string {
  return source.replace(/\\p\{[^}]*\}|\\P\{[^}]*\}|\\[pP][A-Za-z]|\\./g, '');
}

/**
 * True when the probe runs within the time cap. The best of three runs
 * counts: a busy machine (or the engine's first, cache-building run) must not
 * refuse a config that is cheap to match.
 */
function withinProbeTime(re: RE2JS): boolean {
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    re.testExact(PROBE);
    if (performance.now() - started <= MAX_PROBE_MS) return true;
  }
  return false;
}
