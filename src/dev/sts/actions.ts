/**
 * The two STS actions the development endpoint implements:
 * AssumeRoleWithWebIdentity (verified web identity token) and AssumeRole
 * (SigV4-signed by credentials issued here, i.e. a role chain).
 */
import type { IncomingMessage } from 'node:http';
import type { HttpClient } from '../../core/types.ts';
import { createIssuedStore, type StsCaller } from './issued.ts';
import { parseChainedRoleRequest, parseRoleRequest } from './params.ts';
import { verifySigV4 } from './sigv4.ts';

import { createWebIdentityVerifier } from './web-identity.ts';
import { assumeRoleResponse, callerIdentityResponse, StsFault, webIdentityResponse } from './xml.ts';

/** Role ARNs that may be assumed, or a trust-policy check; undefined: any well-formed role. */
export type AllowedRoles = readonly string[] | ((roleArn: string, caller: StsCaller) => boolean);

/** One request as the server understood it (the web identity token is left out). */
export interface StsCall {
  action: string;
  params: Record<string, string>;
  /** Subject of the verified token, or of the chain a SigV4 caller belongs to. */
  subject?: string;
  /** For AssumeRole: the access key that signed it and the session it was issued to. */
  signedBy?: { accessKeyId: string; roleArn: string; sessionName: string };
}

/** What the actions need. */
export interface StsActionOptions {
  issuer: string;
  jwksUri: string;
  audience: string | string[];
  http?: HttpClient;
  allowedRoles?: AllowedRoles;
  maxSessions?: number;
  dialect?: 'aws' | 'minio';
  stats: { jwksFetches: number; tokenVerifications: number };
}

const MAX_CALLS = 100;
const MAX_TOKEN_CHARS = 20_000;
/** The role a MinIO claim-based session reports when no RoleArn was asked for. */
const MINIO_POLICY_ROLE = 'arn:minio:iam:::role/claim-policy';

/** Builds both actions over one verifier and one store of issued sessions. */
export function createStsActions(options: StsActionOptions) {
  const verify = createWebIdentityVerifier(options);
  const issued = createIssuedStore(options.maxSessions ?? 100_000);
  const allowed = roleCheck(options.allowedRoles);
  const minio = options.dialect === 'minio';
  const rules = { maxDuration: minio ? 604_800 : 43_200, minio };
  const calls: StsCall[] = [];
  const record = (call: StsCall) => {
    calls.push(call);
    if (calls.length > MAX_CALLS) calls.shift();
  };

  const webIdentity = async (form: URLSearchParams, requestId: string): Promise<string> => {
    const params = parseRoleRequest(form, rules);
    const token = form.get('WebIdentityToken');
    if (!token || token.length > MAX_TOKEN_CHARS) {
      throw new StsFault(
        'ValidationError',
        "1 validation error detected: Value at 'webIdentityToken' is invalid",
      );
    }
    const identity = await verify(token);
    const roleArn = params.roleArn ?? MINIO_POLICY_ROLE;
    if (!allowed(roleArn, identity)) throw accessDenied('sts:AssumeRoleWithWebIdentity');
    const role = { roleArn, sessionName: params.sessionName };
    const credentials = issued.issue(role, identity, params.durationSeconds, Date.now());
    record({ action: 'AssumeRoleWithWebIdentity', params: paramsOf(form), subject: identity.sub });
    const seen = { subject: identity.sub, audience: identity.audience, provider: identity.iss };
    return webIdentityResponse(credentials, role, seen, requestId);
  };

  const assumeRole = async (req: IncomingMessage, body: Buffer, form: URLSearchParams, requestId: string) => {
    const request = { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body };
    const signer = verifySigV4(request, issued.get, Date.now());
    const session = issued.get(signer);
    if (!session)
      throw new StsFault(
        'InvalidClientTokenId',
        'The security token included in the request is invalid.',
        403,
      );
    const params = parseChainedRoleRequest(form);
    const roleArn = params.roleArn ?? '';
    if (!allowed(roleArn, session.caller)) throw accessDenied('sts:AssumeRole');
    const role = {
      roleArn,
      sessionName: params.sessionName,
      ...(params.sourceIdentity ? { sourceIdentity: params.sourceIdentity } : {}),
    };
    const credentials = issued.issue(role, session.caller, params.durationSeconds, Date.now());
    const { roleArn: signerRole, sessionName } = session.role;
    const signedBy = { accessKeyId: signer, roleArn: signerRole, sessionName };
    record({ action: 'AssumeRole', params: paramsOf(form), subject: session.caller.sub, signedBy });
    return assumeRoleResponse(credentials, role, requestId);
  };

  /** GetCallerIdentity: who signed the request, as STS says it (a first smoke test for minted keys). */
  const callerIdentity = (req: IncomingMessage, body: Buffer, requestId: string): string => {
    const request = { method: req.method ?? 'POST', url: req.url ?? '/', headers: req.headers, body };
    const signer = verifySigV4(request, issued.get, Date.now());
    const session = issued.get(signer);
    if (!session) {
      throw new StsFault(
        'InvalidClientTokenId',
        'The security token included in the request is invalid.',
        403,
      );
    }
    return callerIdentityResponse(session.role, requestId);
  };

  return { webIdentity, assumeRole, callerIdentity, calls };
}

function roleCheck(allowed: AllowedRoles | undefined): (roleArn: string, caller: StsCaller) => boolean {
  if (allowed === undefined) return () => true;
  if (typeof allowed === 'function') return allowed;
  return (roleArn) => allowed.includes(roleArn);
}

function accessDenied(action: string): StsFault {
  return new StsFault('AccessDenied', `Not authorized to perform ${action}`, 403);
}

/** The form minus the token (tests assert on what was sent; the token is not theirs to see). */
function paramsOf(form: URLSearchParams): Record<string, string> {
  const params = Object.fromEntries(form);
  delete params.WebIdentityToken;
  return params;
}
