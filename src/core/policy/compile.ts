/**
 * Compiling a config's rules once, at load: identities, the key catalog,
 * deny rules and each IdP's `require`, with every load-time check (forms,
 * catalog names, tenant pins, captures, template sources, caps) reported
 * with its exact path. The same function serves `serve`, `config validate`
 * and a SIGHUP reload, so a rule refused by one is refused by all.
 */
import type { PathSegment } from '../config/report.ts';
import type { ClientIdentityConfig, Config, DenyRuleConfig, KeyConfig } from '../config/schema.ts';
import { closest } from '../config/suggest.ts';
import { type Branch, type ClaimCondition, isDefined, type ParseContext, parseBranch } from './conditions.ts';
import { buildIndex, type RuleIndex } from './index-rules.ts';
import { branchPin, gluedStars, SHARED_ISSUERS, subjectPinned } from './pin.ts';
import { compileRecipe, type Recipe } from './recipe.ts';
import type { Regex } from './regex.ts';

/** Most branches in one `match`. */
export const MAX_BRANCHES = 16;
/** Most identities per IdP without an indexable condition. */
export const MAX_UNINDEXED = 256;
/** Most deny rules per IdP. */
export const MAX_DENY_RULES = 256;

/** One identity, compiled. */
export interface Identity {
  /** Position in `clientIdentities`. */
  readonly index: number;
  /** Its `name`, else `clientIdentities[i]` — never its subject. */
  readonly label: string;
  readonly named: boolean;
  readonly idp: string;
  readonly subject: string | undefined;
  /** Claim-rule branches (empty for a subject identity). */
  readonly branches: readonly Branch[];
  /** Key name → recipe (catalog or inline), in configuration order. */
  readonly keys: ReadonlyMap<string, Recipe>;
}

/** One deny rule, compiled. */
export interface DenyRule {
  readonly index: number;
  readonly name: string;
  readonly branches: readonly Branch[];
  /** `'*'` for every key. */
  readonly keys: '*' | ReadonlySet<string>;
  readonly message: string | undefined;
  readonly skip: boolean;
}

/** Everything one IdP's tokens are judged by. */
export interface IdpRules {
  readonly name: string;
  readonly shared: boolean;
  readonly tenantClaims: ReadonlySet<string>;
  /** `require`, ANDed into every identity and deny rule. */
  readonly require: Branch | undefined;
  readonly subjects: ReadonlyMap<string, Identity>;
  /** Claim-rule identities, indexed. */
  readonly rules: RuleIndex<Identity>;
  readonly identities: readonly Identity[];
  readonly denies: readonly DenyRule[];
}

/** A compiled policy. */
export interface CompiledRules {
  readonly idps: ReadonlyMap<string, IdpRules>;
  readonly catalog: ReadonlyMap<string, Recipe>;
}

/** Where compiling reports. Without a sink, the first problem throws a TypeError. */
export interface PolicySink {
  error(path: readonly PathSegment[], text: string): void;
  warn(path: readonly PathSegment[], text: string): void;
}

/** The parts of a config the policy reads. */
export type PolicyConfig = Pick<Config, 'clientIdps' | 'clientIdentities'> &
  Partial<Pick<Config, 'keys' | 'denyRules'>>;

const throwing: PolicySink = {
  error(path, text) {
    throw new TypeError(`invalid policy at ${path.join('.')}: ${text}`);
  },
  warn() {},
};

/** Compiles the rules of `config`; problems go to `sink` (default: throw). */
export function compileRules(config: PolicyConfig, sink: PolicySink = throwing): CompiledRules {
  const regexes = new Map<string, Regex | { error: string }>();
  const parse: ParseContext = { error: (p, t) => sink.error(p, t), regexes, claims: new Map() };
  const catalog = compileCatalog(config, sink);
  const identities = config.clientIdentities.map((raw, i) => compileIdentity(raw, i, catalog, parse, sink));
  checkNames(config.clientIdentities, sink);
  const denies = (config.denyRules ?? []).map((raw, i) => compileDeny(raw as DenyRuleConfig, i, parse, sink));
  checkDenyNames(config, sink);
  const idps = new Map<string, IdpRules>();
  for (const [i, idp] of config.clientIdps.entries()) {
    const require =
      idp.require === undefined ? undefined : parseBranch(idp.require, ['clientIdps', i, 'require'], parse);
    const mine = identities.filter((x): x is Identity => x !== undefined && x.idp === idp.name);
    const myDenies = denies.filter((d, j) => d !== undefined && denyIdps(config, j).includes(idp.name));
    const rules: IdpRules = {
      name: idp.name,
      shared: SHARED_ISSUERS.has(idp.issuer) || idp.tenantClaims !== undefined,
      tenantClaims: new Set(idp.tenantClaims ?? []),
      require,
      subjects: new Map(mine.filter((x) => x.subject !== undefined).map((x) => [x.subject as string, x])),
      rules: buildIndex(mine.filter((x) => x.subject === undefined)),
      identities: mine,
      denies: myDenies as DenyRule[],
    };
    checkIdp(rules, i, sink);
    idps.set(idp.name, rules);
  }
  return { idps, catalog };
}

