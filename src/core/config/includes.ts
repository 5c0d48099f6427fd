/**
 * Reads a config file and everything it includes: `includes: [a.yaml]` is
 * relative to the including file, loaded first to last, recursively, then the
 * including file on top. Substitution happens per file, so `${file:…}` is
 * relative to the file that contains it.
 */
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import { isMap, mergeConfigs } from './merge.ts';
import { type PathSegment, type Report, systemError, UNRESOLVED } from './report.ts';
import { ExpansionError, substituteTree } from './substitute.ts';
import { parseYaml } from './yaml.ts';

/** Largest config file read, bytes. */
const MAX_CONFIG_BYTES = 10 * 1024 * 1024;

/** What every file of one load shares. */
export interface LoadContext {
  env: Record<string, string | undefined>;
  report: Report;
  /** Directory of the root config file; other files are named relative to it. */
  rootDir: string;
}

/** Where an include was asked for, to name it in messages. */
interface Origin {
  path: PathSegment[];
  where: string;
  name: string;
}

type Map = Record<string, unknown>;

function displayName(file: string, ctx: LoadContext): string {
  const rel = relative(ctx.rootDir, file);
  return rel === '' ? basename(file) : rel;
}

async function readText(file: string): Promise<string | { error: string }> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return { error: `${file} is not a regular file` };
    if (info.size > MAX_CONFIG_BYTES) return { error: `${file} is larger than 10 MiB` };
    return await readFile(file, 'utf8');
  } catch (err) {
    return { error: `cannot read ${systemError(err, file)}` };
  }
}

/** Reads and parses one file into a top-level map, or undefined after reporting why not. */
function substituted(parsed: Map, file: string, where: string, ctx: LoadContext): Map | undefined {
  try {
    const sub = { env: ctx.env, baseDir: dirname(file), where, report: ctx.report };
    return substituteTree(parsed, [], sub) as Map;
  } catch (err) {
    if (!(err instanceof ExpansionError)) throw err;
    ctx.report.error(displayName(file, ctx), err.message);
    return undefined;
  }
}

async function readMap(file: string, ctx: LoadContext, origin: Origin | undefined): Promise<Map | undefined> {
  const name = displayName(file, ctx);
  const text = await readText(file);
  if (typeof text !== 'string') {
    if (origin) ctx.report.error(origin.path, `included file "${origin.name}": ${text.error}${origin.where}`);
    else ctx.report.error(name, `the config file: ${text.error}`);
    return undefined;
  }
  const data = parseYaml(text, name, ctx.report);
  if (data === undefined) return undefined;
  if (data === null && !origin) {
    ctx.report.error(name, `the config file ${file} is empty (it holds no settings)`);
    return undefined;
  }
  if (data === null) return {};
  if (!isMap(data)) {
    ctx.report.error(name, 'the document must be a map of sections');
    return undefined;
  }
  return data;
}

/** Fields holding file paths; a relative one is resolved against the file that contains it. */
const FILE_FIELDS: readonly (readonly string[])[] = [
  ['brokerIdp', 'privateKeyFile'],
  ['server', 'tls', 'cert'],
  ['server', 'tls', 'key'],
  ['logging', 'audit', 'file'],
  ['redis', 'tls', 'ca'],
  ['redis', 'tls', 'cert'],
  ['redis', 'tls', 'key'],
];

function resolveFilePaths(data: Map, dir: string): void {
  for (const path of FILE_FIELDS) {
    let node: unknown = data;
    for (const seg of path.slice(0, -1)) node = isMap(node) ? node[seg] : undefined;
    const last = path[path.length - 1] as string;
    if (
      isMap(node) &&
      typeof node[last] === 'string' &&
      node[last] !== '' &&
      !node[last].includes(UNRESOLVED)
    ) {
      node[last] = resolve(dir, node[last]);
    }
  }
}

function includeList(data: Map, where: string, report: Report): string[] {
  const list = data.includes;
  delete data.includes;
  if (list === undefined) return [];
  if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || x === '')) {
    report.error(['includes'], `must be a list of file paths${where}`);
    return [];
  }
  return list as string[];
}

/**
 * Loads `file` with its includes merged underneath. `chain` holds the files
 * including it (for cycle detection). Undefined when a file could not be read
 * or parsed (already reported).
 */
export async function loadFile(
  file: string,
  chain: readonly string[],
  ctx: LoadContext,
  origin?: Origin,
): Promise<Map | undefined> {
  const parsed = await readMap(file, ctx, origin);
  if (parsed === undefined) return undefined;
  const where = chain.length === 0 ? '' : ` (in ${displayName(file, ctx)})`;
  const data = substituted(parsed, file, where, ctx);
  if (data === undefined) return undefined;
  resolveFilePaths(data, dirname(file));
  let base: Map | undefined = {};
  const includes = includeList(data, where, ctx.report);
  for (const [i, inc] of includes.entries()) {
    if (inc === UNRESOLVED) continue;
    const target = resolve(dirname(file), inc);
    if (target === file || chain.includes(target)) {
      const cycle = [...chain, file, target].map((f) => displayName(f, ctx)).join(' → ');
      ctx.report.error(['includes', i], `include cycle: ${cycle}${where}`);
      base = undefined;
      continue;
    }
    const sub = await loadFile(target, [...chain, file], ctx, {
      path: ['includes', i],
      where,
      name: displayName(target, ctx),
    });
    base = sub === undefined || base === undefined ? undefined : mergeConfigs(base, sub);
  }
  return base === undefined ? undefined : mergeConfigs(base, data);
}
