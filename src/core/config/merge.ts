/**
 * How an including file lands on top of its includes: maps merge deeply, the
 * named lists merge by identity (field by field, the top file winning), any
 * other list or scalar is replaced.
 */

type Map = Record<string, unknown>;

/** True for a plain mapping (not a list, not null). */
export function isMap(value: unknown): value is Map {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Sets an own property even for `__proto__`, so a config key can never change a prototype. */
function setOwn(target: Map, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Top-level lists merged by identity; the function returns the identity or undefined (then appended). */
const IDENTITY: Record<string, (item: Map) => string | undefined> = {
  clientIdps: (item) => (typeof item.name === 'string' ? item.name : undefined),
  accessProviders: (item) => (typeof item.name === 'string' ? item.name : undefined),
  clientIdentities: (item) =>
    typeof item.name === 'string'
      ? JSON.stringify(['name', item.name])
      : typeof item.idp === 'string' && typeof item.subject === 'string'
        ? JSON.stringify([item.idp, item.subject])
        : undefined,
  denyRules: (item) => (typeof item.name === 'string' ? item.name : undefined),
};

/**
 * Fields of a named rule that an including file replaces whole: a merged
 * `match` that kept the base's conditions beside the new ones would grant
 * what neither file says.
 */
const REPLACED_WHOLE: Record<string, readonly string[]> = {
  clientIdentities: ['match', 'grants', 'keys'],
  denyRules: ['match', 'keys', 'idp'],
};

/** `over` on top of `base`: maps merged recursively, everything else replaced by `over`. */
export function deepMerge(base: unknown, over: unknown): unknown {
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out: Map = {};
  for (const [k, v] of Object.entries(base)) setOwn(out, k, v);
  for (const [k, v] of Object.entries(over))
    setOwn(out, k, Object.hasOwn(base, k) ? deepMerge(base[k], v) : v);
  return out;
}

function mergeByIdentity(
  base: unknown[],
  over: unknown[],
  identity: (item: Map) => string | undefined,
  whole: readonly string[],
) {
  const out = [...base];
  for (const item of over) {
    const id = isMap(item) ? identity(item) : undefined;
    const at = id === undefined ? -1 : out.findIndex((b) => isMap(b) && identity(b) === id);
    if (at < 0) out.push(item);
    else out[at] = mergeItem(out[at], item as Map, whole);
  }
  return out;
}

/** One list item over its base: deep, except that a named rule's `whole` fields are replaced. */
function mergeItem(base: unknown, over: Map, whole: readonly string[]): unknown {
  if (!isMap(base) || typeof over.name !== 'string') return deepMerge(base, over);
  const merged = deepMerge(base, over) as Map;
  for (const field of whole) if (Object.hasOwn(over, field)) setOwn(merged, field, over[field]);
  return merged;
}

/** Merges one config file (`over`) on top of what its includes produced (`base`). */
export function mergeConfigs(base: Map, over: Map): Map {
  const out: Map = {};
  for (const [k, v] of Object.entries(base)) setOwn(out, k, v);
  for (const [k, v] of Object.entries(over)) {
    const identity = Object.hasOwn(IDENTITY, k) ? IDENTITY[k] : undefined;
    const prior = out[k];
    if (identity && Array.isArray(prior) && Array.isArray(v))
      setOwn(out, k, mergeByIdentity(prior, v, identity, REPLACED_WHOLE[k] ?? []));
    else setOwn(out, k, Object.hasOwn(out, k) ? deepMerge(prior, v) : v);
  }
  return out;
}

/** Drops map entries whose value is null (`key:` with nothing after it means "not set"). */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (!isMap(value)) return value;
  const out: Map = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) setOwn(out, k, dropNulls(v));
  return out;
}