function compileCatalog(config: PolicyConfig, sink: PolicySink): Map<string, Recipe> {
  const catalog = new Map<string, Recipe>();
  for (const [name, key] of Object.entries(config.keys ?? {})) {
    catalog.set(name, compileRecipe(key, ['keys', name], sink));
  }
  return catalog;
}

function compileIdentity(
  raw: ClientIdentityConfig,
  i: number,
  catalog: ReadonlyMap<string, Recipe>,
  parse: ParseContext,
  sink: PolicySink,
): Identity | undefined {
  const at: PathSegment[] = ['clientIdentities', i];
  const inline = Object.entries(raw.keys ?? {});
  if (raw.subject !== undefined && raw.match !== undefined) {
    sink.error([...at, 'match'], '`subject` and `match` are mutually exclusive');
    return undefined;
  }
  if (raw.subject === undefined && raw.match === undefined) {
    sink.error(at, 'needs `subject` (an exact sub) or `match` (claim rules)');
    return undefined;
  }
  if (raw.match !== undefined && raw.name === undefined) sink.error([...at, 'name'], 'required with `match`');
  if (raw.match !== undefined && raw.grants === undefined && inline.length === 0) {
    sink.error(at, 'grants nothing: give it `grants` (catalog names) or `keys`');
  }
  const branches = raw.match === undefined ? [] : compileMatch(raw.match, [...at, 'match'], parse, sink);
  if (branches === undefined) return undefined;
  const keys = new Map<string, Recipe>();
  for (const [name, key] of inline) {
    if (catalog.has(name)) {
      sink.error(
        [...at, 'keys', name],
        `key ${name} is defined in the catalog (keys.${name}) and inline here`,
      );
      continue;
    }
    keys.set(name, compileRecipe(key as KeyConfig, [...at, 'keys', name], sink));
  }
  for (const [j, name] of (raw.grants ?? []).entries()) {
    const recipe = catalog.get(name);
    if (recipe === undefined) {
      const near = closest(name, [...catalog.keys()]);
      sink.error(
        [...at, 'grants', j],
        `unknown key ${JSON.stringify(name)}: not in the catalog (top-level keys)${near ? `; did you mean ${near}?` : ''}`,
      );
      continue;
    }
    keys.set(name, recipe);
  }
  const label = raw.name ?? `clientIdentities[${i}]`;
  const identity: Identity = {
    index: i,
    label,
    named: raw.name !== undefined,
    idp: raw.idp,
    subject: raw.subject,
    branches,
    keys,
  };
  checkRecipeBindings(identity, at, sink);
  return identity;
}

/** `match`: one branch or a list of branches; undefined after reporting. */
export function compileMatch(
  raw: unknown,
  at: PathSegment[],
  parse: ParseContext,
  sink: PolicySink,
): Branch[] | undefined {
  const list = Array.isArray(raw) ? raw : [raw];
  if (list.length > MAX_BRANCHES) {
    sink.error(at, `at most ${MAX_BRANCHES} branches`);
    return undefined;
  }
  const branches = list.map((item, b) => parseBranch(item, Array.isArray(raw) ? [...at, b] : at, parse));
  return branches.every(isDefined) ? branches : undefined;
}

/**
 * Every `match.X` a granted key uses must be captured by every branch of the
 * identity; a claim in a tag value must be constrained by every branch.
 */
function checkRecipeBindings(identity: Identity, at: PathSegment[], sink: PolicySink): void {
  for (const [name, recipe] of identity.keys) {
    for (const group of recipe.groups) {
      const missing =
        identity.branches.length === 0
          ? [0]
          : identity.branches.flatMap((b, j) => (b.groups.has(group) ? [] : [j]));
      if (missing.length === 0) continue;
      const where =
        identity.branches.length === 0
          ? 'an exact-subject identity captures nothing'
          : `branch ${missing.join(', ')} of this identity does not capture it`;
      sink.error(at, `key ${name} uses match.${group}, but ${where}`);
    }
    for (const claim of recipe.tagClaims) {
      const constrained =
        identity.branches.length > 0 &&
        identity.branches.every((b) => b.conditions.some((c) => c.claim.key === claim));
      if (!constrained) {
        sink.error(
          at,
          `key ${name} puts claim ${claim} in a session tag, but not every branch of this identity constrains it (tags grant through aws:PrincipalTag)`,
        );
      }
    }
  }
}

function checkNames(identities: readonly ClientIdentityConfig[], sink: PolicySink): void {
  const seen = new Map<string, number>();
  for (const [i, identity] of identities.entries()) {
    if (identity.name === undefined) continue;
    const first = seen.get(identity.name);
    if (first === undefined) seen.set(identity.name, i);
    else sink.error(['clientIdentities', i, 'name'], `duplicate name: also clientIdentities[${first}]`);
  }
}

