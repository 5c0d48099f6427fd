/** Cross-checks of `accessProviders`: per-type fields, endpoints, durations, audiences (docs/configuration.md). */
import { DURATION_RULES, resolveProviderAudience } from '../providers-meta.ts';
import {
  checkUnique,
  checkUrl,
  entries,
  isProviderType,
  type Loose,
  map,
  str,
  withArticle,
} from './checks-common.ts';
import type { PathSegment, Report } from './report.ts';
import { type AccessProviderConfig, PROVIDER_TYPES, type ProviderType } from './schema.ts';
import { didYouMean } from './suggest.ts';

/** Provider fields that only some types accept; the rest (name, type, audience) suit all. */
export const PROVIDER_ONLY_ON: Readonly<Record<string, readonly ProviderType[]>> = {
  region: ['aws-sts', 'minio'],
  endpoint: ['aws-sts', 'minio', 'gcp'],
  externalId: ['aws-sts'],
  tags: ['aws-sts'],
  maxDuration: ['aws-sts', 'minio', 'gcp'],
  projectId: ['gcp'],
  workloadIdentityProvider: ['gcp'],
  stsEndpoint: ['gcp'],
  tenantId: ['azure'],
  clientId: ['azure'],
  environment: ['azure'],
  authorityHost: ['azure'],
};

/** Provider fields each type requires. */
export const PROVIDER_REQUIRED: Readonly<Record<ProviderType, readonly string[]>> = {
  'aws-sts': [],
  minio: ['endpoint'],
  gcp: ['workloadIdentityProvider'],
  azure: ['tenantId', 'clientId'],
};

const URL_FIELDS = ['endpoint', 'stsEndpoint', 'authorityHost'] as const;

