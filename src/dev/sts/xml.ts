/**
 * AWS STS Query-protocol answers: the success documents of
 * AssumeRoleWithWebIdentity / AssumeRole and the ErrorResponse document, in
 * the 2011-06-15 namespace the SDK parses.
 */

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** An STS error answer: `code` and `status` as AWS uses them. */
export class StsFault extends Error {
  readonly code: string;
  readonly status: number;
  readonly type: 'Sender' | 'Receiver';
  constructor(code: string, message: string, status = 400) {
    super(message);
    this.name = 'StsFault';
    this.code = code;
    this.status = status;
    this.type = status >= 500 ? 'Receiver' : 'Sender';
  }
}

/** Temporary credentials as STS returns them. */
export interface IssuedCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** The role session a set of credentials belongs to. */
export interface AssumedRole {
  roleArn: string;
  sessionName: string;
  sourceIdentity?: string;
}

/** Escapes text for element content. */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const el = (name: string, value: string | undefined) =>
  value === undefined ? '' : `<${name}>${escapeXml(value)}</${name}>`;

/** ISO-8601 without milliseconds, as STS writes Expiration. */
export function awsTimestamp(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** `arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`, its role id and the account. */
function assumedRole(role: AssumedRole): { arn: string; id: string; account: string } {
  const [, partition = 'aws', , , account = '', resource = ''] = role.roleArn.split(':');
  const roleName = resource.split('/').pop() ?? '';
  const arn = `arn:${partition}:sts::${account}:assumed-role/${roleName}/${role.sessionName}`;
  const id = `AROA${account.padEnd(12, '0').slice(0, 12)}EXAMPLE:${role.sessionName}`;
  return { arn, id, account };
}

function assumedRoleUser(role: AssumedRole): string {
  const { arn, id } = assumedRole(role);
  return `<AssumedRoleUser>${el('Arn', arn)}${el('AssumedRoleId', id)}</AssumedRoleUser>`;
}

/** The GetCallerIdentityResponse document for the session that signed the request. */
export function callerIdentityResponse(role: AssumedRole, requestId: string): string {
  const { arn, id, account } = assumedRole(role);
  return wrap('GetCallerIdentity', el('Arn', arn) + el('UserId', id) + el('Account', account), requestId);
}

function credentialsXml(c: IssuedCredentials): string {
  return `<Credentials>${el('AccessKeyId', c.accessKeyId)}${el('SecretAccessKey', c.secretAccessKey)}${el(
    'SessionToken',
    c.sessionToken,
  )}${el('Expiration', awsTimestamp(c.expiresAt))}</Credentials>`;
}

/** The AssumeRoleWithWebIdentityResponse document. */
export function webIdentityResponse(
  c: IssuedCredentials,
  role: AssumedRole,
  token: { subject: string; audience: string; provider: string },
  requestId: string,
): string {
  const result =
    el('SubjectFromWebIdentityToken', token.subject) +
    el('Audience', token.audience) +
    assumedRoleUser(role) +
    credentialsXml(c) +
    el('SourceIdentity', role.sourceIdentity) +
    el('Provider', token.provider);
  return wrap('AssumeRoleWithWebIdentity', result, requestId);
}

/** The AssumeRoleResponse document. */
export function assumeRoleResponse(c: IssuedCredentials, role: AssumedRole, requestId: string): string {
  const result = assumedRoleUser(role) + credentialsXml(c) + el('SourceIdentity', role.sourceIdentity);
  return wrap('AssumeRole', result, requestId);
}

function wrap(action: string, result: string, requestId: string): string {
  return (
    `<${action}Response xmlns="${NS}"><${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata>${el('RequestId', requestId)}</ResponseMetadata></${action}Response>`
  );
}

/** The ErrorResponse document of a fault. */
export function errorResponse(fault: StsFault, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${NS}"><Error>${el('Type', fault.type)}${el('Code', fault.code)}` +
    `${el('Message', fault.message)}</Error>${el('RequestId', requestId)}</ErrorResponse>`
  );
}
