/**
 * The pieces of an STS request derived from the client identity and the key:
 * session name, source identity, packed session policy, policy ARNs and
 * session tags, each within AWS's limits. A key that breaks a limit is
 * refused before any call (the refusal names the limit, never a value).
 */
import { createHash } from 'node:crypto';
import { UpstreamError } from '../../core/errors.ts';

const DISALLOWED = /[^\w+=,.@-]+/g;
const PREFIX = 'voidkey-';
const MAX_NAME = 64;

/** Replaces every run of characters outside `[\w+=,.@-]` with one `-`, collapses `-` runs, trims `-`. */
export function sanitise(value: string): string {
  return value
    .replace(DISALLOWED, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-+|-+$/g, '');
}

/**
 * The default RoleSessionName: `voidkey-<sanitised sub>-<first 8 hex of
 * sha256(iss|sub)>`, 2–64 chars; the subject part is cut so the hash, which
 * keeps distinct subjects distinct, always fits.
 */
export function deriveSessionName(iss: string, sub: string): string {
  return `${PREFIX}${withHash(iss, sub, MAX_NAME - PREFIX.length)}`;
}

/** `<sanitised sub>-<first 8 hex of sha256(iss|sub)>` in at most `max` chars, the subject cut to fit the hash. */
function withHash(iss: string, sub: string, max: number): string {
  const hash = createHash('sha256').update(`${iss}|${sub}`).digest('hex').slice(0, 8);
  const subject = sanitise(sub)
    .slice(0, max - 1 - hash.length)
    .replace(/-+$/, '');
  return subject ? `${subject}-${hash}` : hash;
}

/**
 * {@link deriveSessionName}, remembered per issuer and subject: a mint names
 * every key's session the same way, every time. One per provider instance,
 * which lives as long as its config snapshot: a provider is only asked to
 * mint for a configured identity, so the names it keeps are bounded by the
 * config, and a reload drops them with the provider. (A process-wide cache
 * needed a cap, and cleared itself whenever more identities than the cap
 * took turns.)
 */
export function sessionNames(): (iss: string, sub: string) => string {
  // By issuer, then subject: the issuer is the config's own string, whose hash V8 keeps; a joined
  // key would be a new string to flatten and hash on every mint.
  const byIssuer = new Map<string, Map<string, string>>();
  return (iss, sub) => {
    let bySubject = byIssuer.get(iss);
    if (bySubject === undefined) {
      bySubject = new Map();
      byIssuer.set(iss, bySubject);
    }
    let name = bySubject.get(sub);
    if (name === undefined) {
      name = deriveSessionName(iss, sub);
      bySubject.set(sub, name);
    }
    return name;
  };
}

/**
 * SourceIdentity: `<sanitised sub>-<first 8 hex of sha256(iss|sub)>`, at most
 * 64 chars. The hash keeps it unique per identity: two subjects that differ
 * only past the cut (two branches of one long repository name) or only in
 * characters the sanitising replaces would otherwise share one, and AWS
 * keeps it for the whole role chain as the caller's name in CloudTrail.
 */
export function sourceIdentity(iss: string, sub: string): string {
  return withHash(iss, sub, MAX_NAME);
}

const refuse = (code: string, reason: string) => new UpstreamError('refused', `${code}: ${reason}`);

/** The session policy without whitespace; refused when not JSON or over 2,048 chars packed. */
export function packPolicy(policy: string | undefined): string | undefined {
  if (policy === undefined) return undefined;
  let packed: string;
  try {
    packed = JSON.stringify(JSON.parse(policy));
  } catch {
    throw refuse('MalformedPolicyDocument', 'the session policy is not valid JSON');
  }
  if (packed.length > 2048)
    throw refuse('PackedPolicyTooLarge', 'the session policy exceeds 2048 characters');
  return packed;
}

/** PolicyArns as the SDK wants them; refused above 10. */
export function policyArns(arns: readonly string[] | undefined): { arn: string }[] | undefined {
  if (!arns || arns.length === 0) return undefined;
  if (arns.length > 10) throw refuse('ValidationError', 'more than 10 policy ARNs');
  return arns.map((arn) => ({ arn }));
}

/** Session tags: the provider's, overridden by the key's; ≤ 50, key ≤ 128, value ≤ 256 chars. */
export function sessionTags(
  providerTags: Readonly<Record<string, string>> | undefined,
  keyTags: Readonly<Record<string, string>> | undefined,
): { Key: string; Value: string }[] | undefined {
  const merged = { ...providerTags, ...keyTags };
  const tags = Object.entries(merged).map(([Key, Value]) => ({ Key, Value }));
  if (tags.length === 0) return undefined;
  if (tags.length > 50) throw refuse('ValidationError', 'more than 50 session tags');
  if (tags.some((t) => t.Key.length > 128 || t.Value.length > 256)) {
    throw refuse('ValidationError', 'a session tag key exceeds 128 or a value 256 characters');
  }
  return tags;
}
