/** Cross-checks of `clientIdentities` and their keys against the IdPs and providers they name. */
import { DANGEROUS_ENV_SUMMARY, isDangerousEnvName } from '../env-names.ts';
import { DURATION_RULES, PROVIDER_FIELDS } from '../providers-meta.ts';
import { entries, isProviderType, type Loose, map, str, withArticle } from './checks-common.ts';
import { checkTags } from './checks-providers.ts';
import type { PathSegment, Report } from './report.ts';
import type { ProviderType } from './schema.ts';
import { closest, didYouMean } from './suggest.ts';

/** Key fields that only some provider types accept; `provider`, `description`, `outputs` suit all. */
export const KEY_ONLY_ON: Readonly<Record<string, readonly ProviderType[]>> = {
  duration: ['aws-sts', 'minio', 'gcp'],
  roleArn: ['aws-sts', 'minio'],
  roleSessionName: ['aws-sts'],
  policy: ['aws-sts', 'minio'],
  policyArns: ['aws-sts'],
  assumeRole: ['aws-sts'],
  serviceAccount: ['gcp'],
  scopes: ['gcp'],
  delegates: ['gcp'],
  scope: ['azure'],
};

/** Key fields each provider type requires. */
export const KEY_REQUIRED: Readonly<Record<ProviderType, readonly string[]>> = {
  'aws-sts': ['roleArn'],
  minio: [],
  gcp: ['serviceAccount'],
  azure: ['scope'],
};

const KEY_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
/** AWS limits on a web-identity session's managed and inline policies. */
export const POLICY_LIMITS = { arns: 10, packedChars: 2048 } as const;

interface KeyContext {
  report: Report;
  providers: Map<string, Loose>;
}

function checkFieldsForType(key: Loose, path: PathSegment[], type: ProviderType, report: Report): void {
  for (const field of KEY_REQUIRED[type]) {
    if (key[field] === undefined)
      report.error([...path, field], `required for a key of ${withArticle(type)} provider`);
  }
  for (const [field, types] of Object.entries(KEY_ONLY_ON)) {
    if (key[field] === undefined || types.includes(type)) continue;
    const why = field === 'duration' ? ': Entra chooses the lifetime' : ` (only ${types.join(', ')})`;
    report.error([...path, field], `not allowed on a key of ${withArticle(type)} provider${why}`);
  }
}

function checkDuration(key: Loose, provider: Loose, path: PathSegment[], type: ProviderType, report: Report) {
  const rules = DURATION_RULES[type];
  const duration = key.duration;
  if (!rules || typeof duration !== 'number') return;
  const at = [...path, 'duration'];
  if (duration < rules.min || duration > rules.max) {
    report.error(at, `must be between ${rules.min} and ${rules.max} seconds for ${type}`);
  } else if (key.assumeRole !== undefined && rules.chainedMax !== undefined && duration > rules.chainedMax) {
    report.error(at, `must be ≤ ${rules.chainedMax} seconds with assumeRole (AWS caps chained sessions)`);
  } else if (typeof provider.maxDuration === 'number' && duration > provider.maxDuration) {
    report.error(at, `exceeds the provider's maxDuration (${provider.maxDuration} seconds)`);
  } else if (type === 'gcp' && duration > GCP_DEFAULT_MAX_LIFETIME) {
    report.warn(
      at,
      `over ${GCP_DEFAULT_MAX_LIFETIME} seconds: Google refuses this unless the organisation policy ` +
        'constraints/iam.allowServiceAccountCredentialLifetimeExtension allows the service account',
    );
  }
}

/** Google's access-token lifetime limit without an organisation-policy extension, seconds. */
const GCP_DEFAULT_MAX_LIFETIME = 3600;

function checkPolicy(policy: unknown, path: PathSegment[], report: Report): void {
  const text = str(policy);
  if (text === undefined) return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    report.error(path, 'must be valid JSON (a policy document)');
    return;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    report.error(path, 'must be a JSON object (a policy document)');
    return;
  }
  const packed = JSON.stringify(parsed).length;
  // A templated policy's size is known only once rendered (policy_too_large then).
  if (packed > POLICY_LIMITS.packedChars && !text.includes('{{')) {
    report.error(path, `is ${packed} characters packed; AWS allows at most ${POLICY_LIMITS.packedChars}`);
  }
}

function checkArn(value: unknown, path: PathSegment[], report: Report): void {
  const text = str(value);
  if (text !== undefined && !text.startsWith('arn:')) report.error(path, 'must be an ARN (arn:…)');
}

function checkAwsFields(key: Loose, provider: Loose, path: PathSegment[], report: Report): void {
  checkArn(key.roleArn, [...path, 'roleArn'], report);
  const session = str(key.roleSessionName);
  if (session !== undefined && !session.includes('{{') && !SESSION_NAME.test(session)) {
    report.error([...path, 'roleSessionName'], 'must be 2–64 characters of letters, digits and +=,.@_-');
  }
  if (Array.isArray(key.policyArns)) {
    if (key.policyArns.length > POLICY_LIMITS.arns) {
      report.error(
        [...path, 'policyArns'],
        `at most ${POLICY_LIMITS.arns} managed policy ARNs; there are ${key.policyArns.length}`,
      );
    }
    for (const [i, arn] of key.policyArns.entries()) checkArn(arn, [...path, 'policyArns', i], report);
  }
  const hop = map(key.assumeRole);
  checkArn(hop.roleArn, [...path, 'assumeRole', 'roleArn'], report);
  const providerTags = Object.keys(map(provider.tags)).filter((t) => !Object.hasOwn(map(hop.tags), t));
  if (key.assumeRole !== undefined) {
    checkTags(report, [...path, 'assumeRole', 'tags'], hop.tags, providerTags.length);
  }
}

