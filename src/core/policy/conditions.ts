/**
 * The condition grammar: a scalar (equals), a list of scalars (equals any),
 * or a map with one operator — `equals`, `glob`, `regex`, `not`, `present`,
 * `containsAll`, `every` — optionally beside `ignoreCase: true`. Conditions
 * are parsed once at load into closures over compiled globs and regexes, and
 * a branch (claim → condition, ANDed) is evaluated on a token's claims.
 *
 * On an array claim a scalar condition holds when any element matches; `not`
 * negates the inner condition on the whole claim (no element matches);
 * `containsAll` needs every listed value among the elements; `every` needs a
 * non-empty array whose elements all match. A condition other than `present`
 * on a missing or unusable claim is false in an allow branch and holds in a
 * deny rule (fail closed) unless the rule says `onMissingClaim: skip`.
 */
import type { PathSegment } from '../config/report.ts';
import { asciiLower, type ClaimRef, type ClaimValue, parseClaimKey, readClaim } from './claims.ts';
import { compileGlob, type Glob } from './glob.ts';
import { compileRegex, type Regex } from './regex.ts';

/** Most values in one list. */
export const MAX_LIST = 64;
/** Most conditions in one branch. */
export const MAX_CONDITIONS = 32;

/** A parsed condition. */
export type Condition =
  | { readonly op: 'equals'; readonly values: readonly string[]; readonly ignoreCase: boolean }
  | { readonly op: 'glob'; readonly globs: readonly Glob[]; readonly ignoreCase: boolean }
  | { readonly op: 'regex'; readonly regexes: readonly Regex[]; readonly ignoreCase: boolean }
  | { readonly op: 'containsAll'; readonly values: readonly string[]; readonly ignoreCase: boolean }
  | { readonly op: 'not'; readonly inner: Condition }
  | { readonly op: 'every'; readonly inner: Condition }
  | { readonly op: 'present'; readonly want: boolean };

/** One claim's condition inside a branch. */
export interface ClaimCondition {
  readonly claim: ClaimRef;
  readonly condition: Condition;
}

/** A branch: every condition must hold. `groups` are the captures it yields. */
export interface Branch {
  readonly conditions: readonly ClaimCondition[];
  readonly groups: ReadonlySet<string>;
}

/** How a failed condition reports: path and text. */
export type ErrorSink = (path: readonly PathSegment[], text: string) => void;

/** What parsing needs besides the value: where to report and the shared regex cache. */
export interface ParseContext {
  error: ErrorSink;
  /** Regexes compiled once per pattern across the policy. */
  regexes: Map<string, Regex | { error: string }>;
  /** Claim references parsed once per key across the policy. */
  claims: Map<string, ClaimRef | { error: string }>;
}

const OPERATORS = ['equals', 'glob', 'regex', 'not', 'present', 'containsAll', 'every'] as const;
const FOLDABLE = new Set(['equals', 'glob', 'regex', 'containsAll']);

const isMap = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/** The string form of a config value, or undefined (then reported) when it is not a scalar. */
function scalar(value: unknown, path: readonly PathSegment[], ctx: ParseContext): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  const what = typeof value === 'number' ? 'a number that is not a safe integer' : 'not a string';
  ctx.error(path, `must be a string, boolean or safe integer (${what}; quote it)`);
  return undefined;
}

function scalars(value: unknown, path: readonly PathSegment[], ctx: ParseContext): string[] | undefined {
  const list = Array.isArray(value) ? value : [value];
  if (Array.isArray(value) && value.length === 0) {
    ctx.error(path, 'must list at least one value');
    return undefined;
  }
  if (list.length > MAX_LIST) {
    ctx.error(path, `must list at most ${MAX_LIST} values`);
    return undefined;
  }
  const out = list.map((item, i) => scalar(item, Array.isArray(value) ? [...path, i] : path, ctx));
  return out.every(isDefined) ? out : undefined;
}

/** For building lists with `map`, which sizes them exactly (a pushed list reserves 17 slots, and a policy may hold thousands). */
export const isDefined = <T>(v: T | undefined): v is T => v !== undefined;