function denyIdps(config: PolicyConfig, j: number): string[] {
  const idp = config.denyRules?.[j]?.idp;
  return idp === undefined ? [] : Array.isArray(idp) ? idp : [idp];
}

function compileDeny(
  raw: DenyRuleConfig,
  j: number,
  parse: ParseContext,
  sink: PolicySink,
): DenyRule | undefined {
  const at: PathSegment[] = ['denyRules', j];
  const branches = compileMatch(raw.match, [...at, 'match'], parse, sink);
  if (branches === undefined) return undefined;
  const all = raw.keys.includes('*');
  if (all && raw.keys.length > 1)
    sink.error([...at, 'keys'], '"*" already names every key; list nothing beside it');
  return {
    index: j,
    name: raw.name,
    branches,
    keys: all ? '*' : new Set(raw.keys),
    message: raw.message,
    skip: raw.onMissingClaim === 'skip',
  };
}

function checkDenyNames(config: PolicyConfig, sink: PolicySink): void {
  const idpNames = new Set(config.clientIdps.map((i) => i.name));
  const known = new Set<string>([...Object.keys(config.keys ?? {})]);
  for (const identity of config.clientIdentities)
    for (const k of Object.keys(identity.keys ?? {})) known.add(k);
  const seen = new Map<string, number>();
  for (const [j, rule] of (config.denyRules ?? []).entries()) {
    const first = seen.get(rule.name);
    if (first === undefined) seen.set(rule.name, j);
    else sink.error(['denyRules', j, 'name'], `duplicate name: also denyRules[${first}]`);
    const idps = denyIdps(config, j);
    for (const [k, idp] of idps.entries()) {
      if (idpNames.has(idp)) continue;
      const at: PathSegment[] = Array.isArray(rule.idp)
        ? ['denyRules', j, 'idp', k]
        : ['denyRules', j, 'idp'];
      sink.error(
        at,
        `unknown idp ${JSON.stringify(idp)} (configured: ${[...idpNames].join(', ') || 'none'})`,
      );
    }
    for (const [k, key] of rule.keys.entries()) {
      if (key !== '*' && !known.has(key)) {
        sink.warn(
          ['denyRules', j, 'keys', k],
          `no identity or catalog entry defines key ${JSON.stringify(key)}`,
        );
      }
    }
  }
}

/** Per-IdP checks: the tenant pin, the caps. */
function checkIdp(rules: IdpRules, i: number, sink: PolicySink): void {
  const require = rules.require?.conditions ?? [];
  for (const identity of rules.identities) {
    const at: PathSegment[] = ['clientIdentities', identity.index];
    if (identity.subject !== undefined) {
      if (rules.shared && !subjectPinned(identity.subject)) {
        sink.warn(
          [...at, 'subject'],
          `the issuer of idp ${rules.name} is shared by many tenants and this subject names none (repo:OWNER/…, project_path:GROUP/…)`,
        );
      }
      continue;
    }
    checkBranchPins(identity.branches, require, rules, [...at, 'match'], sink);
  }
  if (rules.rules.unindexed > MAX_UNINDEXED) {
    sink.error(
      ['clientIdps', i, 'name'],
      `${rules.rules.unindexed} identities of this IdP have no indexable condition (equality or a glob with a literal prefix); at most ${MAX_UNINDEXED}`,
    );
  }
  if (rules.denies.length > MAX_DENY_RULES) {
    sink.error(
      ['clientIdps', i, 'name'],
      `${rules.denies.length} deny rules apply to this IdP; at most ${MAX_DENY_RULES}`,
    );
  }
}

function checkBranchPins(
  branches: readonly Branch[],
  require: readonly ClaimCondition[],
  rules: IdpRules,
  at: PathSegment[],
  sink: PolicySink,
): void {
  for (const [b, branch] of branches.entries()) {
    const where = branches.length === 1 ? at : [...at, b];
    for (const cond of branch.conditions) {
      for (const glob of gluedStars(cond)) {
        sink.warn(
          [...where, cond.claim.key],
          `\`*\` glued to a name in ${JSON.stringify(glob)} also matches other owners whose names start the same`,
        );
      }
    }
    if (!rules.shared) continue;
    const pin = branchPin([...require, ...branch.conditions], rules.tenantClaims);
    if (pin === undefined) {
      sink.error(
        where,
        `the issuer of idp ${rules.name} is shared by many tenants: pin yours by equality on a tenant claim (e.g. repository_owner_id) or a glob with a tenant prefix (repo:OWNER/…); a regex never pins`,
      );
    } else if (pin === 'name') {
      sink.warn(
        where,
        'pinned only by names, which can be re-registered; prefer ids (repository_owner_id, namespace_id, …)',
      );
    }
  }
}
