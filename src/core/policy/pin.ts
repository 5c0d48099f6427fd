/**
 * The tenant pin. Some issuers sign tokens for every tenant on the platform:
 * on `https://token.actions.githubusercontent.com` anyone can create a
 * repository and get a token. A rule under such an issuer that does not say
 * *whose* tokens it wants grants to strangers, so every branch (with the
 * IdP's `require` merged in) must pin the tenant by equality on a tenant
 * claim or by a glob whose literal prefix names the tenant. A regex never
 * pins: whether it does cannot be read off the pattern.
 */
import type { ClaimCondition, Condition } from './conditions.ts';

/** Issuers whose tokens come from many unrelated tenants. */
export const SHARED_ISSUERS: ReadonlySet<string> = new Set([
  'https://token.actions.githubusercontent.com',
  'https://gitlab.com',
  'https://app.terraform.io',
  'https://accounts.google.com',
  'https://agent.buildkite.com',
]);

/** Claims whose equality pins a tenant; the `ID_CLAIMS` among them cannot be re-registered. */
export const PIN_CLAIMS: ReadonlySet<string> = new Set([
  'repository_owner_id',
  'repository_owner',
  'repository',
  'repository_id',
  'namespace_id',
  'namespace_path',
  'project_id',
  'project_path',
  'terraform_organization_id',
  'terraform_organization_name',
  'organization_id',
  'organization_slug',
]);
const ID_CLAIMS: ReadonlySet<string> = new Set([
  'repository_owner_id',
  'repository_id',
  'namespace_id',
  'project_id',
  'terraform_organization_id',
  'organization_id',
]);

const GLOB_PIN_CLAIMS: ReadonlySet<string> = new Set(['sub', 'repository', 'project_path', 'namespace_path']);

/** A glob literal prefix that names a tenant, by the claim it is on; `id` when the tenant is named by id. */
function prefixPin(claim: string, prefix: string): 'id' | 'name' | undefined {
  if (/repo:[^/:@*?]+@[0-9]+\//.test(prefix) || /repository_owner_id:[^:]+:/.test(prefix)) return 'id';
  if (/repo:[^/:*?]+\//.test(prefix) || /repository_owner:[^:]+:/.test(prefix)) return 'name';
  if (/project_path:[^/:]+\//.test(prefix) || /organization:[^:]+:/.test(prefix)) return 'name';
  if (claim !== 'sub' && /^[^/:]+\//.test(prefix)) return 'name';
  return undefined;
}

/** How one condition pins the tenant: by an id, by a name only, or not at all. */
export function conditionPin(
  cond: ClaimCondition,
  tenantClaims: ReadonlySet<string>,
): 'id' | 'name' | undefined {
  const claim = cond.claim.segments.length === 1 ? (cond.claim.segments[0] as string) : cond.claim.key;
  const c: Condition = cond.condition;
  if (c.op === 'equals') {
    if (tenantClaims.has(cond.claim.key) || tenantClaims.has(claim)) return 'id';
    if (!PIN_CLAIMS.has(claim)) return undefined;
    return ID_CLAIMS.has(claim) ? 'id' : 'name';
  }
  if (c.op === 'glob' && GLOB_PIN_CLAIMS.has(claim)) {
    const pins = c.globs.map((g) => prefixPin(claim, g.literalPrefix));
    if (pins.some((p) => p === undefined)) return undefined;
    return pins.every((p) => p === 'id') ? 'id' : 'name';
  }
  return undefined;
}

/** The strongest pin among `conditions`: `id`, `name`, or undefined when none pins. */
export function branchPin(
  conditions: readonly ClaimCondition[],
  tenantClaims: ReadonlySet<string>,
): 'id' | 'name' | undefined {
  let best: 'id' | 'name' | undefined;
  for (const cond of conditions) {
    const pin = conditionPin(cond, tenantClaims);
    if (pin === 'id') return 'id';
    if (pin === 'name') best = 'name';
  }
  return best;
}

/** True when an exact subject names its tenant (`repo:acme/…`, `project_path:group/…`, …). */
export function subjectPinned(subject: string): boolean {
  return prefixPin('sub', subject) !== undefined;
}

/** Glob sources on a tenant claim whose `*` is glued to the owner's name (`repo:acme*`). */
export function gluedStars(cond: ClaimCondition): string[] {
  const c = cond.condition;
  const claim = cond.claim.key;
  if (c.op !== 'glob' || !GLOB_PIN_CLAIMS.has(claim)) return [];
  return c.globs
    .filter((g) => {
      if (g.literal) return false;
      const p = g.literalPrefix;
      if (claim === 'sub') return /(^|:)repo:[^/:]+$/.test(p) || /^repo:[^/:]+$/.test(p);
      return /^[^/]+$/.test(p);
    })
    .map((g) => g.source);
}