/** Parses one condition at `path`; undefined after reporting why not. */
export function parseCondition(
  raw: unknown,
  path: readonly PathSegment[],
  ctx: ParseContext,
): Condition | undefined {
  if (!isMap(raw)) {
    const values = scalars(raw, path, ctx);
    return values && { op: 'equals', values, ignoreCase: false };
  }
  const keys = Object.keys(raw);
  const ops = keys.filter((k) => k !== 'ignoreCase');
  const unknown = ops.find((k) => !(OPERATORS as readonly string[]).includes(k));
  if (unknown !== undefined) {
    ctx.error([...path, unknown], `unknown operator (one of ${OPERATORS.join(', ')}, beside ignoreCase)`);
    return undefined;
  }
  if (ops.length !== 1) {
    ctx.error(path, `must hold exactly one operator (${OPERATORS.join(', ')}), optionally beside ignoreCase`);
    return undefined;
  }
  const op = ops[0] as (typeof OPERATORS)[number];
  const ignoreCase = raw.ignoreCase ?? false;
  if (typeof ignoreCase !== 'boolean') {
    ctx.error([...path, 'ignoreCase'], 'must be true or false');
    return undefined;
  }
  if (ignoreCase && !FOLDABLE.has(op)) {
    ctx.error([...path, 'ignoreCase'], 'goes only beside equals, glob, regex or containsAll');
    return undefined;
  }
  return parseOperator(op, raw[op], [...path, op], ignoreCase, ctx);
}

function parseOperator(
  op: (typeof OPERATORS)[number],
  value: unknown,
  at: readonly PathSegment[],
  ignoreCase: boolean,
  ctx: ParseContext,
): Condition | undefined {
  const fold = (v: string) => (ignoreCase ? asciiLower(v) : v);
  switch (op) {
    case 'equals':
    case 'containsAll': {
      const values = scalars(value, at, ctx);
      return values && { op, values: values.map(fold), ignoreCase };
    }
    case 'glob': {
      const globs = scalars(value, at, ctx)?.map((source, i) => {
        const glob = compileGlob(fold(source));
        if (!('error' in glob)) return glob;
        ctx.error(Array.isArray(value) ? [...at, i] : at, glob.error);
        return undefined;
      });
      return globs?.every(isDefined) ? { op, globs, ignoreCase } : undefined;
    }
    case 'regex': {
      const regexes = scalars(value, at, ctx)?.map((source, i) => {
        const id = `${ignoreCase ? 'i' : 'c'}${source}`;
        const re = cached(ctx.regexes, id, () => compileRegex(source, ignoreCase));
        if (!('error' in re)) return re;
        ctx.error(Array.isArray(value) ? [...at, i] : at, re.error);
        return undefined;
      });
      return regexes?.every(isDefined) ? { op, regexes, ignoreCase } : undefined;
    }
    case 'present':
      if (typeof value !== 'boolean') {
        ctx.error(at, 'must be true or false');
        return undefined;
      }
      return { op, want: value };
    case 'not':
    case 'every': {
      const inner = parseCondition(value, at, ctx);
      return inner && { op, inner };
    }
  }
}

/** True when the condition needs a usable value (all but `present`, also under `not`). */
export function needsValue(condition: Condition): boolean {
  if (condition.op === 'present') return false;
  if (condition.op === 'not') return needsValue(condition.inner);
  return true;
}

/** Whether `condition` holds on one scalar (string form). */
export function holdsOnText(condition: Condition, raw: string): boolean {
  switch (condition.op) {
    case 'equals': {
      const text = condition.ignoreCase ? asciiLower(raw) : raw;
      return condition.values.includes(text);
    }
    case 'glob': {
      const text = condition.ignoreCase ? asciiLower(raw) : raw;
      return condition.globs.some((g) => g.matches(text));
    }
    case 'regex': {
      const text = condition.ignoreCase ? asciiLower(raw) : raw;
      return condition.regexes.some((r) => r.test(text));
    }
    case 'containsAll': {
      const text = condition.ignoreCase ? asciiLower(raw) : raw;
      return condition.values.every((v) => v === text);
    }
    case 'not':
      return !holdsOnText(condition.inner, raw);
    case 'every':
      return false;
    case 'present':
      return condition.want;
  }
}

/** Whether `condition` holds on a claim value (the caller handles missing and unusable values). */
export function holds(condition: Condition, value: ClaimValue): boolean {
  if (condition.op === 'present') return (value.kind !== 'missing') === condition.want;
  if (value.kind === 'scalar') return holdsOnText(condition, value.text);
  if (value.kind !== 'array') return condition.op === 'not' ? !holds(condition.inner, value) : false;
  switch (condition.op) {
    case 'not':
      return !holds(condition.inner, value);
    case 'every':
      return value.items.length > 0 && value.items.every((item) => holdsOnText(condition.inner, item));
    case 'containsAll': {
      const items = condition.ignoreCase ? value.items.map(asciiLower) : value.items;
      return condition.values.every((v) => items.includes(v));
    }
    default:
      return value.items.some((item) => holdsOnText(condition, item));
  }
}