/** The full resource name Google STS expects as the token-exchange audience. */
const WORKLOAD_IDENTITY_PROVIDER =
  /^\/\/iam\.googleapis\.com\/projects\/[^/?#\s]+\/locations\/[^/?#\s]+\/workloadIdentityPools\/[^/?#\s]+\/providers\/[^/?#\s]+$/;

/** AWS session-tag limits. */
export const TAG_LIMITS = { count: 50, keyLength: 128, valueLength: 256 } as const;

/** Reports tag maps over AWS's limits (count, key and value lengths); `extra` counts tags merged in. */
export function checkTags(report: Report, path: PathSegment[], tags: unknown, extra = 0): void {
  const t = map(tags);
  const count = Object.keys(t).length + extra;
  if (count > TAG_LIMITS.count) {
    const also = extra > 0 ? " (with the provider's tags)" : '';
    report.error(path, `at most ${TAG_LIMITS.count} session tags${also}; there are ${count}`);
  }
  for (const [key, value] of Object.entries(t)) {
    if (key.length > TAG_LIMITS.keyLength) {
      report.error([...path, key], `tag key longer than ${TAG_LIMITS.keyLength} characters`);
    }
    if (typeof value === 'string' && value.length > TAG_LIMITS.valueLength) {
      report.error([...path, key], `tag value longer than ${TAG_LIMITS.valueLength} characters`);
    }
  }
}

function checkFieldsForType(p: Loose, i: number, type: ProviderType, report: Report): void {
  for (const field of PROVIDER_REQUIRED[type]) {
    if (p[field] === undefined)
      report.error(['accessProviders', i, field], `required for ${withArticle(type)} provider`);
  }
  for (const [field, types] of Object.entries(PROVIDER_ONLY_ON)) {
    if (p[field] === undefined || types.includes(type)) continue;
    const why = field === 'maxDuration' ? ': Entra chooses the lifetime' : ` (only ${types.join(', ')})`;
    report.error(['accessProviders', i, field], `not allowed on ${withArticle(type)} provider${why}`);
  }
}

function checkProvider(p: Loose, i: number, ctx: ProviderContext): void {
  const { report } = ctx;
  const type = p.type;
  if (!isProviderType(type)) {
    if (str(type) !== undefined) {
      report.error(
        ['accessProviders', i, 'type'],
        `unknown provider type ${report.show(type)}${didYouMean(String(type), PROVIDER_TYPES)} (known types: ${PROVIDER_TYPES.join(', ')})`,
      );
    }
    return;
  }
  checkFieldsForType(p, i, type, report);
  for (const field of URL_FIELDS) {
    checkUrl(report, ['accessProviders', i, field], p[field], { insecureOk: ctx.insecureOk, noQuery: true });
  }
  const wip = str(p.workloadIdentityProvider);
  if (type === 'gcp' && wip !== undefined && !WORKLOAD_IDENTITY_PROVIDER.test(wip)) {
    report.error(
      ['accessProviders', i, 'workloadIdentityProvider'],
      'must be //iam.googleapis.com/projects/NUMBER/locations/LOCATION/workloadIdentityPools/POOL/providers/PROVIDER',
    );
  }
  const rules = DURATION_RULES[type];
  const max = p.maxDuration;
  if (rules && typeof max === 'number' && (max < rules.min || max > rules.max)) {
    report.error(
      ['accessProviders', i, 'maxDuration'],
      `must be between ${rules.min} and ${rules.max} seconds for ${type}`,
    );
  }
  if (type === 'aws-sts') checkTags(report, ['accessProviders', i, 'tags'], p.tags);
  checkAwsDefaults(p, i, ctx);
}

/** Provider-level externalId/tags only feed keys' assumeRole hop: without one they do nothing. */
function checkAwsDefaults(p: Loose, i: number, ctx: ProviderContext): void {
  if (p.type !== 'aws-sts' || ctx.chained.has(str(p.name) ?? '')) return;
  for (const field of ['externalId', 'tags']) {
    if (p[field] === undefined) continue;
    ctx.report.warn(
      ['accessProviders', i, field],
      'has no effect: no key of this provider uses assumeRole (it applies to the assumeRole hop only)',
    );
  }
}

interface ProviderContext {
  report: Report;
  insecureOk: boolean;
  /** Names of providers some key uses with `assumeRole`. */
  chained: Set<string>;
}

/**
 * Where a provider presents its broker token: two providers of one type at
 * different places are run by different operators as surely as two clouds.
 */
function endpointOf(p: Loose): string {
  const parts =
    p.type === 'gcp'
      ? [p.stsEndpoint, p.workloadIdentityProvider]
      : p.type === 'azure'
        ? [p.authorityHost ?? p.environment, p.tenantId]
        : [p.endpoint];
  return JSON.stringify(parts.map((x) => (typeof x === 'string' ? x.replace(/\/+$/, '') : null)));
}

function checkAudiences(providers: [number, Loose][], brokerIdp: Loose, report: Report): void {
  const seen = new Map<string, { index: number; type: string; endpoint: string }>();
  for (const [i, p] of providers) {
    if (!isProviderType(p.type) || (p.type === 'gcp' && p.workloadIdentityProvider === undefined)) continue;
    // A failed substitution still counts as "set": it was reported where it failed.
    const fallback = typeof brokerIdp.audience === 'string' ? brokerIdp.audience : undefined;
    const audience = resolveProviderAudience(p as unknown as AccessProviderConfig, { audience: fallback });
    if (audience === undefined) {
      report.error(
        ['accessProviders', i, 'audience'],
        'no broker-token audience: set audience here or brokerIdp.audience',
      );
      continue;
    }
    if (str(audience) === undefined) continue;
    const first = seen.get(audience);
    const endpoint = endpointOf(p);
    if (first === undefined) seen.set(audience, { index: i, type: p.type, endpoint });
    else if (first.type !== p.type) {
      report.warn(
        ['accessProviders', i, 'audience'],
        `broker-token audience ${report.show(audience)} is also used by accessProviders[${first.index}] ` +
          `(${first.type}): a token meant for one cloud could be replayed at the other; give each its own audience`,
      );
    } else if (first.endpoint !== endpoint) {
      report.warn(
        ['accessProviders', i, 'audience'],
        `broker-token audience ${report.show(audience)} is also used by accessProviders[${first.index}] ` +
          `(${first.type} at another endpoint): whoever runs one endpoint could replay the token at the other; ` +
          'give each its own audience',
      );
    }
  }
}

/** Names of providers used by at least one key with `assumeRole`. */
function chainedProviders(identities: unknown): Set<string> {
  const names = new Set<string>();
  for (const [, identity] of entries(identities)) {
    for (const key of Object.values(map(identity.keys))) {
      const k = map(key);
      const name = str(k.provider);
      if (name !== undefined && k.assumeRole !== undefined) names.add(name);
    }
  }
  return names;
}

/** Checks every access provider and the broker-token audiences they get. */
export function checkProviders(config: Loose, report: Report): void {
  const providers = entries(config.accessProviders);
  const ctx: ProviderContext = {
    report,
    insecureOk: map(config.server).allowInsecureIssuers === true,
    chained: chainedProviders(config.clientIdentities),
  };
  checkUnique(
    report,
    'accessProviders',
    providers,
    'name',
    (i) => `duplicate name: also used by accessProviders[${i}]`,
  );
  for (const [i, p] of providers) checkProvider(p, i, ctx);
  checkAudiences(providers, map(config.brokerIdp), report);
}