function checkOutputs(outputs: unknown, path: PathSegment[], type: ProviderType, report: Report): void {
  const fields = PROVIDER_FIELDS[type];
  for (const [name, value] of Object.entries(map(outputs))) {
    const at = [...path, 'outputs', name];
    if (!VAR_NAME.test(name)) report.error(at, `variable name must match ${VAR_NAME.source}`);
    else if (isDangerousEnvName(name)) {
      report.error(
        at,
        `${name} changes how shells, loaders or runtimes behave, so clients refuse it (refused: ${DANGEROUS_ENV_SUMMARY})`,
      );
    }
    const field = str(value);
    if (field === undefined || fields.includes(field)) continue;
    const near = closest(field, fields);
    if (near !== undefined) {
      report.warn(
        at,
        `${report.show(field)} is not a field of ${withArticle(type)} provider, so it is output as a literal; ` +
          `did you mean \`${near}\`? (write { value: … } for a literal)`,
      );
    }
  }
}

function checkKey(key: Loose, path: PathSegment[], ctx: KeyContext): void {
  const { report } = ctx;
  const name = str(key.provider);
  if (name === undefined) return;
  const provider = ctx.providers.get(name);
  if (provider === undefined) {
    const known = [...ctx.providers.keys()];
    const list =
      known.length === 0 ? ' (no accessProviders are configured)' : ` (configured: ${known.join(', ')})`;
    report.error(
      [...path, 'provider'],
      `unknown provider ${report.show(name)}${didYouMean(name, known)}${list}`,
    );
    return;
  }
  const type = provider.type;
  if (!isProviderType(type)) return;
  checkFieldsForType(key, path, type, report);
  checkDuration(key, provider, path, type, report);
  if (type === 'aws-sts' || type === 'minio') checkPolicy(key.policy, [...path, 'policy'], report);
  if (type === 'aws-sts') checkAwsFields(key, provider, path, report);
  const scope = str(key.scope);
  if (type === 'azure' && scope !== undefined && (!scope.endsWith('/.default') || /\s/.test(scope))) {
    report.error([...path, 'scope'], 'must be one resource scope ending in /.default');
  }
  if (type === 'gcp') checkGcpFields(key, path, report);
  checkOutputs(key.outputs, path, type, report);
}

const SERVICE_ACCOUNT = /^[^@\s/?#]+@[^@\s/?#]+$/;
const DELEGATE = /^(projects\/-\/serviceAccounts\/)?[^@\s/?#]+@[^@\s/?#]+$/;

/** gcp keys: the service account and each delegate are emails (a delegate may be written as its resource name). */
function checkGcpFields(key: Loose, path: PathSegment[], report: Report): void {
  const account = str(key.serviceAccount);
  if (account !== undefined && !account.includes('{{') && !SERVICE_ACCOUNT.test(account)) {
    report.error([...path, 'serviceAccount'], 'must be a service account email');
  }
  if (!Array.isArray(key.delegates)) return;
  key.delegates.forEach((d, j) => {
    const text = str(d);
    if (text !== undefined && !text.includes('{{') && !DELEGATE.test(text)) {
      report.error(
        [...path, 'delegates', j],
        'must be a service account email or projects/-/serviceAccounts/EMAIL',
      );
    }
  });
}

function checkIdentity(identity: Loose, i: number, idpNames: string[], ctx: KeyContext): void {
  const idp = str(identity.idp);
  if (idp !== undefined && !idpNames.includes(idp)) {
    const list =
      idpNames.length === 0 ? ' (no clientIdps are configured)' : ` (configured: ${idpNames.join(', ')})`;
    ctx.report.error(
      ['clientIdentities', i, 'idp'],
      `unknown idp ${ctx.report.show(idp)}${didYouMean(idp, idpNames)}${list}`,
    );
  }
  for (const [name, key] of Object.entries(map(identity.keys))) {
    const path = ['clientIdentities', i, 'keys', name];
    if (!KEY_NAME.test(name)) ctx.report.error(path, 'key name must be 1–64 letters, digits, _ or -');
    checkKey(map(key), path, ctx);
  }
}

/** Checks identities (known idp, unique idp + subject) and every key (inline or catalog) against its provider. */
export function checkIdentities(config: Loose, report: Report): void {
  const providers = new Map<string, Loose>();
  for (const [, p] of entries(config.accessProviders)) {
    const name = str(p.name);
    if (name !== undefined && !providers.has(name)) providers.set(name, p);
  }
  const idpNames = [...new Set(entries(config.clientIdps).flatMap(([, idp]) => str(idp.name) ?? []))];
  for (const [name, key] of Object.entries(map(config.keys))) {
    const path = ['keys', name];
    if (!KEY_NAME.test(name)) report.error(path, 'key name must be 1–64 letters, digits, _ or -');
    checkKey(map(key), path, { report, providers });
  }
  const seen = new Map<string, number>();
  for (const [i, identity] of entries(config.clientIdentities)) {
    checkIdentity(identity, i, idpNames, { report, providers });
    const idp = str(identity.idp);
    const subject = str(identity.subject);
    if (idp === undefined || subject === undefined) continue;
    const id = JSON.stringify([idp, subject]);
    const first = seen.get(id);
    if (first === undefined) seen.set(id, i);
    else
      report.error(
        ['clientIdentities', i, 'subject'],
        `duplicate identity: same idp and subject as clientIdentities[${first}]`,
      );
  }
}