/** How a condition came out on a token: for explanations. */
export type ConditionResult = 'pass' | 'fail' | 'missing' | 'unusable';

/** Evaluation mode of a branch: an allow rule, or a deny rule failing closed or skipping. */
export type Mode = 'allow' | 'deny' | 'deny-skip';

/** The result of one condition on `claims` under `mode`. */
export function evaluate(
  cond: ClaimCondition,
  claims: unknown,
  mode: Mode,
): { ok: boolean; result: ConditionResult } {
  const value = readClaim(claims, cond.claim);
  if ((value.kind === 'missing' || value.kind === 'unusable') && needsValue(cond.condition)) {
    return { ok: mode === 'deny', result: value.kind };
  }
  const ok = holds(cond.condition, value);
  return { ok, result: ok ? 'pass' : 'fail' };
}

/** The groups of every branch without captures: one set, not one per branch of 10,000. */
const NO_GROUPS: ReadonlySet<string> = new Set();

/** Parses a branch (claim → condition map) at `path`; undefined after reporting. */
export function parseBranch(
  raw: unknown,
  path: readonly PathSegment[],
  ctx: ParseContext,
): Branch | undefined {
  if (!isMap(raw)) {
    ctx.error(path, 'must be a map of claim → condition');
    return undefined;
  }
  const entries = Object.entries(raw);
  if (entries.length === 0) {
    ctx.error(path, 'must hold at least one condition');
    return undefined;
  }
  if (entries.length > MAX_CONDITIONS) {
    ctx.error(path, `must hold at most ${MAX_CONDITIONS} conditions`);
    return undefined;
  }
  const groups = new Set<string>();
  let ok = true;
  const conditions = entries.map(([key, value]): ClaimCondition | undefined => {
    // One reference per claim key across the policy, so 10,000 rules on `sub` share one.
    const claim = cached(ctx.claims, key, () => parseClaimKey(key));
    if ('error' in claim) {
      ctx.error([...path, key], claim.error);
      return undefined;
    }
    const condition = parseCondition(value, [...path, key], ctx);
    if (!condition) return undefined;
    if (condition.op === 'regex') {
      for (const g of new Set(condition.regexes.flatMap((r) => r.groups))) {
        if (groups.has(g)) {
          ctx.error([...path, key], `group ${g} is defined twice in this branch`);
          ok = false;
        }
        groups.add(g);
      }
    }
    return { claim, condition };
  });
  if (!ok || !conditions.every(isDefined)) return undefined;
  return { conditions, groups: groups.size === 0 ? NO_GROUPS : groups };
}

/** `map`'s value for `key`, made by `make` the first time. */
function cached<V>(map: Map<string, V>, key: string, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/**
 * Evaluates a branch; returns its captures (from its top-level regexes) when
 * every condition holds, undefined otherwise.
 */
export function matchBranch(branch: Branch, claims: unknown, mode: Mode): Record<string, string> | undefined {
  for (const cond of branch.conditions) if (!evaluate(cond, claims, mode).ok) return undefined;
  if (branch.groups.size === 0) return EMPTY;
  const captures: Record<string, string> = Object.create(null);
  for (const cond of branch.conditions) {
    if (cond.condition.op !== 'regex') continue;
    Object.assign(captures, regexCaptures(cond.condition, readClaim(claims, cond.claim)));
  }
  return captures;
}

const EMPTY: Record<string, string> = Object.freeze(Object.create(null));

function regexCaptures(condition: Extract<Condition, { op: 'regex' }>, value: ClaimValue) {
  const texts = value.kind === 'scalar' ? [value.text] : value.kind === 'array' ? value.items : [];
  for (const raw of texts) {
    const text = condition.ignoreCase ? asciiLower(raw) : raw;
    for (const re of condition.regexes) {
      const found = re.captures(text);
      if (found) {
        // Groups of the other alternatives stay defined (empty), so every group the branch names exists.
        const out: Record<string, string> = Object.create(null);
        for (const r of condition.regexes) for (const g of r.groups) out[g] = '';
        return Object.assign(out, found);
      }
    }
  }
  return {};
}
