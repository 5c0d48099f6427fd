/** The human form of a policy decision, for `policy test` failures and `policy explain`. */
import type { Evaluation } from './engine.ts';

const names = (list: readonly string[]) => (list.length === 0 ? 'none' : list.join(', '));

/** Lines describing `evaluation`: who matched, which deny rules, and each key's outcome. */
export function describeEvaluation(evaluation: Evaluation, idp: string): string[] {
  const lines = [
    `idp: ${idp}`,
    `matching identities: ${names(evaluation.matched)}`,
    `matching deny rules: ${names(evaluation.denyRules)}`,
  ];
  for (const [key, k] of evaluation.keys) {
    const by = k.grantedBy.length > 0 ? ` (granted by ${k.grantedBy.join(', ')})` : '';
    const denied = k.deniedBy.length > 0 ? ` (denied by ${k.deniedBy.join(', ')})` : '';
    lines.push(`key ${key}: ${k.reason ?? 'would mint'}${by}${denied}`);
  }
  return lines;
}
