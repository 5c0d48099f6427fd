/**
 * The request parameters STS checks before it looks at any credential, with
 * AWS's limits: RoleArn format, RoleSessionName charset and length,
 * DurationSeconds 900–43200 (3600 for chained sessions), packed Policy ≤ 2048,
 * ≤ 10 PolicyArns, ≤ 50 Tags, SourceIdentity and ExternalId charsets.
 */
import { StsFault } from './xml.ts';

const ROLE_ARN = /^arn:[a-z-]+:iam::(\d{12})?:role\/[\w+=,.@/-]{1,512}$/;
const NAME = /^[\w+=,.@-]{2,64}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
const CHAINED_MAX = 3600;
const POLICY_ARN = /^arn:[a-z-]+:iam::(\d{12}|aws):policy\/[\w+=,.@/-]{1,512}$/;

/** Parameters common to both actions. */
export interface RoleRequest {
  /** Absent only in MinIO's claim-based mode. */
  roleArn?: string;
  sessionName: string;
  durationSeconds: number;
  policy?: string;
  policyArns: string[];
}

/** AssumeRole's extra parameters. */
export interface ChainedRoleRequest extends RoleRequest {
  externalId?: string;
  tags: Record<string, string>;
  sourceIdentity?: string;
}

/** How strict the checks are: AWS (RoleArn and RoleSessionName required) or MinIO (both optional). */
export interface RoleRules {
  /** Longest DurationSeconds, seconds: 43200 (AWS), 3600 (chained), 604800 (MinIO). */
  maxDuration: number;
  minio?: boolean;
}

const invalid = (field: string, constraint: string) =>
  new StsFault(
    'ValidationError',
    `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${constraint}`,
  );

/** Checks the parameters shared by AssumeRoleWithWebIdentity and AssumeRole. */
export function parseRoleRequest(form: URLSearchParams, rules: RoleRules): RoleRequest {
  const roleArn = form.get('RoleArn') ?? undefined;
  if (roleArn === undefined && !rules.minio) throw invalid('roleArn', 'Member must not be null');
  if (roleArn !== undefined && !ROLE_ARN.test(roleArn)) {
    throw invalid('roleArn', 'Member must be a valid IAM role ARN');
  }
  const sessionName = form.get('RoleSessionName') ?? (rules.minio ? 'minio-session' : undefined);
  if (!sessionName) throw invalid('roleSessionName', 'Member must not be null');
  if (!NAME.test(sessionName)) {
    throw invalid('roleSessionName', 'Member must have length 2-64 and match pattern [\\w+=,.@-]*');
  }
  const durationSeconds = parseDuration(form.get('DurationSeconds'), rules.maxDuration);
  const policy = form.get('Policy') ?? undefined;
  if (policy !== undefined) checkPolicy(policy);
  const policyArns = members((i) => form.get(`PolicyArns.member.${i}.arn`));
  if (policyArns.length > 10) throw invalid('policyArns', 'Member must have length less than or equal to 10');
  if (policyArns.some((arn) => !POLICY_ARN.test(arn)))
    throw invalid('policyArns', 'Member must be a policy ARN');
  return {
    ...(roleArn === undefined ? {} : { roleArn }),
    sessionName,
    durationSeconds,
    ...(policy === undefined ? {} : { policy }),
    policyArns,
  };
}

/** Checks AssumeRole's parameters; a chained session lasts at most an hour. */
export function parseChainedRoleRequest(form: URLSearchParams): ChainedRoleRequest {
  const base = parseRoleRequest(form, { maxDuration: CHAINED_MAX });
  const externalId = form.get('ExternalId') ?? undefined;
  if (externalId !== undefined && !EXTERNAL_ID.test(externalId)) {
    throw invalid('externalId', 'Member must have length 2-1224 and match pattern [\\w+=,.@:/-]*');
  }
  const sourceIdentity = form.get('SourceIdentity') ?? undefined;
  if (sourceIdentity !== undefined && !NAME.test(sourceIdentity)) {
    throw invalid('sourceIdentity', 'Member must have length 2-64 and match pattern [\\w+=,.@-]*');
  }
  return {
    ...base,
    ...(externalId === undefined ? {} : { externalId }),
    ...(sourceIdentity === undefined ? {} : { sourceIdentity }),
    tags: parseTags(form),
  };
}

function parseDuration(raw: string | null, max: number): number {
  if (raw === null) return 3600;
  const value = Number(raw);
  const ceiling = Math.max(max, 43200);
  if (!Number.isInteger(value) || value < 900 || value > ceiling) {
    throw invalid('durationSeconds', `Member must have value between 900 and ${ceiling}`);
  }
  if (value > max) {
    throw new StsFault(
      'ValidationError',
      'The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.',
    );
  }
  return value;
}

function checkPolicy(policy: string): void {
  if (policy.length > 2048) throw invalid('policy', 'Member must have length less than or equal to 2048');
  try {
    JSON.parse(policy);
  } catch {
    throw new StsFault('MalformedPolicyDocument', 'The policy is not in the valid JSON format.');
  }
}

function parseTags(form: URLSearchParams): Record<string, string> {
  const tags: Record<string, string> = {};
  const keys = members((i) => form.get(`Tags.member.${i}.Key`));
  if (keys.length > 50) throw invalid('tags', 'Member must have length less than or equal to 50');
  keys.forEach((key, n) => {
    const value = form.get(`Tags.member.${n + 1}.Value`) ?? '';
    if (key.length > 128) throw invalid(`tags.${n + 1}.member.key`, 'Member must have length <= 128');
    if (value.length > 256) throw invalid(`tags.${n + 1}.member.value`, 'Member must have length <= 256');
    tags[key] = value;
  });
  return tags;
}

/** Values of `Name.member.1…n` until the first gap. */
function members(at: (i: number) => string | null): string[] {
  const out: string[] = [];
  for (let i = 1; ; i++) {
    const value = at(i);
    if (value === null) return out;
    out.push(value);
  }
}
