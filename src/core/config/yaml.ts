/**
 * One YAML document per file, read by js-yaml: the YAML 1.2 core schema (so
 * `yes` stays a string) plus `<<` merge keys; duplicate keys refused; a
 * bounded number of aliases. js-yaml rather than `yaml`: it parses a 4.6 MB
 * file of 10,000 identities about six times faster, with far less garbage.
 */
import { CORE_SCHEMA, loadAll, mergeTag, YAMLException } from 'js-yaml';
import type { Report } from './report.ts';

const SCHEMA = CORE_SCHEMA.withTags(mergeTag);

/**
 * Most aliases in one file. An alias shares its anchor's value rather than
 * copying it, so nesting costs nothing here; the expanded size that later
 * steps would walk is bounded during substitution.
 */
export const MAX_ALIAS_COUNT = 1000;

/** Longest key or alias name quoted in a message. */
const MAX_NAME = 64;

const ALIAS_HINT =
  'anchors work only within one file; to reuse settings from another file, list it under `includes:`';

function shortName(name: string): string {
  return name.length > MAX_NAME ? `${name.slice(0, MAX_NAME)}…` : name;
}

/** The name of the map key written at `offset` (plain or quoted), then a space; empty when there is none. */
function keyNameAt(text: string, offset: number): string {
  const rest = text.slice(offset, offset + 1024);
  const key = /^"((?:[^"\\\n]|\\.)*)"|^'((?:[^'\n]|'')*)'|^([^\n#,{}[\]]*?)\s*:(?:\s|$)/.exec(rest);
  const name = key?.[1] ?? key?.[2]?.replaceAll("''", "'") ?? key?.[3];
  return name ? `${JSON.stringify(shortName(name))} ` : '';
}

/**
 * The message for js-yaml's refusal. Only a duplicate key's or an alias's own
 * name is quoted from the source: a value on that line could be a literal secret.
 */
function describe(err: YAMLException, text: string): string {
  const reason = err.reason;
  let offset = err.mark?.position;
  let what: string;
  const alias = /^unidentified alias "(.*)"$/s.exec(reason);
  // js-yaml points past an alias's `*`; messages name the alias where it is written…
  if (offset !== undefined && reason.includes('alias') && text[offset - 1] === '*') offset -= 1;
  if (reason === 'duplicated mapping key' && offset !== undefined) {
    // …and inside a quoted key's opening quote.
    if (text[offset - 1] === '"' || text[offset - 1] === "'") offset -= 1;
    what = `duplicate key ${keyNameAt(text, offset)}(each key may appear once in a map)`;
  } else if (reason === 'tab characters must not be used in indentation') {
    what = 'a tab is used for indentation; YAML indents with spaces only';
  } else if (alias) {
    const name = shortName(alias[1] ?? '');
    what = `undefined alias *${name}: no anchor &${name} before it in this file (${ALIAS_HINT})`;
  } else if (reason.startsWith('aliases exceeded maxAliases')) {
    what = `more than ${MAX_ALIAS_COUNT} aliases in one file`;
  } else {
    what = reason;
  }
  if (offset === undefined || err.mark === undefined) return what;
  const line = err.mark.line + 1;
  const column = offset - err.mark.position + err.mark.column + 1;
  return `line ${line}, column ${column}: ${what}`;
}

/**
 * Parses `text` into plain data (null for a file without a document), or
 * returns undefined after reporting the first syntax error under `name` with
 * its line and column. Messages never quote the source (a literal secret
 * could sit on that line).
 */
export function parseYaml(text: string, name: string, report: Report): unknown {
  let documents: unknown[];
  try {
    documents = loadAll(text, { schema: SCHEMA, maxAliases: MAX_ALIAS_COUNT });
  } catch (err) {
    // js-yaml may throw other errors on malformed input; their text is not ours to show.
    report.error(name, err instanceof YAMLException ? describe(err, text) : 'the file is not valid YAML');
    return undefined;
  }
  if (documents.length > 1) {
    report.error(name, 'the file holds more than one YAML document (`---` starts another); use one per file');
    return undefined;
  }
  const data = documents[0] ?? null;
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
