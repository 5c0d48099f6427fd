/**
 * One YAML document per file, YAML 1.2 core schema (so `yes` stays a string)
 * plus `<<` merge keys; duplicate keys refused; alias expansion capped
 * against billion-laughs documents.
 */
import { LineCounter, parseDocument } from 'yaml';
import type { Report } from './report.ts';

/**
 * The `yaml` package's alias budget (alias uses weighted by the aliases nested
 * in their targets): exponential "billion laughs" nesting exceeds it at once,
 * while a flat anchor may still be reused this many times. The expanded size
 * is bounded separately during substitution.
 */
export const MAX_ALIAS_COUNT = 1000;

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').trim();
}

/**
 * Parses `text` into plain data, or returns undefined after reporting every
 * syntax error under `name` with its line and column. Messages never quote
 * the source (a literal secret could sit on that line).
 */
export function parseYaml(text: string, name: string, report: Report): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    merge: true,
    uniqueKeys: true,
    prettyErrors: false,
    lineCounter,
  });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const { line, col } = lineCounter.linePos(err.pos[0]);
      report.error(name, `line ${line}, column ${col}: ${firstLine(err.message)}`);
    }
    return undefined;
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    report.error(name, firstLine(err instanceof Error ? err.message : String(err)));
    return undefined;
  }
  // `a: &a [*a]` parses into a structure that contains itself; every later step would recurse forever.
  if (containsItself(data)) {
    report.error(name, 'an alias refers to a node that contains it (the document would be infinite)');
    return undefined;
  }
  return data;
}

/** True when `value` reaches itself through its children (aliases share objects, so this is a graph walk). */
function containsItself(value: unknown): boolean {
  const done = new Set<object>();
  const onPath = new Set<object>();
  const visit = (node: unknown): boolean => {
    if (node === null || typeof node !== 'object' || done.has(node)) return false;
    if (onPath.has(node)) return true;
    onPath.add(node);
    const found = Object.values(node).some(visit);
    onPath.delete(node);
    done.add(node);
    return found;
  };
  return visit(value);
}
