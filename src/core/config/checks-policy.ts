/**
 * The policy's load-time checks (claim rules, catalog, deny rules, tenant
 * pins, templates, caps), run by the policy compiler itself so that what
 * loads is exactly what serves.
 */
import { checkPolicy, type PolicyConfig } from '../policy/index.ts';
import type { Report } from './report.ts';

/** Reports every policy problem and warning of `config` (which passed the schema). */
export function checkPolicyRules(config: Record<string, unknown>, report: Report): void {
  checkPolicy(config as unknown as PolicyConfig, {
    error: (path, text) => report.error(path, text),
    warn: (path, text) => report.warn(path, text),
  });
}
