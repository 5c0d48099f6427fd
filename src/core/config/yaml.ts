/**
 * One YAML document per file, YAML 1.2 core schema (so `yes` stays a string)
 * plus `<<` merge keys; duplicate keys refused; alias expansion capped
 * against billion-laughs documents.
 */
import { type Document, isAlias, isScalar, LineCounter, parseDocument, visit, type YAMLError } from 'yaml';
import type { Report } from './report.ts';

/**
 * The `yaml` package's alias budget (alias uses weighted by the aliases nested
 * in their targets): exponential "billion laughs" nesting exceeds it at once,
 * while a flat anchor may still be reused this many times. The expanded size
 * is bounded separately during substitution.
 */
export const MAX_ALIAS_COUNT = 1000;

/** Longest key or alias name quoted in a message. */
const MAX_NAME = 64;

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').trim();
}

/** The quoted name of the scalar key starting at `offset`, then a space; empty when there is none. */
function keyNameAt(doc: Document, offset: number): string {
  let name: string | undefined;
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key;
      if (isScalar(key) && key.range?.[0] === offset) {
        name = String(key.value);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (name === undefined) return '';
  return `${JSON.stringify(name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}…` : name)} `;
}

/**
 * The message for one parser error. Only a duplicate key's own name is
 * quoted from the source: a value on that line could be a literal secret.
 */
function describe(err: YAMLError, doc: Document): string {
  switch (err.code) {
    case 'DUPLICATE_KEY':
      return `duplicate key ${keyNameAt(doc, err.pos[0])}(each key may appear once in a map)`;
    case 'TAB_AS_INDENT':
      return 'a tab is used for indentation; YAML indents with spaces only';
    default:
      return firstLine(err.message);
  }
}

const ALIAS_HINT =
  'anchors work only within one file; to reuse settings from another file, list it under `includes:`';

/** Reports every alias whose anchor is not defined before it in this file; true when there was one. */
function reportUndefinedAliases(doc: Document, lines: LineCounter, name: string, report: Report): boolean {
  let found = false;
  visit(doc, {
    Alias(_, node) {
      if (!isAlias(node) || node.resolve(doc) !== undefined) return;
      found = true;
      const { line, col } = lines.linePos(node.range?.[0] ?? 0);
      report.error(
        name,
        `line ${line}, column ${col}: undefined alias *${node.source.slice(0, MAX_NAME)}: ` +
          `no anchor &${node.source.slice(0, MAX_NAME)} before it in this file (${ALIAS_HINT})`,
      );
    },
  });
  return found;
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
    let tabReported = false;
    for (const err of doc.errors) {
      // One line for a tab: an indented block would otherwise repeat it on every line.
      if (err.code === 'TAB_AS_INDENT' && tabReported) continue;
      tabReported ||= err.code === 'TAB_AS_INDENT';
      const { line, col } = lineCounter.linePos(err.pos[0]);
      report.error(name, `line ${line}, column ${col}: ${describe(err, doc)}`);
    }
    return undefined;
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // Undefined aliases are named one by one; walking the document only on failure keeps big files fast.
    if (!reportUndefinedAliases(doc, lineCounter, name, report)) {
      report.error(name, firstLine(err instanceof Error ? err.message : String(err)));
    }
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
