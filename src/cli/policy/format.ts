/**
 * The human form of a policy decision, for `policy test` failures and
 * `policy explain`: the full explanation, with expected and actual values,
 * which only an operator holding the config should see.
 */
import type { Explanation } from './engine.ts';

const HINTS: Record<string, string> = {
  case_mismatch: 'equal except for upper/lower case (matching is case-sensitive unless ignoreCase: true)',
  wildcard_stops_at_separator: 'would match if * crossed / or : (it never does; use ** for /-segments)',
  environment_in_sub:
    'a job with an environment gets `:environment:NAME` in sub instead of `:ref:…`; match the `environment` and `ref` claims instead',
};

const names = (list: readonly string[]) => (list.length === 0 ? 'none' : list.join(', '));

function actualText(actual: string | readonly string[] | null | undefined): string {
  if (actual === null || actual === undefined) return '(none)';
  return typeof actual === 'string'
    ? JSON.stringify(actual)
    : `[${actual.map((a) => JSON.stringify(a)).join(', ')}]`;
}

/** Lines of the full explanation, unindented. */
export function describeExplanation(e: Explanation): string[] {
  const lines = [`idp: ${e.idp}`, `matching identities: ${names(e.matchedIdentities)}`];
  for (const [key, k] of Object.entries(e.keys)) {
    lines.push(`key ${key}: ${k.decision === 'allow' ? 'allow' : `deny (${k.reason})`}`);
    if (k.identities.length === 0 && k.unpinnedIdentities === 0)
      lines.push('  no identity of this IdP grants it');
    for (const id of k.identities) {
      lines.push(`  identity ${id.identity}: ${id.matched ? 'matches' : 'does not match'}`);
      const branches = id.branches ?? [];
      for (const [i, branch] of branches.entries()) {
        const indent = branches.length > 1 ? '      ' : '    ';
        if (branches.length > 1) lines.push(`    branch ${i + 1}:`);
        for (const c of branch) {
          lines.push(
            `${indent}${c.result.padEnd(8)} ${c.claim}: expected ${c.expected ?? '?'}, actual ${actualText(c.actual)}`,
          );
          if (c.hint) lines.push(`${indent}         hint ${c.hint}: ${HINTS[c.hint] ?? ''}`);
        }
      }
      const expected = branches[0]?.[0]?.expected;
      if (id.closestSubject !== undefined && expected !== JSON.stringify(id.closestSubject)) {
        lines.push(`    closest configured subject: ${JSON.stringify(id.closestSubject)}`);
      }
    }
    if (k.unpinnedIdentities > 0) lines.push(`  (${k.unpinnedIdentities} more whose tenant pin fails)`);
    if (k.moreIdentities > 0) lines.push(`  (${k.moreIdentities} more not listed)`);
    for (const d of k.denyRules) {
      lines.push(`  denied by rule ${d.name}${d.message === undefined ? '' : `: ${d.message}`}`);
    }
  }
  if (e.truncated) lines.push('(explanation cut to its size cap)');
  return lines;
}
