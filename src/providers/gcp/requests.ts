/**
 * The two request bodies of a GCP mint, in the shapes Google documents:
 * the STS token exchange (JSON, camelCase) and generateAccessToken.
 */

/** Google's fixed URNs and scope for a workload-identity token exchange. */
export const GOOGLE = {
  grantType: 'urn:ietf:params:oauth:grant-type:token-exchange',
  requestedTokenType: 'urn:ietf:params:oauth:token-type:access_token',
  subjectTokenType: 'urn:ietf:params:oauth:token-type:jwt',
  cloudPlatform: 'https://www.googleapis.com/auth/cloud-platform',
} as const;

/** Default endpoints; `stsEndpoint` and `endpoint` override them. */
export const DEFAULT_STS_ENDPOINT = 'https://sts.googleapis.com';
export const DEFAULT_IAM_ENDPOINT = 'https://iamcredentials.googleapis.com';

const SERVICE_ACCOUNT_PREFIX = 'projects/-/serviceAccounts/';

/**
 * The STS exchange body. `audience` is the workloadIdentityProvider as
 * configured (`//iam.googleapis.com/projects/…/providers/…`), which is the
 * full resource name Google expects, so nothing is added to it.
 */
export function stsExchangeBody(audience: string, brokerToken: string): string {
  return JSON.stringify({
    grantType: GOOGLE.grantType,
    audience,
    scope: GOOGLE.cloudPlatform,
    requestedTokenType: GOOGLE.requestedTokenType,
    subjectTokenType: GOOGLE.subjectTokenType,
    subjectToken: brokerToken,
  });
}

/** The generateAccessToken body: scopes (default cloud-platform), lifetime `"<n>s"`, delegates when any. */
export function generateAccessTokenBody(
  lifetimeSeconds: number,
  scopes: readonly string[] | undefined,
  delegates: readonly string[] | undefined,
): string {
  return JSON.stringify({
    scope: scopes && scopes.length > 0 ? [...scopes] : [GOOGLE.cloudPlatform],
    lifetime: `${lifetimeSeconds}s`,
    ...(delegates && delegates.length > 0 ? { delegates: delegates.map(delegateName) } : {}),
  });
}

/** A delegate as IAM wants it: `projects/-/serviceAccounts/EMAIL` (already-qualified names kept). */
export function delegateName(delegate: string): string {
  return delegate.startsWith(SERVICE_ACCOUNT_PREFIX) ? delegate : `${SERVICE_ACCOUNT_PREFIX}${delegate}`;
}

/**
 * The generateAccessToken URL under `base`. The email is percent-encoded so
 * that no configured value can change the path.
 */
export function generateAccessTokenUrl(base: string, serviceAccount: string): string {
  return `${base}/v1/${SERVICE_ACCOUNT_PREFIX}${encodeURIComponent(serviceAccount)}:generateAccessToken`;
}

/** `url` without trailing slashes, so paths can be appended. */
export function trimSlashes(url: string): string {
  return url.replace(/\/+$/, '');
}
