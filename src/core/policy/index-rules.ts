/**
 * The index that keeps a mint against 10,000 rules as cheap as one against
 * 10: each branch is filed under one condition that must hold for it to
 * match — equality (exact `sub` first, then any claim), else the literal
 * prefix of a glob — and only the branches a token's claim values select are
 * evaluated in full. Branches with neither are scanned (capped per IdP).
 */
import { asciiLower, type ClaimRef, type ClaimValue, readClaim } from './claims.ts';
import type { Branch, ClaimCondition } from './conditions.ts';

/** A branch of an identity; the identity type is the compiler's. */
export interface Entry<I> {
  readonly identity: I;
  readonly branch: number;
}

/** The candidates of one token. */
export interface RuleIndex<I = IndexedIdentity> {
  /** Identities with at least one branch nothing indexes. */
  readonly unindexed: number;
  /** Branches that may match `claims`, each at most once. */
  candidates(claims: unknown): Entry<I>[];
  readonly size: number;
}

/** What the index needs of an identity. */
export interface IndexedIdentity {
  readonly branches: readonly Branch[];
}

interface Bucket<I> {
  readonly ref: ClaimRef;
  readonly fold: boolean;
  readonly exact: Map<string, Entry<I>[]>;
  readonly prefixes: Map<string, Entry<I>[]>;
  /** Distinct prefix lengths, ascending. */
  lengths: number[];
}

/** Builds the index of `identities` (all claim-rule identities of one IdP). */
export function buildIndex<I extends IndexedIdentity>(identities: readonly I[]): RuleIndex<I> {
  const buckets = new Map<string, Bucket<I>>();
  const rest: Entry<I>[] = [];
  const unindexed = new Set<I>();
  const bucket = (cond: ClaimCondition, fold: boolean) => {
    const id = `${fold ? 'i' : 'c'}${cond.claim.key}`;
    let b = buckets.get(id);
    if (!b) {
      b = { ref: cond.claim, fold, exact: new Map(), prefixes: new Map(), lengths: [] };
      buckets.set(id, b);
    }
    return b;
  };
  const add = (map: Map<string, Entry<I>[]>, key: string, entry: Entry<I>) => {
    const list = map.get(key);
    if (list) list.push(entry);
    else map.set(key, [entry]);
  };
  for (const identity of identities) {
    for (const [branch, b] of identity.branches.entries()) {
      const entry = { identity, branch };
      const choice = chooseCondition(b);
      if (choice === undefined) {
        rest.push(entry);
        unindexed.add(identity);
      } else if (choice.condition.op === 'equals') {
        const target = bucket(choice, choice.condition.ignoreCase);
        for (const v of new Set(choice.condition.values)) add(target.exact, v, entry);
      } else if (choice.condition.op === 'glob') {
        const target = bucket(choice, choice.condition.ignoreCase);
        for (const p of new Set(choice.condition.globs.map((g) => g.literalPrefix)))
          add(target.prefixes, p, entry);
      }
    }
  }
  for (const b of buckets.values())
    b.lengths = [...new Set([...b.prefixes.keys()].map((p) => p.length))].sort((x, y) => x - y);
  const all = [...buckets.values()];
  return {
    unindexed: unindexed.size,
    size: identities.length,
    candidates(claims) {
      const found: Entry<I>[] = [];
      const seen = new Set<Entry<I>>();
      const take = (list: readonly Entry<I>[] | undefined) => {
        if (!list) return;
        for (const e of list) {
          if (!seen.has(e)) {
            seen.add(e);
            found.push(e);
          }
        }
      };
      for (const b of all) {
        for (const text of texts(readClaim(claims, b.ref))) {
          const value = b.fold ? asciiLower(text) : text;
          take(b.exact.get(value));
          for (const len of b.lengths) {
            if (len > value.length) break;
            take(b.prefixes.get(value.slice(0, len)));
          }
        }
      }
      take(rest);
      return found;
    },
  };
}

function texts(value: ClaimValue): readonly string[] {
  if (value.kind === 'scalar') return [value.text];
  if (value.kind === 'array') return value.items;
  return [];
}

/** The condition a branch is filed under: equality on `sub`, else any equality, else the longest glob prefix. */
function chooseCondition(branch: Branch): ClaimCondition | undefined {
  const equals = branch.conditions.filter((c) => c.condition.op === 'equals');
  const sub = equals.find((c) => c.claim.key === 'sub');
  if (sub) return sub;
  if (equals.length > 0) return equals[0];
  let best: ClaimCondition | undefined;
  let bestLength = 0;
  for (const c of branch.conditions) {
    if (c.condition.op !== 'glob') continue;
    const shortest = Math.min(...c.condition.globs.map((g) => g.literalPrefix.length));
    if (shortest > bestLength) {
      best = c;
      bestLength = shortest;
    }
  }
  return best;
}
